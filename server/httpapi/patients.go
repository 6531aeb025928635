package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/orthanc"
)

// maxSearchBytes bounds a patient search (SQLite refuses LIKE patterns over 50,000 bytes; names are ≤ 100).
const maxSearchBytes = 200

// studiesTTL is how long a patient's study list stays cached; an upload through the proxy drops it at once.
const studiesTTL = 5 * time.Minute

func (s *Server) listPatients(c *call) error {
	q := c.r.URL.Query()
	limit, err := c.queryInt("limit", 100)
	if err != nil {
		return err
	}
	c.objectType = "patient"
	if query := q.Get("q"); len(query) > maxSearchBytes || !utf8.ValidString(query) {
		return errorf(api.CodeInvalid, "search q must be valid UTF-8 of at most %d bytes", maxSearchBytes)
	}
	c.detail = "query=" + q.Get("q")
	list, err := s.Store.ListPatients(c.ctx, server.ScopeOf(c.p), server.PatientFilter{Query: q.Get("q"), Status: q.Get("status"), Limit: int(limit)})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list)
}

func (s *Server) createPatient(c *call) error {
	var req api.CreatePatientRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	p, err := server.NewPatient(req, c.p.UserID, time.Now().UTC())
	if err != nil {
		return err
	}
	c.expect(http.StatusCreated)
	if err := s.Store.CreatePatient(c.ctx, p); err != nil {
		return err
	}
	c.about("patient", fmt.Sprint(p.ID), p.ID)
	return c.json(http.StatusCreated, p)
}

// visiblePatient loads the patient of the path's {id} and checks that the caller sees it.
func (s *Server) visiblePatient(c *call) (*server.Patient, error) {
	id, err := c.idParam("id")
	if err != nil {
		return nil, err
	}
	c.about("patient", fmt.Sprint(id), id)
	p, err := s.Store.Patient(c.ctx, id)
	if err != nil {
		return nil, err
	}
	if !server.ScopeOf(c.p).SeesPatient(p) {
		return nil, errorf(api.CodeForbidden, "patient %d is not one of your patients", id)
	}
	return p, nil
}

func (s *Server) getPatient(c *call) error {
	p, err := s.visiblePatient(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, p)
}

func (s *Server) updatePatient(c *call) error {
	id, err := c.idParam("id")
	if err != nil {
		return err
	}
	c.about("patient", fmt.Sprint(id), id)
	var req api.UpdatePatientRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	p, err := s.Store.UpdatePatient(c.ctx, id, func(p *server.Patient) error {
		if !server.ScopeOf(c.p).SeesPatient(p) {
			return errorf(api.CodeForbidden, "patient %d is not one of your patients", id)
		}
		return server.ApplyPatientUpdate(p, req, time.Now().UTC())
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, p)
}

// patientStudies lists a patient's studies in Orthanc, through the study-metadata cache.
func (s *Server) patientStudies(c *call) error {
	id, err := c.idParam("id")
	if err != nil {
		return err
	}
	c.about("patient", fmt.Sprint(id), id)
	p, err := s.Store.Patient(c.ctx, id)
	if err != nil {
		return err
	}
	if !server.ScopeOf(c.p).SeesImagesOf(server.OwnershipOf(p)) {
		return errorf(api.CodeForbidden, "patient %d is not one of your patients", id)
	}
	key := studiesCacheKey(p.Number)
	if b, ok, err := s.Cache.Get(c.ctx, key); err != nil {
		return err
	} else if ok {
		var studies []api.PatientStudy
		if err := json.Unmarshal(b, &studies); err != nil {
			return fmt.Errorf("cached studies of %s are malformed: %w", p.Number, err)
		}
		c.detail = "cache hit"
		return c.json(http.StatusOK, studies)
	}
	studies, err := s.Orthanc.StudiesOf(c.ctx, p.Number)
	if err != nil {
		return err
	}
	b, err := json.Marshal(studies)
	if err != nil {
		return err
	}
	if err := s.Cache.Set(c.ctx, key, b, studiesTTL); err != nil {
		return err
	}
	return c.json(http.StatusOK, studies)
}

// studiesCacheKey is the cache key of a patient's study list, named by Orthanc's patient ID so that an upload
// (whose answer names the parent patient) can drop it.
func studiesCacheKey(patientNumber string) string {
	return "studies:" + orthanc.PatientResourceID(patientNumber)
}
