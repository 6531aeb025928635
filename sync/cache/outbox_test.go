package cache

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestOutboxDoneAllIsOneTransaction: several confirmations are recorded together or not at all (an unknown
// item undoes the others); recorded, every item is sent with its confirmation and the study, its results all
// synced, is synced; recording them again changes nothing.
func TestOutboxDoneAllIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	dir, _ := smallStudy(t, 7)
	sum, err := c.Import(ctx, []string{dir}, nil)
	if err != nil || len(sum.Studies) != 1 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	study := sum.Studies[0]
	if _, err := c.RecordResults(ctx, study, []ResultInput{{Kind: "m1", Payload: []byte(`{}`)}, {Kind: "seg", Payload: []byte("a")},
		{Kind: "seg", Payload: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	items, err := c.DueOutbox(ctx, time.Now(), false, 10)
	if err != nil || len(items) != 3 {
		t.Fatalf("outbox %d items, %v", len(items), err)
	}
	var done []Confirmed
	for _, it := range items {
		done = append(done, Confirmed{ID: it.ID, Confirmation: "confirmed " + it.Kind})
	}
	state := func() string {
		var s string
		if err := c.rdb.QueryRowContext(ctx, `SELECT sync_state FROM studies WHERE uid = ?`, study).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := c.OutboxDoneAll(ctx, append(done[:2:2], Confirmed{ID: 1 << 40})); !errors.Is(err, ErrNotFound) {
		t.Fatalf("with an unknown item: %v, want ErrNotFound", err)
	}
	if n, err := c.OutboxCounts(ctx); err != nil || n.Pending != 3 || state() != string(SyncPending) {
		t.Fatalf("after the refused batch: %+v %v, study %s", n, err, state())
	}
	for range 2 {
		if err := c.OutboxDoneAll(ctx, done); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := c.Outbox(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.SentAt.IsZero() || e.Confirmation != "confirmed "+e.Kind || !strings.HasPrefix(e.Kind, "result.") {
			t.Errorf("entry %+v", e)
		}
	}
	if n, err := c.OutboxCounts(ctx); err != nil || n.Pending != 0 || n.Sent != 3 || state() != string(SyncSynced) {
		t.Fatalf("after the batch: %+v %v, study %s", n, err, state())
	}
}
