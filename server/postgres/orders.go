package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// orderScope returns the WHERE condition (on aliases o and p) that limits orders to those scope sees.
func orderScope(scope server.Scope, p *params) string {
	switch scope.Role {
	case api.RoleRIS, api.RoleLIS:
		return "o.job_role = " + p.add(string(scope.Role))
	}
	return patientScope(scope, p)
}

const orderSelect = `SELECT o.id, o.patient_id, p.number, p.name, o.doctor_id, d.name, o.worker_id, COALESCE(w.name, ''),
	o.job_role, o.job_type, o.status, o.priority, o.doctor_request, o.worker_result, o.attachments, o.result,
	o.cancel_reason, o.created_at, o.accepted_at, o.in_progress_at, o.result_ready_at, o.confirmed_at, o.cancelled_at,
	o.updated_at, o.version
	FROM orders o JOIN patients p ON p.id = o.patient_id JOIN users d ON d.id = o.doctor_id
	LEFT JOIN users w ON w.id = o.worker_id`

func scanOrder(r rowScanner) (*server.Order, error) {
	o := &server.Order{}
	var dr, wr, at []byte
	err := r.Scan(&o.ID, &o.PatientID, &o.PatientNumber, &o.PatientName, &o.DoctorID, &o.DoctorName, &o.WorkerID,
		&o.WorkerName, &o.JobRole, &o.JobType, &o.Status, &o.Priority, &dr, &wr, &at, &o.Result, &o.CancelReason,
		&o.CreatedAt, &o.AcceptedAt, &o.InProgressAt, &o.ResultReadyAt, &o.ConfirmedAt, &o.CancelledAt, &o.UpdatedAt, &o.Version)
	o.DoctorRequest, o.WorkerResult, o.Attachments = dr, wr, at
	return o, err
}

// loadOrder reads an order with its history; forUpdate locks its row until the transaction ends.
func loadOrder(ctx context.Context, q querier, id string, forUpdate bool) (*server.Order, error) {
	query := orderSelect + " WHERE o.id = $1"
	if forUpdate {
		query += " FOR NO KEY UPDATE OF o"
	}
	o, err := scanOrder(q.QueryRow(ctx, query, id))
	if err != nil {
		return nil, notFound(err, "order %q does not exist", id)
	}
	rows, err := q.Query(ctx, `SELECT h.id, h.action, h.actor_id, u.name, h.from_status, h.to_status, h.from_worker,
		h.to_worker, h.reason, h.client_addr, h.at FROM order_history h JOIN users u ON u.id = h.actor_id
		WHERE h.order_id = $1 ORDER BY h.id`, id)
	history, err := collect(rows, err, func(r rowScanner) (server.OrderHistory, error) {
		var h server.OrderHistory
		err := r.Scan(&h.ID, &h.Action, &h.ActorID, &h.ActorName, &h.FromStatus, &h.ToStatus, &h.FromWorker, &h.ToWorker,
			&h.Reason, &h.ClientAddr, &h.At)
		return h, err
	})
	if err != nil {
		return nil, err
	}
	if len(history) > 0 {
		o.History = history
	}
	return o, nil
}

// CreateOrder stores o with a new ID and its creation history.
func (s *Store) CreateOrder(ctx context.Context, o *server.Order, h server.OrderHistory) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		n, err := nextID(ctx, tx, "ocs")
		if err != nil {
			return err
		}
		o.ID = fmt.Sprintf("ocs_%04d", n)
		if _, err := tx.Exec(ctx, `INSERT INTO orders (id, patient_id, doctor_id, job_role, job_type, status, priority,
			doctor_request, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			o.ID, o.PatientID, o.DoctorID, o.JobRole, o.JobType, o.Status, o.Priority, nullJSON(o.DoctorRequest),
			o.CreatedAt, o.UpdatedAt, o.Version); err != nil {
			return err
		}
		noteObject(ctx, "order", o.ID, o.PatientID)
		return saveOrderEffects(ctx, tx, o, h, "created")
	})
}

// saveOrderEffects writes an order's history entry and its change-feed entry, and reloads the order.
func saveOrderEffects(ctx context.Context, tx pgx.Tx, o *server.Order, h server.OrderHistory, op string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO order_history (order_id, action, actor_id, from_status, to_status,
		from_worker, to_worker, reason, client_addr, at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		o.ID, h.Action, h.ActorID, h.FromStatus, h.ToStatus, h.FromWorker, h.ToWorker, h.Reason, h.ClientAddr, h.At,
		nullText(h.IdempotencyKey)); err != nil {
		return err
	}
	stored, err := loadOrder(ctx, tx, o.ID, false)
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
	return loadOrder(ctx, s.pool, id, false)
}

// ListOrders lists the orders scope sees, newest first, without their history.
func (s *Store) ListOrders(ctx context.Context, scope server.Scope, f server.OrderFilter) ([]*server.Order, error) {
	var args params
	where := []string{orderScope(scope, &args)}
	add := func(column string, v any) { where = append(where, column+" = "+args.add(v)) }
	if f.Status != "" {
		add("o.status", string(f.Status))
	}
	if f.JobRole != "" {
		add("o.job_role", string(f.JobRole))
	}
	if f.PatientID != 0 {
		add("o.patient_id", f.PatientID)
	}
	if f.DoctorID != 0 {
		add("o.doctor_id", f.DoctorID)
	}
	if f.WorkerID != 0 {
		add("o.worker_id", f.WorkerID)
	}
	if f.Unassigned {
		where = append(where, "o.worker_id IS NULL")
	}
	limit := args.add(limitOf(f.Limit, 100, 1000))
	rows, err := s.pool.Query(ctx, orderSelect+" WHERE "+strings.Join(where, " AND ")+
		" ORDER BY o.created_at DESC, o.id DESC LIMIT "+limit, args...)
	return collect(rows, err, scanOrder)
}

// UpdateOrder runs fn on an order, its row locked, and stores the result unless fn fails.
func (s *Store) UpdateOrder(ctx context.Context, id, key string, fn func(*server.Order) (server.OrderHistory, error)) (*server.Order, error) {
	var o *server.Order
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if o, err = loadOrder(ctx, tx, id, true); err != nil {
			return err
		}
		if key != "" {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM order_history WHERE order_id = $1 AND idempotency_key = $2", id, key).Scan(&n); err != nil {
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
		tag, err := tx.Exec(ctx, `UPDATE orders SET worker_id = $1, status = $2, priority = $3, doctor_request = $4,
			worker_result = $5, attachments = $6, result = $7, cancel_reason = $8, accepted_at = $9, in_progress_at = $10,
			result_ready_at = $11, confirmed_at = $12, cancelled_at = $13, updated_at = $14, version = $15
			WHERE id = $16 AND version = $17`,
			o.WorkerID, o.Status, o.Priority, nullJSON(o.DoctorRequest), nullJSON(o.WorkerResult), nullJSON(o.Attachments),
			o.Result, o.CancelReason, o.AcceptedAt, o.InProgressAt, o.ResultReadyAt, o.ConfirmedAt, o.CancelledAt,
			o.UpdatedAt, o.Version, id, version)
		if err != nil {
			return err
		}
		if n := tag.RowsAffected(); n != 1 {
			return fmt.Errorf("update order %s: version %d changed underneath (%d rows)", id, version, n)
		}
		return saveOrderEffects(ctx, tx, o, h, "updated")
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// orderPatient returns the patient of an order inside a transaction.
func orderPatient(ctx context.Context, tx pgx.Tx, id string) (int64, error) {
	var patientID int64
	err := tx.QueryRow(ctx, "SELECT patient_id FROM orders WHERE id = $1", id).Scan(&patientID)
	return patientID, notFound(err, "order %q does not exist", id)
}

// nullText stores "" as NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}
