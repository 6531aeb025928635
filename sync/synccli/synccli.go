// Package synccli is `neuronova sync`: one sync round of the local cache with the server, with a progress
// line and a summary. cmd/neuronova calls Command; it lives here so that it is tested against a real
// server side without building the window app.
package synccli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/sync/engine"
)

// ErrUsage marks errors in the command line (exit status 2).
var ErrUsage = errors.New("usage")

// ErrIncomplete is returned when the round ran but left work undone: items that failed, instances not
// pulled, or the server unreachable (exit status 1).
var ErrIncomplete = errors.New("sync incomplete")

// Command runs `neuronova sync` with args (after the word sync).
func Command(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "cache directory (default $"+cache.EnvDataDir+", else the user data directory)")
	server := fs.String("server", getenv("NEURONOVA_SERVER"), "server URL (default $NEURONOVA_SERVER, else http://127.0.0.1:8080)")
	user := fs.String("user", getenv("NEURONOVA_USER"), "login ID (default $NEURONOVA_USER)")
	noPrefetch := fs.Bool("no-prefetch", false, "do not download the worklist's studies")
	grace := fs.Duration("grace", 72*time.Hour, "how long after the last online login an offline login is allowed")
	workers := fs.Int("workers", 4, "parallel downloads")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up the round after this long")
	resend := fs.Bool("send-refused", false, "queue the items the server refused again and send them in this round (once their cause is fixed)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: sync: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: sync takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if *server == "" {
		*server = "http://127.0.0.1:8080"
	}
	if *user == "" {
		return fmt.Errorf("%w: sync needs --user LOGIN (or $NEURONOVA_USER)", ErrUsage)
	}
	password := getenv("NEURONOVA_PASSWORD")
	if password == "" && stdin != nil {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return fmt.Errorf("%w: no password: set $NEURONOVA_PASSWORD or give it on stdin", ErrUsage)
	}
	dir, err := cache.ResolveDir(*data, getenv)
	if err != nil {
		return err
	}
	c, err := cache.Open(dir, cache.Options{Logger: slog.New(slog.DiscardHandler), Actor: getenv("USER")})
	if err != nil {
		return err
	}
	defer c.Close()
	for _, w := range c.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	cl, err := client.New(*server, client.Options{})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	e := engine.New(c, cl, engine.Options{OfflineGrace: *grace, NoPrefetch: *noPrefetch, Workers: *workers, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	sess, err := e.Login(ctx, *user, password)
	if err != nil {
		return err
	}
	if sess.Offline {
		st, _ := e.Status(ctx)
		fmt.Fprintf(stdout, "offline: %s cannot be reached; logged in as %s with the cached credential (valid until %s); %d items wait in the outbox, %d audit events to forward\n",
			cl.BaseURL(), sess.User.LoginID, sess.ValidUntil.Local().Format("2006-01-02 15:04"), st.Outbox, st.AuditQueue)
		return fmt.Errorf("%w: the server cannot be reached", ErrIncomplete)
	}
	if *resend {
		n, err := e.QueueRefusedAgain(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d refused items queued again\n", n)
	}
	sum, err := e.Round(ctx, progress(stderr))
	fmt.Fprintln(stderr)
	fmt.Fprintln(stdout, Format(sum, time.Since(start)))
	for _, line := range sum.Errors {
		fmt.Fprintf(stdout, "failed: %s\n", line)
	}
	if err != nil {
		if client.IsOffline(err) {
			return fmt.Errorf("%w: %v", ErrIncomplete, err)
		}
		return err
	}
	if sum.Failed > 0 || sum.PullFailed > 0 {
		return fmt.Errorf("%w: %d outbox items and %d instances failed", ErrIncomplete, sum.Failed, sum.PullFailed)
	}
	return nil
}

// Format is the one-line summary of a round.
func Format(s *engine.Summary, took time.Duration) string {
	line := fmt.Sprintf("sync in %.1fs: pulled %d changes and %d instances (%s) of %d studies, %d already cached, %d transcoded; "+
		"pushed %d (%d results, %d SEGs, %d reports) and %d audit events; failed %d (%d set aside), %d instances; outbox left %d",
		took.Seconds(), s.Changes, s.Pulled, cache.FormatSize(s.PulledBytes), s.Studies, s.AlreadyCached, s.Transcoded,
		s.Pushed, s.Results, s.SEGs, s.Reports, s.AuditForwarded, s.Failed, s.Dead, s.PullFailed, s.OutboxLeft)
	if s.SkippedChanges > 0 {
		line += fmt.Sprintf("; skipped %d undecodable changes (kept in the cache)", s.SkippedChanges)
	}
	return line
}

// progress writes a progress line that rewrites itself.
func progress(w io.Writer) engine.ProgressFunc {
	last := time.Time{}
	return func(p engine.Progress) {
		if time.Since(last) < 200*time.Millisecond && p.Done != p.Total {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\r%-8s %d/%d %s   ", p.Phase, p.Done, p.Total, cache.FormatSize(p.Bytes))
	}
}
