package synccli

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/sync/internal/feedfake"
	"github.com/neuronova/neuronova/viewer"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

func run(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errw strings.Builder
	err := Command(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errw)
	return out.String(), errw.String(), err
}

// TestSyncAsANewUserWouldTryIt is the "must show": a first `neuronova sync` brings the worklist and
// the demo study; with the server stopped the workstation opens the cached study, reads a series and saves
// an M1 result with its SEG; `neuronova sync` then says it is offline and keeps both queued; after the
// server returns, one `neuronova sync` delivers them once (result on the server, SEG in Orthanc), and another
// sends nothing.
func TestSyncAsANewUserWouldTryIt(t *testing.T) {
	testsvc.RequireStack(t)
	s, err := testsvc.StartStack(testsvc.StackOptions{Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "cache")
	env := map[string]string{"NEURONOVA_SERVER": s.URL, "NEURONOVA_USER": "ris1", "NEURONOVA_PASSWORD": s.Accounts["ris1"]}

	out, _, err := run(t, env, "--data", data)
	if err != nil || !strings.Contains(out, "instances") || !strings.Contains(out, "outbox left 0") {
		t.Fatalf("first sync: %v\n%s", err, out)
	}
	t.Logf("first sync: %s", strings.TrimSpace(out))

	s.Server.Kill()
	c, err := cache.Open(data, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.Worklist(ctx, cache.Query{Text: viewerdemo.PatientID})
	if err != nil || len(page.Rows) == 0 {
		t.Fatalf("cached worklist: %+v %v", page, err)
	}
	study, err := c.OpenStudy(ctx, page.Rows[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	se, err := viewer.FindSeries(study, "T1CE")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.LoadSeries(ctx, se, nil); err != nil {
		t.Fatalf("load a cached series offline: %v", err)
	}
	// What the workstation saves after running M1: the JSON result and its SEG in one transaction.
	nonce := testsvc.NewUID()
	result, _ := json.Marshal(map[string]any{"model_version": "demo", "nonce": nonce, "volumes_ml": map[string]float64{"ET": 3.5}})
	segUID := testsvc.NewUID()
	seg := testsvc.DICOM(testsvc.Instance{PatientID: viewerdemo.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: study.UID,
		SeriesUID: testsvc.NewUID(), SOPUID: segUID, SeriesDescription: "SEG"})
	if _, err := c.RecordResults(ctx, study.UID, []cache.ResultInput{{Kind: "m1", Payload: result}, {Kind: "seg", Payload: seg}}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	out, _, err = run(t, env, "--data", data)
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(out, "offline") || !strings.Contains(out, "2 items wait in the outbox") {
		t.Fatalf("sync with the server stopped: %v\n%s", err, out)
	}
	t.Logf("server stopped: %s", strings.TrimSpace(out))

	if err := s.StartServer(); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, env, "--data", data)
	if err != nil || !strings.Contains(out, "pushed 2 (1 results, 1 SEGs, 0 reports)") || !strings.Contains(out, "outbox left 0") {
		t.Fatalf("sync after the server returned: %v\n%s", err, out)
	}
	t.Logf("server back: %s", strings.TrimSpace(out))
	out, _, err = run(t, env, "--data", data, "--no-prefetch", "--send-refused")
	if err != nil || !strings.Contains(out, "0 refused items queued again") || !strings.Contains(out, "pushed 0 ") {
		t.Fatalf("second sync: %v\n%s", err, out)
	}

	if n, err := s.CountSOP(segUID); err != nil || n != 1 {
		t.Fatalf("Orthanc holds the SEG %d times (%v)", n, err)
	}
	cl, err := client.New(s.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Login(ctx, "doctor1", s.Accounts["doctor1"]); err != nil {
		t.Fatal(err)
	}
	c, err = cache.Open(data, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pid, err := c.RemotePatientByNumber(ctx, viewerdemo.PatientID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := cl.AIResults(ctx, pid, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range list {
		if strings.Contains(string(r.Result), nonce) {
			found++
			if r.StudyUID != study.UID || r.Model != "M1" {
				t.Errorf("stored result %+v", r)
			}
		}
	}
	if found != 1 {
		t.Fatalf("the server holds the result %d times, want once", found)
	}
	rows, err := c.Worklist(ctx, cache.Query{Sync: cache.SyncSynced})
	if err != nil || len(rows.Rows) != 1 {
		t.Errorf("synced studies %+v %v", rows, err)
	}
}

// TestSyncCommandLine: bad command lines are usage errors; a wrong password is refused by the server.
func TestSyncCommandLine(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		args []string
	}{
		{map[string]string{"NEURONOVA_PASSWORD": "x"}, nil}, // no user
		{map[string]string{"NEURONOVA_USER": "u"}, nil},     // no password
		{map[string]string{"NEURONOVA_USER": "u", "NEURONOVA_PASSWORD": "x"}, []string{"extra"}},
		{map[string]string{"NEURONOVA_USER": "u", "NEURONOVA_PASSWORD": "x"}, []string{"--bogus"}},
		{map[string]string{"NEURONOVA_USER": "u", "NEURONOVA_PASSWORD": "x", "NEURONOVA_SERVER": "ftp://x"}, []string{"--data", t.TempDir()}},
	} {
		if _, _, err := run(t, c.env, c.args...); !errors.Is(err, ErrUsage) {
			t.Errorf("%v %v: %v, want a usage error", c.env, c.args, err)
		}
	}
	// A server that is not there and no cached credential: refused, nothing else.
	_, _, err := run(t, map[string]string{"NEURONOVA_USER": "u", "NEURONOVA_PASSWORD": "x", "NEURONOVA_SERVER": "http://127.0.0.1:1"}, "--data", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "offline login is not possible") {
		t.Errorf("unreachable server, never logged in: %v", err)
	}
}

// TestSyncReportsSkippedChange: `neuronova sync` on a feed holding a change nested 10,000 levels deep
// succeeds, applies the good change after it and says which change it skipped and why.
func TestSyncReportsSkippedChange(t *testing.T) {
	fake := feedfake.New()
	defer fake.Close()
	fake.Add(1, []byte(`{"seq":1,"kind":"ai_result","object_id":"7","data":{"result":`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`}}`))
	fake.Add(2, feedfake.Change(2, "order", "ocs_0002", map[string]any{"order_id": "ocs_0002"}))
	env := map[string]string{"NEURONOVA_SERVER": fake.URL, "NEURONOVA_USER": "ris1", "NEURONOVA_PASSWORD": "any"}
	out, _, err := run(t, env, "--data", filepath.Join(t.TempDir(), "cache"), "--no-prefetch")
	if err != nil || !strings.Contains(out, "pulled 1 changes") || !strings.Contains(out, "skipped 1 undecodable changes") ||
		!strings.Contains(out, "change 1 (ai_result 7) skipped: nested 10002 levels deep") {
		t.Fatalf("sync: %v\n%s", err, out)
	}
}
