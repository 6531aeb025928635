package testsvc

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// TestRedisRestartKeepsDataAndWipeLosesIt: what Redis acknowledged survives a clean restart and a SIGKILL (the
// append-only file), on the same address; Wipe leaves an empty Redis there.
func TestRedisRestartKeepsDataAndWipeLosesIt(t *testing.T) {
	r := StartRedis(t)
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	defer c.Close()
	ctx := context.Background()
	set := func(k string) {
		t.Helper()
		if err := c.Set(ctx, k, "v-"+k, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.XAdd(ctx, &goredis.XAddArgs{Stream: "s", Values: []string{"k", k}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if v, err := c.Get(ctx, k).Result(); err != nil || v != "v-"+k {
				t.Fatalf("%s: GET %s = %q, %v", when, k, v, err)
			}
		}
		if n, err := c.XLen(ctx, "s").Result(); err != nil || n != int64(len(keys)) {
			t.Fatalf("%s: stream holds %d entries (%v), want %d", when, n, err, len(keys))
		}
	}
	addr := r.Addr
	set("a")
	r.Restart(t, false)
	check("after SIGTERM", "a")
	set("b")
	r.Restart(t, true)
	check("after SIGKILL", "a", "b")
	if r.Addr != addr {
		t.Fatalf("restarted Redis moved from %s to %s", addr, r.Addr)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "appendonlydir")); err != nil {
		t.Fatalf("no append-only files: %v", err)
	}
	r.Wipe(t)
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("wiped Redis holds %d keys (%v)", n, err)
	}
	set("c")
	check("after the wipe", "c")
}
