package server

import "github.com/neuronova/neuronova/api"

// Scope is what one principal may see of the patient data. It is the single statement of the visibility rules;
// the store applies the same rules in its queries (its tests check that both agree):
//
//	role                       patients                  orders                    AI results
//	SYSTEMMANAGER ADMIN
//	DOCTOR NURSE               all                       all                       all
//	RIS LIS                    none                      of their job role         all
//	EXTERNAL                   of their institution      of those patients         of those patients
//	PATIENT                    their own record          of that patient           none
type Scope struct {
	Role   api.Role
	UserID int64
}

// ScopeOf returns the scope of p.
func ScopeOf(p Principal) Scope { return Scope{Role: p.Role, UserID: p.UserID} }

// PatientOwnership is what decides whether a patient-scoped role sees a patient.
type PatientOwnership struct {
	ExternalInstitutionID *int64
	PortalUserID          *int64
}

// OwnershipOf returns the ownership fields of p.
func OwnershipOf(p *Patient) PatientOwnership {
	return PatientOwnership{ExternalInstitutionID: p.ExternalInstitutionID, PortalUserID: p.PortalUserID}
}

// AllPatients reports whether the scope sees every patient.
func (s Scope) AllPatients() bool {
	switch s.Role {
	case api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor, api.RoleNurse:
		return true
	}
	return false
}

// OwnsPatient reports whether the scope sees a patient with ownership o.
func (s Scope) OwnsPatient(o PatientOwnership) bool {
	switch {
	case s.AllPatients():
		return true
	case s.Role == api.RoleExternal:
		return o.ExternalInstitutionID != nil && *o.ExternalInstitutionID == s.UserID
	case s.Role == api.RolePatient:
		return o.PortalUserID != nil && *o.PortalUserID == s.UserID
	}
	return false
}

// SeesPatient reports whether the scope sees patient p.
func (s Scope) SeesPatient(p *Patient) bool { return s.OwnsPatient(OwnershipOf(p)) }

// SeesOrder reports whether the scope sees order o of a patient with ownership owner.
func (s Scope) SeesOrder(o *Order, owner PatientOwnership) bool {
	switch s.Role {
	case api.RoleRIS, api.RoleLIS:
		return string(o.JobRole) == string(s.Role)
	}
	return s.OwnsPatient(owner)
}

// SeesAIResults reports whether the scope sees AI results at all.
func (s Scope) SeesAIResults() bool { return s.Role != api.RolePatient }

// SeesAIResult reports whether the scope sees an AI result of a patient with ownership owner.
func (s Scope) SeesAIResult(owner PatientOwnership) bool {
	switch s.Role {
	case api.RolePatient:
		return false
	case api.RoleRIS, api.RoleLIS:
		return true
	}
	return s.OwnsPatient(owner)
}

// SeesImagesOf reports whether the scope may read the Orthanc studies of a patient with ownership owner.
// Roles that may not use the image routes at all are refused by the route table before this is asked.
func (s Scope) SeesImagesOf(owner PatientOwnership) bool {
	if s.Role.PatientScoped() {
		return s.OwnsPatient(owner)
	}
	return true
}
