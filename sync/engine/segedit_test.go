package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// segVersions records a model's SEG (v1) of study and an edit of it (v2) as the workstation's Save version does
// (RecordVersion, outbox "result.seg"), both carrying accession, and returns their result ids and SEG files.
func segVersions(t *testing.T, c *cache.Cache, study, accession string) (ids [2]int64, files [2][]byte, sops [2]string) {
	t.Helper()
	ctx := context.Background()
	v1 := testsvc.SEG{PatientID: viewerdemo.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: study, SeriesUID: testsvc.NewUID(),
		SOPUID: testsvc.NewUID(), Accession: accession}
	v2 := v1
	v2.SeriesUID, v2.SOPUID, v2.Parent, v2.Derivation = testsvc.NewUID(), testsvc.NewUID(), v1.SOPUID, "manual edit of v1 by "+risUser
	files = [2][]byte{testsvc.SEGFile(v1), testsvc.SEGFile(v2)}
	r1, err := c.RecordResults(ctx, study, []cache.ResultInput{{Kind: "seg", Payload: files[0]}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.RecordVersion(ctx, study, cache.Edit{Editor: risUser, EditOf: v1.SOPUID, Note: "brush"},
		[]cache.ResultInput{{Kind: "seg", Payload: files[1], Parent: r1[0]}})
	if err != nil {
		t.Fatal(err)
	}
	return [2]int64{r1[0], r2[0]}, files, [2]string{v1.SOPUID, v2.SOPUID}
}

// TestRefusedSEGEditStaysInTheOutbox: a RIS user's edit of a study no order of theirs holds is refused by the
// real server (403); the relay sets it aside — the outbox keeps it unsent with the server's reason, the study's
// versions show v2 refused, its SEG is still in the cache byte for byte — while v1, a model's SEG, is stored.
// The same user's edit of a study attached to the order assigned to them is stored: Orthanc then holds both
// versions.
func TestRefusedSEGEditStaysInTheOutbox(t *testing.T) {
	s := serverSide(t)
	ctx := context.Background()
	e, c := newEngine(t, s.URL, Options{NoPrefetch: true})
	if _, err := e.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Round(ctx, nil); err != nil {
		t.Fatal(err)
	}
	study := localStudy(t, c)
	ids, files, sops := segVersions(t, c, study, "")
	if _, err := e.Round(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountSOP(sops[0]); err != nil || n != 1 {
		t.Fatalf("Orthanc holds v1 %d times (%v)", n, err)
	}
	if n, err := s.CountSOP(sops[1]); err != nil || n != 0 {
		t.Fatalf("Orthanc holds the refused edit %d times (%v)", n, err)
	}
	vs, err := c.StudyResults(ctx, study)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		switch v.ID {
		case ids[0]:
			if v.Refused != "" || v.Version != 1 {
				t.Errorf("v1: %+v", v)
			}
		case ids[1]:
			if v.Version != 2 || !strings.Contains(v.Refused, "only from the order's assigned worker or an administrator") {
				t.Errorf("v2 is not marked refused with the server's reason: %+v", v)
			}
		}
	}
	dead, sent := 0, 0
	for _, en := range outboxAll(t, c) {
		if en.Kind == "result.seg" && !en.SentAt.IsZero() {
			sent++
		}
		if en.Kind == "result.seg" && !en.DeadAt.IsZero() {
			dead++
			if !en.SentAt.IsZero() || !strings.Contains(en.LastError, "403") && !strings.Contains(en.LastError, "FORBIDDEN") {
				t.Errorf("the refused edit's outbox entry: %+v", en)
			}
		}
	}
	if dead != 1 || sent != 1 {
		t.Fatalf("%d SEG outbox entries set aside and %d sent, want 1 (the edit) and 1 (v1)", dead, sent)
	}
	if b, err := c.ResultPayload(ctx, ids[1]); err != nil || !bytes.Equal(b, files[1]) {
		t.Fatalf("the refused edit's SEG is not kept: %d bytes, %v", len(b), err)
	}
	// Queued again (the window's "Send refused again", `sync --send-refused`), it is sent once more; the rule
	// still holds, so it is refused again and still kept.
	if n, err := e.QueueRefusedAgain(ctx); err != nil || n != 1 {
		t.Fatalf("queue the refused edit again: %d, %v", n, err)
	}
	if _, err := e.Round(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, en := range outboxAll(t, c) {
		if en.Kind == "result.seg" && en.SentAt.IsZero() && (en.DeadAt.IsZero() || en.Attempts != 2) {
			t.Errorf("the edit sent again: %+v, want refused on its second attempt", en)
		}
	}
	if b, err := c.ResultPayload(ctx, ids[1]); err != nil || !bytes.Equal(b, files[1]) {
		t.Fatalf("the edit refused again is not kept: %d bytes, %v", len(b), err)
	}

	// The study attached to ris1's order (accession = the order's ID): ris1's edit is stored.
	orders, err := e.Worklist(ctx)
	if err != nil {
		t.Fatal(err)
	}
	orderID := ""
	for _, o := range orders {
		if o.JobRole == api.JobRIS && o.PatientNumber == viewerdemo.PatientID && (o.Status == api.OrderInProgress || o.Status == api.OrderAccepted) {
			orderID = o.ID
		}
	}
	if orderID == "" { // the demo's orders were used by earlier tests on the shared stack: order another
		orderID = acceptedRISOrder(t, s.URL, s.Accounts)
		if _, err := e.RefreshFeed(ctx); err != nil { // the order comes into the cache
			t.Fatal(err)
		}
	}
	attached := localStudy(t, c)
	if err := e.AttachStudy(ctx, orderID, attached, nil); err != nil {
		t.Fatal(err)
	}
	_, _, sops = segVersions(t, c, attached, orderID)
	for range 2 {
		if _, err := e.Round(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, sop := range sops {
		if n, err := s.CountSOP(sop); err != nil || n != 1 {
			t.Fatalf("Orthanc holds v%d of the attached study %d times (%v)", i+1, n, err)
		}
	}
	t.Logf("unlinked study: v1 stored, v2 refused and kept; study attached to %s: v1 and v2 both in Orthanc", orderID)
}

// acceptedRISOrder has doctor1 order an MRI of the demo patient, which ris1 accepts, on the server at url, and
// returns the order's ID.
func acceptedRISOrder(t *testing.T, url string, accounts map[string]string) string {
	t.Helper()
	ctx := context.Background()
	login := func(user string) *client.Client {
		cl, err := client.New(url, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Login(ctx, user, accounts[user]); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	doctor := login("doctor1")
	ps, err := doctor.Patients(ctx, "Demo Phantom", 10)
	if err != nil || len(ps) != 1 {
		t.Fatalf("the demo patient: %+v %v", ps, err)
	}
	o, err := doctor.CreateOrder(ctx, api.CreateOrderRequest{PatientID: ps[0].ID, JobRole: api.JobRIS, JobType: "MRI"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := login(risUser).OrderAction(ctx, o.ID, "accept", "segedit-accept-"+o.ID, nil); err != nil {
		t.Fatal(err)
	}
	return o.ID
}
