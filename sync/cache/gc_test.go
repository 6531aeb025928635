package cache

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestGCEvictsLeastRecentlyOpenedOnly(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	c := openCache(t, dataDir)
	// Five small studies: A pinned, B with an unsynced result, C opened recently, D and E never opened.
	uids := map[string]string{}
	for i, name := range []string{"A", "B", "C", "D", "E"} {
		dir, _ := smallStudy(t, uint64(100+i))
		sum, err := c.Import(ctx, []string{dir}, nil)
		if err != nil || len(sum.Studies) != 1 {
			t.Fatalf("import %s: %v %v", name, sum, err)
		}
		uids[name] = sum.Studies[0]
		time.Sleep(2 * time.Millisecond) // distinct import times order D before E
	}
	if err := c.SetPinned(ctx, uids["A"], true); err != nil {
		t.Fatal(err)
	}
	resID, err := c.RecordResult(ctx, uids["B"], "m1", []byte(`{"grade":"G4"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenStudy(ctx, uids["C"]); err != nil {
		t.Fatal(err)
	}
	per := mustStats(t, c).Bytes / 5

	// A budget for about three studies: D and E go (never opened, oldest import first); A, B, C stay.
	rep, err := c.GC(ctx, 3*per+per/2)
	if err != nil {
		t.Fatal(err)
	}
	var evicted []string
	for _, e := range rep.Evicted {
		evicted = append(evicted, e.StudyUID)
		if !strings.Contains(e.Reason, "never opened") || e.Bytes <= 0 {
			t.Errorf("eviction reason %q, bytes %d", e.Reason, e.Bytes)
		}
	}
	if strings.Join(evicted, ",") != uids["D"]+","+uids["E"] {
		t.Fatalf("evicted %v, want D then E", evicted)
	}
	if rep.After > rep.Budget || rep.After != mustStats(t, c).Bytes {
		t.Fatalf("after GC: report %d bytes, cache %d, budget %d", rep.After, mustStats(t, c).Bytes, rep.Budget)
	}
	for _, name := range []string{"D", "E"} {
		if _, err := c.Study(ctx, uids[name]); err == nil {
			t.Errorf("study %s is still cached", name)
		}
	}

	// A budget of one byte: only C can go; A (pinned) and B (unsynced result) are kept, and said so.
	rep, err = c.GC(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Evicted) != 1 || rep.Evicted[0].StudyUID != uids["C"] || !strings.Contains(rep.Evicted[0].Reason, "last opened") {
		t.Fatalf("evicted %+v, want only C", rep.Evicted)
	}
	reasons := map[string]string{}
	for _, k := range rep.Kept {
		reasons[k.StudyUID] = k.Reason
	}
	if reasons[uids["A"]] != "pinned" || !strings.Contains(reasons[uids["B"]], "not yet synced") {
		t.Fatalf("kept: %+v", rep.Kept)
	}
	// Once the result is synced, B can go too.
	if err := c.MarkResultSynced(ctx, resID); err != nil {
		t.Fatal(err)
	}
	if info, _ := c.StudyInfo(ctx, uids["B"]); info == nil || info.Sync != SyncSynced {
		t.Fatalf("B after sync: %+v", info)
	}
	rep, err = c.GC(ctx, 1)
	if err != nil || len(rep.Evicted) != 1 || rep.Evicted[0].StudyUID != uids["B"] {
		t.Fatalf("evicted %+v %v, want B", rep, err)
	}
	if s := mustStats(t, c); s.Studies != 1 || s.Patients != 1 {
		t.Fatalf("left: %+v", s)
	}
	assertConsistent(t, dataDir)
	// No file is left behind by eviction: Check finds no orphan.
	crep, err := c.Check(ctx)
	if err != nil || crep.Orphans != 0 || crep.UnusedFiles != 0 {
		t.Fatalf("check after GC: %+v %v", crep, err)
	}

	// The stored budget is used when none is given.
	if err := c.SetBudget(ctx, 12345); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Budget(ctx); err != nil || b != 12345 {
		t.Fatalf("budget %d %v", b, err)
	}
}

func TestCheckRepairsMissingAndOrphanFiles(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	c := openCache(t, dataDir)
	dir, _ := smallStudy(t, 300)
	sum, err := c.Import(ctx, []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Study(ctx, sum.Studies[0])
	if err != nil {
		t.Fatal(err)
	}
	// Someone deletes a stored file and drops a stray one into the store.
	victim := st.Series[0].Instances[3]
	if err := os.Remove(victim.Path); err != nil {
		t.Fatal(err)
	}
	stray := c.objectPath(strings.Repeat("ab", 32))
	os.MkdirAll(stray[:len(stray)-62], 0o700)
	if err := os.WriteFile(stray, []byte("stray"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dataDir+"/tmp/obj-leftover", []byte("half"), 0o600)
	rep, err := c.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatal(rep, err)
	}
	if len(rep.MissingFiles) != 1 || !strings.Contains(rep.MissingFiles[0], victim.SOPInstanceUID) || rep.Orphans != 1 || rep.TempRemoved != 1 {
		t.Fatalf("check report: %+v", rep)
	}
	assertConsistent(t, dataDir)
	if info, _ := c.StudyInfo(ctx, sum.Studies[0]); info == nil || info.NumInstances != 47 {
		t.Fatalf("study after repair: %+v", info)
	}
	// Importing again restores the missing instance.
	again, err := c.Import(ctx, []string{dir}, nil)
	if err != nil || again.Imported != 1 {
		t.Fatalf("re-import after repair: %+v %v", again, err)
	}
}

func TestOpenRejectsNewerSchemaAndWarnsOnSyncedFolder(t *testing.T) {
	dataDir := t.TempDir()
	c := openCache(t, dataDir)
	if v, err := c.SchemaVersion(context.Background()); err != nil || v != len(migrationNames()) {
		t.Fatalf("schema version %d %v", v, err)
	}
	if _, err := c.wdb.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := Open(dataDir, Options{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "newer NeuroNova") {
		t.Fatalf("open of a newer index: %v", err)
	}
	synced := t.TempDir() + "/Dropbox/neuronova"
	c2, err := Open(synced, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if w := c2.Warnings(); len(w) != 1 || !strings.Contains(w[0], "synced folder") {
		t.Fatalf("warnings: %v", w)
	}
}
