package httpapi

import (
	"cmp"
	"encoding/json"
	"fmt"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/server"
)

// segEditRefusal is the message of a refused edited segmentation.
const segEditRefusal = "an edited segmentation is accepted only from the order's assigned worker or an administrator"

// checkSEGEdits refuses an upload holding an edited segmentation (dicomkit.Identity.SEGEdit) unless the
// caller administers the system or is the assigned worker of an imaging order of the SEG's study. A model's
// SEG and other instances pass. Each version has its own series and instance UIDs, so Orthanc keeps them all.
func (s *Server) checkSEGEdits(c *call, ids []dicomkit.Identity) error {
	if c.p.Role.IsAdmin() {
		return nil
	}
	for _, id := range ids {
		if !id.SEGEdit {
			continue
		}
		ok, err := s.assignedToStudy(c, id)
		if err != nil {
			return err
		}
		if !ok {
			return errorf(api.CodeForbidden, "%s: %s is not the assigned worker of an imaging order of study %s (accession %q)",
				segEditRefusal, c.p.LoginID, id.StudyUID, id.Accession)
		}
	}
	return nil
}

// assignedToStudy reports whether the caller is the assigned worker of a RIS order of the patient of id that
// holds its study: the order whose ID is the study's Accession Number (how an attached study is written; the
// accession Orthanc holds for the study wins over the SEG's own), or whose worker result names the study UID.
func (s *Server) assignedToStudy(c *call, id dicomkit.Identity) (bool, error) {
	pid, _, err := s.Store.OwnershipByNumber(c.ctx, id.PatientID)
	if server.IsCode(err, api.CodeNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	accession := id.Accession
	studies, err := s.Orthanc.StudiesOf(c.ctx, id.PatientID)
	if err != nil {
		return false, err
	}
	for _, st := range studies {
		if st.StudyInstanceUID == id.StudyUID && st.AccessionNumber != "" {
			accession = st.AccessionNumber
		}
	}
	orders, err := s.Store.ListOrders(c.ctx, server.ScopeOf(c.p),
		server.OrderFilter{PatientID: pid, JobRole: api.JobRIS, WorkerID: c.p.UserID, Limit: 1000})
	if err != nil {
		return false, err
	}
	for _, o := range orders {
		if o.Status == api.OrderCancelled || o.WorkerID == nil || *o.WorkerID != c.p.UserID {
			continue
		}
		if (accession != "" && o.ID == accession) || resultStudy(o.WorkerResult) == id.StudyUID {
			return true, nil
		}
	}
	return false, nil
}

// resultStudy returns the study UID a RIS worker result names (dicom.study_uid of its template), or "".
func resultStudy(raw json.RawMessage) string {
	var r struct {
		DICOM struct {
			StudyUID string `json:"study_uid"`
		} `json:"dicom"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &r) != nil {
		return ""
	}
	return r.DICOM.StudyUID
}

// describeUpload names an upload's patient and instances in the call's audit record, and the SEG edits in it
// with the SEG each edits.
func (s *Server) describeUpload(c *call, ids []dicomkit.Identity) {
	if pid, _, err := s.Store.OwnershipByNumber(c.ctx, ids[0].PatientID); err == nil {
		c.patientID = &pid
	}
	c.detail = fmt.Sprintf("%d instance(s), PatientID %q, study %s", len(ids), ids[0].PatientID, ids[0].StudyUID)
	for _, id := range ids {
		if id.SEGEdit {
			c.detail += fmt.Sprintf("; edited SEG %s (of %s)", id.SOPUID, cmp.Or(id.ParentSEG, "a map that was no SEG"))
		}
	}
}
