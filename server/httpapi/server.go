// Package httpapi serves the NeuroNova server API: JSON over HTTP with Go's routing patterns, one declarative
// route table (method, pattern, handler, roles, rate limit, audit), the Orthanc proxy, the notification
// WebSocket, and the boundary that maps *server.Error codes to HTTP statuses.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
	"github.com/neuronova/neuronova/server/orthanc"
)

// Deps are the services the API is built on.
type Deps struct {
	Store     server.Store
	Gate      server.Gate
	Cache     server.Cache
	Bus       server.Bus
	Jobs      server.JobQueue
	Orthanc   *orthanc.Client
	Issuer    *auth.Issuer
	Passwords *auth.Passwords
	// Ready lists the dependency checks of /readyz by name (the store, Redis and Orthanc are typical).
	Ready map[string]func(context.Context) error
}

// Config tunes the API.
type Config struct {
	RefreshTTL     time.Duration // lifetime of a refresh token; default 24 h
	MaxUploadBytes int64         // largest DICOM upload through the proxy; default 1 GiB
	// PublicURL is the scheme, host and port clients reach the server on (http://host:8080): DICOMweb answers
	// name it in their retrieve URLs. Empty: those URLs are root-relative. The request's Host is never used.
	PublicURL string
	// TrustedProxies are the load balancers whose X-Forwarded-For names the client (rate limits and audit
	// records use it); from anyone else the header is ignored.
	TrustedProxies []netip.Prefix
	// ReconcileEvery is how often the job queue is brought in line with the database; default 5 s.
	ReconcileEvery time.Duration
	Logger         *slog.Logger
}

// Server is the API. Start it before serving and Close it after the HTTP server has shut down.
type Server struct {
	Deps
	cfg    Config
	log    *slog.Logger
	audit  *auditWriter
	hub    *hub
	routes []*Route
	mux    *http.ServeMux
	stop   context.CancelFunc // set by Start
	wg     sync.WaitGroup
	// draining: the server is going away; /readyz says so and WebSocket clients were told to reconnect.
	draining atomic.Bool
	// relayKick asks the event relay to run now (a write committed events).
	relayKick chan struct{}
}

// New checks the dependencies and builds the routes.
func New(d Deps, cfg Config) (*Server, error) {
	switch {
	case d.Store == nil, d.Gate == nil, d.Cache == nil, d.Bus == nil, d.Jobs == nil:
		return nil, errors.New("httpapi needs a store, a gate, a cache, a bus and a job queue")
	case d.Orthanc == nil, d.Issuer == nil, d.Passwords == nil:
		return nil, errors.New("httpapi needs an Orthanc client, a token issuer and a password hasher")
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 24 * time.Hour
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 1 << 30
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{Deps: d, cfg: cfg, log: cfg.Logger, relayKick: make(chan struct{}, 1)}
	s.audit = newAuditWriter(d.Store, cfg.Logger)
	s.hub = newHub(cfg.Logger)
	s.routes = s.table()
	mux, err := s.buildMux()
	if err != nil {
		return nil, err
	}
	s.mux = mux
	return s, nil
}

// Start runs the audit writer and subscribes the notification hub to the bus.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.audit.run()
	}()
	if err := s.Bus.Subscribe(ctx, s.hub.deliver); err != nil {
		s.Close()
		return fmt.Errorf("subscribe to notifications: %w", err)
	}
	if err := s.ReconcileJobs(ctx); err != nil {
		s.log.Warn("job queue not reconciled at start; retrying in the background", "err", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.relayLoop(ctx)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.cfg.ReconcileEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.ReconcileJobs(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("job queue not reconciled", "err", err)
				}
			}
		}
	}()
	return nil
}

// relayLoop publishes the store's outbox of events to the bus when a write has committed some, and every
// second (for writes of other instances, and after an outage of Redis), until ctx ends.
func (s *Server) relayLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.relayKick:
		case <-t.C:
		}
		if err := s.RelayEvents(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("events not relayed yet; retrying", "err", err)
		}
	}
}

// RelayEvents publishes, in order, the events of the store's outbox that the bus does not hold yet. Every
// instance runs it: the bus takes each event once.
func (s *Server) RelayEvents(ctx context.Context) error {
	last, err := s.Bus.Last(ctx)
	if err != nil {
		return err
	}
	var seq int64
	if last != "" {
		fmt.Sscanf(last, "%d-", &seq)
	}
	for {
		events, err := s.Store.EventsAfter(ctx, seq, 500)
		if err != nil || len(events) == 0 {
			return err
		}
		for _, e := range events {
			if err := s.Bus.Publish(ctx, e); err != nil {
				return err
			}
			seq = e.Seq
		}
	}
}

// kickRelay asks the relay to run now.
func (s *Server) kickRelay() {
	select {
	case s.relayKick <- struct{}{}:
	default:
	}
}

// ReconcileJobs queues again the jobs the database holds unfinished and Redis lost, and records in the
// database the ends Redis reached (runs every ReconcileEvery; tests call it directly).
func (s *Server) ReconcileJobs(ctx context.Context) error {
	jobs, err := s.Store.UnfinishedJobs(ctx, 0)
	if err != nil || len(jobs) == 0 {
		return err
	}
	ended, requeued, err := s.Jobs.Reconcile(ctx, jobs)
	if err != nil {
		return err
	}
	if requeued > 0 {
		s.log.Warn("jobs missing from redis queued again (redis restarted without its data?)", "jobs", requeued)
	}
	for _, j := range ended {
		if err := s.Store.FinishJob(ctx, j, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// Drain prepares a graceful stop behind a load balancer: /readyz answers 503 from now on, so that the balancer
// routes new requests to other replicas, and every WebSocket client is closed with 1012 (service restart),
// which tells it to reconnect — through the balancer, to a replica that stays. Requests in flight go on; the
// caller then waits for the balancer to notice and shuts the HTTP server down.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.hub.closeAll(errRestart)
}

// Close disconnects the WebSocket clients and writes the audit records still queued.
func (s *Server) Close() {
	s.hub.closeAll(errShutdown)
	if s.stop == nil {
		return // never started: no writer runs
	}
	s.stop()
	s.audit.close()
	s.wg.Wait()
}

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Routes returns the route table (tests iterate over it).
func (s *Server) Routes() []*Route { return s.routes }

// FlushAudit waits until every audit record queued so far is stored.
func (s *Server) FlushAudit(ctx context.Context) error { return s.audit.flush(ctx) }
