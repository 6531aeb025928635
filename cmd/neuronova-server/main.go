// Command neuronova-server is NeuroNova's central server: the single authenticated door to patients, orders,
// AI results, audit and the hospital's Orthanc, with Redis for rate limits, caching, notifications and the
// delivery of the AI job queue (what guards access, and the jobs themselves, are kept in the database). Configuration comes from flags and the environment (flags win).
//
//	neuronova-server [serve] [--demo] [--addr 127.0.0.1:8080] [--db neuronova-server.db] …
//	neuronova-server backup --out FILE      # a consistent copy of the database, while the server runs
//	neuronova-server restore --in FILE      # into a database that does not exist yet
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
	"github.com/neuronova/neuronova/server/demo"
	"github.com/neuronova/neuronova/server/httpapi"
	"github.com/neuronova/neuronova/server/orthanc"
	"github.com/neuronova/neuronova/server/postgres"
	"github.com/neuronova/neuronova/server/redis"
	"github.com/neuronova/neuronova/server/sqlite"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// config is the server's configuration.
type config struct {
	Addr             string
	PublicURL        string
	DB               string
	OrthancURL       string
	OrthancUser      string
	OrthancPassword  string
	RedisAddr        string
	RedisPassword    string
	RedisPrefix      string
	JWTSecret        string
	AccessTTL        time.Duration
	RefreshTTL       time.Duration
	Rate             float64
	Burst            int
	JobVisibility    time.Duration
	JobMaxDeliveries int
	BcryptCost       int
	MaxUploadBytes   int64
	LogLevel         string
	Demo             bool
	TrustedProxies   []netip.Prefix
	DrainDelay       time.Duration

	// writeStudy writes the demo study's DICOM files (viewer/demo.Write unless set; tests write a small one).
	writeStudy func(dir string) error
	// listening, when set, receives the address the server listens on once it accepts connections.
	listening func(addr string)
}

// parseConfig reads flags, with defaults taken from the environment where set.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("neuronova-server", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var errs []error
	envDuration := func(name, def string) time.Duration {
		d, err := time.ParseDuration(env(name, def))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return d
	}
	envInt := func(name, def string) int64 {
		n, err := strconv.ParseInt(env(name, def), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return n
	}
	envFloat := func(name, def string) float64 {
		n, err := strconv.ParseFloat(env(name, def), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return n
	}
	fs.StringVar(&c.Addr, "addr", env("NEURONOVA_ADDR", "127.0.0.1:8080"), "listen address (NEURONOVA_ADDR)")
	fs.StringVar(&c.PublicURL, "public-url", env("NEURONOVA_PUBLIC_URL", ""), "URL clients reach the server on, for DICOMweb retrieve URLs (NEURONOVA_PUBLIC_URL; default http://ADDR)")
	fs.StringVar(&c.DB, "db", env("NEURONOVA_DB", "neuronova-server.db"), "SQLite database file, or a postgres:// URL whose password is in PGPASSWORD or ~/.pgpass (NEURONOVA_DB)")
	fs.StringVar(&c.OrthancURL, "orthanc-url", env("ORTHANC_URL", "http://127.0.0.1:8042"), "Orthanc base URL (ORTHANC_URL)")
	fs.StringVar(&c.OrthancUser, "orthanc-user", env("ORTHANC_USER", ""), "Orthanc user (ORTHANC_USER)")
	fs.StringVar(&c.RedisAddr, "redis", env("REDIS_ADDR", "127.0.0.1:6379"), "Redis address (REDIS_ADDR)")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", env("NEURONOVA_REDIS_PREFIX", "neuronova:"), "prefix of every Redis key (NEURONOVA_REDIS_PREFIX)")
	fs.DurationVar(&c.AccessTTL, "access-ttl", envDuration("NEURONOVA_ACCESS_TTL", "15m"), "access token lifetime (NEURONOVA_ACCESS_TTL)")
	fs.DurationVar(&c.RefreshTTL, "refresh-ttl", envDuration("NEURONOVA_REFRESH_TTL", "24h"), "refresh token lifetime (NEURONOVA_REFRESH_TTL)")
	fs.Float64Var(&c.Rate, "rate", envFloat("NEURONOVA_RATE", "10"), "API requests per second per user (NEURONOVA_RATE)")
	var burst, maxDeliveries, cost int64
	fs.Int64Var(&burst, "burst", envInt("NEURONOVA_BURST", "20"), "API burst per user (NEURONOVA_BURST)")
	fs.DurationVar(&c.JobVisibility, "job-visibility", envDuration("NEURONOVA_JOB_VISIBILITY", "10m"), "time a claimed AI job may run before another worker gets it (NEURONOVA_JOB_VISIBILITY)")
	fs.Int64Var(&maxDeliveries, "job-max-deliveries", envInt("NEURONOVA_JOB_MAX_DELIVERIES", "3"), "deliveries of an AI job before it is dead-lettered (NEURONOVA_JOB_MAX_DELIVERIES)")
	fs.Int64Var(&cost, "bcrypt-cost", envInt("NEURONOVA_BCRYPT_COST", "10"), "bcrypt cost of password hashes (NEURONOVA_BCRYPT_COST)")
	fs.Int64Var(&c.MaxUploadBytes, "max-upload", envInt("NEURONOVA_MAX_UPLOAD", strconv.Itoa(1<<30)), "largest DICOM upload through the proxy, bytes (NEURONOVA_MAX_UPLOAD)")
	fs.StringVar(&c.LogLevel, "log-level", env("NEURONOVA_LOG_LEVEL", "info"), "debug, info, warn or error (NEURONOVA_LOG_LEVEL)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", envDuration("NEURONOVA_DRAIN_DELAY", "0s"), "on SIGTERM, how long /readyz answers 503 before the listener closes, so that a load balancer stops sending (NEURONOVA_DRAIN_DELAY)")
	var trusted string
	fs.StringVar(&trusted, "trusted-proxies", env("NEURONOVA_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDRs of the load balancers whose X-Forwarded-For names the client (NEURONOVA_TRUSTED_PROXIES)")
	fs.BoolVar(&c.Demo, "demo", false, "create one account per role, demo patients and orders, and upload the demo study to Orthanc")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		fs.SetOutput(os.Stderr)
		if errors.Is(err, flag.ErrHelp) {
			fs.PrintDefaults()
		}
		return c, err
	}
	// Secrets come from the environment only, never from the command line (where ps shows them).
	c.OrthancPassword = getenv("ORTHANC_PASSWORD")
	c.RedisPassword = getenv("REDIS_PASSWORD")
	c.JWTSecret = getenv("NEURONOVA_JWT_SECRET")
	c.Burst, c.JobMaxDeliveries, c.BcryptCost = int(burst), int(maxDeliveries), int(cost)
	switch {
	case len(errs) > 0:
		return c, errors.Join(errs...)
	case c.OrthancUser == "" || c.OrthancPassword == "":
		return c, errors.New("ORTHANC_USER and ORTHANC_PASSWORD are required: Orthanc must run with AuthenticationEnabled, and only this server knows its credentials")
	case c.AccessTTL <= 0 || c.RefreshTTL <= c.AccessTTL:
		return c, fmt.Errorf("access-ttl %v must be positive and shorter than refresh-ttl %v", c.AccessTTL, c.RefreshTTL)
	case c.Rate <= 0 || c.Burst < 1:
		return c, fmt.Errorf("rate %v and burst %d must be positive", c.Rate, c.Burst)
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, t := range strings.Split(trusted, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		p, err := netip.ParsePrefix(t)
		if err != nil {
			a, aerr := netip.ParseAddr(t)
			if aerr != nil {
				return c, fmt.Errorf("trusted-proxies: %q is not an address or a CIDR", t)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return c, fmt.Errorf("public-url %q must be http(s)://host[:port][/path]", c.PublicURL)
	}
	return c, nil
}

func main() {
	args := os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name := args[0]
		args = args[1:]
		if name != "serve" {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := runCommand(ctx, name, args, os.Getenv, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		}
	}
	cfg, err := parseConfig(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "neuronova-server:", err)
		os.Exit(2)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "neuronova-server: log level:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log, os.Stdout); err != nil {
		log.Error("neuronova-server stopped", "err", err)
		os.Exit(1)
	}
}

// run wires the server together, serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, cfg config, log *slog.Logger, out io.Writer) error {
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()

	secret, err := signingSecret(ctx, cfg, store)
	if err != nil {
		return err
	}
	issuer, err := auth.NewIssuer(secret, cfg.AccessTTL)
	if err != nil {
		return err
	}
	passwords, err := auth.NewPasswords(cfg.BcryptCost)
	if err != nil {
		return err
	}

	rdb, err := redis.Open(ctx, redis.Config{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, Prefix: cfg.RedisPrefix,
		Rate: cfg.Rate, Burst: cfg.Burst, Logger: log})
	if err != nil {
		return err
	}
	defer rdb.Close()
	jobs, err := rdb.Queue(ctx, redis.QueueConfig{Visibility: cfg.JobVisibility, MaxDeliveries: cfg.JobMaxDeliveries})
	if err != nil {
		return err
	}
	defer jobs.Close()

	pacs, err := orthanc.New(cfg.OrthancURL, cfg.OrthancUser, cfg.OrthancPassword)
	if err != nil {
		return err
	}
	if err := checkOrthanc(ctx, pacs, cfg, log); err != nil {
		return err
	}

	if cfg.Demo {
		writeStudy := cfg.writeStudy
		if writeStudy == nil {
			writeStudy = func(dir string) error { return viewerdemo.Write(dir) }
		}
		err := demo.Seed(ctx, demo.Options{Store: store, Passwords: passwords, Orthanc: pacs, Out: out, Logger: log,
			WriteStudy: writeStudy, StudyPatientID: viewerdemo.PatientID})
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}

	srv, err := httpapi.New(httpapi.Deps{Store: store, Gate: rdb, Cache: rdb, Bus: rdb, Jobs: jobs, Orthanc: pacs,
		Issuer: issuer, Passwords: passwords, Ready: map[string]func(context.Context) error{
			"database": store.Ping,
			"redis":    rdb.Ping,
			"orthanc":  func(ctx context.Context) error { _, err := pacs.System(ctx); return err },
		}}, httpapi.Config{RefreshTTL: cfg.RefreshTTL, MaxUploadBytes: cfg.MaxUploadBytes, PublicURL: cfg.PublicURL, TrustedProxies: cfg.TrustedProxies, Logger: log})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Close()

	hs := &http.Server{Addr: cfg.Addr, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if cfg.listening != nil {
		cfg.listening(ln.Addr().String())
	}
	log.Info("neuronova-server listening", "addr", ln.Addr().String(), "db", dbName(cfg.DB), "orthanc", pacs.URL(), "redis", cfg.RedisAddr,
		"rate", cfg.Rate, "burst", cfg.Burst, "access_ttl", cfg.AccessTTL.String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", cfg.Addr, err)
	case <-ctx.Done():
	}
	// Drain: /readyz turns 503 and WebSocket clients are told to reconnect elsewhere; once the balancer has
	// noticed (the drain delay), the listener closes and requests in flight finish.
	log.Info("draining", "delay", cfg.DrainDelay.String())
	srv.Drain()
	time.Sleep(cfg.DrainDelay)
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		log.Warn("graceful shutdown cut short", "err", err)
	}
	return nil
}

// openStore opens the database db names: a postgres:// or postgresql:// URL is PostgreSQL, anything else an
// SQLite file.
func openStore(ctx context.Context, db string) (server.Store, error) {
	if postgres.IsURL(db) {
		return postgres.Open(ctx, db)
	}
	return sqlite.Open(ctx, db)
}

// dbName is db for the log: a URL without its password.
func dbName(db string) string {
	if u, err := url.Parse(db); err == nil && postgres.IsURL(db) {
		return u.Redacted()
	}
	return db
}

// signingSecret returns the token signing secret: NEURONOVA_JWT_SECRET (hex, at least 32 bytes) when set,
// else the one stored in the database, generated on first start.
func signingSecret(ctx context.Context, cfg config, store server.Store) ([]byte, error) {
	text := cfg.JWTSecret
	if text == "" {
		var err error
		if text, err = store.EnsureSetting(ctx, "jwt_secret", auth.RandomHex(32)); err != nil {
			return nil, fmt.Errorf("token signing secret: %w", err)
		}
	}
	secret, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil || len(secret) < auth.MinSecretBytes {
		return nil, fmt.Errorf("token signing secret must be at least %d bytes in hex", auth.MinSecretBytes)
	}
	return secret, nil
}

// checkOrthanc checks Orthanc's credentials at start-up. A wrong password stops the server; an Orthanc that is
// down only delays readiness (unless --demo must upload to it); an Orthanc that answers without credentials
// is reported loudly, since it would be open to anyone who can reach it.
func checkOrthanc(ctx context.Context, pacs *orthanc.Client, cfg config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	version, err := pacs.System(ctx)
	switch {
	case server.IsCode(err, api.CodeUnavailable) && !cfg.Demo:
		log.Warn("orthanc does not answer yet; /readyz reports it until it does", "orthanc", pacs.URL(), "err", err)
		return nil
	case server.IsCode(err, api.CodeBadGateway):
		return fmt.Errorf("orthanc at %s refused ORTHANC_USER/ORTHANC_PASSWORD: %w", pacs.URL(), err)
	case err != nil:
		return fmt.Errorf("orthanc at %s: %w", pacs.URL(), err)
	}
	open, _ := orthanc.New(cfg.OrthancURL, "", "")
	if _, err := open.System(ctx); err == nil {
		log.Error("orthanc answers without credentials: set AuthenticationEnabled true and RemoteAccessAllowed false in its configuration", "orthanc", pacs.URL())
	}
	log.Info("orthanc answers", "orthanc", pacs.URL(), "version", version)
	return nil
}
