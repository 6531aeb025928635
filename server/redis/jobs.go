package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

// QueueConfig tunes the job queue.
type QueueConfig struct {
	// Visibility is how long a claimed job may run before it is delivered to another worker; default 10 min.
	Visibility time.Duration
	// MaxDeliveries is how many times a job is delivered before it goes to the dead letters; default 3.
	MaxDeliveries int
}

// Queue is the AI job queue: one stream per model (jobs:M1, jobs:MG, jobs:MM) read by the consumer group
// "workers", a hash per job (job:<id>) holding its state, and a dead-letter stream (jobs:dead). Claims that
// block use a connection pool of their own so that waiting workers never starve the request gate.
type Queue struct {
	c        *Client
	blocking *goredis.Client
	cfg      QueueConfig
}

const (
	group       = "workers"
	finishedTTL = 7 * 24 * time.Hour
	streamLen   = 10000
)

var _ server.JobQueue = (*Queue)(nil)

// Queue returns the job queue on c's Redis.
func (c *Client) Queue(ctx context.Context, cfg QueueConfig) (*Queue, error) {
	if cfg.Visibility <= 0 {
		cfg.Visibility = 10 * time.Minute
	}
	if cfg.MaxDeliveries <= 0 {
		cfg.MaxDeliveries = 3
	}
	q := &Queue{c: c, cfg: cfg, blocking: goredis.NewClient(clientOptions(c.cfg, 30*time.Second, 128))}
	if err := q.ensureStreams(ctx); err != nil {
		q.blocking.Close()
		return nil, err
	}
	return q, nil
}

// Close closes the queue's own connections.
func (q *Queue) Close() error { return q.blocking.Close() }

func isBusyGroup(err error) bool {
	return err != nil && len(err.Error()) >= 9 && err.Error()[:9] == "BUSYGROUP"
}

func (q *Queue) stream(model string) string { return q.c.prefix + "jobs:" + model }
func (q *Queue) dead() string               { return q.c.prefix + "jobs:dead" }
func (q *Queue) key(id string) string       { return q.c.prefix + "job:" + id }

// Submit queues a job made by server.NewJob (and stored by the database).
func (q *Queue) Submit(ctx context.Context, j *api.Job) error {
	if !server.ValidModel(j.Model) || j.ID == "" {
		return server.Errorf(api.CodeInvalid, "job %q of model %q cannot be queued", j.ID, j.Model)
	}
	spec, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("marshal job: %w", err)
	}
	if err := restoreScript.Run(ctx, q.c.rdb, []string{q.key(j.ID), q.stream(j.Model)}, spec, j.Model, j.ID).Err(); err != nil {
		return unavailable("submit job", err)
	}
	return nil
}

// restoreScript queues a job unless Redis holds it already. KEYS: job hash, stream. ARGV: spec, model, job ID.
// Returns the job's status, "" when it was queued now.
var restoreScript = goredis.NewScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if status then return status end
redis.call('HSET', KEYS[1], 'spec', ARGV[1], 'status', 'queued', 'attempts', 0, 'model', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '10000', '*', 'job', ARGV[3])
return ''
`)

// Reconcile queues again the unfinished jobs Redis does not hold (it lost them in a restart) and returns those
// it holds as ended, for the database to record.
func (q *Queue) Reconcile(ctx context.Context, unfinished []*api.Job) ([]*api.Job, int, error) {
	if err := q.ensureStreams(ctx); err != nil {
		return nil, 0, err
	}
	pipe := q.c.rdb.Pipeline()
	cmds := make([]*goredis.Cmd, len(unfinished))
	for i, j := range unfinished {
		spec, err := json.Marshal(j)
		if err != nil {
			return nil, 0, fmt.Errorf("marshal job: %w", err)
		}
		// Eval, not EvalSha: a Redis that lost its data lost its script cache too.
		cmds[i] = restoreScript.Eval(ctx, pipe, []string{q.key(j.ID), q.stream(j.Model)}, spec, j.Model, j.ID)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, 0, unavailable("reconcile jobs", err)
	}
	var ended []*api.Job
	requeued := 0
	for i, cmd := range cmds {
		switch status, _ := cmd.Text(); status {
		case "":
			requeued++
		case api.JobDone, api.JobFailed:
			j, err := q.Job(ctx, unfinished[i].ID)
			if err != nil {
				return nil, 0, err
			}
			ended = append(ended, j)
		}
	}
	return ended, requeued, nil
}

// ensureStreams creates the job streams and their consumer group where they are missing (a Redis that
// restarted empty has neither).
func (q *Queue) ensureStreams(ctx context.Context) error {
	for _, m := range []string{api.ModelM1, api.ModelMG, api.ModelMM} {
		err := q.c.rdb.XGroupCreateMkStream(ctx, q.stream(m), group, "0").Err()
		if err != nil && !isBusyGroup(err) {
			return unavailable("create job stream", err)
		}
	}
	return nil
}

// claimScript takes a delivered stream entry for a worker: it counts the delivery and either hands out a new
// lease or, past the maximum deliveries, moves the job to the dead letters.
// KEYS: job hash, stream, dead stream. ARGV: entry ID, worker ID, lease, max deliveries, group, now (RFC 3339).
// Returns 1 when claimed, 0 when dead-lettered, -1 when the job no longer exists.
var claimScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XACK', KEYS[2], ARGV[5], ARGV[1])
  return -1
end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'done' or status == 'failed' then
  redis.call('XACK', KEYS[2], ARGV[5], ARGV[1])
  return -1
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts > tonumber(ARGV[4]) then
  redis.call('XACK', KEYS[2], ARGV[5], ARGV[1])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'job', string.sub(KEYS[1], string.len(ARGV[7]) + 1), 'at', ARGV[6])
  redis.call('HSET', KEYS[1], 'status', 'failed', 'lease', '', 'error',
    'delivered ' .. (attempts - 1) .. ' times without completing; moved to the dead letters')
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'running', 'lease', ARGV[3], 'entry', ARGV[1], 'claimed_by', ARGV[2])
return 1
`)

// Claim returns the next job of one of models for worker, or nil when none came within wait. Entries claimed
// by a worker that went quiet for longer than the visibility timeout are taken over first. A Redis that lost
// its streams gets them back (the jobs themselves come back with Reconcile).
func (q *Queue) Claim(ctx context.Context, models []string, worker int64, wait time.Duration) (*api.Job, error) {
	j, err := q.claim(ctx, models, worker, wait)
	if err != nil && strings.Contains(err.Error(), "NOGROUP") {
		if err := q.ensureStreams(ctx); err != nil {
			return nil, err
		}
		return q.claim(ctx, models, worker, wait)
	}
	return j, err
}

func (q *Queue) claim(ctx context.Context, models []string, worker int64, wait time.Duration) (*api.Job, error) {
	if len(models) == 0 {
		return nil, server.Errorf(api.CodeInvalid, "claim needs the models the worker can run")
	}
	for _, m := range models {
		if !server.ValidModel(m) {
			return nil, server.Errorf(api.CodeInvalid, "model %q must be M1, MG or MM", m)
		}
	}
	consumer := "user-" + strconv.FormatInt(worker, 10)
	for _, m := range models {
		for {
			msgs, _, err := q.c.rdb.XAutoClaim(ctx, &goredis.XAutoClaimArgs{Stream: q.stream(m), Group: group,
				Consumer: consumer, MinIdle: q.cfg.Visibility, Start: "0-0", Count: 1}).Result()
			if err != nil {
				return nil, unavailable("reclaim idle jobs", err)
			}
			if len(msgs) == 0 {
				break
			}
			j, err := q.take(ctx, m, msgs[0], worker)
			if err != nil || j != nil {
				return j, err
			}
		}
	}
	deadline := time.Now().Add(wait)
	for {
		// First each stream on its own, without waiting: a read of several streams delivers up to one entry
		// of each, and entries delivered to this consumer but not taken would wait out the visibility timeout.
		for _, m := range models {
			res, err := q.c.rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: group, Consumer: consumer,
				Streams: []string{q.stream(m), ">"}, Count: 1, Block: -1}).Result()
			if errors.Is(err, goredis.Nil) {
				continue
			}
			if err != nil {
				return nil, unavailable("claim job", err)
			}
			if j, err := q.takeFirst(ctx, res, worker); err != nil || j != nil {
				return j, err
			}
		}
		block := time.Until(deadline)
		if block < time.Millisecond {
			return nil, nil
		}
		// Then wait on all the streams at once; what arrives beyond the first job is given back.
		streams := make([]string, 0, 2*len(models))
		for _, m := range models {
			streams = append(streams, q.stream(m))
		}
		for range models {
			streams = append(streams, ">")
		}
		res, err := q.blocking.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: group, Consumer: consumer, Streams: streams,
			Count: 1, Block: block}).Result()
		if errors.Is(err, goredis.Nil) {
			return nil, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, unavailable("claim job", err)
		}
		if j, err := q.takeFirst(ctx, res, worker); err != nil || j != nil {
			return j, err
		}
	}
}

// takeFirst takes the first job of the entries read for worker and gives the other entries back to the queue.
func (q *Queue) takeFirst(ctx context.Context, res []goredis.XStream, worker int64) (*api.Job, error) {
	var taken *api.Job
	var firstErr error
	for _, s := range res {
		model := s.Stream[len(q.c.prefix+"jobs:"):]
		for _, msg := range s.Messages {
			if taken != nil || firstErr != nil {
				if err := q.giveBack(ctx, s.Stream, msg); err != nil && firstErr == nil && taken == nil {
					firstErr = err
				}
				continue
			}
			taken, firstErr = q.take(ctx, model, msg, worker)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return taken, nil
}

// giveBack returns an entry delivered to a worker that did not take it: it is acknowledged and queued again
// as a new entry, without counting a delivery.
func (q *Queue) giveBack(ctx context.Context, stream string, msg goredis.XMessage) error {
	id, _ := msg.Values["job"].(string)
	pipe := q.c.rdb.TxPipeline()
	pipe.XAck(ctx, stream, group, msg.ID)
	pipe.XAdd(ctx, &goredis.XAddArgs{Stream: stream, MaxLen: streamLen, Approx: true, Values: []string{"job", id}})
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("give back job", err)
	}
	return nil
}

func (q *Queue) take(ctx context.Context, model string, msg goredis.XMessage, worker int64) (*api.Job, error) {
	id, _ := msg.Values["job"].(string)
	lease := auth.RandomHex(16)
	res, err := claimScript.Run(ctx, q.c.rdb, []string{q.key(id), q.stream(model), q.dead()}, msg.ID, worker, lease,
		q.cfg.MaxDeliveries, group, time.Now().UTC().Format(time.RFC3339), q.c.prefix+"job:").Int()
	if err != nil {
		return nil, unavailable("claim job", err)
	}
	if res != 1 {
		return nil, nil
	}
	j, err := q.Job(ctx, id)
	if err == nil {
		j.LeaseExpiresAt = q.expiry()
	}
	return j, err
}

// expiry is when a lease taken or renewed now runs out.
func (q *Queue) expiry() *time.Time {
	t := time.Now().UTC().Add(q.cfg.Visibility)
	return &t
}

// renewScript restarts the idle time of a claim's stream entry while the lease is held. KEYS: job hash,
// stream. ARGV: lease, group, consumer. Returns 1, or 0 when the lease is not held.
var renewScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('XCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, redis.call('HGET', KEYS[1], 'entry'), 'JUSTID')
return 1
`)

// Renew keeps worker's claim of job id from being delivered again for another visibility timeout.
func (q *Queue) Renew(ctx context.Context, id, lease string, worker int64) (*api.Job, error) {
	j, err := q.Holds(ctx, id, lease, worker)
	if err != nil {
		return nil, err
	}
	res, err := renewScript.Run(ctx, q.c.rdb, []string{q.key(id), q.stream(j.Model)}, lease, group,
		"user-"+strconv.FormatInt(worker, 10)).Int()
	if err != nil {
		return nil, unavailable("renew job", err)
	}
	if res != 1 {
		return nil, server.Errorf(api.CodeConflict, "job %s: the lease expired before it was renewed", id)
	}
	j.LeaseExpiresAt = q.expiry()
	return j, nil
}

// Job returns a job's state.
func (q *Queue) Job(ctx context.Context, id string) (*api.Job, error) {
	h, err := q.c.rdb.HGetAll(ctx, q.key(id)).Result()
	if err != nil {
		return nil, unavailable("read job", err)
	}
	if len(h) == 0 {
		return nil, server.Errorf(api.CodeNotFound, "job %q does not exist", id)
	}
	var j api.Job
	if err := json.Unmarshal([]byte(h["spec"]), &j); err != nil {
		return nil, fmt.Errorf("job %s has a malformed spec: %w", id, err)
	}
	j.Status, j.Lease, j.ResultID, j.Error = h["status"], h["lease"], h["result_id"], h["error"]
	j.Attempts, _ = strconv.Atoi(h["attempts"])
	if by, err := strconv.ParseInt(h["claimed_by"], 10, 64); err == nil {
		j.ClaimedBy = &by
	}
	return &j, nil
}

// Holds checks that worker holds lease on job id.
func (q *Queue) Holds(ctx context.Context, id, lease string, worker int64) (*api.Job, error) {
	j, err := q.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	if lease == "" || j.Lease != lease || j.ClaimedBy == nil || *j.ClaimedBy != worker || j.Status != api.JobRunning {
		return nil, server.Errorf(api.CodeConflict, "job %s is %s and its lease is not yours (it may have expired and gone to another worker)", id, j.Status)
	}
	return j, nil
}

// finishScript ends a claim. KEYS: job hash, stream, dead stream. ARGV: lease, group, outcome (done, retry,
// failed), result ID, error, max deliveries, now. Returns the new status, or "" when the lease is not held.
var finishScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= 'running' then return '' end
local entry = redis.call('HGET', KEYS[1], 'entry')
redis.call('XACK', KEYS[2], ARGV[2], entry)
local outcome = ARGV[3]
if outcome == 'retry' and tonumber(redis.call('HGET', KEYS[1], 'attempts')) >= tonumber(ARGV[6]) then
  outcome = 'dead'
end
if outcome == 'done' then
  redis.call('HSET', KEYS[1], 'status', 'done', 'lease', '', 'result_id', ARGV[4], 'error', '')
  redis.call('EXPIRE', KEYS[1], ARGV[8])
  return 'done'
elseif outcome == 'retry' then
  redis.call('HSET', KEYS[1], 'status', 'queued', 'lease', '', 'error', ARGV[5])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', '10000', '*', 'job', ARGV[9])
  return 'queued'
elseif outcome == 'dead' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'job', ARGV[9], 'at', ARGV[7])
  redis.call('HSET', KEYS[1], 'status', 'failed', 'lease', '', 'error', ARGV[5] .. ' (after the last delivery; moved to the dead letters)')
  redis.call('EXPIRE', KEYS[1], ARGV[8])
  return 'failed'
end
redis.call('HSET', KEYS[1], 'status', 'failed', 'lease', '', 'error', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[8])
return 'failed'
`)

func (q *Queue) finish(ctx context.Context, id, lease string, worker int64, outcome, resultID, reason string) (*api.Job, error) {
	j, err := q.Holds(ctx, id, lease, worker)
	if err != nil {
		return nil, err
	}
	status, err := finishScript.Run(ctx, q.c.rdb, []string{q.key(id), q.stream(j.Model), q.dead()}, lease, group, outcome,
		resultID, reason, q.cfg.MaxDeliveries, time.Now().UTC().Format(time.RFC3339), int(finishedTTL.Seconds()), id).Text()
	if err != nil {
		return nil, unavailable("finish job", err)
	}
	if status == "" {
		return nil, server.Errorf(api.CodeConflict, "job %s: the lease expired while finishing", id)
	}
	return q.Job(ctx, id)
}

// Complete records that the job produced the AI result resultID.
func (q *Queue) Complete(ctx context.Context, id, lease string, worker int64, resultID string) (*api.Job, error) {
	return q.finish(ctx, id, lease, worker, "done", resultID, "")
}

// Fail records a failure; with retry the job is queued again unless it used up its deliveries.
func (q *Queue) Fail(ctx context.Context, id, lease string, worker int64, reason string, retry bool) (*api.Job, error) {
	if reason == "" || len(reason) > 2000 {
		return nil, server.Errorf(api.CodeInvalid, "fail needs an error of 1 to 2000 characters")
	}
	outcome := "failed"
	if retry {
		outcome = "retry"
	}
	return q.finish(ctx, id, lease, worker, outcome, "", reason)
}

// Dead returns the newest dead-lettered jobs.
func (q *Queue) Dead(ctx context.Context, limit int) ([]*api.Job, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	msgs, err := q.c.rdb.XRevRangeN(ctx, q.dead(), "+", "-", int64(limit)).Result()
	if err != nil {
		return nil, unavailable("read dead letters", err)
	}
	out := []*api.Job{}
	for _, m := range msgs {
		id, _ := m.Values["job"].(string)
		j, err := q.Job(ctx, id)
		if server.IsCode(err, api.CodeNotFound) {
			continue // its record expired; the dead letter outlived it
		}
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(x *api.Job) bool { return x.ID == j.ID }) {
			out = append(out, j)
		}
	}
	return out, nil
}
