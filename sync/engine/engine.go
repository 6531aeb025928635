// Package engine is the workstation's sync engine, offline first: the radiologist works on the local cache
// (sync/cache) whatever the network does, and a round reconciles it with the server when the server answers.
//
// A round (Round) does, in order:
//
//  1. pull the change feed by cursor (patients, orders, AI results the user may see) into the cache, the
//     cursor committed with each page;
//  2. push: the single outbox relay sends every unsent outbox item — AI results (POST /api/ai/results/ with
//     the item's Idempotency-Key), SEGs (stored in Orthanc through the server proxy, then confirmed by SOP
//     Instance UID and MD5), reports (save_result on the order) — and marks an item done only after the
//     server confirmed it; failures wait with exponential backoff and jitter; then the local audit events
//     are forwarded by cursor (the server stores each event ID once);
//  3. prefetch the studies of the worklist (orders not yet confirmed or cancelled) through the proxy into the
//     cache: in parallel, skipping instances already cached (by SOP Instance UID), each file verified by size
//     and by the MD5 Orthanc recorded, transcoded on the server when its transfer syntax cannot be decoded
//     locally; then the audit events of the prefetch's imports are forwarded too.
//
// Nothing is lost: results enter the outbox in the transaction that records them; an item leaves only with
// the server's confirmation. Nothing is duplicated: the server stores an Idempotency-Key once, Orthanc an
// instance (SOP Instance UID) once, the audit trail an event ID once — so a round killed at any point and
// run again sends again harmlessly.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/suyashkumar/dicom/pkg/uid"
	"golang.org/x/crypto/bcrypt"

	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
)

// Options configures an Engine. The zero value takes the defaults.
type Options struct {
	// OfflineGrace is how long after the last online login a cached credential still opens an offline
	// session (default 72 h).
	OfflineGrace time.Duration
	// BcryptCost of the cached credential's hash (default bcrypt.DefaultCost).
	BcryptCost int
	// Workers is the number of parallel transfers: downloads of a prefetch, STOW-RS requests of a push
	// (default 4).
	Workers int
	// BackoffBase and BackoffMax bound the exponential backoff of a failed outbox item: the n-th failure
	// waits base·2ⁿ⁻¹, at most max, times a random factor in [0.5, 1.5) (defaults 2 s and 10 min).
	BackoffBase, BackoffMax time.Duration
	// RoundRetries is how many times a round retries an item that failed because the server could not be
	// reached, with the same backoff capped at RoundRetryMax, before leaving it for a later round (default
	// 3 retries, waits from 200 ms up to 2 s).
	RoundRetries  int
	RoundRetryMax time.Duration
	// NotifyRetryMax caps the backoff between reconnections of the notification stream (Listen), which starts
	// at 200 ms (default 30 s).
	NotifyRetryMax time.Duration
	// Prefetch makes rounds download the worklist's studies (default on; NoPrefetch turns it off).
	NoPrefetch bool
	// TransferSyntax is what undecodable instances are transcoded to (default Explicit VR Little Endian).
	TransferSyntax string
	Logger         *slog.Logger
	// Now is the clock (tests move it); default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.OfflineGrace <= 0 {
		o.OfflineGrace = 72 * time.Hour
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = bcrypt.DefaultCost
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 2 * time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 10 * time.Minute
	}
	if o.RoundRetries == 0 {
		o.RoundRetries = 3
	}
	if o.RoundRetryMax <= 0 {
		o.RoundRetryMax = 2 * time.Second
	}
	if o.NotifyRetryMax <= 0 {
		o.NotifyRetryMax = 30 * time.Second
	}
	if o.TransferSyntax == "" {
		o.TransferSyntax = uid.ExplicitVRLittleEndian
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Engine syncs one cache with one server. It is safe for concurrent use; rounds never overlap (a second
// Round waits for the first).
type Engine struct {
	cache  *cache.Cache
	server Server
	pacs   PACS
	client *client.Client // nil for an engine made by NewWith
	opts   Options
	log    *slog.Logger

	round  sync.Mutex // one round at a time in this process; relay.lock across processes
	clinic clinicState

	mu           sync.Mutex
	session      *Session
	pendingLogin *pendingLogin
	online       bool
	lastErr      string
	lastSync     time.Time
	running      bool
}

// New makes an engine for the cache and the server client, which is both its Server and its PACS.
func New(c *cache.Cache, cl *client.Client, opts Options) *Engine {
	e := NewWith(c, cl, cl, opts)
	e.client = cl
	return e
}

// NewWith makes an engine for the cache, the server and Orthanc behind it.
func NewWith(c *cache.Cache, srv Server, pacs PACS, opts Options) *Engine {
	opts = opts.withDefaults()
	return &Engine{cache: c, server: srv, pacs: pacs, opts: opts, log: opts.Logger}
}

// Client is the engine's server client (nil for an engine made by NewWith).
func (e *Engine) Client() *client.Client { return e.client }

// Status is what the sync panel shows.
type Status struct {
	Online     bool      // the last call to the server got an answer
	LoggedIn   bool      // a session exists (online or offline)
	Offline    bool      // the session is an offline one (cached credential)
	User       string    // login ID of the session
	Outbox     int       // items waiting to be sent (dead ones included)
	Dead       int       // items the server refused for good; a person must look
	LastSync   time.Time // end of the last round that reached the server; zero never
	LastError  string    // why the last round failed, empty when it did not
	Running    bool      // a round runs now
	AuditQueue int       // local audit events not yet forwarded
	Skipped    int       // change-feed entries skipped as undecodable, ever (cache.SkippedChanges lists them)
}

const (
	keyLastSync     = "last_sync"
	keyFeedCursor   = "changes.cursor"
	keyAuditCursor  = "audit.forwarded"
	keyWorkstation  = "sync.workstation_id"
	auditBatchLimit = 500
)

// Status reports the engine's state; it reads the cache and never calls the server.
func (e *Engine) Status(ctx context.Context) (Status, error) {
	e.mu.Lock()
	st := Status{Online: e.online, LastError: e.lastErr, Running: e.running, LastSync: e.lastSync}
	if e.session != nil {
		st.LoggedIn, st.Offline, st.User = true, e.session.Offline, e.session.User.LoginID
	}
	e.mu.Unlock()
	n, err := e.cache.OutboxCounts(ctx)
	if err != nil {
		return st, err
	}
	st.Outbox, st.Dead = n.Pending, n.Dead
	if st.LastSync.IsZero() {
		if v, err := e.cache.SyncValue(ctx, keyLastSync, ""); err == nil && v != "" {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				st.LastSync = time.UnixMilli(ms)
			}
		}
	}
	after, err := e.auditCursor(ctx)
	if err != nil {
		return st, err
	}
	evs, err := e.cache.AuditEventsAfter(ctx, after, auditBatchLimit)
	if err != nil {
		return st, err
	}
	st.AuditQueue = len(evs)
	skipped, err := e.cache.SkippedChanges(ctx)
	if err != nil {
		return st, err
	}
	st.Skipped = len(skipped)
	return st, nil
}

func (e *Engine) setOnline(online bool, err error) {
	e.mu.Lock()
	e.online = online
	if err != nil {
		e.lastErr = err.Error()
	} else {
		e.lastErr = ""
	}
	e.mu.Unlock()
}

// Phase names a step of a round, for progress.
type Phase string

const (
	PhaseFeed     Phase = "feed"
	PhasePush     Phase = "push"
	PhaseAudit    Phase = "audit"
	PhasePrefetch Phase = "prefetch"
)

// Progress is reported during a round: Done of Total units of the phase (items, events, instances), Bytes
// received so far in a prefetch. It is called from worker goroutines (hand it to the UI with fyne.Do).
type Progress struct {
	Phase       Phase
	Study       string // StudyInstanceUID during a prefetch
	Done, Total int
	Bytes       int64
}

// ProgressFunc receives progress; nil means none.
type ProgressFunc func(Progress)

// Summary says what a round did.
type Summary struct {
	Changes        int // change-feed entries applied
	SkippedChanges int // change-feed entries that could not be decoded: skipped, kept in the cache, listed in Errors

	Pushed          int // outbox items confirmed by the server this round
	Results, SEGs   int // of which AI results and SEG instances
	Reports         int
	AuditForwarded  int // local audit events forwarded (new on the server)
	AuditDuplicates int // forwarded again, already stored (after a crash between send and cursor)
	Failed          int // outbox items that failed this round (left for later or set aside)
	Dead            int // of which set aside for good
	OutboxLeft      int // items still unsent after the round

	Studies       int   // studies prefetched (or checked complete)
	Pulled        int   // instances downloaded, verified and cached
	PulledBytes   int64 // their size
	AlreadyCached int   // instances skipped: already in the cache by SOP Instance UID
	Transcoded    int   // instances transcoded on the server first
	PullFailed    int   // instances that could not be pulled (retried next round)

	Errors []string // what failed, one line each
}

// roundRetryBase is the first wait of a retry within a round.
const roundRetryBase = 200 * time.Millisecond

// ErrRelayBusy is returned when another process runs the outbox relay on the same cache.
var ErrRelayBusy = errors.New("another process is syncing this cache")

// Round runs one sync round (feed, push, audit, prefetch). It returns the summary so far and an error when
// the server could not be reached or ctx was cancelled; failures of single items are counted in the summary
// and listed in Errors, not returned. Without a session (Login) it fails at once.
func (e *Engine) Round(ctx context.Context, p ProgressFunc) (*Summary, error) {
	if p == nil {
		p = func(Progress) {}
	}
	e.round.Lock()
	defer e.round.Unlock()
	unlock, err := lockRelay(e.cache.Dir())
	if err != nil {
		return &Summary{}, err
	}
	defer unlock()
	e.mu.Lock()
	e.running = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.running = false
		e.mu.Unlock()
	}()
	sum := &Summary{}
	err = e.round1(ctx, sum, p)
	if n, cerr := e.cache.OutboxCounts(context.WithoutCancel(ctx)); cerr == nil {
		sum.OutboxLeft = n.Pending
	}
	switch {
	case err == nil:
		now := e.opts.Now()
		e.mu.Lock()
		e.lastSync = now
		e.mu.Unlock()
		e.setOnline(true, nil)
		if serr := e.cache.SetSyncValue(context.WithoutCancel(ctx), keyLastSync, strconv.FormatInt(now.UnixMilli(), 10)); serr != nil {
			err = serr
		}
	case client.IsOffline(err):
		e.setOnline(false, err)
	default:
		e.mu.Lock()
		e.lastErr = err.Error()
		e.mu.Unlock()
	}
	return sum, err
}

func (e *Engine) round1(ctx context.Context, sum *Summary, p ProgressFunc) error {
	if err := e.ensureOnline(ctx); err != nil {
		return err
	}
	if err := e.pullFeed(ctx, sum, p); err != nil {
		return fmt.Errorf("change feed: %w", err)
	}
	e.setOnline(true, nil)
	if err := e.push(ctx, sum, p); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if err := e.forwardAudit(ctx, sum, p); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if !e.opts.NoPrefetch {
		if err := e.prefetchWorklist(ctx, sum, p); err != nil {
			return fmt.Errorf("prefetch: %w", err)
		}
		// The prefetch's imports are audit events too.
		if err := e.forwardAudit(ctx, sum, p); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	return nil
}

// Run runs rounds until ctx ends: every interval, and sooner when Kick is called. Rounds that fail are
// retried with the backoff (jitter included), up to interval. The UI runs it in a goroutine.
func (e *Engine) Run(ctx context.Context, interval time.Duration, kick <-chan struct{}, p ProgressFunc) {
	fails := 0
	for {
		_, err := e.Round(ctx, p)
		wait := interval
		if err != nil && ctx.Err() == nil {
			fails++
			wait = min(interval, e.backoff(fails))
			e.log.Info("sync round failed; retrying", "in", wait, "err", err)
		} else {
			fails = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-time.After(wait):
		}
	}
}

// backoff is the wait after the n-th consecutive failure: base·2ⁿ⁻¹ capped at max, times a random factor in
// [0.5, 1.5) so that workstations coming back together do not call the server in step.
func (e *Engine) backoff(n int) time.Duration {
	return backoff(n, e.opts.BackoffBase, e.opts.BackoffMax)
}

func backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}
