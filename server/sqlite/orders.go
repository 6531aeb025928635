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

// orderScope returns the WHERE condition (on aliases o and p) that limits orders to those scope sees.
func orderScope(scope server.Scope) (string, []any) {
	switch scope.Role {
	case api.RoleRIS, api.RoleLIS:
		return "o.job_role = ?", []any{string(scope.Role)}
	}
	return patientScope(scope)
}

const orderSelect = `SELECT o.id, o.patient_id, p.number, p.name, o.doctor_id, d.name, o.worker_id, COALESCE(w.name, ''),
	o.job_role, o.job_type, o.status, o.priority, o.doctor_request, o.worker_result, o.attachments, o.result,
	o.cancel_reason, o.created_at, o.accepted_at, o.in_progress_at, o.result_ready_at, o.confirmed_at, o.cancelled_at,
	o.updated_at, o.version
	FROM orders o JOIN patients p ON p.id = o.patient_id JOIN users d ON d.id = o.doctor_id
	LEFT JOIN users w ON w.id = o.worker_id`

type nullBool struct{ p **bool }

func (c nullBool) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.p = nil
	case int64:
		b := x != 0
		*c.p = &b
	default:
		return fmt.Errorf("boolean column holds %T", v)
	}
	return nil
}

func scanOrder(r rowScanner) (*server.Order, error) {
	o := &server.Order{}
	var dr, wr, at []byte
	err := r.Scan(&o.ID, &o.PatientID, &o.PatientNumber, &o.PatientName, &o.DoctorID, &o.DoctorName, nullInt{&o.WorkerID},
		&o.WorkerName, &o.JobRole, &o.JobType, &o.Status, &o.Priority, rawJSON{&dr}, rawJSON{&wr}, rawJSON{&at},
		nullBool{&o.Result}, &o.CancelReason, timeCol{&o.CreatedAt}, nullTimeCol{&o.AcceptedAt}, nullTimeCol{&o.InProgressAt},
		nullTimeCol{&o.ResultReadyAt}, nullTimeCol{&o.ConfirmedAt}, nullTimeCol{&o.CancelledAt}, timeCol{&o.UpdatedAt}, &o.Version)
	o.DoctorRequest, o.WorkerResult, o.Attachments = dr, wr, at
	return o, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func loadOrder(ctx context.Context, q querier, id string) (*server.Order, error) {
	o, err := scanOrder(q.QueryRowContext(ctx, orderSelect+" WHERE o.id = ?", id))
	if err != nil {
		return nil, notFound(err, "order %q does not exist", id)
	}
	rows, err := q.QueryContext(ctx, `SELECT h.id, h.action, h.actor_id, u.name, h.from_status, h.to_status, h.from_worker,
		h.to_worker, h.reason, h.client_addr, h.at FROM order_history h JOIN users u ON u.id = h.actor_id
		WHERE h.order_id = ? ORDER BY h.id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h server.OrderHistory
		if err := rows.Scan(&h.ID, &h.Action, &h.ActorID, &h.ActorName, &h.FromStatus, &h.ToStatus, nullInt{&h.FromWorker},
			nullInt{&h.ToWorker}, &h.Reason, &h.ClientAddr, timeCol{&h.At}); err != nil {
			return nil, err
		}
		o.History = append(o.History, h)
	}
	return o, rows.Err()
}

// CreateOrder stores o with a new ID and its creation history.
func (s *Store) CreateOrder(ctx context.Context, o *server.Order, h server.OrderHistory) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		n, err := nextID(ctx, tx, "ocs")
		if err != nil {
			return err
		}
		o.ID = fmt.Sprintf("ocs_%04d", n)
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, patient_id, doctor_id, job_role, job_type, status, priority,
			doctor_request, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.PatientID, o.DoctorID, o.JobRole, o.JobType, o.Status, o.Priority, nullJSON(o.DoctorRequest),
			ts(o.CreatedAt), ts(o.UpdatedAt), o.Version); err != nil {
			return err
		}
		noteObject(ctx, "order", o.ID, o.PatientID)
		return saveOrderEffects(ctx, tx, o, h, "created")
	})
}

// saveOrderEffects writes an order's history entry and its change-feed entry, and reloads the order.
func saveOrderEffects(ctx context.Context, tx *sql.Tx, o *server.Order, h server.OrderHistory, op string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_history (order_id, action, actor_id, from_status, to_status,
		from_worker, to_worker, reason, client_addr, at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.ID, h.Action,
		h.ActorID, h.FromStatus, h.ToStatus, nullID(h.FromWorker), nullID(h.ToWorker), h.Reason, h.ClientAddr, ts(h.At),
		nullText(h.IdempotencyKey)); err != nil {
		return err
	}
	stored, err := loadOrder(ctx, tx, o.ID)
	if err != nil {
		return err
	}
	*o = *stored
	snapshot := *stored
	snapshot.History = nil
	data, err := json.Marshal(&snapshot)
	if err != nil {
		return err
	}
	return appendChange(ctx, tx, api.KindOrder, o.ID, op, o.UpdatedAt, o.PatientID, string(o.JobRole), data)
}

// Order returns an order with its history.
func (s *Store) Order(ctx context.Context, id string) (*server.Order, error) {
	return loadOrder(ctx, s.read, id)
}

// ListOrders lists the orders scope sees, newest first, without their history.
func (s *Store) ListOrders(ctx context.Context, scope server.Scope, f server.OrderFilter) ([]*server.Order, error) {
	cond, args := orderScope(scope)
	where := []string{cond}
	add := func(c string, v any) {
		where = append(where, c)
		args = append(args, v)
	}
	if f.Status != "" {
		add("o.status = ?", f.Status)
	}
	if f.JobRole != "" {
		add("o.job_role = ?", f.JobRole)
	}
	if f.PatientID != 0 {
		add("o.patient_id = ?", f.PatientID)
	}
	if f.DoctorID != 0 {
		add("o.doctor_id = ?", f.DoctorID)
	}
	if f.WorkerID != 0 {
		add("o.worker_id = ?", f.WorkerID)
	}
	if f.Unassigned {
		where = append(where, "o.worker_id IS NULL")
	}
	args = append(args, limitOf(f.Limit, 100, 1000))
	rows, err := s.read.QueryContext(ctx, orderSelect+" WHERE "+strings.Join(where, " AND ")+" ORDER BY o.created_at DESC, o.id DESC LIMIT ?", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*server.Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// UpdateOrder runs fn on an order under the write lock and stores the result unless fn fails.
func (s *Store) UpdateOrder(ctx context.Context, id, key string, fn func(*server.Order) (server.OrderHistory, error)) (*server.Order, error) {
	var o *server.Order
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if o, err = loadOrder(ctx, tx, id); err != nil {
			return err
		}
		if key != "" {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM order_history WHERE order_id = ? AND idempotency_key = ?", id, key).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return errNoWrite // a retry of an action applied already
			}
		}
		version := o.Version
		h, err := fn(o)
		if err != nil {
			return err
		}
		h.IdempotencyKey = key
		res, err := tx.ExecContext(ctx, `UPDATE orders SET worker_id = ?, status = ?, priority = ?, doctor_request = ?,
			worker_result = ?, attachments = ?, result = ?, cancel_reason = ?, accepted_at = ?, in_progress_at = ?,
			result_ready_at = ?, confirmed_at = ?, cancelled_at = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?`,
			nullID(o.WorkerID), o.Status, o.Priority, nullJSON(o.DoctorRequest), nullJSON(o.WorkerResult), nullJSON(o.Attachments),
			nullBoolArg(o.Result), o.CancelReason, nullTS(o.AcceptedAt), nullTS(o.InProgressAt), nullTS(o.ResultReadyAt),
			nullTS(o.ConfirmedAt), nullTS(o.CancelledAt), ts(o.UpdatedAt), o.Version, id, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("update order %s: version %d changed underneath (%d rows, %v)", id, version, n, err)
		}
		return saveOrderEffects(ctx, tx, o, h, "updated")
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

func nullBoolArg(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// orderPatient returns the patient of an order inside a transaction.
func orderPatient(ctx context.Context, tx *sql.Tx, id string) (int64, error) {
	var patientID int64
	err := tx.QueryRowContext(ctx, "SELECT patient_id FROM orders WHERE id = ?", id).Scan(&patientID)
	return patientID, notFound(err, "order %q does not exist", id)
}

// nullText stores "" as NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}
