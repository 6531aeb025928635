package postgres

import (
	"context"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// changeScope returns the WHERE condition (on alias c) that limits the change feed to what scope sees; it
// states the rules of server.Scope over the feed's own columns.
func changeScope(scope server.Scope, p *params) string {
	switch {
	case scope.AllPatients():
		return "TRUE"
	case scope.Role == api.RoleRIS || scope.Role == api.RoleLIS:
		return "((c.kind = 'order' AND c.job_role = " + p.add(string(scope.Role)) + ") OR c.kind = 'ai_result')"
	case scope.Role == api.RoleExternal:
		return "c.patient_id IN (SELECT id FROM patients WHERE external_institution_id = " + p.add(scope.UserID) + ")"
	case scope.Role == api.RolePatient:
		return "(c.kind IN ('patient', 'order') AND c.patient_id IN (SELECT id FROM patients WHERE portal_user_id = " +
			p.add(scope.UserID) + "))"
	}
	return "FALSE"
}

// Changes returns the changes after cursor that scope sees, oldest first. Sequence numbers commit in order
// (see appendChange), so a cursor never skips a change committed later with a smaller number.
func (s *Store) Changes(ctx context.Context, scope server.Scope, cursor int64, limit int) ([]server.Change, bool, error) {
	limit = limitOf(limit, 200, 1000)
	var args params
	after := args.add(cursor)
	cond := changeScope(scope, &args)
	rows, err := s.pool.Query(ctx, "SELECT c.seq, c.kind, c.object_id, c.op, c.at, c.data FROM changes c WHERE c.seq > "+after+
		" AND "+cond+" ORDER BY c.seq LIMIT "+args.add(limit+1), args...)
	out, err := collect(rows, err, func(r rowScanner) (server.Change, error) {
		var c server.Change
		var data []byte
		err := r.Scan(&c.Seq, &c.Kind, &c.ObjectID, &c.Op, &c.At, &data)
		c.Data = data
		return c, err
	})
	if err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
