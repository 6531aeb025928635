package httpapi_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
	"github.com/neuronova/neuronova/server/orthanc"
)

// transferSyntax reads (0002,0010) from a DICOM Part 10 file's meta group (explicit VR little endian).
func transferSyntax(t *testing.T, b []byte) string {
	t.Helper()
	if len(b) < 132 || string(b[128:132]) != "DICM" {
		t.Fatalf("not a DICOM Part 10 file (%d bytes)", len(b))
	}
	i := bytes.Index(b[132:], []byte{0x02, 0x00, 0x10, 0x00, 'U', 'I'})
	if i < 0 {
		t.Fatal("no transfer syntax in the meta group")
	}
	at := 132 + i + 6
	n := int(binary.LittleEndian.Uint16(b[at:]))
	return strings.TrimRight(string(b[at+2:at+2+n]), "\x00 ")
}

// TestTranscodeToExplicitLittleEndian: an implicit-VR instance comes through the proxy as stored, and
// transcoded to explicit VR little endian when the workstation asks; the stored instance stays as it was.
func TestTranscodeToExplicitLittleEndian(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	s := e.study(p, true)
	doctor := e.users[api.RoleDoctor]
	resp, raw := e.do("GET", "/api/orthanc/instances/"+s.instanceID+"/file", doctor.token, nil, nil)
	if resp.StatusCode != http.StatusOK || transferSyntax(t, raw) != "1.2.840.10008.1.2" {
		t.Fatalf("stored instance: %s, transfer syntax %s", resp.Status, transferSyntax(t, raw))
	}
	if !bytes.Equal(raw, s.dicom) {
		t.Fatal("the proxy changed the stored file's bytes")
	}
	resp, out := e.do("POST", "/api/orthanc/instances/"+s.instanceID+"/modify", doctor.token,
		map[string]string{"Transcode": orthanc.ExplicitVRLittleEndian}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("transcode: %s %.200s", resp.Status, out)
	}
	if ts := transferSyntax(t, out); ts != orthanc.ExplicitVRLittleEndian {
		t.Fatalf("transcoded file has transfer syntax %s", ts)
	}
	if !bytes.Contains(out, []byte(s.inst.SOPUID)) {
		t.Fatal("the transcoded file is not the same instance")
	}
	_, again := e.do("GET", "/api/orthanc/instances/"+s.instanceID+"/file", doctor.token, nil, nil)
	if !bytes.Equal(again, s.dicom) {
		t.Fatal("transcoding changed the stored instance")
	}
	recs := e.audit(server.AuditFilter{UserID: doctor.ID, Action: "orthanc.transcode"})
	if len(recs) != 1 || recs[0].PatientID != nil && *recs[0].PatientID != p.ID || !strings.Contains(recs[0].Detail, orthanc.ExplicitVRLittleEndian) {
		t.Fatalf("transcode audit: %+v", recs)
	}
}

// TestStudyListCacheFollowsUploads: a patient's study list is served from the Redis cache after the first
// read, and an upload through the proxy — REST or STOW-RS — refreshes it at once. STOW answers point at the
// proxy, never at Orthanc's own address.
func TestStudyListCacheFollowsUploads(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	e.study(p, false)
	doctor := e.users[api.RoleDoctor]
	path := fmt.Sprintf("/api/patients/%d/studies/", p.ID)
	count := func() int {
		var studies []api.PatientStudy
		e.mustDo(http.StatusOK, "GET", path, doctor.token, nil, &studies)
		return len(studies)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d studies, want 1", n)
	}
	if _, ok, err := e.rdb.Get(t.Context(), "studies:"+orthanc.PatientResourceID(p.Number)); err != nil || !ok {
		t.Fatalf("the study list is not cached in Redis (%v)", err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d studies from the cache, want 1", n)
	}
	hits := 0
	for _, r := range e.audit(server.AuditFilter{UserID: doctor.ID, Action: "patient.studies"}) {
		if r.Detail == "cache hit" {
			hits++
		}
	}
	if hits != 1 {
		t.Fatalf("%d cache hits audited, want 1", hits)
	}

	inst := func() testsvc.Instance {
		return testsvc.Instance{PatientID: p.Number, PatientName: "TEST^PATIENT", StudyUID: testsvc.NewUID(), SeriesUID: testsvc.NewUID(),
			SOPUID: testsvc.NewUID(), SeriesDescription: "AX FLAIR"}
	}
	e.mustDo(http.StatusOK, "POST", "/api/orthanc/instances", doctor.token, testsvc.DICOM(inst()), nil)
	if n := count(); n != 2 {
		t.Fatalf("%d studies after a REST upload, want 2", n)
	}
	stowed := inst()
	body, ctype := stowBody(t, testsvc.DICOM(stowed))
	resp, answer := e.do("POST", "/api/orthanc/dicom-web/studies", doctor.token, body,
		http.Header{"Content-Type": {ctype}, "Accept": {"application/dicom+json"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("STOW: %s %.300s", resp.Status, answer)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d studies after a STOW upload, want 3", n)
	}
	want := e.ts.URL + "/api/orthanc/dicom-web/studies/" + stowed.StudyUID
	if !bytes.Contains(answer, []byte(want)) || bytes.Contains(answer, []byte(e.orthanc.url)) {
		t.Fatalf("STOW answer's retrieve URLs do not point at the proxy (%s): %.600s", want, answer)
	}
	if cl := resp.Header.Get("Content-Length"); cl != fmt.Sprint(len(answer)) {
		t.Fatalf("Content-Length %s for %d bytes", cl, len(answer))
	}
}

// TestForwardedAuditEventsAndAdminQuery: events a workstation recorded (offline, say) are accepted once each,
// however often they are forwarded, and an administrator finds them next to the server's own records of the
// same user: login, patient reads, with role, outcome, client address and time.
func TestForwardedAuditEventsAndAdminQuery(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	nurse := e.newUser(api.RoleNurse)
	e.mustDo(http.StatusOK, "GET", fmt.Sprintf("/api/patients/%d/", p.ID), nurse.token, nil, nil)
	occurred := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Millisecond)
	batch := api.AuditBatch{Events: []api.ForwardedAuditEvent{
		{EventID: "ws1-" + auth.RandomHex(8), OccurredAt: occurred, Action: "viewer.open_series", ObjectType: "series",
			ObjectID: "1.2.3.4", PatientID: &p.ID, Outcome: api.OutcomeSuccess},
		{EventID: "ws1-" + auth.RandomHex(8), OccurredAt: occurred.Add(time.Minute), Action: "inference.run", ObjectType: "model",
			ObjectID: "M1", PatientID: &p.ID, Outcome: api.OutcomeFailure, Detail: "CUDA unavailable; ran on CPU"},
	}}
	var res api.AuditBatchResult
	e.mustDo(http.StatusOK, "POST", "/api/audit/events/", nurse.token, batch, &res)
	if res.Stored != 2 || res.Duplicates != 0 {
		t.Fatalf("first forward: %+v", res)
	}
	e.mustDo(http.StatusOK, "POST", "/api/audit/events/", nurse.token, batch, &res)
	if res.Stored != 0 || res.Duplicates != 2 {
		t.Fatalf("second forward: %+v, want both duplicates", res)
	}
	bad := batch
	bad.Events = []api.ForwardedAuditEvent{{EventID: "short", OccurredAt: occurred, Action: "x", Outcome: api.OutcomeSuccess}}
	if resp, _ := e.do("POST", "/api/audit/events/", nurse.token, bad, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a malformed event was accepted: %s", resp.Status)
	}

	var page api.AuditPage
	e.mustDo(http.StatusOK, "GET", fmt.Sprintf("/api/audit/?user_id=%d", nurse.ID), e.users[api.RoleAdmin].token, nil, &page)
	actions := map[string]api.AuditRecord{}
	for _, r := range page.Records {
		if _, seen := actions[r.Action]; seen && r.Source == "workstation" {
			t.Fatalf("forwarded event %s stored twice", r.Action)
		}
		actions[r.Action] = r
		if r.Role != api.RoleNurse || r.ClientAddr != "127.0.0.1" || r.At.IsZero() || r.Outcome == "" {
			t.Errorf("record lacks who, where, when or outcome: %+v", r)
		}
	}
	for _, a := range []string{"LOGIN_SUCCESS", "patient.read", "viewer.open_series", "inference.run"} {
		if _, ok := actions[a]; !ok {
			t.Errorf("the administrator does not see %s of the nurse: %v", a, page.Records)
		}
	}
	if r := actions["inference.run"]; r.Source != "workstation" || r.OccurredAt == nil || !r.OccurredAt.Equal(occurred.Add(time.Minute)) ||
		r.Outcome != api.OutcomeFailure || r.PatientID == nil || *r.PatientID != p.ID {
		t.Errorf("forwarded record: %+v", r)
	}
	if r := actions["patient.read"]; r.Source != "server" || r.PatientID == nil || *r.PatientID != p.ID || r.Status != http.StatusOK {
		t.Errorf("server record of the read: %+v", r)
	}
}

// TestDICOMwebAnswersPointAtTheProxy: QIDO and WADO-RS metadata name the proxy in their retrieve and bulk
// data URIs, never Orthanc's own address, and a bulk data URI from the metadata works through the proxy.
func TestDICOMwebAnswersPointAtTheProxy(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	s := e.study(p, false)
	doctor := e.users[api.RoleDoctor]
	root := e.ts.URL + "/api/orthanc/dicom-web/studies/" + s.inst.StudyUID
	for _, path := range []string{
		"/api/orthanc/dicom-web/studies?PatientID=" + p.Number,
		"/api/orthanc/dicom-web/studies/" + s.inst.StudyUID + "/series",
		"/api/orthanc/dicom-web/studies/" + s.inst.StudyUID + "/metadata",
	} {
		resp, body := e.do("GET", path, doctor.token, nil, http.Header{"Accept": {"application/dicom+json"}})
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(root)) || bytes.Contains(body, []byte(e.orthanc.url)) {
			t.Fatalf("GET %s: %s, want URIs under %s and none of %s: %.500s", path, resp.Status, root, e.orthanc.url, body)
		}
		var v any
		mustJSON(t, body, &v) // still valid JSON after the rewrite
	}
	_, meta := e.do("GET", "/api/orthanc/dicom-web/studies/"+s.inst.StudyUID+"/metadata", doctor.token, nil, nil)
	var instances []map[string]struct {
		BulkDataURI string `json:"BulkDataURI"`
	}
	mustJSON(t, meta, &instances)
	bulk := ""
	if len(instances) == 1 {
		bulk = instances[0]["7FE00010"].BulkDataURI
	}
	if !strings.HasPrefix(bulk, e.ts.URL+"/api/orthanc/") {
		t.Fatalf("pixel data bulk URI %q", bulk)
	}
	resp, pixels := e.do("GET", strings.TrimPrefix(bulk, e.ts.URL), doctor.token, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(pixels, s.dicom[len(s.dicom)-512:]) {
		t.Fatalf("bulk data through the proxy: %s, %d bytes", resp.Status, len(pixels))
	}
	if resp, _ := e.do("GET", strings.TrimPrefix(bulk, e.ts.URL), e.users[api.RoleLIS].token, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("LIS fetches bulk data: %s", resp.Status)
	}
	if resp, _ := e.do("GET", strings.TrimPrefix(strings.Replace(bulk, "7fe00010", "7FE00010", 1), e.ts.URL), doctor.token, nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an upper-case tag passed validation: %s", resp.Status)
	}
}
