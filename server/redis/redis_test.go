package redis_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
	"github.com/neuronova/neuronova/server/redis"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Run(m)) }

// open connects to the shared real Redis with a key prefix of the test's own, and returns a plain go-redis
// client on the same server for inspecting what the package stored.
func open(t *testing.T, cfg redis.Config) (*redis.Client, *goredis.Client, string) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = testsvc.Redis(t)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "test:" + auth.RandomHex(6) + ":"
	}
	c, err := redis.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	raw := goredis.NewClient(&goredis.Options{Addr: cfg.Addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { raw.Close() })
	return c, raw, cfg.Prefix
}

// TestRateLimitTokenBucket: with rate 10/s and burst 20 a caller gets 20 requests at once, then a wait; other
// callers keep their own buckets, and unlimited admissions never take from a bucket.
func TestRateLimitTokenBucket(t *testing.T) {
	c, raw, prefix := open(t, redis.Config{Rate: 10, Burst: 20})
	ctx := context.Background()
	if rate, burst := c.Limits(); rate != 10 || burst != 20 {
		t.Fatalf("limits %v/%d, want 10/20", rate, burst)
	}
	admitted := 0
	var wait time.Duration
	for range 25 {
		adm, err := c.Admit(ctx, "user:1", "jti-1", 1, time.Now(), true)
		if err != nil {
			t.Fatal(err)
		}
		if adm.Revoked {
			t.Fatal("a token nobody revoked is reported revoked")
		}
		if adm.RetryAfter > 0 {
			wait = adm.RetryAfter
			break
		}
		admitted++
	}
	// The bucket refills at 10/s while the loop runs, so a slow machine may slip one or two more in.
	if admitted < 20 || wait == 0 {
		t.Fatalf("%d requests admitted before the limit (retry after %v), want the burst of 20 then a wait", admitted, wait)
	}
	if wait > 100*time.Millisecond {
		t.Fatalf("retry after %v, want at most one token's time (100 ms)", wait)
	}
	// Unlimited admissions (DICOM routes) pass with the bucket empty.
	for range 50 {
		adm, err := c.Admit(ctx, "user:1", "jti-1", 1, time.Now(), false)
		if err != nil || adm.RetryAfter != 0 || adm.Revoked {
			t.Fatalf("unlimited admission refused: %+v %v", adm, err)
		}
	}
	// Another caller has a full bucket.
	adm, err := c.Admit(ctx, "user:2", "jti-2", 2, time.Now(), true)
	if err != nil || adm.RetryAfter != 0 {
		t.Fatalf("another user was limited: %+v %v", adm, err)
	}
	// The bucket lives in Redis under the prefix and expires once it would be full again.
	ttl, err := raw.PTTL(ctx, prefix+"rl:user:1").Result()
	if err != nil || ttl <= 0 || ttl > 3100*time.Millisecond {
		t.Fatalf("bucket TTL %v (%v), want (0, 3.1 s]", ttl, err)
	}
}

// TestRevocation: a revoked access token is refused; revoking a user's tokens refuses those issued before the
// mark and not those issued after. Both ways of Admit: with the rate limit (the script) and without (the
// Orthanc proxy's revocation-only check).
func TestRevocation(t *testing.T) {
	c, raw, prefix := open(t, redis.Config{Rate: 1e6, Burst: 1e6})
	ctx := context.Background()
	for i, limit := range []bool{false, true} {
		t.Run(fmt.Sprintf("limit=%v", limit), func(t *testing.T) {
			user, other := int64(7+10*i), int64(8+10*i)
			key := fmt.Sprintf("user:%d", user)
			jti := func(s string) string { return fmt.Sprintf("jti-%s-%d", s, i) }
			issued := time.Now().Add(-time.Minute)
			if err := c.RevokeAccessToken(ctx, jti("a"), time.Now().Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if adm, err := c.Admit(ctx, key, jti("a"), user, issued, limit); err != nil || !adm.Revoked {
				t.Fatalf("revoked token admitted: %+v %v", adm, err)
			}
			if adm, err := c.Admit(ctx, key, jti("b"), user, issued, limit); err != nil || adm.Revoked {
				t.Fatalf("another token of the same user refused: %+v %v", adm, err)
			}
			// The revocation outlives the token by a little and then goes.
			if ttl, err := raw.TTL(ctx, prefix+"revoked:"+jti("a")).Result(); err != nil || ttl <= 10*time.Minute || ttl > 12*time.Minute {
				t.Fatalf("revocation TTL %v (%v)", ttl, err)
			}
			mark := time.Now()
			if err := c.RevokeUserTokens(ctx, user, mark); err != nil {
				t.Fatal(err)
			}
			if adm, err := c.Admit(ctx, key, jti("b"), user, issued, limit); err != nil || !adm.Revoked {
				t.Fatalf("token issued before the user's revocation admitted: %+v %v", adm, err)
			}
			if adm, err := c.Admit(ctx, key, jti("e"), user, mark, limit); err != nil || !adm.Revoked {
				t.Fatalf("token issued in the millisecond of the user's revocation admitted: %+v %v", adm, err)
			}
			if adm, err := c.Admit(ctx, key, jti("c"), user, mark.Add(time.Millisecond), limit); err != nil || adm.Revoked {
				t.Fatalf("token issued after the user's revocation refused: %+v %v", adm, err)
			}
			if adm, err := c.Admit(ctx, fmt.Sprintf("user:%d", other), jti("d"), other, issued, limit); err != nil || adm.Revoked {
				t.Fatalf("another user's token refused: %+v %v", adm, err)
			}
		})
	}
}

// TestLoginFailures counts failed logins per login ID until reset.
func TestLoginFailures(t *testing.T) {
	c, raw, prefix := open(t, redis.Config{LoginWindow: time.Hour})
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		n, err := c.AddFailure(ctx, "doctor1")
		if err != nil || n != i {
			t.Fatalf("failure %d counted as %d (%v)", i, n, err)
		}
	}
	if n, err := c.Failures(ctx, "doctor1"); err != nil || n != 5 {
		t.Fatalf("failures %d (%v), want 5", n, err)
	}
	if n, err := c.Failures(ctx, "nurse1"); err != nil || n != 0 {
		t.Fatalf("failures of another account %d (%v), want 0", n, err)
	}
	if ttl, err := raw.TTL(ctx, prefix+"loginfail:doctor1").Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("failure window TTL %v (%v), want (0, 1 h]", ttl, err)
	}
	if err := c.Reset(ctx, "doctor1"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Failures(ctx, "doctor1"); err != nil || n != 0 {
		t.Fatalf("failures after reset %d (%v)", n, err)
	}
}

// TestCache stores, expires and deletes values, under the prefix only.
func TestCache(t *testing.T) {
	c, raw, prefix := open(t, redis.Config{})
	other, _, _ := open(t, redis.Config{})
	ctx := context.Background()
	if _, ok, err := c.Get(ctx, "studies:p1"); err != nil || ok {
		t.Fatalf("empty cache answered ok=%v (%v)", ok, err)
	}
	meta := []byte(`[{"ID":"s1","MainDicomTags":{"StudyInstanceUID":"1.2.3"}}]`)
	if err := c.Set(ctx, "studies:p1", meta, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "studies:p2", []byte("x"), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Get(ctx, "studies:p1")
	if err != nil || !ok || string(got) != string(meta) {
		t.Fatalf("cached %q ok=%v (%v)", got, ok, err)
	}
	if ttl, err := raw.TTL(ctx, prefix+"cache:studies:p1").Result(); err != nil || ttl <= 0 || ttl > 5*time.Minute {
		t.Fatalf("cache TTL %v (%v)", ttl, err)
	}
	if _, ok, _ := other.Get(ctx, "studies:p1"); ok {
		t.Fatal("a client with another prefix sees the value")
	}
	if err := c.Delete(ctx, "studies:p1", "studies:absent"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Get(ctx, "studies:p1"); err != nil || ok {
		t.Fatalf("deleted value still cached (%v)", err)
	}
	if _, ok, _ := c.Get(ctx, "studies:p2"); !ok {
		t.Fatal("deleting one key dropped another")
	}
	if err := c.Delete(ctx); err != nil {
		t.Fatalf("deleting nothing: %v", err)
	}
}

// TestPubSub delivers a published event, audience included, to a subscriber of the same prefix only.
func TestPubSub(t *testing.T) {
	c, _, prefix := open(t, redis.Config{})
	same, _, _ := open(t, redis.Config{Prefix: prefix})
	other, _, _ := open(t, redis.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan server.Event, 4)
	strangers := make(chan server.Event, 4)
	if err := same.Subscribe(ctx, func(e server.Event) { got <- e }); err != nil {
		t.Fatal(err)
	}
	if err := other.Subscribe(ctx, func(e server.Event) { strangers <- e }); err != nil {
		t.Fatal(err)
	}
	worker := int64(12)
	sent := server.Event{Notification: api.Notification{Type: api.EventOrderStatusChanged, At: time.Now().UTC().Truncate(time.Millisecond),
		OrderID: "ocs_0001", PatientID: 3, FromStatus: api.OrderOrdered, ToStatus: api.OrderAccepted},
		Audience: server.Audience{DoctorID: 11, WorkerID: &worker, JobRole: api.JobRIS, UserIDs: []int64{11}}}
	if err := c.Publish(ctx, sent); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.Type != sent.Type || e.OrderID != "ocs_0001" || e.ToStatus != api.OrderAccepted || e.Audience.DoctorID != 11 ||
			e.Audience.WorkerID == nil || *e.Audience.WorkerID != 12 || e.Audience.JobRole != api.JobRIS || !e.At.Equal(sent.At) {
			t.Fatalf("received %+v, sent %+v", e, sent)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event never arrived")
	}
	// A marker on the other prefix proves the stranger's subscription works and saw nothing before it.
	if err := other.Publish(ctx, server.Event{Notification: api.Notification{Type: api.EventPong}}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-strangers:
		if e.Type != api.EventPong {
			t.Fatalf("a subscriber of another prefix received %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the marker never arrived")
	}
}

// TestRedisDownFailsClosed: when Redis stops, requests are refused with UNAVAILABLE, never waved through, and
// opening a client on it fails.
func TestRedisDownFailsClosed(t *testing.T) {
	addr := testsvc.FreshRedis(t)
	c, raw, _ := open(t, redis.Config{Addr: addr})
	ctx := context.Background()
	if _, err := c.Admit(ctx, "user:1", "j", 1, time.Now(), true); err != nil {
		t.Fatal(err)
	}
	raw.Shutdown(ctx) // answers with a closed connection, not an error worth checking
	if err := c.Ping(ctx); err == nil {
		t.Fatal("ping answered after shutdown")
	}
	adm, err := c.Admit(ctx, "user:1", "j", 1, time.Now(), true)
	if !server.IsCode(err, api.CodeUnavailable) {
		t.Fatalf("admit with Redis down: %+v %v, want UNAVAILABLE", adm, err)
	}
	if _, err := c.AddFailure(ctx, "doctor1"); !server.IsCode(err, api.CodeUnavailable) {
		t.Fatalf("login counter with Redis down: %v", err)
	}
	if _, err := redis.Open(ctx, redis.Config{Addr: addr}); err == nil {
		t.Fatal("Open succeeded on a stopped Redis")
	}
	if _, err := redis.Open(ctx, redis.Config{}); err == nil {
		t.Fatal("Open succeeded without an address")
	}
}
