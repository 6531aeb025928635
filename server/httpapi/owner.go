package httpapi

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/orthanc"
)

// ownerTTL is how long the patient of an Orthanc resource stays cached: an Orthanc ID is a hash of the PatientID
// and the UIDs, so its patient never changes.
const ownerTTL = time.Hour

// uidTTL is how long the patients under which a study or series UID is stored stay cached. Only an upload adds
// one, and uploads through the proxy never add a second patient (checkUpload).
const uidTTL = 10 * time.Minute

// patientOfResource returns the DICOM PatientID of an Orthanc resource at level (studies, series, instances).
func (s *Server) patientOfResource(c *call, level, id string) (string, error) {
	key := "owner:" + level + ":" + id
	if b, ok, err := s.Cache.Get(c.ctx, key); err != nil || ok {
		return string(b), err
	}
	patientID, err := s.Orthanc.PatientIDOf(c.ctx, level, id)
	if err != nil {
		return "", err
	}
	return patientID, s.Cache.Set(c.ctx, key, []byte(patientID), ownerTTL)
}

// patientsOfUID returns the PatientIDs under which Orthanc holds a resource of type typ (Study, Series,
// Instance) with uid: none, one, or — when the same UID was stored for two patients — several.
func (s *Server) patientsOfUID(c *call, uid, typ string) ([]string, error) {
	key := "uidpatients:" + typ + ":" + uid
	cache := typ != "Instance"
	if cache {
		if b, ok, err := s.Cache.Get(c.ctx, key); err != nil {
			return nil, err
		} else if ok {
			var ps []string
			if json.Unmarshal(b, &ps) == nil {
				return ps, nil
			}
		}
	}
	ids, err := s.Orthanc.ResourcesByUID(c.ctx, uid, typ)
	if err != nil {
		return nil, err
	}
	var patients []string
	for _, id := range ids {
		p, err := s.patientOfResource(c, orthanc.ResourceTypes[typ], id)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(patients, p) {
			patients = append(patients, p)
		}
	}
	if cache && len(patients) > 0 {
		b, _ := json.Marshal(patients)
		if err := s.Cache.Set(c.ctx, key, b, uidTTL); err != nil {
			return nil, err
		}
	}
	return patients, nil
}

// patientsOfInstances returns the PatientIDs under which Orthanc holds each SOP Instance UID of uids (a UID it
// does not hold is absent), in one search for all of them: an upload's instances are seldom stored already,
// and only those that are cost a call more each (their patient, cached).
func (s *Server) patientsOfInstances(c *call, uids []string) (map[string][]string, error) {
	found, err := s.Orthanc.InstancesByUIDs(c.ctx, uids)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(found))
	for uid, ids := range found {
		for _, id := range ids {
			p, err := s.patientOfResource(c, "instances", id)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(out[uid], p) {
				out[uid] = append(out[uid], p)
			}
		}
	}
	return out, nil
}

// checkImageOwner lets EXTERNAL and PATIENT users reach only the images of their own patients. Every
// identifier of the path counts — the study, series and instance UIDs of a DICOMweb path, or the Orthanc ID —
// and each must belong to a patient they own, through every resource Orthanc holds under it: a UID stored for
// two patients is allowed only to someone who owns both. Other roles allowed on the route are not restricted.
func (s *Server) checkImageOwner(c *call, template string) error {
	if !c.p.Role.PatientScoped() {
		return nil
	}
	var patients []string
	add := func(ps ...string) {
		for _, p := range ps {
			if !slices.Contains(patients, p) {
				patients = append(patients, p)
			}
		}
	}
	for _, t := range []struct{ param, typ string }{{"study", "Study"}, {"series", "Series"}, {"instance", "Instance"}} {
		uid := c.r.PathValue(t.param)
		if uid == "" {
			continue
		}
		ps, err := s.patientsOfUID(c, uid, t.typ)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return errorf(api.CodeNotFound, "orthanc has no %s %s", strings.ToLower(t.typ), uid)
		}
		add(ps...)
	}
	if id := c.r.PathValue("id"); id != "" {
		p, err := s.patientOfResource(c, strings.Split(template, "/")[1], id)
		if err != nil {
			return err
		}
		add(p)
	}
	if len(patients) == 0 {
		return errorf(api.CodeForbidden, "role %s may only open studies of its own patients", c.p.Role)
	}
	for i, number := range patients {
		pid, owner, err := s.Store.OwnershipByNumber(c.ctx, number)
		if server.IsCode(err, api.CodeNotFound) {
			return errorf(api.CodeForbidden, "these images belong to no patient of yours")
		}
		if err != nil {
			return err
		}
		if i == 0 {
			c.patientID = &pid
		}
		if !server.ScopeOf(c.p).SeesImagesOf(owner) {
			return errorf(api.CodeForbidden, "these images belong to no patient of yours")
		}
	}
	return nil
}
