package cache

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
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

// TestMigrationKeepsEachResultPayloadOnce: a cache of schema 3, whose results and outbox messages each held
// the payload, opens with every payload in result_payloads, the result messages' copies dropped, and the
// outbox still sending each message with its payload (a message of another kind keeps its own); a report
// recorded as a result is still listed with its order.
func TestMigrationKeepsEachResultPayloadOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open(driverName, "file:"+filepath.Join(dir, dbName)+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range migrationNames()[:3] { // the schema before 0004
		body, _ := migrationFS.ReadFile(name)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatal(name, err)
		}
	}
	for _, q := range []string{`PRAGMA user_version = 3`,
		`INSERT INTO patients(id, patient_id, name) VALUES (1, 'P', 'A^B')`,
		`INSERT INTO studies(uid, patient, patient_name, patient_id, name_key, imported_at, sync_state) VALUES ('1.2.3', 1, 'A^B', 'P', 'a^b', 1, 'pending')`,
		`INSERT INTO results(id, study_uid, kind, payload, created_at, synced_at) VALUES (7, '1.2.3', 'seg', x'5345470a', 1, 0), (8, '1.2.3', 'm1', '{}', 1, 5),
			(9, '1.2.3', 'report', '{"order_id":"ocs_9","worker_result":{}}', 1, 5)`,
		`INSERT INTO outbox(idempotency_key, kind, ref, payload, created_at) VALUES ('k7', 'result.seg', '7', x'5345470a', 1), ('k9', 'note', '', 'own', 1)`,
		`INSERT INTO outbox(idempotency_key, kind, ref, payload, created_at, sent_at) VALUES ('k8', 'result.m1', '8', '{}', 1, 5),
			('k10', 'result.report', '9', '{"order_id":"ocs_9","worker_result":{}}', 1, 5)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	c := openCache(t, dir)
	if v, err := c.SchemaVersion(ctx); err != nil || v != len(migrationNames()) {
		t.Fatalf("schema %d %v", v, err)
	}
	items, err := c.DueOutbox(ctx, time.Now(), false, 10)
	if err != nil || len(items) != 2 || string(items[0].Payload) != "SEG\n" || items[0].StudyUID != "1.2.3" || string(items[1].Payload) != "own" {
		t.Fatalf("due after the migration: %+v %v", items, err)
	}
	var kept, copies int
	if err := c.rdb.QueryRow(`SELECT count(*) FROM result_payloads`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if err := c.rdb.QueryRow(`SELECT count(*) FROM outbox WHERE kind LIKE 'result.%' AND length(payload) > 0`).Scan(&copies); err != nil {
		t.Fatal(err)
	}
	if kept != 3 || copies != 0 {
		t.Errorf("%d payloads kept, %d outbox copies left; want 3 and 0", kept, copies)
	}
	if reports, err := c.OrderOutbox(ctx, "ocs_9"); err != nil || len(reports) != 1 || reports[0].IdempotencyKey != "k10" {
		t.Errorf("the order's outbox after the migration: %+v %v", reports, err)
	}
	if err := c.OutboxDone(ctx, items[0].ID, "stored"); err != nil {
		t.Fatal(err)
	}
	var state string
	if err := c.rdb.QueryRow(`SELECT sync_state FROM studies WHERE uid = '1.2.3'`).Scan(&state); err != nil || state != string(SyncSynced) {
		t.Errorf("study %q %v after its last result was confirmed", state, err)
	}
}

// TestRecordRunOnceKeepsARunOnce: a run recorded again under its key (a job resumed after keeping its result)
// adds no result and no outbox message and returns the first run's ids; runs without a key are each kept,
// and another key is another run.
func TestRecordRunOnceKeepsARunOnce(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	dir, _ := smallStudy(t, 7)
	sum, err := c.Import(ctx, []string{dir}, nil)
	if err != nil || len(sum.Studies) != 1 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	study := sum.Studies[0]
	run := func(key, seg string) ([]int64, bool) {
		t.Helper()
		ids, had, err := c.RecordRunOnce(ctx, study, key, []ResultInput{{Kind: "m1", Payload: []byte(`{}`)}, {Kind: "seg", Payload: []byte(seg)}})
		if err != nil {
			t.Fatal(err)
		}
		return ids, had
	}
	if ok, err := c.RunRecorded(ctx, "job a/0"); ok || err != nil {
		t.Fatalf("before: recorded %v, %v", ok, err)
	}
	first, had := run("job a/0", "first")
	if had || len(first) != 2 {
		t.Fatalf("first run: ids %v, had %v", first, had)
	}
	again, had := run("job a/0", "second")
	if !had || len(again) != 2 || again[0] != first[0] || again[1] != first[1] {
		t.Fatalf("the same key again: ids %v (first %v), had %v", again, first, had)
	}
	if ok, err := c.RunRecorded(ctx, "job a/0"); !ok || err != nil {
		t.Fatalf("after: recorded %v, %v", ok, err)
	}
	if _, had := run("job a/1", "retried"); had {
		t.Fatal("another key was taken for the first run")
	}
	run("", "unkeyed")
	run("", "unkeyed")
	if n, err := c.OutboxCounts(ctx); err != nil || n.Pending != 8 {
		t.Fatalf("outbox %+v %v, want 8 pending (4 runs of 2)", n, err)
	}
	vs, err := c.StudyResults(ctx, study)
	if err != nil || len(vs) != 8 {
		t.Fatalf("results %d, %v; want 8", len(vs), err)
	}
	var seg []byte
	if err := c.rdb.QueryRowContext(ctx, `SELECT payload FROM result_payloads WHERE result_id = ?`, first[1]).Scan(&seg); err != nil || string(seg) != "first" {
		t.Fatalf("the first run's SEG is %q (%v), want it unchanged", seg, err)
	}
}
