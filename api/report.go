package api

import (
	"encoding/json"
	"fmt"
)

// RISReport is the worker_result of an imaging (RIS) order as the workstation writes it: the seed's RIS
// template (findings, impression, recommendation, tumour, the images it reads) with its fields typed. Fields
// the workstation does not know are kept by the JSON of the order as the server holds it.
type RISReport struct {
	Template       string      `json:"_template,omitempty"` // "RIS"
	Version        string      `json:"_version,omitempty"`
	DICOM          ReportDICOM `json:"dicom"`
	Findings       string      `json:"findings"`
	Impression     string      `json:"impression"`
	Recommendation string      `json:"recommendation"`
	Tumor          ReportTumor `json:"tumor"`
	WorkNotes      []string    `json:"work_notes"`
	Confirmed      bool        `json:"_confirmed"`
}

// ReportDICOM names the images a report reads.
type ReportDICOM struct {
	StudyUID        string   `json:"study_uid"`
	Series          []string `json:"series"`
	AccessionNumber string   `json:"accession_number"`
	SeriesCount     int      `json:"series_count"`
	InstanceCount   int      `json:"instance_count"`
}

// ReportTumor is what a report says of a tumour; nil values were not stated.
type ReportTumor struct {
	Detected *bool `json:"detected"`
	Location struct {
		Lobe       string `json:"lobe"`
		Hemisphere string `json:"hemisphere"`
	} `json:"location"`
	Size struct {
		MaxDiameterCM *float64 `json:"max_diameter_cm"`
		VolumeCC      *float64 `json:"volume_cc"` // mL
	} `json:"size"`
}

// ParseRISReport reads a RIS worker_result; an empty one is the empty report.
func ParseRISReport(raw json.RawMessage) (RISReport, error) {
	var r RISReport
	if len(raw) == 0 || string(raw) == "null" {
		return r, nil
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return RISReport{}, fmt.Errorf("RIS report: %w", err)
	}
	return r, nil
}

// M1Summary is what the workstation shows and prints of an M1 result (the pipeline's JSON, schema
// neuronova.inference-result/1): the model with its banner and provenance, the tumour volumes in mL and the
// heads. Heads are empty for a model that only segments.
type M1Summary struct {
	Banner string `json:"banner"`
	Model  struct {
		ID      string `json:"id"`
		Version string `json:"version"`
		SHA256  string `json:"sha256"`
		Status  string `json:"status"`
	} `json:"model"`
	Runtime struct {
		Provider struct {
			Used string `json:"used"`
		} `json:"provider"`
		ORTVersion string `json:"ort_version"`
	} `json:"runtime"`
	Volumes struct {
		NCR float64 `json:"ncr"`
		ED  float64 `json:"ed"`
		ET  float64 `json:"et"`
		WT  float64 `json:"wt"`
		TC  float64 `json:"tc"`
	} `json:"volumes_ml"`
	Grade        *M1Head `json:"grade"`
	IDH          *M1Head `json:"idh"`
	MGMT         *M1Head `json:"mgmt"`
	SurvivalRisk *struct {
		Score float64 `json:"risk_score"`
		Group string  `json:"risk_group"`
	} `json:"survival_risk"`
}

// M1Head is one classification head of M1.
type M1Head struct {
	Class       string  `json:"predicted_class"`
	Probability float64 `json:"probability"`
}

// ParseM1Summary reads an M1 result; it must name its model.
func ParseM1Summary(raw json.RawMessage) (*M1Summary, error) {
	var s M1Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("M1 result: %w", err)
	}
	if s.Model.ID == "" {
		return nil, fmt.Errorf("M1 result names no model")
	}
	return &s, nil
}

// Lines are the summary's findings, one a line, as the workstation shows them and the PDF prints them.
func (s *M1Summary) Lines() []string {
	v := s.Volumes
	lines := []string{fmt.Sprintf("volumes (mL): NCR %.2f  ED %.2f  ET %.2f  WT %.2f  TC %.2f", v.NCR, v.ED, v.ET, v.WT, v.TC)}
	if s.Grade == nil || s.IDH == nil || s.MGMT == nil {
		return append(lines, "no grade, IDH, MGMT or risk: the model only segments")
	}
	lines = append(lines, fmt.Sprintf("grade %s (%.2f)  IDH %s (%.2f)  MGMT %s (%.2f)", s.Grade.Class, s.Grade.Probability,
		s.IDH.Class, s.IDH.Probability, s.MGMT.Class, s.MGMT.Probability))
	if r := s.SurvivalRisk; r != nil {
		lines = append(lines, fmt.Sprintf("survival risk %.2f: %s", r.Score, r.Group))
	}
	return lines
}
