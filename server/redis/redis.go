// Package redis implements the server's Redis-backed services with github.com/redis/go-redis/v9: the rate
// limit (per-caller token buckets, one round trip), a small cache, the event bus (a stream every instance reads,
// which also keeps recent events for clients that reconnect) and the delivery of
// the AI job queue (Streams with a consumer group, redelivery of idle entries and dead letters). Nothing that
// guards access lives here — revocations and lockouts are in the database — so a Redis that restarts, with or
// without its data, lets no revoked token back in. Every key starts with a configurable prefix.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// Config says where Redis is and how the services behave.
type Config struct {
	Addr     string
	Password string
	DB       int
	Prefix   string  // prefix of every key; default "neuronova:"
	Rate     float64 // requests per second per caller; default 10
	Burst    int     // bucket size; default 20
	Logger   *slog.Logger
}

// Client holds the connections. Close it when done.
type Client struct {
	rdb    *goredis.Client
	cfg    Config
	prefix string
}

// Open connects to Redis and checks that it answers.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("redis address is empty")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "neuronova:"
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 10
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rdb := goredis.NewClient(clientOptions(cfg, 3*time.Second, 64))
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis at %s does not answer: %w", cfg.Addr, err)
	}
	return &Client{rdb: rdb, cfg: cfg, prefix: cfg.Prefix}, nil
}

// clientOptions are the connection options of the server's pools. A Redis that is down must fail requests
// fast (503) rather than hold them through go-redis's default retries (about 2.5 s): one retry, two dials.
func clientOptions(cfg Config, readTimeout time.Duration, poolSize int) *goredis.Options {
	return &goredis.Options{Addr: cfg.Addr, Password: cfg.Password, DB: cfg.DB, DialTimeout: 2 * time.Second,
		ReadTimeout: readTimeout, WriteTimeout: 3 * time.Second, PoolSize: poolSize,
		MaxRetries: 1, DialerRetries: 2, DialerRetryTimeout: 50 * time.Millisecond}
}

// Close closes the connections.
func (c *Client) Close() error { return c.rdb.Close() }

// Ping checks that Redis answers.
func (c *Client) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }

// Limits returns the rate and burst in force.
func (c *Client) Limits() (rate float64, burst int) { return c.cfg.Rate, c.cfg.Burst }

// unavailable wraps a Redis failure: the client sees only the *server.Error, the log sees the cause.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %w", server.Errorf(api.CodeUnavailable, "redis is unavailable (%s)", op), err)
}

// admitScript takes one request from a token bucket. KEYS: bucket. ARGV: rate per s, burst. Returns the wait
// in µs (0: admitted).
var admitScript = goredis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + (now - ts) * rate / 1000000)
local wait = 0
if tokens < 1 then
  wait = math.ceil((1 - tokens) * 1000000 / rate)
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
`)

// Admit implements server.Gate in one round trip.
func (c *Client) Admit(ctx context.Context, key string) (time.Duration, error) {
	wait, err := admitScript.Run(ctx, c.rdb, []string{c.prefix + "rl:" + key}, c.cfg.Rate, c.cfg.Burst).Int64()
	if err != nil {
		return 0, unavailable("admit request", err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}

// Get returns a cached value.
func (c *Client) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := c.rdb.Get(ctx, c.prefix+"cache:"+key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable("read cache", err)
	}
	return b, true, nil
}

// Set caches a value for ttl.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := c.rdb.Set(ctx, c.prefix+"cache:"+key, value, ttl).Err(); err != nil {
		return unavailable("write cache", err)
	}
	return nil
}

// Delete drops cached values.
func (c *Client) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + "cache:" + k
	}
	if err := c.rdb.Del(ctx, full...).Err(); err != nil {
		return unavailable("delete cache", err)
	}
	return nil
}

// eventsKeep is about how many events the stream keeps for clients that reconnect (trimmed approximately).
const eventsKeep = 10000

// Publish appends an event, under its ID, to the events stream every server instance reads. An event the
// stream holds already, or one older than its newest, is not added again: every instance relays the store's
// outbox, and the stream takes each event once, in order.
func (c *Client) Publish(ctx context.Context, e server.Event) error {
	id := e.ID
	if !server.ValidEventID(id) || id == "0-0" {
		return fmt.Errorf("event %s has no valid ID (%q)", e.Type, id)
	}
	e.ID = ""
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("marshal event: %w", err)
	}
	err = c.rdb.XAdd(ctx, &goredis.XAddArgs{Stream: c.prefix + "events", ID: id, MaxLen: eventsKeep, Approx: true,
		Values: []string{"event", string(b)}}).Err()
	if err != nil && strings.Contains(err.Error(), "equal or smaller than the target stream top item") {
		return nil // relayed already
	}
	if err != nil {
		return unavailable("publish event", err)
	}
	return nil
}

// Last returns the ID of the newest event the stream holds, "" when it holds none.
func (c *Client) Last(ctx context.Context) (string, error) {
	id, err := c.lastEventID(ctx)
	if id == "0-0" {
		id = ""
	}
	return id, err
}

// Subscribe delivers the events published from now on to fn, in order, until ctx ends. It returns once it
// knows where the stream stands; while Redis is unreachable it retries, and resumes after the last event it
// delivered, so that nothing in between is skipped.
func (c *Client) Subscribe(ctx context.Context, fn func(server.Event)) error {
	last, err := c.lastEventID(ctx)
	if err != nil {
		return err
	}
	blocking := goredis.NewClient(clientOptions(c.cfg, 10*time.Second, 2))
	go func() {
		defer blocking.Close()
		for ctx.Err() == nil {
			res, err := blocking.XRead(ctx, &goredis.XReadArgs{Streams: []string{c.prefix + "events", last}, Count: 100, Block: 5 * time.Second}).Result()
			if errors.Is(err, goredis.Nil) {
				continue
			}
			if err != nil {
				if ctx.Err() == nil {
					c.cfg.Logger.Warn("events stream unreadable; retrying", "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(500 * time.Millisecond):
					}
				}
				continue
			}
			for _, m := range res[0].Messages {
				last = m.ID
				if e, ok := c.decodeEvent(m); ok {
					fn(e)
				}
			}
		}
	}()
	return nil
}

// lastEventID is the ID of the newest event in the stream, "0-0" when it is empty.
func (c *Client) lastEventID(ctx context.Context) (string, error) {
	msgs, err := c.rdb.XRevRangeN(ctx, c.prefix+"events", "+", "-", 1).Result()
	if err != nil {
		return "", unavailable("read the events stream", err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// Since returns up to limit events published after the event after, oldest first; gap is true when the stream
// no longer holds some of them (trimmed, or Redis lost its data).
func (c *Client) Since(ctx context.Context, after string, limit int) ([]server.Event, bool, error) {
	if !server.ValidEventID(after) {
		return nil, false, server.Errorf(api.CodeInvalid, "%s %q is not an event ID", api.LastEventIDHeader, after)
	}
	key := c.prefix + "events"
	info, err := c.rdb.XInfoStream(ctx, key).Result()
	gap := false
	switch {
	case err != nil && strings.Contains(err.Error(), "no such key"):
		return nil, true, nil // nothing kept at all: Redis lost its data, or nothing was ever published
	case err != nil:
		return nil, false, unavailable("read the events stream", err)
	case info.MaxDeletedEntryID != "" && server.EventIDLess(after, info.MaxDeletedEntryID):
		gap = true // XDEL removed an entry after it
	case info.EntriesAdded > info.Length && info.Length > 0 && server.EventIDLess(after, info.FirstEntry.ID) &&
		!adjacentEventIDs(after, info.FirstEntry.ID):
		gap = true // trimmed (MAXLEN leaves max-deleted-entry-id alone) past it
	}
	msgs, err := c.rdb.XRangeN(ctx, key, "("+after, "+", int64(limit)).Result()
	if err != nil {
		return nil, false, unavailable("read the events stream", err)
	}
	var out []server.Event
	for _, m := range msgs {
		if e, ok := c.decodeEvent(m); ok {
			out = append(out, e)
		}
	}
	return out, gap, nil
}

// adjacentEventIDs reports whether b is the ID that follows a in the outbox's numbering (sequence-0), so that
// nothing can lie between them.
func adjacentEventIDs(a, b string) bool {
	var ams, an, bms, bn int64
	if _, err := fmt.Sscanf(a, "%d-%d", &ams, &an); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "%d-%d", &bms, &bn); err != nil {
		return false
	}
	return (bms == ams && bn == an+1) || (bms == ams+1 && an == 0 && bn == 0)
}

// decodeEvent reads one entry of the events stream; a malformed one is logged and dropped.
func (c *Client) decodeEvent(m goredis.XMessage) (server.Event, bool) {
	var e server.Event
	raw, _ := m.Values["event"].(string)
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		c.cfg.Logger.Error("dropping a malformed event from redis", "id", m.ID, "err", err)
		return e, false
	}
	e.ID = m.ID
	return e, true
}
