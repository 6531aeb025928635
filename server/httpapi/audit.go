package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// auditWriter appends audit records with group commit: records queued while one transaction runs go into the
// next one together, and each caller waits for the transaction holding its record.
type auditWriter struct {
	store   server.Store
	log     *slog.Logger
	mu      sync.RWMutex // held for reading while queueing, for writing while closing
	closed  bool
	queue   chan auditItem
	stopped chan struct{}
}

type auditItem struct {
	rec    server.AuditRecord
	marker bool // a flush: answered once everything queued before it is stored
	stop   bool // the last item: run returns after it
	result chan error
}

const auditBatch = 512

func newAuditWriter(store server.Store, log *slog.Logger) *auditWriter {
	return &auditWriter{store: store, log: log, queue: make(chan auditItem, 4096), stopped: make(chan struct{})}
}

var errAuditClosed = errors.New("audit writer is closed")

func (a *auditWriter) enqueue(it auditItem) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return errAuditClosed
	}
	a.queue <- it
	return nil
}

// record queues rec and waits until it is stored. Once queued, it waits for its transaction even if the
// request is cancelled meanwhile.
func (a *auditWriter) record(ctx context.Context, rec server.AuditRecord) error {
	return a.start(rec).wait()
}

// pendingAudit is a queued audit record; wait says whether its transaction committed.
type pendingAudit struct {
	err    error // the record was not queued
	result chan error
}

// start queues rec and returns at once, so that the caller can work while the record's transaction runs;
// the caller must wait before the answer it audits is complete.
func (a *auditWriter) start(rec server.AuditRecord) pendingAudit {
	item := auditItem{rec: rec, result: make(chan error, 1)}
	if err := a.enqueue(item); err != nil {
		return pendingAudit{err: err}
	}
	return pendingAudit{result: item.result}
}

// wait returns once the record is stored, or with the reason it was not.
func (p pendingAudit) wait() error {
	if p.err != nil {
		return p.err
	}
	return <-p.result
}

// flush waits until every record queued before it is stored.
func (a *auditWriter) flush(ctx context.Context) error {
	item := auditItem{marker: true, result: make(chan error, 1)}
	if err := a.enqueue(item); err != nil {
		return err
	}
	select {
	case err := <-item.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes batches until close.
func (a *auditWriter) run() {
	defer close(a.stopped)
	for {
		batch := []auditItem{<-a.queue}
	fill:
		for len(batch) < auditBatch && !batch[len(batch)-1].stop {
			select {
			case it := <-a.queue:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		a.write(batch)
		if batch[len(batch)-1].stop {
			return
		}
	}
}

func (a *auditWriter) write(batch []auditItem) {
	recs := make([]server.AuditRecord, 0, len(batch))
	for _, it := range batch {
		if !it.marker && !it.stop {
			recs = append(recs, it.rec)
		}
	}
	var err error
	if len(recs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = a.store.AppendAudit(ctx, recs)
		cancel()
		if err != nil {
			for _, r := range recs {
				a.log.Error("audit record not stored", "err", err, "action", r.Action, "user", r.LoginID,
					"object", r.ObjectType+"/"+r.ObjectID, "outcome", r.Outcome, "at", r.At)
			}
		}
	}
	for _, it := range batch {
		if it.result != nil {
			it.result <- err
		}
	}
}

// close stops accepting records and returns once the queued ones are stored. run must be running.
func (a *auditWriter) close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	a.mu.Unlock()
	a.queue <- auditItem{stop: true}
	<-a.stopped
}

// auditRecord builds the call's audit record.
func (c *call) auditRecord(status int) server.AuditRecord {
	outcome := api.OutcomeSuccess
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusLocked:
		outcome = api.OutcomeDenied
	case status >= 400:
		outcome = api.OutcomeFailure
	}
	action := c.route.Action
	if c.action != "" {
		action = c.action
	}
	rec := server.AuditRecord{At: time.Now().UTC(), Action: action, ObjectType: c.objectType, ObjectID: c.objectID,
		PatientID: c.patientID, Outcome: outcome, Status: status, ClientAddr: c.p.ClientAddr, Method: c.r.Method,
		Path: auditPath(c.r), Detail: c.detail, Source: "server"}
	if c.p.UserID != 0 {
		id := c.p.UserID
		rec.UserID, rec.LoginID, rec.Role = &id, c.p.LoginID, c.p.Role
	} else {
		rec.LoginID = c.loginID
	}
	return rec
}

// maxAuditPath bounds the path recorded: an attacker's URL may be a megabyte long.
const maxAuditPath = 4096

// auditPath is the request's path with its query string, as the client sent them (bounded).
func auditPath(r *http.Request) string {
	p := r.URL.Path
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		p += "?" + r.URL.RawQuery
	}
	if len(p) > maxAuditPath {
		p = p[:maxAuditPath] + "…(cut)"
	}
	return p
}
