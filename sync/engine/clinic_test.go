package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
)

// manifestPACS is the fake Orthanc whose manifest of a study lists the instances uploaded to it, as Orthanc's
// does after an attachment.
type manifestPACS struct {
	*fakePACS
	id string // the Orthanc ID of the attached study
}

func (m *manifestPACS) StudyManifest(ctx context.Context, studyID string) (*api.StudyManifest, error) {
	if studyID != m.id {
		return m.fakePACS.StudyManifest(ctx, studyID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &api.StudyManifest{OrthancID: studyID}
	for oid, b := range m.stored {
		id, sum, err := identityOf(b)
		if err != nil {
			return nil, err
		}
		out.Instances = append(out.Instances, api.ManifestInstance{OrthancID: oid, SOPInstanceUID: id.SOPUID, SeriesInstanceUID: id.SeriesUID,
			Size: int64(len(b)), MD5: sum})
	}
	return out, nil
}

// newClinicFakes is newOnFakes on a manifestPACS, with an imaging order in progress, assigned to the signed-in
// RIS user, in the cache.
func newClinicFakes(t *testing.T) (*onFakes, *manifestPACS) {
	t.Helper()
	f := newOnFakes(t, Options{NoPrefetch: true})
	mp := &manifestPACS{fakePACS: f.pacs, id: fakeOrthancID(4242)}
	f.e = NewWith(f.c, f.srv, mp, f.e.opts)
	if _, err := f.e.Login(context.Background(), risUser, f.srv.password); err != nil {
		t.Fatal(err)
	}
	worker := f.srv.user.ID
	f.srv.addChange(api.KindOrder, "ocs_0001", api.Order{ID: "ocs_0001", PatientID: 7, PatientNumber: "P20270007", PatientName: "Jane Doe",
		DoctorID: 2, WorkerID: &worker, JobRole: api.JobRIS, JobType: "MRI", Status: api.OrderInProgress, Priority: "normal",
		CreatedAt: f.clock.Now()})
	if n, err := f.e.RefreshFeed(context.Background()); err != nil || n != 1 {
		t.Fatalf("refresh: %d %v", n, err)
	}
	return f, mp
}

// TestUnitAttachSendsTheImagesThenTheSEG: an imported study attached to an order is rewritten for the order's
// patient and accession; its images go to Orthanc and are confirmed by the study's manifest; the SEG of a
// result of the study waits while they are not confirmed, and goes in the round that confirms them.
func TestUnitAttachSendsTheImagesThenTheSEG(t *testing.T) {
	f, mp := newClinicFakes(t)
	ctx := context.Background()
	study := localStudy(t, f.c)
	if err := f.e.AttachStudy(ctx, "ocs_0001", study, nil); err != nil {
		t.Fatal(err)
	}
	info, err := f.c.StudyInfo(ctx, study)
	if err != nil || info.PatientID != "P20270007" || info.PatientName != "Doe^Jane" || info.Accession != "ocs_0001" {
		t.Fatalf("the attached study: %+v %v", info, err)
	}
	segSOP, seg := segFor(study)
	if _, err := f.c.RecordResult(ctx, study, "seg", seg); err != nil {
		t.Fatal(err)
	}
	// The server does not list the study yet: the attachment is not confirmed, and the SEG stays.
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.Pushed != 0 || sum.Failed != 1 || sum.OutboxLeft != 2 {
		t.Fatalf("first round: %+v %v", sum, err)
	}
	if !strings.Contains(sum.Errors[0], "does not list study") {
		t.Errorf("errors %q", sum.Errors)
	}
	uploaded := func(sop string) bool {
		mp.mu.Lock()
		defer mp.mu.Unlock()
		for _, b := range mp.stored {
			if id, _, err := identityOf(b); err == nil && id.SOPUID == sop {
				return true
			}
		}
		return false
	}
	if uploaded(segSOP) {
		t.Fatal("the SEG went before its images were confirmed")
	}
	f.srv.mu.Lock()
	f.srv.studies[7] = []api.PatientStudy{{OrthancID: mp.id, StudyInstanceUID: study}}
	f.srv.mu.Unlock()
	f.clock.advance(time.Hour) // past the attachment's backoff
	sum, err = f.e.Round(ctx, nil)
	if err != nil || sum.Pushed != 2 || sum.SEGs != 1 || sum.OutboxLeft != 0 {
		t.Fatalf("second round: %+v %v", sum, err)
	}
	if !uploaded(segSOP) {
		t.Error("the SEG was not sent once its images were confirmed")
	}
	st, err := f.c.Study(ctx, study)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range st.Series[0].Instances {
		b := mp.fileOf(in.SOPInstanceUID)
		id, _, err := identityOf(b)
		if err != nil || id.PatientID != "P20270007" {
			t.Errorf("instance %s in Orthanc: %+v %v", in.SOPInstanceUID, id, err)
		}
	}
	items, err := f.c.OrderOutbox(ctx, "ocs_0001")
	if err != nil || len(items) != 1 || !strings.Contains(items[0].Confirmation, "3 instances confirmed by the manifest") {
		t.Errorf("the attachment: %+v %v", items, err)
	}
}

// mustWorkstationID is the ID forwarded events carry.
func mustWorkstationID(t *testing.T, f *onFakes) string {
	t.Helper()
	id, err := f.e.workstationID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// identityOf reads the identity of a DICOM object and its MD5.
func identityOf(b []byte) (dicomkit.Identity, string, error) {
	id, err := dicomkit.ReadIdentity(bytes.NewReader(b))
	sum := md5.Sum(b)
	return id, hex.EncodeToString(sum[:]), err
}

// fileOf is the stored upload with a SOP Instance UID.
func (m *manifestPACS) fileOf(sop string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.stored {
		if id, _, err := identityOf(b); err == nil && id.SOPUID == sop {
			return b
		}
	}
	return nil
}

// TestUnitReportsGoInOrder: reports saved offline wait in the outbox and reach the order in the order they
// were made (the submit last); a submit the server refuses is set aside and shown, and the draft stays.
func TestUnitReportsGoInOrder(t *testing.T) {
	f, _ := newClinicFakes(t)
	ctx := context.Background()
	for i, text := range []string{"first", "second", "final"} {
		wr := json.RawMessage(fmt.Sprintf(`{"findings":%q}`, text))
		if err := f.e.SaveReport(ctx, "ocs_0001", wr, i == 2); err != nil {
			t.Fatal(err)
		}
	}
	f.srv.failNext("Changes", offline("feed"))
	if _, err := f.e.Round(ctx, nil); !client.IsOffline(err) {
		t.Fatalf("offline round: %v", err)
	}
	if st, err := f.e.ReportState(ctx, "ocs_0001"); err != nil || st.Pending != 3 || st.Sent != 0 {
		t.Fatalf("offline: %+v %v", st, err)
	}
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.Reports != 3 {
		t.Fatalf("online round: %+v %v", sum, err)
	}
	if n, m := f.srv.count("SaveOrderResult"), f.srv.count("SubmitOrderResult"); n != 2 || m != 1 {
		t.Errorf("%d saves and %d submits, want 2 and 1", n, m)
	}
	if got := string(f.srv.reports["ocs_0001"]); got != `{"findings":"final"}` {
		t.Errorf("the order holds %s, want the submitted report", got)
	}
	if err := f.e.SaveReport(ctx, "ocs_0001", json.RawMessage(`{"findings":"too late"}`), true); err != nil {
		t.Fatal(err)
	}
	f.srv.failNext("SubmitOrderResult", refusal(409, api.CodeConflict))
	if sum, err := f.e.Round(ctx, nil); err != nil || sum.Dead != 1 {
		t.Fatalf("refused round: %+v %v", sum, err)
	}
	st, err := f.e.ReportState(ctx, "ocs_0001")
	if err != nil || st.Sent != 3 || st.Pending != 1 || !strings.Contains(st.Refused, "refused by the fake") {
		t.Errorf("after the refusal: %+v %v", st, err)
	}
	if d, err := f.e.Draft(ctx, "ocs_0001"); err != nil || string(d) != `{"findings":"too late"}` {
		t.Errorf("draft %s %v", d, err)
	}
}

// TestUnitTemporaryPassword: a temporary password opens no offline session; once changed, the new one does.
// Signing out forwards the user's local audit events (their logout too) while their session lasts.
func TestUnitTemporaryPassword(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	ctx := context.Background()
	if err := f.e.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.count("ForwardAudit"); n != 1 || !f.srv.events[fmt.Sprintf("ws-%s-2", mustWorkstationID(t, f))] {
		t.Fatalf("at sign-out: %d forwards, events %v", n, f.srv.events)
	}
	f.srv.user.MustChangePassword = true
	s, err := f.e.Login(ctx, risUser, "secret")
	if err != nil || !s.User.MustChangePassword {
		t.Fatalf("login: %+v %v", s, err)
	}
	f.e.Logout(ctx)
	f.srv.failNext("Login", offline("login"))
	if _, err := f.e.Login(ctx, risUser, "secret"); !errors.Is(err, ErrNoOfflineLogin) {
		t.Fatalf("offline with the temporary password: %v", err)
	}
	if _, err := f.e.Login(ctx, risUser, "secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.ChangePassword(ctx, "wrong", "n3w-Passw0rd!"); err == nil {
		t.Fatal("a wrong old password changed it")
	}
	s, err = f.e.ChangePassword(ctx, "secret", "n3w-Passw0rd!")
	if err != nil || s.User.MustChangePassword {
		t.Fatalf("change: %+v %v", s, err)
	}
	f.e.Logout(ctx)
	f.srv.failNext("Login", offline("login"))
	if s, err := f.e.Login(ctx, risUser, "n3w-Passw0rd!"); err != nil || !s.Offline {
		t.Fatalf("offline with the new password: %+v %v", s, err)
	}
}

// TestListenReconnects: the notification stream hands on what arrives, reads the feed for each, and after a
// loss reconnects by itself with the last ID as Last-Event-ID; a RESYNC notice makes it read the feed again.
func TestListenReconnects(t *testing.T) {
	var mu sync.Mutex
	var lastIDs []string
	feedReads := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/auth/login/":
			json.NewEncoder(w).Encode(api.Tokens{Access: "a", Refresh: "r", AccessExpiresAt: time.Now().Add(time.Hour),
				RefreshExpiresAt: time.Now().Add(time.Hour), User: api.User{ID: 3, LoginID: risUser, Role: api.RoleRIS}})
		case "/api/changes/":
			mu.Lock()
			feedReads++
			mu.Unlock()
			w.Write([]byte(`{"changes":[],"next_cursor":0,"has_more":false}`))
		case "/ws/notifications":
			mu.Lock()
			lastIDs = append(lastIDs, r.Header.Get(api.LastEventIDHeader))
			n := len(lastIDs)
			mu.Unlock()
			conn, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			if n == 1 {
				conn.Write(r.Context(), websocket.MessageText, []byte(`{"id":"5-0","type":"OCS_CREATED","order_id":"ocs_0009"}`))
				conn.Close(websocket.StatusServiceRestart, "this server is restarting; reconnect")
				return
			}
			conn.Write(r.Context(), websocket.MessageText, []byte(`{"id":"7-0","type":"RESYNC"}`))
			conn.Read(r.Context()) // until the client goes
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cl, err := client.New(srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(filepath.Join(t.TempDir(), "cache"), cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := New(c, cl, Options{BcryptCost: 4, NotifyRetryMax: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan api.Notification, 10)
	done := make(chan struct{})
	go func() {
		e.Listen(ctx, func(n api.Notification) { got <- n })
		close(done)
	}()
	if _, err := e.Login(ctx, risUser, "pw"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for len(ids) < 2 {
		select {
		case n := <-got:
			ids = append(ids, n.ID+" "+n.Type)
		case <-time.After(20 * time.Second):
			t.Fatalf("notifications so far: %q", ids)
		}
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if ids[0] != "5-0 OCS_CREATED" || ids[1] != "7-0 RESYNC" {
		t.Errorf("notifications %q", ids)
	}
	if len(lastIDs) < 2 || lastIDs[0] != "" || lastIDs[1] != "5-0" {
		t.Errorf("Last-Event-ID of each connection: %q", lastIDs)
	}
	if feedReads < 2 {
		t.Errorf("the feed was read %d times, want once per notification", feedReads)
	}
}
