package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/server"
)

// eventsKept is how many events the outbox keeps: far more than a client could miss, bounded all the same.
const eventsKept = 100_000

// appendEvents puts a write's events into the outbox, inside its transaction, after its change (the counter
// 'events' is taken last, so the locks are always taken in the same order).
func appendEvents(ctx context.Context, tx pgx.Tx, events []server.Event) error {
	for _, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("event %s: %w", e.Type, err)
		}
		seq, err := nextID(ctx, tx, "events")
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO events (seq, at, data) VALUES ($1, $2, $3)", seq, time.Now(), string(data)); err != nil {
			return err
		}
		if seq%1000 == 0 {
			if _, err := tx.Exec(ctx, "DELETE FROM events WHERE seq <= $1", seq-eventsKept); err != nil {
				return err
			}
		}
	}
	return nil
}

// EventsAfter returns up to limit events of the outbox after seq, oldest first.
func (s *Store) EventsAfter(ctx context.Context, seq int64, limit int) ([]server.Event, error) {
	rows, err := s.pool.Query(ctx, "SELECT seq, data::text FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", seq, limitOf(limit, 500, 5000))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []server.Event
	for rows.Next() {
		var e server.Event
		var data string
		if err := rows.Scan(&e.Seq, &data); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return nil, fmt.Errorf("event %d: %w", e.Seq, err)
		}
		e.ID = server.EventID(e.Seq)
		out = append(out, e)
	}
	return out, rows.Err()
}
