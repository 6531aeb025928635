package api

import "time"

// Patient is a registered patient. Number is the DICOM PatientID of the patient's studies in Orthanc.
type Patient struct {
	ID        int64  `json:"id"`
	Number    string `json:"patient_number"`
	Name      string `json:"name"`
	BirthDate string `json:"birth_date"` // YYYY-MM-DD
	Gender    string `json:"gender"`     // M, F or O
	Phone     string `json:"phone,omitempty"`
	Email     string `json:"email,omitempty"`
	Address   string `json:"address,omitempty"`
	Status    string `json:"status"`   // active, discharged, transferred, deceased
	Severity  string `json:"severity"` // normal, mild, moderate, severe, critical
	// ExternalInstitutionID is the EXTERNAL user (institution) the patient belongs to, when external.
	ExternalInstitutionID *int64 `json:"external_institution_id,omitempty"`
	// PortalUserID is the PATIENT account of the patient, when it has one.
	PortalUserID *int64    `json:"portal_user_id,omitempty"`
	RegisteredBy int64     `json:"registered_by"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// CreatePatientRequest is the body of POST /api/patients/.
type CreatePatientRequest struct {
	Name                  string `json:"name"`
	BirthDate             string `json:"birth_date"`
	Gender                string `json:"gender"`
	Phone                 string `json:"phone,omitempty"`
	Email                 string `json:"email,omitempty"`
	Address               string `json:"address,omitempty"`
	Severity              string `json:"severity,omitempty"`
	ExternalInstitutionID *int64 `json:"external_institution_id,omitempty"`
	PortalUserID          *int64 `json:"portal_user_id,omitempty"`
}

// UpdatePatientRequest is the body of PATCH /api/patients/{id}/; absent fields are left as they are.
type UpdatePatientRequest struct {
	Name     *string `json:"name,omitempty"`
	Phone    *string `json:"phone,omitempty"`
	Email    *string `json:"email,omitempty"`
	Address  *string `json:"address,omitempty"`
	Status   *string `json:"status,omitempty"`
	Severity *string `json:"severity,omitempty"`
}
