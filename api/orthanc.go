package api

import (
	"crypto/sha1"
	"encoding/hex"
	"regexp"
	"strings"
)

// PatientStudy is one Orthanc study of a patient (GET /api/patients/{id}/studies/).
type PatientStudy struct {
	OrthancID        string   `json:"orthanc_id"`
	StudyInstanceUID string   `json:"study_instance_uid"`
	StudyDate        string   `json:"study_date,omitempty"`
	Description      string   `json:"description,omitempty"`
	AccessionNumber  string   `json:"accession_number,omitempty"`
	Series           []string `json:"series"` // Orthanc series IDs
}

// StudyManifest lists every instance of an Orthanc study with what a workstation verifies its pulled copy
// against (GET /api/orthanc/studies/{id}/manifest).
type StudyManifest struct {
	OrthancID        string             `json:"orthanc_id"`
	StudyInstanceUID string             `json:"study_instance_uid"`
	Instances        []ManifestInstance `json:"instances"`
}

// ManifestInstance is one instance of a StudyManifest: its IDs, and the size and MD5 (hex) of the file
// Orthanc stored.
type ManifestInstance struct {
	OrthancID         string `json:"orthanc_id"`
	SOPInstanceUID    string `json:"sop_instance_uid"`
	SeriesInstanceUID string `json:"series_instance_uid"`
	Size              int64  `json:"size"`
	MD5               string `json:"md5"`
}

// OrthancID is the ID Orthanc gives the resource with the DICOM identifiers ids — the PatientID, then the Study,
// Series and SOP Instance UIDs down to the resource's level: the SHA-1 of the identifiers joined by "|", in
// five groups of eight hex digits, as Orthanc's documentation describes its identifiers.
func OrthancID(ids ...string) string {
	sum := sha1.Sum([]byte(strings.Join(ids, "|")))
	h := hex.EncodeToString(sum[:])
	return h[0:8] + "-" + h[8:16] + "-" + h[16:24] + "-" + h[24:32] + "-" + h[32:40]
}

// orthancIDPattern is the form of OrthancID's result: five groups of eight lower-case hex digits.
var orthancIDPattern = regexp.MustCompile(`^[0-9a-f]{8}(-[0-9a-f]{8}){4}$`)

// ValidOrthancID reports whether s is an Orthanc resource ID (five groups of eight lower-case hex digits):
// nothing else passes, so nothing that could change a path it is put into.
func ValidOrthancID(s string) bool { return orthancIDPattern.MatchString(s) }
