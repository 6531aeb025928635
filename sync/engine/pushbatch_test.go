package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
)

// The batched path of the relay (pushbatch.go) on the fakes.

// recordSEGs records n SEGs of study, each its own outbox item, and returns their SOP Instance UIDs and files.
func recordSEGs(t *testing.T, c *cache.Cache, study string, n int) ([]string, [][]byte) {
	t.Helper()
	var sops []string
	var files [][]byte
	var in []cache.ResultInput
	for range n {
		sop, b := segFor(study)
		sops, files = append(sops, sop), append(files, b)
		in = append(in, cache.ResultInput{Kind: "seg", Payload: b})
	}
	if _, err := c.RecordResults(context.Background(), study, in); err != nil {
		t.Fatal(err)
	}
	return sops, files
}

// confirmations maps each sent SEG's SOP Instance UID to its confirmation.
func confirmations(t *testing.T, c *cache.Cache) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, en := range outbox(t, c) {
		if en.Kind == "result.seg" && !en.SentAt.IsZero() {
			_, sop, _ := strings.Cut(en.Confirmation, " sop ")
			sop, _, _ = strings.Cut(sop, " ")
			out[sop] = en.Confirmation
		}
	}
	return out
}

// TestUnitRelayBatchesTheSEGsOfAStudy: the 40 SEGs of one study go in three STOW-RS requests (16, 16, 8) and
// are confirmed by one manifest, each by its SOP Instance UID and MD5, recorded in one transaction; the two
// SEGs of another study, fewer than segBatchMin, and the AI result go one by one. Every item is stored once;
// a second round sends nothing.
func TestUnitRelayBatchesTheSEGsOfAStudy(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	ctx := context.Background()
	study, small := localStudy(t, f.c), localStudy(t, f.c)
	sops, files := recordSEGs(t, f.c, study, 40)
	smallSOPs, _ := recordSEGs(t, f.c, small, 2)
	resultItem(t, f, study, "with the SEGs")
	var progress []Progress
	sum, err := f.e.Round(ctx, func(p Progress) { progress = append(progress, p) })
	if err != nil || sum.SEGs != 42 || sum.Results != 1 || sum.Pushed != 43 || sum.Failed != 0 || sum.OutboxLeft != 0 {
		t.Fatalf("round: %+v %v", sum, err)
	}
	if b := slices.Sorted(slices.Values(f.pacs.batches)); !slices.Equal(b, []int{8, 16, 16}) {
		t.Errorf("STOW-RS requests of %v SEGs, want 16, 16 and 8", f.pacs.batches)
	}
	calls := map[string]int{"StoreInstances": 3, "StudyManifest": 1, "UploadInstance": 2, "InstanceSOPUID": 2, "InstanceMD5": 2}
	for m, n := range calls {
		if got := f.pacs.count(m); got != n {
			t.Errorf("%d calls of %s, want %d", got, m, n)
		}
	}
	if len(f.pacs.stored) != 42 {
		t.Errorf("Orthanc holds %d instances, want 42", len(f.pacs.stored))
	}
	conf := confirmations(t, f.c)
	for i, sop := range sops {
		_, sum, _ := segInfo(files[i])
		if c := conf[sop]; !strings.Contains(c, "STOW-RS") || !strings.Contains(c, "md5 "+sum) {
			t.Errorf("SEG %d confirmed as %q", i, c)
		}
	}
	for _, sop := range smallSOPs {
		if c := conf[sop]; !strings.HasSuffix(c, "(Success)") {
			t.Errorf("SEG of the small study confirmed as %q", c)
		}
	}
	var push []Progress
	for _, p := range progress {
		if p.Phase == PhasePush {
			push = append(push, p)
		}
	}
	for i, p := range push {
		if p.Total != 43 || p.Done > 43 || (i == len(push)-1 && p.Done != 43) {
			t.Errorf("push progress %d of %d: %+v", i, len(push), p)
		}
	}
	before := f.pacs.count("StoreInstances") + f.pacs.count("UploadInstance") + f.pacs.count("StudyManifest")
	sum, err = f.e.Round(ctx, nil)
	if after := f.pacs.count("StoreInstances") + f.pacs.count("UploadInstance") + f.pacs.count("StudyManifest"); err != nil ||
		sum.Pushed != 0 || after != before {
		t.Errorf("second round: %+v %v, %d calls to Orthanc", sum, err, after-before)
	}
}

// TestUnitRelayLeavesWhatABatchDidNotConfirmToTheRelay: of 20 SEGs in two STOW-RS requests, the second request
// is refused (409), a part of the first fails, and one SEG's SOP Instance UID is held with another file. The
// manifest confirms the other 14; the relay sends the refused, the failed and the conflicting ones one by one,
// confirms five and sets the conflict aside as a different file, never overwritten.
func TestUnitRelayLeavesWhatABatchDidNotConfirmToTheRelay(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true, Workers: 1}) // one worker: the requests go in order
	ctx := context.Background()
	study := localStudy(t, f.c)
	sops, files := recordSEGs(t, f.c, study, 20)
	id, _, _ := segInfo(files[3])
	other := testsvc.DICOM(testsvc.Instance{PatientID: id.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: id.StudyUID, SeriesUID: id.SeriesUID,
		SOPUID: id.SOPUID, SeriesDescription: "ANOTHER SEG"})
	f.pacs.store(id, other)
	f.pacs.failParts[sops[5]] = true
	f.pacs.failNext("StoreInstances", nil, refusal(409, api.CodeConflict))
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.SEGs != 19 || sum.Dead != 1 || sum.Failed != 1 || sum.OutboxLeft != 1 ||
		!strings.Contains(strings.Join(sum.Errors, "\n"), "different file") {
		t.Fatalf("round: %+v %v", sum, err)
	}
	if n := f.pacs.count("UploadInstance"); n != 6 {
		t.Errorf("%d uploads one by one, want 6 (4 refused in a batch, 1 failed part, 1 conflict)", n)
	}
	conf := confirmations(t, f.c)
	for i, sop := range sops {
		c := conf[sop]
		switch {
		case i == 3:
			if c != "" {
				t.Errorf("the conflicting SEG was confirmed: %q", c)
			}
		case i == 5 || i >= 16:
			if !strings.HasSuffix(c, "(Success)") {
				t.Errorf("SEG %d, left to the relay, confirmed as %q", i, c)
			}
		case !strings.Contains(c, "STOW-RS"):
			t.Errorf("SEG %d confirmed as %q", i, c)
		}
	}
	if held := f.pacs.stored[api.OrthancID(id.PatientID, id.StudyUID, id.SeriesUID, id.SOPUID)]; !slices.Equal(held, other) {
		t.Error("the file Orthanc held under the conflicting SOP Instance UID was overwritten")
	}
}

// TestUnitRelayBatchesSurviveALostManifestAnUnreachableServerAndCancellation: a manifest that cannot be read
// leaves the stored SEGs to the relay, which finds them held already and confirms them; a server unreachable
// through the round's retries fails the round offline with one attempt counted; a round cancelled during the
// batches records nothing; each following round sends again, and every SEG is stored once.
func TestUnitRelayBatchesSurviveALostManifestAnUnreachableServerAndCancellation(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true, RoundRetries: 1})
	ctx := context.Background()
	study := localStudy(t, f.c)
	sops, _ := recordSEGs(t, f.c, study, 6)
	f.pacs.failNext("StudyManifest", offline("manifest"))
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.SEGs != 6 || len(f.pacs.stored) != 6 {
		t.Fatalf("round with the manifest lost: %+v %v; Orthanc holds %d", sum, err, len(f.pacs.stored))
	}
	for _, sop := range sops {
		if c := confirmations(t, f.c)[sop]; !strings.HasSuffix(c, "(AlreadyStored)") {
			t.Errorf("SEG confirmed as %q after the lost manifest", c)
		}
	}

	sops, _ = recordSEGs(t, f.c, study, 6)
	f.pacs.failNext("StoreInstances", offline("stow"))
	f.pacs.failNext("UploadInstance", offline("1"), offline("2"))
	sum, err = f.e.Round(ctx, nil)
	if !client.IsOffline(err) || sum.Failed != 1 || sum.SEGs != 0 || sum.OutboxLeft != 6 {
		t.Fatalf("round with the server unreachable: %+v %v", sum, err)
	}
	attempts := 0
	for _, en := range outbox(t, f.c) {
		attempts += en.Attempts
	}
	if attempts != 1 {
		t.Errorf("%d attempts counted, want 1 (the rest wait untried)", attempts)
	}

	cctx, cancel := context.WithCancel(ctx)
	f.e.pacs = &cancelAfterStow{PACS: f.pacs, cancel: cancel}
	sum, err = f.e.Round(cctx, nil)
	if err == nil || sum.Pushed != 0 || sum.Failed != 0 || sum.OutboxLeft != 6 {
		t.Fatalf("cancelled round: %+v %v", sum, err)
	}
	f.e.pacs = f.pacs
	sum, err = f.e.Round(ctx, nil)
	if err != nil || sum.SEGs != 6 || sum.OutboxLeft != 0 || len(f.pacs.stored) != 12 {
		t.Fatalf("round after: %+v %v; Orthanc holds %d, want 12", sum, err, len(f.pacs.stored))
	}
	for _, sop := range sops {
		if c := confirmations(t, f.c)[sop]; !strings.Contains(c, "STOW-RS") {
			t.Errorf("SEG confirmed as %q", c)
		}
	}
	if n := f.pacs.count("StoreInstances"); n != 4 {
		t.Errorf("%d STOW-RS requests, want 4 (one a round)", n)
	}
}

// cancelAfterStow cancels the round once Orthanc answered its first STOW-RS request.
type cancelAfterStow struct {
	PACS
	cancel context.CancelFunc
}

func (c *cancelAfterStow) StoreInstances(ctx context.Context, files [][]byte) (*client.StowResult, error) {
	r, err := c.PACS.StoreInstances(ctx, files)
	c.cancel()
	return r, err
}

// TestUnitSplitBatchesBoundsItemsAndBytes: batches hold at most segBatchItems SEGs and segBatchBytes bytes; a
// SEG larger than that goes alone; the order is kept.
func TestUnitSplitBatchesBoundsItemsAndBytes(t *testing.T) {
	var segs []*outSEG
	for i, size := range []int{1, 2, segBatchBytes, 3, segBatchBytes / 2, segBatchBytes / 2, 5} {
		segs = append(segs, &outSEG{it: cache.OutboxItem{ID: int64(i), Payload: make([]byte, size)}})
	}
	for range 2 * segBatchItems {
		segs = append(segs, &outSEG{it: cache.OutboxItem{ID: int64(len(segs)), Payload: []byte{1}}})
	}
	var sizes []int
	next := int64(0)
	for _, b := range splitBatches(segs) {
		bytes := 0
		for _, s := range b {
			if s.it.ID != next {
				t.Fatalf("item %d where %d was next", s.it.ID, next)
			}
			next++
			bytes += len(s.it.Payload)
		}
		if len(b) > segBatchItems || (len(b) > 1 && bytes > segBatchBytes) {
			t.Errorf("a batch of %d items, %d bytes", len(b), bytes)
		}
		sizes = append(sizes, len(b))
	}
	if want := []int{2, 1, 2, 16, 16, 2}; !slices.Equal(sizes, want) {
		t.Errorf("batches of %v items, want %v", sizes, want)
	}
	if next != int64(len(segs)) {
		t.Errorf("%d of %d items batched", next, len(segs))
	}
}
