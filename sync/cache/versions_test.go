package cache

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestResultVersions: an M1 run's JSON and SEG are version 1 of one lineage, by the cache's actor; two edits
// of the SEG are versions 2 and 3 of the same lineage, each a new result with its editor, source and parent,
// the earlier versions' payloads untouched; StudyResults lists them latest first, and a version the server
// refused says why. Parents of another study, or of two lineages, are refused and record nothing.
func TestResultVersions(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	c.SetActor("ris1")
	dir, _ := smallStudy(t, 11)
	sum, err := c.Import(ctx, []string{dir}, nil)
	if err != nil || len(sum.Studies) != 1 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	study := sum.Studies[0]
	v1, err := c.RecordResults(ctx, study, []ResultInput{{Kind: "m1", Payload: []byte(`{"v":1}`)}, {Kind: "seg", Payload: []byte("SEG1")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordResults(ctx, study, []ResultInput{{Kind: "seg", Payload: []byte("x"), Parent: v1[1]}}); err == nil {
		t.Error("RecordResults took a result with a parent")
	}
	if _, err := c.RecordVersion(ctx, study, Edit{}, []ResultInput{{Kind: "seg", Payload: []byte("x"), Parent: v1[1]}}); err == nil {
		t.Error("RecordVersion took an edit without an editor")
	}
	v2, err := c.RecordVersion(ctx, study, Edit{Editor: "ris2", EditOf: "1.2.3.1", Note: "ET trimmed"},
		[]ResultInput{{Kind: "m1", Payload: []byte(`{"v":2}`), Parent: v1[0]}, {Kind: "seg", Payload: []byte("SEG2"), Parent: v1[1]}})
	if err != nil {
		t.Fatal(err)
	}
	v3, err := c.RecordVersion(ctx, study, Edit{Editor: "admin", EditOf: "1.2.3.2"}, []ResultInput{{Kind: "seg", Payload: []byte("SEG3"), Parent: v2[1]}})
	if err != nil {
		t.Fatal(err)
	}
	// A SEG pulled from the PACS, version 4 there, edited here: a lineage of its own at version 5.
	outside, err := c.RecordVersion(ctx, study, Edit{Editor: "ris2", EditOf: "9.9.9", Base: 4}, []ResultInput{{Kind: "seg", Payload: []byte("SEGX")}})
	if err != nil {
		t.Fatal(err)
	}

	other, _ := smallStudy(t, 12)
	sum2, err := c.Import(ctx, []string{other}, nil)
	if err != nil || len(sum2.Studies) != 1 {
		t.Fatalf("import: %+v %v", sum2, err)
	}
	if _, err := c.RecordVersion(ctx, sum2.Studies[0], Edit{Editor: "ris2"}, []ResultInput{{Kind: "seg", Payload: []byte("y"), Parent: v1[1]}}); err == nil {
		t.Error("an edit took a parent of another study")
	}
	if _, err := c.RecordVersion(ctx, study, Edit{Editor: "ris2"}, []ResultInput{{Kind: "seg", Payload: []byte("y"), Parent: v1[1]},
		{Kind: "seg", Payload: []byte("z"), Parent: outside[0]}}); err == nil {
		t.Error("an edit took parents of two lineages")
	}
	if _, err := c.RecordVersion(ctx, study, Edit{Editor: "ris2"}, []ResultInput{{Kind: "seg", Payload: []byte("y"), Parent: 1 << 40}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown parent: %v, want ErrNotFound", err)
	}

	// The server refuses version 3.
	items, err := c.DueOutbox(ctx, time.Now(), false, 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Ref == itoa(v3[0]) {
			if err := c.OutboxDead(ctx, it.ID, "403: not the order's worker"); err != nil {
				t.Fatal(err)
			}
		}
	}

	got, err := c.StudyResults(ctx, study)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id, run, lineage, parent int64
		kind                     string
		version                  int
		editor, editOf, refused  string
	}
	want := []row{
		{outside[0], outside[0], outside[0], 0, "seg", 5, "ris2", "9.9.9", ""},
		{v3[0], v3[0], v1[0], v2[1], "seg", 3, "admin", "1.2.3.2", "403: not the order's worker"},
		{v2[1], v2[0], v1[0], v1[1], "seg", 2, "ris2", "1.2.3.1", ""},
		{v2[0], v2[0], v1[0], v1[0], "m1", 2, "ris2", "1.2.3.1", ""},
		{v1[1], v1[0], v1[0], 0, "seg", 1, "ris1", "", ""},
		{v1[0], v1[0], v1[0], 0, "m1", 1, "ris1", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if (row{g.ID, g.Run, g.Lineage, g.Parent, g.Kind, g.Version, g.Editor, g.EditOf, g.Refused}) != w {
			t.Errorf("result %d: %+v, want %+v", i, g, w)
		}
		if g.Edited() != (w.version > 1) || g.CreatedAt.IsZero() || !g.SyncedAt.IsZero() {
			t.Errorf("result %d: edited %v, created %v, synced %v", i, g.Edited(), g.CreatedAt, g.SyncedAt)
		}
	}
	if got[2].Note != "ET trimmed" {
		t.Errorf("note %q", got[2].Note)
	}
	for id, payload := range map[int64]string{v1[1]: "SEG1", v2[1]: "SEG2", v3[0]: "SEG3", v2[0]: `{"v":2}`} {
		if b, err := c.ResultPayload(ctx, id); err != nil || string(b) != payload {
			t.Errorf("payload of %d: %q %v, want %q", id, b, err, payload)
		}
	}
	if _, err := c.ResultPayload(ctx, 1<<40); !errors.Is(err, ErrNotFound) {
		t.Errorf("payload of an unknown result: %v", err)
	}
}

// TestMigrationVersionsResults: results recorded before migration 0007 become version 1, each transaction's
// results (one created_at) one run and lineage named by its first result.
func TestMigrationVersionsResults(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open(driverName, "file:"+filepath.Join(dir, dbName)+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range migrationNames()[:6] { // the schema before 0007
		body, _ := migrationFS.ReadFile(name)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatal(name, err)
		}
	}
	for _, q := range []string{`PRAGMA user_version = 6`,
		`INSERT INTO patients(id, patient_id, name) VALUES (1, 'P', 'A^B')`,
		`INSERT INTO studies(uid, patient, patient_name, patient_id, name_key, imported_at) VALUES ('1.2.3', 1, 'A^B', 'P', 'a^b', 1), ('1.2.4', 1, 'A^B', 'P', 'a^b', 1)`,
		`INSERT INTO results(id, study_uid, kind, created_at) VALUES (7, '1.2.3', 'm1', 100), (8, '1.2.3', 'seg', 100), (9, '1.2.3', 'sr', 200), (10, '1.2.4', 'm1', 100)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	c := openCache(t, dir)
	got, err := c.StudyResults(ctx, "1.2.3")
	if err != nil || len(got) != 3 {
		t.Fatalf("results %+v %v", got, err)
	}
	for _, g := range got {
		run := map[int64]int64{7: 7, 8: 7, 9: 9}[g.ID]
		if g.Run != run || g.Lineage != run || g.Version != 1 || g.Parent != 0 || g.Edited() {
			t.Errorf("result %d after the migration: %+v", g.ID, g)
		}
	}
	if got, err := c.StudyResults(ctx, "1.2.4"); err != nil || len(got) != 1 || got[0].Run != 10 {
		t.Errorf("the other study's result: %+v %v", got, err)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
