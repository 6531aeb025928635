package server

import (
	"context"
	"time"

	"github.com/neuronova/neuronova/api"
)

// Gate answers, for each request, whether its access token is still valid and whether its caller has
// requests left. server/redis implements it with one round trip to Redis. When Redis cannot be reached it
// returns an error (CodeUnavailable): requests are refused, never waved through.
type Gate interface {
	// Admit checks that the token (jti, issued at issuedAt to userID) has not been revoked and, when limit is
	// true, takes one request from the bucket of key. RetryAfter > 0 means the bucket is empty.
	Admit(ctx context.Context, key, jti string, userID int64, issuedAt time.Time, limit bool) (Admission, error)
	// RevokeAccessToken revokes one access token until it expires.
	RevokeAccessToken(ctx context.Context, jti string, expires time.Time) error
	// RevokeUserTokens revokes every access token of userID issued at or before at (to the millisecond).
	RevokeUserTokens(ctx context.Context, userID int64, at time.Time) error
}

// Admission is the answer of Gate.Admit.
type Admission struct {
	Revoked    bool
	RetryAfter time.Duration // > 0: rate-limited
}

// LoginCounter counts failed logins per login ID.
type LoginCounter interface {
	AddFailure(ctx context.Context, loginID string) (failures int, err error)
	Failures(ctx context.Context, loginID string) (int, error)
	Reset(ctx context.Context, loginID string) error
}

// Cache keeps small values for a while (Orthanc study metadata, resource-to-patient lookups).
type Cache interface {
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, keys ...string) error
}

// Bus carries events between server instances and to the WebSocket hub.
type Bus interface {
	Publish(ctx context.Context, e Event) error
	// Subscribe delivers events to fn until ctx ends; it returns once the subscription is active.
	Subscribe(ctx context.Context, fn func(Event)) error
}

// JobQueue is the queue of AI jobs run by GPU workstations and `neuronova worker` for clients without a GPU.
// A claim holds a lease; a job whose lease is not completed or failed within the visibility timeout is
// delivered again, and after the maximum number of deliveries it moves to the dead letters.
type JobQueue interface {
	Submit(ctx context.Context, j *api.Job) error // sets ID, Status, SubmittedAt
	// Claim returns the next job for one of models, waiting up to wait; nil when there is none.
	Claim(ctx context.Context, models []string, worker int64, wait time.Duration) (*api.Job, error)
	// Holds checks that worker holds lease on job id and returns the job.
	Holds(ctx context.Context, id, lease string, worker int64) (*api.Job, error)
	Complete(ctx context.Context, id, lease string, worker int64, resultID string) (*api.Job, error)
	Fail(ctx context.Context, id, lease string, worker int64, reason string, retry bool) (*api.Job, error)
	Job(ctx context.Context, id string) (*api.Job, error)
	Dead(ctx context.Context, limit int) ([]*api.Job, error)
}
