package sqlite

import (
	"context"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// changeScope returns the WHERE condition (on alias c) that limits the change feed to what scope sees; it
// states the rules of server.Scope over the feed's own columns.
func changeScope(scope server.Scope) (string, []any) {
	switch {
	case scope.AllPatients():
		return "1", nil
	case scope.Role == api.RoleRIS || scope.Role == api.RoleLIS:
		return "((c.kind = 'order' AND c.job_role = ?) OR c.kind = 'ai_result')", []any{string(scope.Role)}
	case scope.Role == api.RoleExternal:
		return "c.patient_id IN (SELECT id FROM patients WHERE external_institution_id = ?)", []any{scope.UserID}
	case scope.Role == api.RolePatient:
		return "(c.kind IN ('patient', 'order') AND c.patient_id IN (SELECT id FROM patients WHERE portal_user_id = ?))", []any{scope.UserID}
	}
	return "0", nil
}

// Changes returns the changes after cursor that scope sees, oldest first. With one writer, sequence numbers
// commit in order, so a cursor never skips a change committed later with a smaller number.
func (s *Store) Changes(ctx context.Context, scope server.Scope, cursor int64, limit int) ([]server.Change, bool, error) {
	limit = limitOf(limit, 200, 1000)
	cond, args := changeScope(scope)
	args = append([]any{cursor}, args...)
	args = append(args, limit+1)
	rows, err := s.read.QueryContext(ctx, "SELECT c.seq, c.kind, c.object_id, c.op, c.at, c.data FROM changes c WHERE c.seq > ? AND "+
		cond+" ORDER BY c.seq LIMIT ?", args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	out := []server.Change{}
	for rows.Next() {
		var c server.Change
		var data string
		if err := rows.Scan(&c.Seq, &c.Kind, &c.ObjectID, &c.Op, timeCol{&c.At}, &data); err != nil {
			return nil, false, err
		}
		c.Data = []byte(data)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
