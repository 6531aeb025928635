package server

import (
	"context"
	"time"

	"github.com/neuronova/neuronova/api"
)

// Gate holds the per-caller token buckets of the rate limit. server/redis implements it in one round trip. When
// Redis cannot be reached it returns an error (CodeUnavailable): requests are refused, never waved through.
// Whether a token is still valid is the store's to say (Store.CheckAccess), not the gate's: a Redis restart
// must not bring a revoked token back.
type Gate interface {
	// Admit takes one request from the bucket of key; a positive wait means the bucket is empty.
	Admit(ctx context.Context, key string) (wait time.Duration, err error)
}

// Cache keeps small values for a while (Orthanc study metadata, resource-to-patient lookups).
type Cache interface {
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, keys ...string) error
}

// Bus carries events between server instances and to the WebSocket hub, and keeps the recent ones so that a
// client that reconnects (to any instance) gets what it missed. Events come from the store's outbox, which
// every instance relays: publishing an event twice, or an older one after a newer, adds nothing.
type Bus interface {
	// Publish sends e (its ID set) to every instance, unless the bus holds it or a newer one already.
	Publish(ctx context.Context, e Event) error
	// Last returns the ID of the newest event the bus holds, "" when it holds none.
	Last(ctx context.Context) (string, error)
	// Subscribe delivers the events published from now on to fn, in order, until ctx ends; it returns once the
	// subscription is active.
	Subscribe(ctx context.Context, fn func(Event)) error
	// Since returns up to limit events published after the event with ID after, oldest first; gap is true
	// when some of them are no longer kept.
	Since(ctx context.Context, after string, limit int) (events []Event, gap bool, err error)
}

// JobQueue is the queue of AI jobs run by GPU workstations and `neuronova worker` for clients without a GPU.
// A claim holds a lease; a job whose lease is not completed or failed within the visibility timeout is
// delivered again, and after the maximum number of deliveries it moves to the dead letters.
//
// The database keeps each job (Store.CreateJob) until it ends; the queue delivers it. Reconcile, run at start
// and then periodically, queues again what the queue lost (a Redis that restarted without its data) and
// returns what it finished, for the database to record.
type JobQueue interface {
	Submit(ctx context.Context, j *api.Job) error // queues j as made by NewJob and stored
	Reconcile(ctx context.Context, unfinished []*api.Job) (finished []*api.Job, requeued int, err error)
	// Claim returns the next job for one of models, waiting up to wait; nil when there is none.
	Claim(ctx context.Context, models []string, worker int64, wait time.Duration) (*api.Job, error)
	// Holds checks that worker holds lease on job id and returns the job.
	Holds(ctx context.Context, id, lease string, worker int64) (*api.Job, error)
	// Renew restarts the visibility timeout of worker's lease on job id.
	Renew(ctx context.Context, id, lease string, worker int64) (*api.Job, error)
	Complete(ctx context.Context, id, lease string, worker int64, resultID string) (*api.Job, error)
	Fail(ctx context.Context, id, lease string, worker int64, reason string, retry bool) (*api.Job, error)
	Job(ctx context.Context, id string) (*api.Job, error)
	Dead(ctx context.Context, limit int) ([]*api.Job, error)
}
