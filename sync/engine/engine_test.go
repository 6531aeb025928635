package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testenv"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/viewer"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// TestLoginOnlineThenOffline: an online login caches a bcrypt hash (never the password); with the server
// unreachable the same password opens an offline session within the grace period only; a wrong password,
// an unknown user and an expired grace are refused; each attempt is in the local audit trail. The token
// refresh keeps the session usable.
func TestLoginOnlineThenOffline(t *testing.T) {
	s := serverSide(t)
	ctx := context.Background()
	pw := s.Accounts[risUser]
	e, c := newEngine(t, s.URL, Options{OfflineGrace: time.Hour})
	sess, err := e.Login(ctx, risUser, pw)
	if err != nil || sess.Offline || sess.User.Role != api.RoleRIS {
		t.Fatalf("online login: %+v %v", sess, err)
	}
	raw, err := c.Setting(ctx, credentialKey(risUser), "")
	if err != nil || !strings.Contains(raw, `"bcrypt":"$2`) || strings.Contains(raw, pw) {
		t.Fatalf("cached credential %q (%v): want a bcrypt hash and no password", raw, err)
	}
	if err := e.Client().Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if me, err := e.Client().Me(ctx); err != nil || me.LoginID != risUser {
		t.Fatalf("me after refresh: %+v %v", me, err)
	}
	if _, err := e.Login(ctx, risUser, "wrong-password"); err == nil || !client.IsCode(err, api.CodeLoginFail) {
		t.Fatalf("wrong password online: %v", err)
	}
	// The online refusal dropped the cached credential; log in again to cache it.
	if _, err := e.Login(ctx, risUser, pw); err != nil {
		t.Fatal(err)
	}

	// The same cache, the server unreachable (a closed port).
	now := time.Now()
	off := engineOn(t, c, "http://127.0.0.1:1", Options{OfflineGrace: time.Hour, Now: func() time.Time { return now }})
	sess, err = off.Login(ctx, risUser, pw)
	if err != nil || !sess.Offline || sess.User.LoginID != risUser || sess.ValidUntil.IsZero() {
		t.Fatalf("offline login: %+v %v", sess, err)
	}
	st, err := off.Status(ctx)
	if err != nil || st.Online || !st.Offline || st.User != risUser {
		t.Fatalf("status offline: %+v %v", st, err)
	}
	for _, c := range []struct{ user, pw string }{{risUser, "wrong-password"}, {"nobody", pw}} {
		if _, err := off.Login(ctx, c.user, c.pw); !errors.Is(err, ErrNoOfflineLogin) {
			t.Errorf("offline login %s with %q: %v, want ErrNoOfflineLogin", c.user, c.pw, err)
		}
	}
	now = now.Add(2 * time.Hour)
	if _, err := off.Login(ctx, risUser, pw); !errors.Is(err, ErrNoOfflineLogin) || !strings.Contains(err.Error(), "grace") {
		t.Errorf("offline login after the grace period: %v", err)
	}
	evs, err := c.AuditEvents(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ev := range evs {
		seen[ev.Action]++
	}
	if seen["login"] < 2 || seen["login.offline"] != 1 || seen["login.offline.denied"] != 3 || seen["login.denied"] != 1 {
		t.Errorf("local audit actions %v", seen)
	}
	// A round without a reachable server fails as offline and leaves everything queued.
	if _, err := off.Round(ctx, nil); !client.IsOffline(err) {
		t.Errorf("offline round: %v", err)
	}
}

// TestRoundPullsWorklistAndPrefetchesTheDemoStudy: the RIS user's round brings the worklist from the change
// feed and the 620-instance demo study through the proxy, every instance verified; a second round pulls
// nothing and finds everything cached; a cancelled prefetch keeps what it committed and the next round
// resumes; the cache passes Check.
func TestRoundPullsWorklistAndPrefetchesTheDemoStudy(t *testing.T) {
	s := serverSide(t)
	ctx := context.Background()
	e, c := newEngine(t, s.URL, Options{})
	if _, err := e.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
		t.Fatal(err)
	}
	// Cancel the first prefetch once some instances are committed.
	cctx, cancel := context.WithCancel(ctx)
	var last Progress
	sum, err := e.Round(cctx, func(p Progress) {
		if p.Phase == PhasePrefetch {
			last = p
			if p.Done >= 64 {
				cancel()
			}
		}
	})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled round: %v (%+v)", err, sum)
	}
	if sum.Changes == 0 || sum.Pulled < 64 || sum.Pulled >= 620 || last.Total < 620 {
		t.Fatalf("cancelled round summary %+v, last progress %+v", sum, last)
	}
	orders, err := e.Worklist(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mri *api.Order
	for i, o := range orders {
		if o.JobRole == api.JobRIS && o.PatientNumber == viewerdemo.PatientID {
			mri = &orders[i]
		}
	}
	if mri == nil {
		t.Fatalf("worklist %+v lacks the demo MRI order", orders)
	}
	first := sum.Pulled
	sum, err = e.Round(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.AlreadyCached < first || sum.Pulled+sum.AlreadyCached < 620 || sum.PullFailed != 0 {
		t.Fatalf("resumed round %+v after %d pulled", sum, first)
	}
	st, err := c.Stats(ctx)
	if err != nil || st.Instances < 620 {
		t.Fatalf("cache holds %+v (%v)", st, err)
	}
	sum, err = e.Round(ctx, nil)
	if err != nil || sum.Pulled != 0 || sum.AlreadyCached < 620 {
		t.Fatalf("third round %+v %v: want nothing pulled", sum, err)
	}
	rows, err := c.Worklist(ctx, cache.Query{Sync: cache.SyncPulled})
	if err != nil || len(rows.Rows) < 1 {
		t.Fatalf("pulled studies in the local worklist: %+v %v", rows, err)
	}
	rep, err := c.Check(ctx)
	if err != nil || !rep.OK() || len(rep.MissingFiles) != 0 {
		t.Fatalf("check %+v %v", rep, err)
	}
	t.Logf("pulled %d + %d instances (%d bytes), %d changes", first, sum.AlreadyCached-first, st.Bytes, sum.Changes)
}

// TestPushDeliversResultsSEGReportAndAudit: an M1 result and its SEG recorded in one transaction, a report
// and local audit events reach the server once: the result under its Idempotency-Key, the SEG in Orthanc
// (confirmed by SOP Instance UID and MD5), the report on its order, the audit events by event ID; the
// outbox is empty, the study synced; a second round sends nothing; a malformed item is set aside, not lost.
func TestPushDeliversResultsSEGReportAndAudit(t *testing.T) {
	s := serverSide(t)
	ctx := context.Background()
	e, c := newEngine(t, s.URL, Options{NoPrefetch: true})
	if _, err := e.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Round(ctx, nil); err != nil { // the feed: patients and orders
		t.Fatal(err)
	}
	orders, err := e.Worklist(ctx)
	if err != nil {
		t.Fatal(err)
	}
	orderID := ""
	for _, o := range orders {
		if o.JobRole == api.JobRIS && o.PatientNumber == viewerdemo.PatientID && o.Status == api.OrderInProgress {
			orderID = o.ID
		}
	}
	if orderID == "" {
		t.Fatalf("no MRI order in progress in %+v", orders)
	}
	study := localStudy(t, c)
	nonce := "push-" + time.Now().Format("150405.000000000")
	sop, seg := segFor(study)
	if _, err := c.RecordResults(ctx, study, []cache.ResultInput{{Kind: "m1", Payload: m1Result(nonce)}, {Kind: "seg", Payload: seg}}); err != nil {
		t.Fatal(err)
	}
	report, _ := json.Marshal(Report{OrderID: orderID, WorkerResult: json.RawMessage(`{"findings":"enhancing mass","nonce":"` + nonce + `"}`)})
	if _, err := c.RecordResult(ctx, study, "report", report); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordResult(ctx, study, "bogus", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.RecordAudit(ctx, risUser, "study.open", study, "offline read "+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := e.Status(ctx)
	if st.Outbox != 4 || st.AuditQueue < 3 {
		t.Fatalf("status before the round %+v", st)
	}
	sum, err := e.Round(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pushed != 3 || sum.Results != 1 || sum.SEGs != 1 || sum.Reports != 1 || sum.Dead != 1 || sum.OutboxLeft != 1 || sum.AuditForwarded < 3 {
		t.Fatalf("round summary %+v", sum)
	}
	if n, err := s.CountSOP(sop); err != nil || n != 1 {
		t.Fatalf("Orthanc holds %d instances with the SEG's SOP Instance UID (%v)", n, err)
	}
	pid, err := c.RemotePatientByNumber(ctx, viewerdemo.PatientID)
	if err != nil {
		t.Fatal(err)
	}
	found := countNonce(t, e, pid, nonce)
	if found != 1 {
		t.Fatalf("the server holds the result %d times", found)
	}
	entries, err := c.Outbox(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		switch {
		case en.Kind == "result.bogus":
			if en.DeadAt.IsZero() || en.LastError == "" {
				t.Errorf("the malformed item was not set aside: %+v", en)
			}
		case en.SentAt.IsZero() || en.Confirmation == "":
			t.Errorf("item %+v not confirmed", en)
		case en.Kind == "result.seg" && !strings.Contains(en.Confirmation, sop):
			t.Errorf("SEG confirmation %q lacks the SOP Instance UID", en.Confirmation)
		}
	}
	sum, err = e.Round(ctx, nil)
	if err != nil || sum.Pushed != 0 || sum.AuditForwarded != 0 {
		t.Fatalf("second round %+v %v: want nothing sent", sum, err)
	}
	if found := countNonce(t, e, pid, nonce); found != 1 {
		t.Fatalf("after a second round the server holds the result %d times", found)
	}
	st, err = e.Status(ctx)
	if err != nil || !st.Online || st.Outbox != 1 || st.Dead != 1 || st.LastSync.IsZero() || st.AuditQueue != 0 {
		t.Fatalf("status after the rounds %+v %v", st, err)
	}
}

// TestPushBatchesSEGsThroughTheProxy: 24 SEGs of one study go through the server in STOW-RS requests (16
// and 8) and are confirmed by the study's manifest (the Orthanc ID the engine computes is the one Orthanc gave), each stored
// once. One SEG's SOP Instance UID is already in Orthanc under another patient: the server refuses its whole
// request (409), the relay sends that request's SEGs one by one and sets this one aside. Another's is already
// held, same patient, with a different file: it is set aside as a conflict and Orthanc keeps its file.
func TestPushBatchesSEGsThroughTheProxy(t *testing.T) {
	s := serverSide(t)
	ctx := context.Background()
	e, c := newEngine(t, s.URL, Options{NoPrefetch: true})
	if _, err := e.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
		t.Fatal(err)
	}
	study := localStudy(t, c)
	var in []cache.ResultInput
	var sops []string
	var files [][]byte
	for range 24 {
		sop, seg := segFor(study)
		sops, files = append(sops, sop), append(files, seg)
		in = append(in, cache.ResultInput{Kind: "seg", Payload: seg})
	}
	if _, err := c.RecordResults(ctx, study, in); err != nil {
		t.Fatal(err)
	}
	stolen := testsvc.DICOM(testsvc.Instance{PatientID: "OTHER-" + testsvc.RandomHex(4), PatientName: "OTHER^PATIENT", StudyUID: testsvc.NewUID(),
		SeriesUID: testsvc.NewUID(), SOPUID: sops[20], SeriesDescription: "OTHER"})
	id, _, err := segInfo(files[7])
	if err != nil {
		t.Fatal(err)
	}
	held := testsvc.DICOM(testsvc.Instance{PatientID: id.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: id.StudyUID, SeriesUID: id.SeriesUID,
		SOPUID: id.SOPUID, SeriesDescription: "HELD BEFORE"})
	for _, b := range [][]byte{stolen, held} {
		if _, err := s.OrthancPost("/instances", b); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := e.Round(ctx, nil)
	if err != nil || sum.SEGs != 22 || sum.Dead != 2 || sum.OutboxLeft != 2 {
		t.Fatalf("round: %+v %v", sum, err)
	}
	errs := strings.Join(sum.Errors, "\n")
	if !strings.Contains(errs, "another patient") || !strings.Contains(errs, "different file") {
		t.Errorf("errors %q: want the other patient's UID and the different file", errs)
	}
	batched := 0
	for _, en := range outboxAll(t, c) {
		if en.Kind != "result.seg" || en.SentAt.IsZero() {
			continue
		}
		if strings.Contains(en.Confirmation, "STOW-RS") {
			batched++
		}
	}
	if batched != 15 {
		t.Errorf("%d SEGs confirmed by the study manifest, want the 15 of the first request but the conflict", batched)
	}
	for i, sop := range sops { // the refused SEG's UID only as the other patient's, the conflict's once
		if n, err := s.CountSOP(sop); err != nil || n != 1 {
			t.Errorf("SEG %d: Orthanc holds %d instances with its SOP Instance UID (%v), want 1", i, n, err)
		}
	}
	b, err := s.OrthancGet("/instances/" + api.OrthancID(id.PatientID, id.StudyUID, id.SeriesUID, id.SOPUID) + "/file")
	if err != nil || !bytes.Equal(b, held) {
		t.Errorf("Orthanc's file under the conflicting SOP Instance UID changed (%v)", err)
	}
}

// outboxAll lists every outbox item, newest first.
func outboxAll(t *testing.T, c *cache.Cache) []cache.OutboxEntry {
	t.Helper()
	items, err := c.Outbox(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// countNonce counts the patient's AI results on the server whose JSON carries nonce.
func countNonce(t *testing.T, e *Engine, patientID int64, nonce string) int {
	t.Helper()
	list, err := e.Client().AIResults(context.Background(), patientID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range list {
		if strings.Contains(string(r.Result), `"`+nonce+`"`) {
			n++
		}
	}
	return n
}

// TestPrefetchTranscodesWhatTheViewerCannotDecode: an instance stored in Orthanc as JPEG-LS (which this
// test binary, linking no CharLS, cannot decode) arrives in the cache transcoded by the server to Explicit VR
// Little Endian, with its SOP Instance UID, and the viewer loads it; instances in a syntax the workstation
// decodes (native, and JPEG Lossless SV1, decoded in Go since the codecs came) arrive as stored.
func TestPrefetchTranscodesWhatTheViewerCannotDecode(t *testing.T) {
	s := serverSide(t)
	ctx := context.Background()
	encoders := map[string][]string{"jpegls": {"dcmcjpls"}, "jpeg-lossless": {"dcmcjpeg", "+e1"}}
	for _, args := range encoders {
		if _, err := exec.LookPath(args[0]); err != nil {
			testenv.Missing(t, args[0], "store compressed instances for the server to transcode or not", "apt-get install dcmtk")
		}
	}
	dir := t.TempDir()
	study, series := testsvc.NewUID(), testsvc.NewUID()
	sops := map[string]string{}
	var orthancStudy string
	for i, name := range []string{"plain", "jpegls", "jpeg-lossless"} {
		sop := testsvc.NewUID()
		sops[name] = sop
		b := testsvc.DICOM(testsvc.Instance{PatientID: viewerdemo.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: study, SeriesUID: series,
			SOPUID: sop, SeriesDescription: "T2", InstanceNumber: i + 1, Rows: 32, Columns: 32})
		path := filepath.Join(dir, name+".dcm")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if enc := encoders[name]; enc != nil {
			if out, err := exec.Command(enc[0], append(enc[1:], path, path+".c")...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", enc[0], err, out)
			}
			path += ".c"
		}
		raw, _ := os.ReadFile(path)
		ans, err := s.OrthancPost("/instances", raw)
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ ParentStudy string }
		json.Unmarshal(ans, &st)
		orthancStudy = st.ParentStudy
	}
	if viewer.CanDecode("1.2.840.10008.1.2.4.80") || !viewer.CanDecode("1.2.840.10008.1.2.4.70") {
		t.Fatalf("this test expects JPEG-LS undecodable here and JPEG Lossless SV1 decodable")
	}
	e, c := newEngine(t, s.URL, Options{NoPrefetch: true})
	if _, err := e.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
		t.Fatal(err)
	}
	sum, err := e.Prefetch(ctx, orthancStudy, nil)
	if err != nil || sum.Pulled != 3 || sum.Transcoded != 1 || sum.PullFailed != 0 {
		t.Fatalf("prefetch %+v %v\northanc log:\n%s\nserver log:\n%s", sum, err, s.Orthanc.LogTail(), s.Server.LogTail())
	}
	st, err := c.Study(ctx, study)
	if err != nil {
		t.Fatal(err)
	}
	syntax := map[string]string{}
	for _, se := range st.Series {
		for _, in := range se.Instances {
			syntax[in.SOPInstanceUID] = in.TransferSyntax
		}
		if _, err := viewer.LoadSeries(ctx, se, nil); err != nil {
			t.Fatalf("load the pulled series: %v", err)
		}
	}
	want := map[string]string{"plain": "1.2.840.10008.1.2.1", "jpegls": "1.2.840.10008.1.2.1", "jpeg-lossless": "1.2.840.10008.1.2.4.70"}
	for name, ts := range want {
		if syntax[sops[name]] != ts {
			t.Errorf("%s instance cached as %q, want %s", name, syntax[sops[name]], ts)
		}
	}
}

// TestBackoffGrowsWithJitterAndCap: the n-th wait is base·2ⁿ⁻¹ capped, times a factor in [0.5, 1.5).
func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	base, max := 100*time.Millisecond, 2*time.Second
	for n := 1; n <= 10; n++ {
		want := base << (n - 1)
		if want > max {
			want = max
		}
		for range 50 {
			d := backoff(n, base, max)
			if d < want/2 || d >= want*3/2 {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v)", n, d, want/2, want*3/2)
			}
		}
	}
}
