// Package redis implements the server's Redis-backed services with github.com/redis/go-redis/v9: the request
// gate (access-token revocation and per-user token-bucket rate limits in one round trip), failed-login
// counters, a small cache, the event bus (pub/sub) and the AI job queue (Streams with a consumer group,
// redelivery of idle entries and dead letters). Every key starts with a configurable prefix.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
	// LoginWindow is how long failed logins are remembered; default 24 h. The lock itself is stored in the
	// database and lasts until an administrator unlocks the account.
	LoginWindow time.Duration
	Logger      *slog.Logger
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
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = 24 * time.Hour
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

// admitScript checks the revocation of a token and, when asked, takes one request from a token bucket.
// KEYS: revoked-jti, user valid-after, bucket. ARGV: issued-at ms, limit (0/1), rate per s, burst.
// Returns {revoked (0/1), wait µs}.
var admitScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {1, 0} end
local va = redis.call('GET', KEYS[2])
if va and tonumber(ARGV[1]) <= tonumber(va) then return {1, 0} end
if ARGV[2] == '0' then return {0, 0} end
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[3], 'tokens', 'ts')
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
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[3], math.ceil(burst / rate * 1000) + 1000)
return {0, wait}
`)

// Admit implements server.Gate in one round trip.
func (c *Client) Admit(ctx context.Context, key, jti string, userID int64, issuedAt time.Time, limit bool) (server.Admission, error) {
	limitArg := "0"
	if limit {
		limitArg = "1"
	}
	revokedKey, validKey := c.prefix+"revoked:-", c.prefix+"validafter:-"
	if jti != "" {
		revokedKey = c.prefix + "revoked:" + jti
	}
	if userID != 0 {
		validKey = c.prefix + "validafter:" + strconv.FormatInt(userID, 10)
	}
	if !limit {
		// Revocation only (the Orthanc proxy): one MGET of the two marks is cheaper for Redis than the script.
		// RevokeAccessToken sets the first, RevokeUserTokens the second.
		vals, err := c.rdb.MGet(ctx, revokedKey, validKey).Result()
		if err != nil {
			return server.Admission{}, unavailable("admit request", err)
		}
		if vals[0] != nil {
			return server.Admission{Revoked: true}, nil
		}
		if vals[1] != nil {
			s, _ := vals[1].(string)
			va, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return server.Admission{}, fmt.Errorf("redis key %s holds %q, not a time in ms", validKey, s)
			}
			if issuedAt.UnixMilli() <= va {
				return server.Admission{Revoked: true}, nil
			}
		}
		return server.Admission{}, nil
	}
	res, err := admitScript.Run(ctx, c.rdb, []string{revokedKey, validKey, c.prefix + "rl:" + key},
		issuedAt.UnixMilli(), limitArg, c.cfg.Rate, c.cfg.Burst).Int64Slice()
	if err != nil {
		return server.Admission{}, unavailable("admit request", err)
	}
	return server.Admission{Revoked: res[0] == 1, RetryAfter: time.Duration(res[1]) * time.Microsecond}, nil
}

// RevokeAccessToken revokes one access token until it expires.
func (c *Client) RevokeAccessToken(ctx context.Context, jti string, expires time.Time) error {
	ttl := time.Until(expires) + time.Minute
	if err := c.rdb.Set(ctx, c.prefix+"revoked:"+jti, 1, ttl).Err(); err != nil {
		return unavailable("revoke token", err)
	}
	return nil
}

// RevokeUserTokens revokes every access token of a user issued at or before at, to the millisecond (a
// token issued in the same millisecond as a deactivation is revoked too). The mark outlives any access token.
func (c *Client) RevokeUserTokens(ctx context.Context, userID int64, at time.Time) error {
	if err := c.rdb.Set(ctx, c.prefix+"validafter:"+strconv.FormatInt(userID, 10), at.UnixMilli(), 7*24*time.Hour).Err(); err != nil {
		return unavailable("revoke user tokens", err)
	}
	return nil
}

// AddFailure counts one failed login for loginID and returns the count within the window.
func (c *Client) AddFailure(ctx context.Context, loginID string) (int, error) {
	key := c.prefix + "loginfail:" + loginID
	pipe := c.rdb.TxPipeline()
	n := pipe.Incr(ctx, key)
	pipe.Expire(ctx, key, c.cfg.LoginWindow)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, unavailable("count failed login", err)
	}
	return int(n.Val()), nil
}

// Failures returns the failed logins of loginID within the window.
func (c *Client) Failures(ctx context.Context, loginID string) (int, error) {
	n, err := c.rdb.Get(ctx, c.prefix+"loginfail:"+loginID).Int()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("read failed logins", err)
	}
	return n, nil
}

// Reset forgets the failed logins of loginID.
func (c *Client) Reset(ctx context.Context, loginID string) error {
	if err := c.rdb.Del(ctx, c.prefix+"loginfail:"+loginID).Err(); err != nil {
		return unavailable("reset failed logins", err)
	}
	return nil
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

// Publish sends an event to every server instance.
func (c *Client) Publish(ctx context.Context, e server.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("marshal event: %w", err)
	}
	if err := c.rdb.Publish(ctx, c.prefix+"events", b).Err(); err != nil {
		return unavailable("publish event", err)
	}
	return nil
}

// Subscribe delivers events to fn until ctx ends. It returns once the subscription is active.
func (c *Client) Subscribe(ctx context.Context, fn func(server.Event)) error {
	sub := c.rdb.Subscribe(ctx, c.prefix+"events")
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return unavailable("subscribe to events", err)
	}
	ch := sub.Channel()
	go func() {
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				var e server.Event
				if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
					c.cfg.Logger.Error("dropping a malformed event from redis", "channel", m.Channel, "err", err)
					continue
				}
				fn(e)
			}
		}
	}()
	return nil
}
