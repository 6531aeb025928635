package server

import (
	"net/mail"
	"regexp"
	"slices"
	"time"

	"github.com/neuronova/neuronova/api"
)

var (
	patientStatuses   = []string{"active", "discharged", "transferred", "deceased"}
	patientSeverities = []string{"normal", "mild", "moderate", "severe", "critical"}
	phonePattern      = regexp.MustCompile(`^[0-9]{2,3}-[0-9]{3,4}-[0-9]{4}$`)
)

// NewPatient checks a registration request and returns the patient to store (without ID and number).
func NewPatient(req api.CreatePatientRequest, registeredBy int64, now time.Time) (*Patient, error) {
	p := &Patient{Name: req.Name, BirthDate: req.BirthDate, Gender: req.Gender, Phone: req.Phone, Email: req.Email,
		Address: req.Address, Status: "active", Severity: req.Severity, ExternalInstitutionID: req.ExternalInstitutionID,
		PortalUserID: req.PortalUserID, RegisteredBy: registeredBy, CreatedAt: now, UpdatedAt: now}
	if p.Severity == "" {
		p.Severity = "normal"
	}
	if _, err := time.Parse(time.DateOnly, req.BirthDate); err != nil {
		return nil, Errorf(api.CodeInvalid, "birth_date %q must be a date YYYY-MM-DD", req.BirthDate)
	}
	if req.Gender != "M" && req.Gender != "F" && req.Gender != "O" {
		return nil, Errorf(api.CodeInvalid, "gender %q must be M, F or O", req.Gender)
	}
	return p, validatePatient(p)
}

// ApplyPatientUpdate applies upd to p, or returns an error and leaves p as it was.
func ApplyPatientUpdate(p *Patient, upd api.UpdatePatientRequest, now time.Time) error {
	next := *p
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&next.Name, upd.Name)
	set(&next.Phone, upd.Phone)
	set(&next.Email, upd.Email)
	set(&next.Address, upd.Address)
	set(&next.Status, upd.Status)
	set(&next.Severity, upd.Severity)
	if err := validatePatient(&next); err != nil {
		return err
	}
	next.UpdatedAt = now
	*p = next
	return nil
}

func validatePatient(p *Patient) error {
	if err := ValidateText("name", p.Name, 1, 100); err != nil {
		return err
	}
	if err := ValidateMultilineText("address", p.Address, 0, 300); err != nil {
		return err
	}
	switch {
	case p.Phone != "" && !phonePattern.MatchString(p.Phone):
		return Errorf(api.CodeInvalid, "phone %q must look like 010-1234-5678", p.Phone)
	case p.Email != "" && !validEmail(p.Email):
		return Errorf(api.CodeInvalid, "email %q is not an e-mail address", p.Email)
	case !slices.Contains(patientStatuses, p.Status):
		return Errorf(api.CodeInvalid, "status %q must be one of %v", p.Status, patientStatuses)
	case !slices.Contains(patientSeverities, p.Severity):
		return Errorf(api.CodeInvalid, "severity %q must be one of %v", p.Severity, patientSeverities)
	}
	return nil
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}
