package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
)

// The TestUnit tests run the engine's logic on the in-memory fakes of fakes_test.go and a real cache, in
// milliseconds: go test ./sync/engine -run TestUnit. The tests against the real server side and the fault
// suite stay the authority on the wire.

// resultItem records an M1 result with its patient, so that pushing it needs no feed.
func resultItem(t *testing.T, f *onFakes, study, nonce string) int64 {
	t.Helper()
	up, _ := json.Marshal(api.AIResultUpload{Model: "M1", ModelVersion: "demo-0.1", PatientID: 7, StudyUID: study,
		Result: json.RawMessage(fmt.Sprintf(`{"nonce":%q}`, nonce))})
	id, err := f.c.RecordResult(context.Background(), study, "m1", up)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func outbox(t *testing.T, c *cache.Cache) []cache.OutboxEntry {
	t.Helper()
	items, err := c.Outbox(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestUnitRelayRetriesTransientErrorsWithinTheRound: a result whose upload fails twice as transient (a cut
// connection, a 503) is sent again within the round, under the same Idempotency-Key, and confirmed once.
func TestUnitRelayRetriesTransientErrorsWithinTheRound(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	ctx := context.Background()
	resultItem(t, f, localStudy(t, f.c), "n1")
	f.srv.failNext("UploadResult", offline("upload"), refusal(503, api.CodeUnavailable))
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.Pushed != 1 || sum.Results != 1 || sum.Failed != 0 || sum.OutboxLeft != 0 {
		t.Fatalf("round: %+v %v", sum, err)
	}
	if n := f.srv.count("UploadResult"); n != 3 {
		t.Errorf("%d uploads, want 3", n)
	}
	if keys := slices.Compact(slices.Clone(f.srv.uploaded)); len(keys) != 1 {
		t.Errorf("the attempts used keys %v, want one", f.srv.uploaded)
	}
	if f.srv.storedResults() != 1 {
		t.Errorf("the server holds %d results", f.srv.storedResults())
	}
	if items := outbox(t, f.c); len(items) != 1 || items[0].SentAt.IsZero() || !strings.HasPrefix(items[0].Confirmation, "ai_result ai_req_0001") {
		t.Errorf("outbox %+v", items)
	}
}

// TestUnitRelayLeavesAnUnreachableServerForLaterWithBackoff: when the server stays unreachable through the
// round's retries, the round fails offline, the item stays unsent with one more attempt and its next attempt
// base·2ⁿ⁻¹·[0.5, 1.5) ahead, and the items after it wait untried; the next round sends them all.
func TestUnitRelayLeavesAnUnreachableServerForLaterWithBackoff(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true, RoundRetries: 2, BackoffBase: time.Minute, BackoffMax: time.Hour})
	ctx := context.Background()
	study := localStudy(t, f.c)
	resultItem(t, f, study, "a")
	resultItem(t, f, study, "b")
	f.srv.failNext("UploadResult", offline("1"), offline("2"), offline("3"))
	sum, err := f.e.Round(ctx, nil)
	if !client.IsOffline(err) || sum.Failed != 1 || sum.Dead != 0 || sum.OutboxLeft != 2 {
		t.Fatalf("round: %+v %v", sum, err)
	}
	if n := f.srv.count("UploadResult"); n != 3 {
		t.Errorf("%d uploads, want 1 + 2 retries and none of the second item", n)
	}
	if st, _ := f.e.Status(ctx); st.Online {
		t.Errorf("status online after an offline round: %+v", st)
	}
	items := outbox(t, f.c) // newest first
	first := items[1]
	wait := first.NextAttemptAt.Sub(f.clock.Now())
	if first.Attempts != 1 || !first.SentAt.IsZero() || wait < 30*time.Second || wait >= 90*time.Second ||
		!strings.Contains(first.LastError, "connection reset") {
		t.Errorf("first item after the round: %+v (next attempt in %v)", first, wait)
	}
	if items[0].Attempts != 0 {
		t.Errorf("the second item was tried: %+v", items[0])
	}
	f.clock.advance(2 * time.Minute)
	sum, err = f.e.Round(ctx, nil)
	if err != nil || sum.Pushed != 2 || sum.OutboxLeft != 0 {
		t.Fatalf("next round: %+v %v", sum, err)
	}
}

// TestUnitRelaySetsPermanentRefusalsAside: a refusal that sending again cannot fix (409, 400, 403, 404,
// 413, 422) sets the item aside at once, with no retry, counted and kept; the items after it go on.
func TestUnitRelaySetsPermanentRefusalsAside(t *testing.T) {
	for _, r := range []struct {
		status int
		code   api.ErrorCode
	}{{409, api.CodeConflict}, {400, api.CodeInvalid}, {403, api.CodeForbidden}, {404, api.CodeNotFound}, {413, api.CodeTooLarge}, {422, api.CodeInvalid}} {
		t.Run(fmt.Sprint(r.status), func(t *testing.T) {
			f := newOnFakes(t, Options{NoPrefetch: true})
			ctx := context.Background()
			study := localStudy(t, f.c)
			resultItem(t, f, study, "refused")
			resultItem(t, f, study, "fine")
			f.srv.failNext("UploadResult", refusal(r.status, r.code))
			sum, err := f.e.Round(ctx, nil)
			if err != nil || sum.Failed != 1 || sum.Dead != 1 || sum.Pushed != 1 || sum.OutboxLeft != 1 {
				t.Fatalf("round: %+v %v", sum, err)
			}
			if n := f.srv.count("UploadResult"); n != 2 {
				t.Errorf("%d uploads, want one each", n)
			}
			if st, _ := f.e.Status(ctx); st.Dead != 1 || st.Outbox != 1 {
				t.Errorf("status %+v", st)
			}
			sum, err = f.e.Round(ctx, nil) // a dead item stays aside
			if err != nil || sum.Pushed != 0 || f.srv.count("UploadResult") != 2 {
				t.Errorf("next round: %+v %v, %d uploads", sum, err, f.srv.count("UploadResult"))
			}
		})
	}
}

// TestUnitRelayIsIdempotentAcrossALostAnswer: the server stores the result but the answer is lost; the
// relay sends again under the same key, the server replays it, and it holds one result. The same SEG sent
// twice is stored once in Orthanc and confirmed by SOP Instance UID and MD5.
func TestUnitRelayIsIdempotentAcrossALostAnswer(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	ctx := context.Background()
	study := localStudy(t, f.c)
	resultItem(t, f, study, "once")
	lost := &lostAnswer{Server: f.srv}
	f.e.server = lost
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.Pushed != 1 {
		t.Fatalf("round: %+v %v", sum, err)
	}
	if f.srv.storedResults() != 1 || f.srv.count("UploadResult") != 2 {
		t.Errorf("server holds %d results after %d uploads", f.srv.storedResults(), f.srv.count("UploadResult"))
	}
	if items := outbox(t, f.c); !strings.HasSuffix(items[0].Confirmation, "(replayed)") {
		t.Errorf("confirmation %q", items[0].Confirmation)
	}

	sop, seg := segFor(study)
	for range 2 {
		if _, err := f.c.RecordResult(ctx, study, "seg", seg); err != nil {
			t.Fatal(err)
		}
	}
	sum, err = f.e.Round(ctx, nil)
	if err != nil || sum.SEGs != 2 || len(f.pacs.stored) != 1 {
		t.Fatalf("SEG round: %+v %v; Orthanc holds %d", sum, err, len(f.pacs.stored))
	}
	items := outbox(t, f.c)
	if !strings.Contains(items[0].Confirmation, "sop "+sop) || !strings.Contains(items[0].Confirmation, "AlreadyStored") {
		t.Errorf("second SEG confirmation %q", items[0].Confirmation)
	}
}

// lostAnswer is a server whose first upload is stored but answered with a cut connection.
type lostAnswer struct {
	Server
	lost bool
}

func (l *lostAnswer) UploadResult(ctx context.Context, key string, up api.AIResultUpload) (*api.AIResult, bool, error) {
	r, replayed, err := l.Server.UploadResult(ctx, key, up)
	if err == nil && !l.lost {
		l.lost = true
		return nil, false, offline("answer")
	}
	return r, replayed, err
}

// TestUnitRelayRefusesASEGOrthancHoldsDifferently: a SEG whose stored copy has another MD5 is set aside
// (a person must resolve it), never overwritten or counted as sent.
func TestUnitRelayRefusesASEGOrthancHoldsDifferently(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	ctx := context.Background()
	study := localStudy(t, f.c)
	_, seg := segFor(study)
	if _, err := f.c.RecordResult(ctx, study, "seg", seg); err != nil {
		t.Fatal(err)
	}
	f.e.pacs = &otherMD5{PACS: f.pacs}
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.Dead != 1 || sum.SEGs != 0 || sum.Pushed != 0 || !strings.Contains(strings.Join(sum.Errors, "\n"), "different file") {
		t.Fatalf("round: %+v %v", sum, err)
	}
}

type otherMD5 struct{ PACS }

func (o *otherMD5) InstanceMD5(context.Context, string) (string, error) {
	return "00000000000000000000000000000000", nil
}

// TestUnitAuditForwardingMovesTheCursorOnlyOnConfirmation: local events are forwarded by cursor; a batch
// whose answer is lost is sent again and counted as duplicates, not stored twice.
func TestUnitAuditForwardingMovesTheCursorOnlyOnConfirmation(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true, RoundRetries: -1})
	ctx := context.Background()
	f.srv.failNext("ForwardAudit", offline("audit"))
	if _, err := f.e.Round(ctx, nil); !client.IsOffline(err) {
		t.Fatalf("round with the audit endpoint cut: %v", err)
	}
	if cur, _ := f.e.auditCursor(ctx); cur != 0 {
		t.Fatalf("cursor %d after a failed batch", cur)
	}
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.AuditForwarded == 0 {
		t.Fatalf("round: %+v %v", sum, err)
	}
	stored := len(f.srv.events)
	if err := f.e.cache.SetSyncValue(ctx, keyAuditCursor, "0"); err != nil { // as after a crash before the cursor moved
		t.Fatal(err)
	}
	sum, err = f.e.Round(ctx, nil)
	if err != nil || sum.AuditDuplicates < stored || len(f.srv.events) != stored+sum.AuditForwarded {
		t.Fatalf("replayed batch: %+v %v; server holds %d events, had %d", sum, err, len(f.srv.events), stored)
	}
}

// TestUnitFeedAppliesPagesAndResumesAtItsCursor: the feed is read page by page, each page committed with
// its cursor; a round cut between two pages keeps the first, and the next round asks from there.
func TestUnitFeedAppliesPagesAndResumesAtItsCursor(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	ctx := context.Background()
	for i := 1; i <= 1200; i++ {
		f.srv.addChange(api.KindPatient, fmt.Sprint(i), map[string]any{"id": i, "patient_number": fmt.Sprintf("P-%d", i)})
	}
	f.srv.failNext("Changes", nil, offline("feed"))
	sum, err := f.e.Round(ctx, nil)
	if !client.IsOffline(err) || sum.Changes != 500 {
		t.Fatalf("cut round: %+v %v", sum, err)
	}
	if cur, _ := f.c.SyncValue(ctx, f.e.feedKey(), ""); cur != "500" {
		t.Errorf("cursor %q after the first page", cur)
	}
	sum, err = f.e.Round(ctx, nil)
	if err != nil || sum.Changes != 700 {
		t.Fatalf("next round: %+v %v", sum, err)
	}
	if want := []int64{0, 500, 500, 1000}; !slices.Equal(f.srv.cursors, want) {
		t.Errorf("cursors asked %v, want %v", f.srv.cursors, want)
	}
	objs, err := f.c.RemoteObjects(ctx, api.KindPatient)
	if err != nil || len(objs) != 1200 {
		t.Errorf("%d patients applied (%v)", len(objs), err)
	}
	if id, err := f.c.RemotePatientByNumber(ctx, "P-1200"); err != nil || id != 1200 {
		t.Errorf("patient P-1200: %d %v", id, err)
	}
}

// TestUnitWorklistPrefetchSkipsPatientsTheUserMayNotRead: open RIS orders bring their patients' studies; a
// patient the server answers 403 or 404 for is passed over, a confirmed order brings nothing.
func TestUnitWorklistPrefetchSkipsPatientsTheUserMayNotRead(t *testing.T) {
	f := newOnFakes(t, Options{})
	ctx := context.Background()
	id, m := f.pacs.addStudy(5)
	f.srv.studies[1] = []api.PatientStudy{{OrthancID: id, StudyInstanceUID: m.StudyInstanceUID}}
	for i, o := range []api.Order{{ID: "ocs_1", PatientID: 1, JobRole: api.JobRIS, Status: api.OrderAccepted},
		{ID: "ocs_2", PatientID: 2, JobRole: api.JobRIS, Status: api.OrderOrdered},
		{ID: "ocs_3", PatientID: 3, JobRole: api.JobRIS, Status: api.OrderConfirmed},
		{ID: "ocs_4", PatientID: 4, JobRole: api.JobLIS, Status: api.OrderOrdered}} {
		o.CreatedAt = f.clock.Now().Add(time.Duration(i) * time.Minute)
		f.srv.addChange(api.KindOrder, o.ID, o)
	}
	f.srv.failNext("PatientStudies", nil, refusal(403, api.CodeForbidden))
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.Studies != 1 || sum.Pulled != 5 {
		t.Fatalf("round: %+v %v", sum, err)
	}
	if n := f.srv.count("PatientStudies"); n != 2 {
		t.Errorf("asked for the studies of %d patients, want 2 (open RIS orders)", n)
	}
}

// TestUnitPlanStreamsMostlyMissingSeriesAndFetchesTheRest: a series streams when at least streamAtLeast of
// its instances and a quarter of it are missing; the missing instances of the others come one by one; what
// the cache has and the series already streaming get no job.
func TestUnitPlanStreamsMostlyMissingSeriesAndFetchesTheRest(t *testing.T) {
	m := &api.StudyManifest{StudyInstanceUID: "1.2.3"}
	have := map[string]bool{}
	add := func(series string, n, cached int) {
		for i := range n {
			sop := fmt.Sprintf("%s.%d", series, i)
			m.Instances = append(m.Instances, api.ManifestInstance{SOPInstanceUID: sop, SeriesInstanceUID: series})
			have[sop] = i < cached
		}
	}
	add("all", 10, 0)         // stream
	add("few", 10, 7)         // 3 missing: files
	add("small-part", 30, 25) // 5 missing, under a quarter: files
	add("quarter", 16, 12)    // 4 missing, a quarter: stream
	add("cached", 8, 8)       // nothing
	add("streaming", 6, 0)    // streams already: nothing
	add("tiny", 2, 0)         // 2 missing: files
	pl := newPullPlan(m, have)
	if pl.total != 82 || pl.todo != 10+3+5+4+6+2 || !slices.Equal(pl.order, []string{"all", "few", "small-part", "quarter", "streaming", "tiny"}) {
		t.Fatalf("plan: total %d, todo %d, order %v", pl.total, pl.todo, pl.order)
	}
	var streams []string
	files := map[string]int{}
	for _, j := range pl.jobs(map[string]bool{"streaming": true}) {
		switch {
		case j.series != "":
			streams = append(streams, j.series)
			if len(j.list) != len(pl.missing[j.series]) {
				t.Errorf("stream %s lists %d instances, %d missing", j.series, len(j.list), len(pl.missing[j.series]))
			}
		default:
			files[j.one.SeriesInstanceUID]++
			if have[j.one.SOPInstanceUID] {
				t.Errorf("job for cached %s", j.one.SOPInstanceUID)
			}
		}
	}
	if !slices.Equal(streams, []string{"all", "quarter"}) || len(files) != 3 || files["few"] != 3 || files["small-part"] != 5 || files["tiny"] != 2 {
		t.Errorf("streams %v, files %v", streams, files)
	}
}

// importFiles stores the given instances of a fake study in the cache, as if pulled before.
func importFiles(t *testing.T, f *onFakes, ins []api.ManifestInstance) {
	t.Helper()
	dir := t.TempDir()
	for _, in := range ins {
		b, _ := f.pacs.file(in.OrthancID)
		if err := os.WriteFile(filepath.Join(dir, in.OrthancID+".dcm"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if sum, err := f.c.Import(context.Background(), []string{dir}, nil); err != nil || sum.Imported != len(ins) {
		t.Fatalf("import: %+v %v", sum, err)
	}
}

// TestUnitPrefetchStreamsSeriesAndFetchesFilesOfWhatIsMissing: with part of a study cached, the series
// mostly missing streams, the other's missing files come one by one, nothing cached is asked for, every
// instance lands in the cache and progress ends at the number missing.
func TestUnitPrefetchStreamsSeriesAndFetchesFilesOfWhatIsMissing(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	ctx := context.Background()
	id, m := f.pacs.addStudy(12, 10)
	a, b := m.Instances[:12], m.Instances[12:]
	importFiles(t, f, b[:8])
	var last Progress
	sum, err := f.e.Prefetch(ctx, id, func(p Progress) { last = p })
	if err != nil || sum.Pulled != 14 || sum.AlreadyCached != 8 || sum.PullFailed != 0 || sum.Studies != 1 {
		t.Fatalf("prefetch: %+v %v", sum, err)
	}
	if !slices.Equal(f.pacs.streamed, []string{a[0].SeriesInstanceUID}) {
		t.Errorf("streamed %v, want series A only", f.pacs.streamed)
	}
	if got, want := sorted(f.pacs.fetched), []string{b[8].OrthancID, b[9].OrthancID}; !slices.Equal(got, want) {
		t.Errorf("fetched one by one %v, want %v", got, want)
	}
	if last.Phase != PhasePrefetch || last.Done != 14 || last.Total != 14 || last.Bytes != sum.PulledBytes {
		t.Errorf("last progress %+v", last)
	}
	have, _ := f.c.HaveInstances(ctx, sops(m.Instances))
	if len(have) != 22 {
		t.Errorf("cache has %d of 22", len(have))
	}
	sum, err = f.e.Prefetch(ctx, id, nil)
	if err != nil || sum.Pulled != 0 || sum.AlreadyCached != 22 || len(f.pacs.streamed) != 1 || len(f.pacs.fetched) != 2 {
		t.Errorf("second prefetch: %+v %v; streams %d, files %d", sum, err, len(f.pacs.streamed), len(f.pacs.fetched))
	}
}

// TestUnitPrefetchOfAnUncachedStudyStreamsBeforeTheManifest: the series of a study the cache holds nothing
// of start streaming while the manifest is still being made (the fake answers the manifest only after a
// stream began).
func TestUnitPrefetchOfAnUncachedStudyStreamsBeforeTheManifest(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	id, m := f.pacs.addStudy(6, 3)
	f.pacs.manifestC = make(chan struct{})
	sum, err := f.e.Prefetch(context.Background(), id, nil)
	if err != nil || sum.Pulled != 9 {
		t.Fatalf("prefetch: %+v %v", sum, err)
	}
	if len(f.pacs.streamed) != 2 || len(f.pacs.fetched) != 0 {
		t.Errorf("streams %v, files %v: both series should stream", f.pacs.streamed, f.pacs.fetched)
	}
	if have, _ := f.c.HaveInstances(context.Background(), sops(m.Instances)); len(have) != 9 {
		t.Errorf("cache has %d of 9", len(have))
	}
}

// TestUnitPrefetchFetchesWhatACutStreamLeftAndRetriesMismatches: a stream cut after 3 parts leaves the rest
// to the file path; a download that does not match the manifest is retried and then counted as failed,
// while the others land; the next prefetch fetches only that one.
func TestUnitPrefetchFetchesWhatACutStreamLeftAndRetriesMismatches(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true, RoundRetries: 2})
	ctx := context.Background()
	id, m := f.pacs.addStudy(8)
	importFiles(t, f, m.Instances[7:]) // cached: the manifest decides, no early stream
	f.pacs.cutAfter[m.Instances[0].SeriesInstanceUID] = 3
	bad := m.Instances[5]
	f.pacs.corrupt[bad.OrthancID] = true
	sum, err := f.e.Prefetch(ctx, id, nil)
	if err != nil || sum.Pulled != 6 || sum.PullFailed != 1 || len(sum.Errors) != 1 || !strings.Contains(sum.Errors[0], bad.SOPInstanceUID) ||
		!strings.Contains(sum.Errors[0], "does not match") {
		t.Fatalf("prefetch: %+v %v", sum, err)
	}
	if n := slices.Index(f.pacs.fetched, bad.OrthancID); n < 0 || len(f.pacs.fetched) != 4+2 {
		t.Errorf("fetched one by one %v: want the 4 the stream left, the mismatch twice more", f.pacs.fetched)
	}
	delete(f.pacs.corrupt, bad.OrthancID)
	f.pacs.fetched = nil
	sum, err = f.e.Prefetch(ctx, id, nil)
	if err != nil || sum.Pulled != 1 || sum.AlreadyCached != 7 || !slices.Equal(f.pacs.fetched, []string{bad.OrthancID}) {
		t.Fatalf("next prefetch: %+v %v, fetched %v", sum, err, f.pacs.fetched)
	}
}

// TestUnitPrefetchStopsWhenTheServerGoesAndResumes: a server lost mid-prefetch stops it with an offline
// error, keeping what was verified; the next prefetch asks only for the rest.
func TestUnitPrefetchStopsWhenTheServerGoesAndResumes(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true, RoundRetries: -1, Workers: 1})
	ctx := context.Background()
	id, m := f.pacs.addStudy(3, 3)
	importFiles(t, f, m.Instances[:1]) // series A: 2 of 3 missing, B: 3 of 3 missing (under streamAtLeast: files)
	f.pacs.failNext("DownloadInstance", nil, nil, offline("download"))
	sum, err := f.e.Prefetch(ctx, id, nil)
	if !client.IsOffline(err) || sum.Pulled != 2 {
		t.Fatalf("prefetch: %+v %v", sum, err)
	}
	f.pacs.fetched = nil
	sum, err = f.e.Prefetch(ctx, id, nil)
	if err != nil || sum.Pulled != 3 || sum.AlreadyCached != 3 || len(f.pacs.fetched) != 3 {
		t.Fatalf("resumed: %+v %v, fetched %v", sum, err, f.pacs.fetched)
	}
	if have, _ := f.c.HaveInstances(ctx, sops(m.Instances)); len(have) != 6 {
		t.Errorf("cache has %d of 6", len(have))
	}
}

// TestUnitPrefetchFailsOnAnUnknownStudy: a manifest the server refuses ends the prefetch with its error.
func TestUnitPrefetchFailsOnAnUnknownStudy(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	_, err := f.e.Prefetch(context.Background(), fakeOrthancID(12345), nil)
	if client.StatusOf(err) != 404 || !client.IsCode(err, api.CodeNotFound) {
		t.Fatalf("prefetch of an unknown study: %v", err)
	}
}

func sops(ins []api.ManifestInstance) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.SOPInstanceUID
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
