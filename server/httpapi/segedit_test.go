package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
)

// segVersion is a SEG of study in patient p: a model's when parent is "", else an edit of parent.
func segVersion(p *server.Patient, studyUID, accession, parent string) testsvc.SEG {
	s := testsvc.SEG{PatientID: p.Number, PatientName: "TEST^PATIENT", StudyUID: studyUID, SeriesUID: testsvc.NewUID(),
		SOPUID: testsvc.NewUID(), Accession: accession, Parent: parent}
	if parent != "" {
		s.Derivation = "brush, 12 voxels of oedema"
	}
	return s
}

// studyHeld returns the series Orthanc holds in the study and the SOP Instance UIDs of its instances.
func studyHeld(t *testing.T, e *env, p *server.Patient, studyUID string) (series int, sops []string) {
	t.Helper()
	ctx := context.Background()
	studies, err := e.pacs.StudiesOf(ctx, p.Number)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range studies {
		if st.StudyInstanceUID != studyUID {
			continue
		}
		m, err := e.pacs.StudyManifest(ctx, st.OrthancID)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range m.Instances {
			sops = append(sops, in.SOPInstanceUID)
		}
		return len(st.Series), sops
	}
	t.Fatalf("Orthanc holds no study %s of patient %s", studyUID, p.Number)
	return 0, nil
}

// TestSEGEditOnlyFromAssignedWorkerOrAdmin: an edited segmentation goes to Orthanc only from the assigned worker
// of the study's imaging order (linked by the accession an attached study carries, or by the study UID of the
// order's worker result) or an administrator; another RIS user's edit is refused 403 — through POST /instances
// and STOW-RS — audited as denied, and stores nothing, while that user's model SEG passes as before. Each version
// is a series of its own: Orthanc keeps v1, v2 and v3.
func TestSEGEditOnlyFromAssignedWorkerOrAdmin(t *testing.T) {
	e := newEnv(t, fast)
	assigned, other, admin := e.users[api.RoleRIS], e.newUser(api.RoleRIS), e.users[api.RoleAdmin]
	p := e.patient(nil, nil)
	o := e.order(p, e.users[api.RoleDoctor], api.JobRIS, assigned, server.ActAccept, server.ActStart)
	img := e.study(p, false)
	studyUID := img.inst.StudyUID

	v1 := segVersion(p, studyUID, o.ID, "")
	e.mustDo(http.StatusOK, "POST", "/api/orthanc/instances", other.token, testsvc.SEGFile(v1), nil) // a model's SEG
	before := orthancInstances(t, e)

	refused := segVersion(p, studyUID, o.ID, v1.SOPUID)
	resp, body := e.do("POST", "/api/orthanc/instances", other.token, testsvc.SEGFile(refused), nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(apiError(t, body).Message, "only from the order's assigned worker or an administrator") {
		t.Fatalf("unassigned RIS user's edit: %s %s, want 403 naming why", resp.Status, body)
	}
	stow, ctype := stowBody(t, testsvc.SEGFile(refused))
	if resp, body := e.do("POST", "/api/orthanc/dicom-web/studies", other.token, stow, http.Header{"Content-Type": {ctype}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unassigned RIS user's edit by STOW-RS: %s %s, want 403", resp.Status, body)
	}
	if after := orthancInstances(t, e); after != before {
		t.Fatalf("refused edits stored %d instances", after-before)
	}
	denied := 0
	for _, r := range e.audit(server.AuditFilter{UserID: other.ID}) {
		if r.Outcome == api.OutcomeDenied && r.Status == http.StatusForbidden && strings.Contains(r.Detail, "edited SEG "+refused.SOPUID) &&
			r.PatientID != nil && *r.PatientID == p.ID {
			denied++
		}
	}
	if denied != 2 {
		t.Fatalf("%d denied audit records name the refused edit, want 2", denied)
	}

	v2 := segVersion(p, studyUID, o.ID, v1.SOPUID)
	e.mustDo(http.StatusOK, "POST", "/api/orthanc/instances", assigned.token, testsvc.SEGFile(v2), nil)
	v3 := segVersion(p, studyUID, o.ID, v2.SOPUID)
	stow, ctype = stowBody(t, testsvc.SEGFile(v3))
	if resp, body := e.do("POST", "/api/orthanc/dicom-web/studies", admin.token, stow, http.Header{"Content-Type": {ctype}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("administrator's edit: %s %s", resp.Status, body)
	}
	series, sops := studyHeld(t, e, p, studyUID)
	if series != 4 || len(sops) != 4 {
		t.Fatalf("Orthanc holds %d series and %d instances of the study, want 4 and 4 (images, v1, v2, v3)", series, len(sops))
	}
	for _, v := range []testsvc.SEG{v1, v2, v3} {
		if !slices.Contains(sops, v.SOPUID) {
			t.Errorf("Orthanc lost SEG %s", v.SOPUID)
		}
	}
	if slices.Contains(sops, refused.SOPUID) {
		t.Error("Orthanc holds the refused edit")
	}
	t.Logf("Orthanc holds %d series, %d instances: images, v1, v2 (assigned worker), v3 (admin)", series, len(sops))
}

// TestSEGEditLinks: the order of an edit's study is found by the study UID the worker recorded in the order's
// result (no accession needed); and the accession Orthanc holds for a study wins over the one an edit claims,
// so being assigned to another order of the same patient does not open the study.
func TestSEGEditLinks(t *testing.T) {
	e := newEnv(t, fast)
	assigned, other := e.users[api.RoleRIS], e.newUser(api.RoleRIS)
	p := e.patient(nil, nil)
	doctor := e.users[api.RoleDoctor]
	o := e.order(p, doctor, api.JobRIS, assigned, server.ActAccept, server.ActStart)
	studyUID := testsvc.NewUID()
	res, _ := json.Marshal(map[string]any{"dicom": map[string]any{"study_uid": studyUID}})
	w := server.Actor{ID: assigned.ID, Name: assigned.Name, Role: assigned.Role}
	if _, err := e.store.UpdateOrder(context.Background(), o.ID, "", func(o *server.Order) (server.OrderHistory, error) {
		return server.ApplyOrderAction(o, server.ActSaveResult, w, server.OrderInput{WorkerResult: res}, time.Now().UTC())
	}); err != nil {
		t.Fatal(err)
	}
	v1 := segVersion(p, studyUID, "", "")
	e.mustDo(http.StatusOK, "POST", "/api/orthanc/instances", assigned.token, testsvc.SEGFile(v1), nil)
	if resp, body := e.do("POST", "/api/orthanc/instances", other.token, testsvc.SEGFile(segVersion(p, studyUID, "", v1.SOPUID)), nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unassigned user's edit of a study named by a worker result: %s %s, want 403", resp.Status, body)
	}
	e.mustDo(http.StatusOK, "POST", "/api/orthanc/instances", assigned.token, testsvc.SEGFile(segVersion(p, studyUID, "", v1.SOPUID)), nil)

	// A study Orthanc holds under o's accession: other, assigned to order b of the same patient, claims b.
	b := e.order(p, doctor, api.JobRIS, other, server.ActAccept)
	held := testsvc.NewUID()
	first := segVersion(p, held, o.ID, "")
	e.mustDo(http.StatusOK, "POST", "/api/orthanc/instances", assigned.token, testsvc.SEGFile(first), nil)
	resp, body := e.do("POST", "/api/orthanc/instances", other.token, testsvc.SEGFile(segVersion(p, held, b.ID, first.SOPUID)), nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("edit claiming order %s for a study Orthanc holds under %s: %s %s, want 403", b.ID, o.ID, resp.Status, body)
	}
	// b's own study (accession b) is other's to edit.
	own := testsvc.NewUID()
	bv1 := segVersion(p, own, b.ID, "")
	e.mustDo(http.StatusOK, "POST", "/api/orthanc/instances", other.token, testsvc.SEGFile(bv1), nil)
	e.mustDo(http.StatusOK, "POST", "/api/orthanc/instances", other.token, testsvc.SEGFile(segVersion(p, own, b.ID, bv1.SOPUID)), nil)
}
