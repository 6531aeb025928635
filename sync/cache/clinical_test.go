package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/sync/deid"
)

// TestDraftsAndReports: a draft is kept as last saved; a report goes into the outbox, is listed with its order
// and is acknowledged like any item.
func TestDraftsAndReports(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	if _, err := c.Draft(ctx, "ocs_0001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no draft yet: %v", err)
	}
	for _, text := range []string{`{"findings":"first"}`, `{"findings":"second"}`} {
		if err := c.SaveDraft(ctx, "ocs_0001", json.RawMessage(text)); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := c.Draft(ctx, "ocs_0001"); err != nil || string(d) != `{"findings":"second"}` {
		t.Fatalf("draft %s %v", d, err)
	}
	if err := c.SaveDraft(ctx, "ocs_0001", json.RawMessage(`{`)); err == nil {
		t.Fatal("a draft that is not JSON was kept")
	}
	for _, order := range []string{"ocs_0001", "ocs_0001", "ocs_0002"} {
		if err := c.RecordReport(ctx, []byte(`{"order_id":"`+order+`","worker_result":{}}`)); err != nil {
			t.Fatal(err)
		}
	}
	mine, err := c.OrderOutbox(ctx, "ocs_0001")
	if err != nil || len(mine) != 2 || mine[0].Kind != KindReport || mine[1].ID <= mine[0].ID {
		t.Fatalf("order outbox %+v %v", mine, err)
	}
	for _, e := range mine {
		if err := c.OutboxDone(ctx, e.ID, "order ocs_0001 version 3"); err != nil {
			t.Fatalf("done %+v: %v", e, err)
		}
	}
	if n, err := c.OutboxCounts(ctx); err != nil || n.Pending != 1 || n.Sent != 2 {
		t.Fatalf("counts %+v %v", n, err)
	}
}

// TestReassign gives an imported study to a registered patient and an order: every file is rewritten and
// stored, the index names the new files and owner, the replaced files are gone, the outbox holds the
// attachment and the study's SEGs know to wait for it; nothing else changes.
func TestReassign(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	c.SetActor("ris1")
	dir, _ := smallStudy(t, 4)
	sum, err := c.Import(ctx, []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	uid := sum.Studies[0]
	before, err := c.Study(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	old := before.Series[0].Instances[0].Path
	to := Owner{PatientID: "P20260003", PatientName: "DOE^JOHN", Accession: "ocs_0003"}
	rewrite := func(src string) ([]byte, string, error) {
		b, err := deid.Reassign(src, deid.Owner{PatientID: to.PatientID, PatientName: to.PatientName, AccessionNumber: to.Accession})
		if err != nil {
			return nil, "", err
		}
		m, err := dicomkit.ReadMeta(bytes.NewReader(b), int64(len(b)))
		return b, m.TransferSyntax, err
	}
	var calls int
	payload := []byte(`{"order_id":"ocs_0003","study_uid":"` + uid + `"}`)
	if err := c.Reassign(ctx, uid, to, rewrite, KindAttach, payload, func(done, total int) { calls++ }); err != nil {
		t.Fatal(err)
	}
	after, err := c.Study(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if after.PatientID != to.PatientID || after.PatientName != to.PatientName || after.AccessionNumber != to.Accession {
		t.Errorf("study owner %q %q %q", after.PatientID, after.PatientName, after.AccessionNumber)
	}
	n := 0
	for i, se := range after.Series {
		for k, in := range se.Instances {
			n++
			if in.Path == before.Series[i].Instances[k].Path {
				t.Fatalf("instance %s still names its old file", in.SOPInstanceUID)
			}
			id, err := readIdentity(in.Path)
			if err != nil || id.PatientID != to.PatientID || id.SOPUID != in.SOPInstanceUID || id.StudyUID != uid {
				t.Fatalf("instance %s: %+v %v", in.SOPInstanceUID, id, err)
			}
		}
	}
	if n != 48 || calls != 48 {
		t.Errorf("%d instances, %d progress calls; want 48", n, calls)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the replaced file is still there: %v", err)
	}
	if found, err := c.FindStudy(ctx, "ocs_0003"); err != nil || found != uid {
		t.Errorf("find by the new accession: %q %v", found, err)
	}
	if waiting, err := c.UnsentAttachments(ctx); err != nil || !waiting[uid] || len(waiting) != 1 {
		t.Errorf("unsent attachments %v %v", waiting, err)
	}
	items, err := c.DueOutbox(ctx, time.Now(), false, 10)
	if err != nil || len(items) != 1 || items[0].Kind != KindAttach || string(items[0].Payload) != string(payload) {
		t.Fatalf("outbox %+v %v", items, err)
	}
	if err := c.OutboxDone(ctx, items[0].ID, "verified"); err != nil {
		t.Fatal(err)
	}
	if waiting, err := c.UnsentAttachments(ctx); err != nil || len(waiting) != 0 {
		t.Errorf("after the attachment was confirmed: %v %v", waiting, err)
	}
	ev, err := c.AuditEvents(ctx, 1)
	if err != nil || len(ev) != 1 || ev[0].Actor != "ris1" || ev[0].Action != "study.reassign" {
		t.Errorf("audit %+v %v", ev, err)
	}
	assertConsistent(t, c.Dir())
}

func readIdentity(path string) (dicomkit.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return dicomkit.Identity{}, err
	}
	defer f.Close()
	return dicomkit.ReadIdentity(f)
}
