// Package api holds the wire types of the NeuroNova server API: what the central server sends and receives and
// what the workstation, the sync engine and `neuronova worker` import. It depends on the standard library only.
package api

import "fmt"

// Role is one of the eight roles of the seed system. A user has exactly one.
type Role string

const (
	RoleSystemManager Role = "SYSTEMMANAGER"
	RoleAdmin         Role = "ADMIN"
	RoleDoctor        Role = "DOCTOR"
	RoleNurse         Role = "NURSE"
	RoleRIS           Role = "RIS"
	RoleLIS           Role = "LIS"
	RoleExternal      Role = "EXTERNAL"
	RolePatient       Role = "PATIENT"
)

// Roles lists every role, in the seed's order of privilege.
var Roles = []Role{RoleSystemManager, RoleAdmin, RoleDoctor, RoleNurse, RoleRIS, RoleLIS, RoleExternal, RolePatient}

// ParseRole returns the role named s, or an error naming s.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want one of %v)", s, Roles)
}

// IsAdmin reports whether r administers the system (ADMIN or SYSTEMMANAGER).
func (r Role) IsAdmin() bool { return r == RoleAdmin || r == RoleSystemManager }

// PatientScoped reports whether r sees only its own patients (EXTERNAL institutions and PATIENT accounts).
func (r Role) PatientScoped() bool { return r == RoleExternal || r == RolePatient }
