package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// patientScope returns the WHERE condition (on alias p) that limits patients to those scope sees.
func patientScope(scope server.Scope) (string, []any) {
	switch {
	case scope.AllPatients():
		return "1", nil
	case scope.Role == api.RoleExternal:
		return "p.external_institution_id = ?", []any{scope.UserID}
	case scope.Role == api.RolePatient:
		return "p.portal_user_id = ?", []any{scope.UserID}
	}
	return "0", nil
}

const patientColumns = `p.id, p.number, p.name, p.birth_date, p.gender, p.phone, p.email, p.address, p.status, p.severity,
	p.external_institution_id, p.portal_user_id, p.registered_by, p.created_at, p.updated_at`

func scanPatient(r rowScanner) (*server.Patient, error) {
	p := &server.Patient{}
	err := r.Scan(&p.ID, &p.Number, &p.Name, &p.BirthDate, &p.Gender, &p.Phone, &p.Email, &p.Address, &p.Status, &p.Severity,
		nullInt{&p.ExternalInstitutionID}, nullInt{&p.PortalUserID}, &p.RegisteredBy, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt})
	return p, err
}

// CreatePatient stores p with a new ID and, unless it brings one (an import), a number P{YYYY}{00001}.
func (s *Store) CreatePatient(ctx context.Context, p *server.Patient) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if p.Number == "" {
			year := p.CreatedAt.UTC().Year()
			n, err := nextID(ctx, tx, fmt.Sprintf("patient:%d", year))
			if err != nil {
				return err
			}
			p.Number = fmt.Sprintf("P%d%05d", year, n)
		}
		if err := checkPatientLinks(ctx, tx, p); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO patients (number, name, birth_date, gender, phone, email, address, status,
			severity, external_institution_id, portal_user_id, registered_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.Number, p.Name, p.BirthDate, p.Gender, p.Phone, p.Email,
			p.Address, p.Status, p.Severity, nullID(p.ExternalInstitutionID), nullID(p.PortalUserID), p.RegisteredBy,
			ts(p.CreatedAt), ts(p.UpdatedAt))
		if isUniqueViolation(err) {
			return server.Errorf(api.CodeConflict, "patient number %s is taken, or the portal user already belongs to another patient", p.Number)
		}
		if err != nil {
			return err
		}
		if p.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		noteObject(ctx, "patient", p.ID, p.ID)
		return patientChange(ctx, tx, p, "created")
	})
}

// checkPatientLinks checks that the users a patient links to exist and have the right roles.
func checkPatientLinks(ctx context.Context, tx *sql.Tx, p *server.Patient) error {
	check := func(id *int64, role api.Role, field string) error {
		if id == nil {
			return nil
		}
		var got string
		err := tx.QueryRowContext(ctx, "SELECT role FROM users WHERE id = ?", *id).Scan(&got)
		if err == sql.ErrNoRows || (err == nil && got != string(role)) {
			return server.Errorf(api.CodeInvalid, "%s %d is not a %s user", field, *id, role)
		}
		return err
	}
	if err := check(p.ExternalInstitutionID, api.RoleExternal, "external_institution_id"); err != nil {
		return err
	}
	return check(p.PortalUserID, api.RolePatient, "portal_user_id")
}

func patientChange(ctx context.Context, tx *sql.Tx, p *server.Patient, op string) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return appendChange(ctx, tx, api.KindPatient, fmt.Sprint(p.ID), op, p.UpdatedAt, p.ID, "", data)
}

// Patient returns a patient.
func (s *Store) Patient(ctx context.Context, id int64) (*server.Patient, error) {
	p, err := scanPatient(s.read.QueryRowContext(ctx, "SELECT "+patientColumns+" FROM patients p WHERE p.id = ?", id))
	return p, notFound(err, "patient %d does not exist", id)
}

// PatientByNumber returns the patient with a patient number.
func (s *Store) PatientByNumber(ctx context.Context, number string) (*server.Patient, error) {
	p, err := scanPatient(s.read.QueryRowContext(ctx, "SELECT "+patientColumns+" FROM patients p WHERE p.number = ?", number))
	return p, notFound(err, "patient %q does not exist", number)
}

// ListPatients lists the patients scope sees, newest first.
func (s *Store) ListPatients(ctx context.Context, scope server.Scope, f server.PatientFilter) ([]*server.Patient, error) {
	cond, args := patientScope(scope)
	where := []string{cond}
	if f.Query != "" {
		where = append(where, "(p.name LIKE ? ESCAPE '\\' OR p.number LIKE ? ESCAPE '\\')")
		like := "%" + escapeLike(f.Query) + "%"
		args = append(args, like, like)
	}
	if f.Status != "" {
		where = append(where, "p.status = ?")
		args = append(args, f.Status)
	}
	args = append(args, limitOf(f.Limit, 100, 1000))
	rows, err := s.read.QueryContext(ctx, "SELECT "+patientColumns+" FROM patients p WHERE "+strings.Join(where, " AND ")+
		" ORDER BY p.id DESC LIMIT ?", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*server.Patient{}
	for rows.Next() {
		p, err := scanPatient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// UpdatePatient runs fn on a patient and stores the result unless fn fails.
func (s *Store) UpdatePatient(ctx context.Context, id int64, fn func(*server.Patient) error) (*server.Patient, error) {
	var p *server.Patient
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanPatient(tx.QueryRowContext(ctx, "SELECT "+patientColumns+" FROM patients p WHERE p.id = ?", id))
		if err != nil {
			return notFound(err, "patient %d does not exist", id)
		}
		if err := fn(p); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE patients SET name = ?, phone = ?, email = ?, address = ?, status = ?,
			severity = ?, updated_at = ? WHERE id = ?`, p.Name, p.Phone, p.Email, p.Address, p.Status, p.Severity,
			ts(p.UpdatedAt), id); err != nil {
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
	err := s.read.QueryRowContext(ctx, "SELECT external_institution_id, portal_user_id FROM patients WHERE id = ?", patientID).
		Scan(nullInt{&o.ExternalInstitutionID}, nullInt{&o.PortalUserID})
	return o, notFound(err, "patient %d does not exist", patientID)
}

// OwnershipByNumber returns the ID and ownership of the patient with a patient number.
func (s *Store) OwnershipByNumber(ctx context.Context, number string) (int64, server.PatientOwnership, error) {
	var id int64
	var o server.PatientOwnership
	err := s.read.QueryRowContext(ctx, "SELECT id, external_institution_id, portal_user_id FROM patients WHERE number = ?", number).
		Scan(&id, nullInt{&o.ExternalInstitutionID}, nullInt{&o.PortalUserID})
	return id, o, notFound(err, "no patient has number %q", number)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
