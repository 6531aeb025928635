package redis_test

import (
	"context"
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
// callers keep their own buckets.
func TestRateLimitTokenBucket(t *testing.T) {
	c, raw, prefix := open(t, redis.Config{Rate: 10, Burst: 20})
	ctx := context.Background()
	if rate, burst := c.Limits(); rate != 10 || burst != 20 {
		t.Fatalf("limits %v/%d, want 10/20", rate, burst)
	}
	admitted := 0
	var wait time.Duration
	for range 25 {
		w, err := c.Admit(ctx, "user:1")
		if err != nil {
			t.Fatal(err)
		}
		if w > 0 {
			wait = w
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
	// Another caller has a full bucket.
	if w, err := c.Admit(ctx, "user:2"); err != nil || w != 0 {
		t.Fatalf("another user was limited: %v %v", w, err)
	}
	// The bucket lives in Redis under the prefix and expires once it would be full again.
	ttl, err := raw.PTTL(ctx, prefix+"rl:user:1").Result()
	if err != nil || ttl <= 0 || ttl > 3100*time.Millisecond {
		t.Fatalf("bucket TTL %v (%v), want (0, 3.1 s]", ttl, err)
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

// TestPubSub delivers a published event, audience and ID included, to a subscriber of the same prefix only.
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
	sent := server.Event{Notification: api.Notification{ID: "7-0", Type: api.EventOrderStatusChanged, At: time.Now().UTC().Truncate(time.Millisecond),
		OrderID: "ocs_0001", PatientID: 3, FromStatus: api.OrderOrdered, ToStatus: api.OrderAccepted},
		Audience: server.Audience{DoctorID: 11, WorkerID: &worker, JobRole: api.JobRIS, UserIDs: []int64{11}}}
	if err := c.Publish(ctx, sent); err != nil {
		t.Fatal(err)
	}
	// Relayed again, by this instance or another, and an older one after it: the stream takes neither.
	older := sent
	older.ID = "6-0"
	for _, e := range []server.Event{sent, older} {
		if err := c.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if last, err := c.Last(ctx); err != nil || last != "7-0" {
		t.Fatalf("newest event %q (%v), want 7-0", last, err)
	}
	select {
	case e := <-got:
		if e.ID != "7-0" || e.Type != sent.Type || e.OrderID != "ocs_0001" || e.ToStatus != api.OrderAccepted || e.Audience.DoctorID != 11 ||
			e.Audience.WorkerID == nil || *e.Audience.WorkerID != 12 || e.Audience.JobRole != api.JobRIS || !e.At.Equal(sent.At) {
			t.Fatalf("received %+v, sent %+v", e, sent)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event never arrived")
	}
	// A marker on the other prefix proves the stranger's subscription works and saw nothing before it.
	if err := other.Publish(ctx, server.Event{Notification: api.Notification{ID: "1-0", Type: api.EventPong}}); err != nil {
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
	select {
	case e := <-got:
		t.Fatalf("an event arrived twice or out of order: %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestRedisDownFailsClosed: when Redis stops, requests are refused with UNAVAILABLE, never waved through, and
// opening a client on it fails.
func TestRedisDownFailsClosed(t *testing.T) {
	rs := testsvc.StartRedis(t)
	addr := rs.Addr
	c, _, _ := open(t, redis.Config{Addr: addr})
	ctx := context.Background()
	if _, err := c.Admit(ctx, "user:1"); err != nil {
		t.Fatal(err)
	}
	rs.Stop(t)
	if err := c.Ping(ctx); err == nil {
		t.Fatal("ping answered after shutdown")
	}
	if wait, err := c.Admit(ctx, "user:1"); !server.IsCode(err, api.CodeUnavailable) {
		t.Fatalf("admit with Redis down: %v %v, want UNAVAILABLE", wait, err)
	}
	if _, err := redis.Open(ctx, redis.Config{Addr: addr}); err == nil {
		t.Fatal("Open succeeded on a stopped Redis")
	}
	if _, err := redis.Open(ctx, redis.Config{}); err == nil {
		t.Fatal("Open succeeded without an address")
	}
}
