package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
)

// spoolInMemory is the size up to which an upload is held in memory while it is checked; larger ones go to a
// temporary file.
const spoolInMemory = 8 << 20

// spooled is an upload body held until it is checked: nothing of it reaches Orthanc before.
type spooled struct {
	mem  []byte
	file *os.File
	size int64
}

// reader reads the upload from its start.
func (s *spooled) reader() io.Reader {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size)
	}
	return bytes.NewReader(s.mem)
}

func (s *spooled) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}

// spool reads the request body, at most limit bytes.
func spool(c *call, limit int64) (*spooled, error) {
	body := http.MaxBytesReader(c.w, c.r.Body, limit)
	mem, err := io.ReadAll(io.LimitReader(body, spoolInMemory+1))
	if err != nil {
		return nil, err
	}
	if len(mem) <= spoolInMemory {
		return &spooled{mem: mem, size: int64(len(mem))}, nil
	}
	f, err := os.CreateTemp("", "neuronova-upload-*")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	sp := &spooled{file: f}
	n, err := io.Copy(f, io.MultiReader(bytes.NewReader(mem), body))
	if err != nil {
		sp.close()
		return nil, err
	}
	sp.size = n
	return sp, nil
}

// uploadIdentities reads the identity of every instance of an upload: the one DICOM file of POST /instances, or
// each application/dicom part of a STOW-RS request. Anything else is refused, named.
func uploadIdentities(path, contentType string, body io.Reader) ([]dicomkit.Identity, error) {
	if path == "/instances" {
		id, err := dicomkit.ReadIdentity(body)
		if errors.Is(err, dicomkit.ErrNotPart10) {
			return nil, errorf(api.CodeInvalid, "upload must be one DICOM Part 10 file (ZIP archives and other content are refused; send one file per request or use STOW-RS)")
		}
		if err != nil {
			return nil, errorf(api.CodeInvalid, "upload is not a readable DICOM file: %v", err)
		}
		return []dicomkit.Identity{id}, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/related" || params["boundary"] == "" {
		return nil, errorf(api.CodeInvalid, `STOW-RS needs Content-Type multipart/related; type="application/dicom"; boundary=…`)
	}
	mr := multipart.NewReader(body, params["boundary"])
	var ids []dicomkit.Identity
	for i := 1; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errorf(api.CodeInvalid, "STOW-RS body part %d is malformed: %v", i, err)
		}
		if pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); pt != "application/dicom" {
			return nil, errorf(api.CodeInvalid, "STOW-RS body part %d is %q; only application/dicom parts are accepted", i, pt)
		}
		id, err := dicomkit.ReadIdentity(part)
		if err != nil {
			return nil, errorf(api.CodeInvalid, "STOW-RS body part %d is not a readable DICOM file: %v", i, err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errorf(api.CodeInvalid, "STOW-RS body holds no application/dicom part")
	}
	return ids, nil
}

// checkUpload refuses an upload whose UIDs would put images under two patients: a study, series or instance UID
// that Orthanc already holds under another PatientID, or that the upload itself gives two PatientIDs. Orthanc
// would store such an instance as a second resource under the same UID, and the UID-addressed DICOMweb routes
// would then serve one patient's images as the other's. The instance UIDs are looked up together, in one search.
func (s *Server) checkUpload(c *call, ids []dicomkit.Identity) error {
	type uidKey struct{ typ, uid string }
	seen := map[uidKey]string{}
	elsewhere := func(k uidKey, patient string, patients []string) error {
		for _, p := range patients {
			if p != patient {
				return errorf(api.CodeConflict, "%s UID %s already belongs to another patient in the archive; an upload of it under PatientID %q is refused",
					strings.ToLower(k.typ), k.uid, patient)
			}
		}
		return nil
	}
	var sops []string
	for _, id := range ids {
		for _, k := range []uidKey{{"Study", id.StudyUID}, {"Series", id.SeriesUID}, {"Instance", id.SOPUID}} {
			if p, ok := seen[k]; ok {
				if p != id.PatientID {
					return errorf(api.CodeConflict, "upload gives %s UID %s two PatientIDs (%q and %q)", strings.ToLower(k.typ), k.uid, p, id.PatientID)
				}
				continue
			}
			seen[k] = id.PatientID
			if k.typ == "Instance" {
				sops = append(sops, k.uid)
				continue
			}
			patients, err := s.patientsOfUID(c, k.uid, k.typ)
			if err != nil {
				return err
			}
			if err := elsewhere(k, id.PatientID, patients); err != nil {
				return err
			}
		}
	}
	held, err := s.patientsOfInstances(c, sops)
	if err != nil {
		return err
	}
	for _, uid := range sops {
		k := uidKey{"Instance", uid}
		if err := elsewhere(k, seen[k], held[uid]); err != nil {
			return err
		}
	}
	return nil
}
