package httpapi

import (
	"fmt"
	"net/http"

	"github.com/neuronova/neuronova/api"
)

// studyManifest answers GET /api/orthanc/studies/{id}/manifest: every instance of the study with its UIDs
// and the size and MD5 of the file Orthanc stored, so that a workstation can pull the study in a few
// DICOMweb streams and still verify each file. One audit record for the whole list.
func (s *Server) studyManifest(c *call) error {
	id := c.r.PathValue("id")
	if !api.ValidOrthancID(id) {
		return errorf(api.CodeInvalid, "%q is not an Orthanc study ID", id)
	}
	c.objectType, c.objectID = "orthanc", "/studies/"+id+"/manifest"
	if err := s.checkImageOwner(c, "/studies/{id}"); err != nil {
		return err
	}
	m, err := s.Orthanc.StudyManifest(c.ctx, id)
	if err != nil {
		return err
	}
	c.detail = fmt.Sprintf("%d instances", len(m.Instances))
	return c.json(http.StatusOK, m)
}
