package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// patientScope returns the WHERE condition (on alias p) that limits patients to those scope sees.
func patientScope(scope server.Scope, p *params) string {
	switch {
	case scope.AllPatients():
		return "TRUE"
	case scope.Role == api.RoleExternal:
		return "p.external_institution_id = " + p.add(scope.UserID)
	case scope.Role == api.RolePatient:
		return "p.portal_user_id = " + p.add(scope.UserID)
	}
	return "FALSE"
}

const patientColumns = `p.id, p.number, p.name, p.birth_date, p.gender, p.phone, p.email, p.address, p.status, p.severity,
	p.external_institution_id, p.portal_user_id, p.registered_by, p.created_at, p.updated_at`

func scanPatient(r rowScanner) (*server.Patient, error) {
	p := &server.Patient{}
	err := r.Scan(&p.ID, &p.Number, &p.Name, &p.BirthDate, &p.Gender, &p.Phone, &p.Email, &p.Address, &p.Status, &p.Severity,
		&p.ExternalInstitutionID, &p.PortalUserID, &p.RegisteredBy, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// CreatePatient stores p with a new ID and, unless it brings one (an import), a number P{YYYY}{00001}.
func (s *Store) CreatePatient(ctx context.Context, p *server.Patient) error {
	given := p.Number
	p.CreatedAt, p.UpdatedAt = usec(p.CreatedAt), usec(p.UpdatedAt)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := checkPatientLinks(ctx, tx, p); err != nil {
			return err
		}
		if given == "" {
			year := p.CreatedAt.UTC().Year()
			n, err := nextID(ctx, tx, fmt.Sprintf("patient:%d", year))
			if err != nil {
				return err
			}
			p.Number = fmt.Sprintf("P%d%05d", year, n)
		}
		err := tx.QueryRow(ctx, `INSERT INTO patients (number, name, birth_date, gender, phone, email, address, status,
			severity, external_institution_id, portal_user_id, registered_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`, p.Number, p.Name, p.BirthDate,
			p.Gender, p.Phone, p.Email, p.Address, p.Status, p.Severity, p.ExternalInstitutionID, p.PortalUserID,
			p.RegisteredBy, p.CreatedAt, p.UpdatedAt).Scan(&p.ID)
		if isUniqueViolation(err) {
			return server.Errorf(api.CodeConflict, "patient number %s is taken, or the portal user already belongs to another patient", p.Number)
		}
		if err != nil {
			return err
		}
		noteObject(ctx, "patient", p.ID, p.ID)
		return patientChange(ctx, tx, p, "created")
	})
	if err != nil {
		p.Number = given // the number taken was given back with the rollback
	}
	return err
}

// checkPatientLinks checks that the users a patient links to exist and have the right roles.
func checkPatientLinks(ctx context.Context, tx pgx.Tx, p *server.Patient) error {
	check := func(id *int64, role api.Role, field string) error {
		if id == nil {
			return nil
		}
		var got string
		err := tx.QueryRow(ctx, "SELECT role FROM users WHERE id = $1", *id).Scan(&got)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && got != string(role)) {
			return server.Errorf(api.CodeInvalid, "%s %d is not a %s user", field, *id, role)
		}
		return err
	}
	if err := check(p.ExternalInstitutionID, api.RoleExternal, "external_institution_id"); err != nil {
		return err
	}
	return check(p.PortalUserID, api.RolePatient, "portal_user_id")
}

func patientChange(ctx context.Context, tx pgx.Tx, p *server.Patient, op string) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return appendChange(ctx, tx, api.KindPatient, fmt.Sprint(p.ID), op, p.UpdatedAt, p.ID, "", data)
}

// Patient returns a patient.
func (s *Store) Patient(ctx context.Context, id int64) (*server.Patient, error) {
	p, err := scanPatient(s.pool.QueryRow(ctx, "SELECT "+patientColumns+" FROM patients p WHERE p.id = $1", id))
	return p, notFound(err, "patient %d does not exist", id)
}

// PatientByNumber returns the patient with a patient number.
func (s *Store) PatientByNumber(ctx context.Context, number string) (*server.Patient, error) {
	p, err := scanPatient(s.pool.QueryRow(ctx, "SELECT "+patientColumns+" FROM patients p WHERE p.number = $1", number))
	return p, notFound(err, "patient %q does not exist", number)
}

// ListPatients lists the patients scope sees, newest first. The query matches name or number without regard
// to case, as SQLite's LIKE does.
func (s *Store) ListPatients(ctx context.Context, scope server.Scope, f server.PatientFilter) ([]*server.Patient, error) {
	var args params
	where := []string{patientScope(scope, &args)}
	if f.Query != "" {
		like := args.add("%" + escapeLike(f.Query) + "%")
		where = append(where, "(p.name ILIKE "+like+" OR p.number ILIKE "+like+")")
	}
	if f.Status != "" {
		where = append(where, "p.status = "+args.add(f.Status))
	}
	limit := args.add(limitOf(f.Limit, 100, 1000))
	rows, err := s.pool.Query(ctx, "SELECT "+patientColumns+" FROM patients p WHERE "+strings.Join(where, " AND ")+
		" ORDER BY p.id DESC LIMIT "+limit, args...)
	return collect(rows, err, scanPatient)
}

// UpdatePatient runs fn on a patient, its row locked, and stores the result unless fn fails.
func (s *Store) UpdatePatient(ctx context.Context, id int64, fn func(*server.Patient) error) (*server.Patient, error) {
	var p *server.Patient
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		p, err = scanPatient(tx.QueryRow(ctx, "SELECT "+patientColumns+" FROM patients p WHERE p.id = $1 FOR NO KEY UPDATE", id))
		if err != nil {
			return notFound(err, "patient %d does not exist", id)
		}
		if err := fn(p); err != nil {
			return err
		}
		p.UpdatedAt = usec(p.UpdatedAt)
		if _, err := tx.Exec(ctx, `UPDATE patients SET name = $1, phone = $2, email = $3, address = $4, status = $5,
			severity = $6, updated_at = $7 WHERE id = $8`, p.Name, p.Phone, p.Email, p.Address, p.Status, p.Severity,
			p.UpdatedAt, id); err != nil {
			return err
		}
		return patientChange(ctx, tx, p, "updated")
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// PatientOwnership returns the ownership fields of a patient.
func (s *Store) PatientOwnership(ctx context.Context, patientID int64) (server.PatientOwnership, error) {
	var o server.PatientOwnership
	err := s.pool.QueryRow(ctx, "SELECT external_institution_id, portal_user_id FROM patients WHERE id = $1", patientID).
		Scan(&o.ExternalInstitutionID, &o.PortalUserID)
	return o, notFound(err, "patient %d does not exist", patientID)
}

// OwnershipByNumber returns the ID and ownership of the patient with a patient number.
func (s *Store) OwnershipByNumber(ctx context.Context, number string) (int64, server.PatientOwnership, error) {
	var id int64
	var o server.PatientOwnership
	err := s.pool.QueryRow(ctx, "SELECT id, external_institution_id, portal_user_id FROM patients WHERE number = $1", number).
		Scan(&id, &o.ExternalInstitutionID, &o.PortalUserID)
	return id, o, notFound(err, "no patient has number %q", number)
}

// escapeLike escapes LIKE's wildcards with PostgreSQL's default escape character, the backslash.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
