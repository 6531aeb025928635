package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/neuronova/neuronova/server"
)

// eventsKept is how many events the outbox keeps: far more than a client could miss, bounded all the same.
const eventsKept = 100_000

// appendEvents puts a write's events into the outbox, inside its transaction.
func appendEvents(ctx context.Context, tx *sql.Tx, events []server.Event) error {
	for _, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("event %s: %w", e.Type, err)
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO events (at, data) VALUES (?, ?)", ts(time.Now()), string(data))
		if err != nil {
			return err
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if seq%1000 == 0 {
			if _, err := tx.ExecContext(ctx, "DELETE FROM events WHERE seq <= ?", seq-eventsKept); err != nil {
				return err
			}
		}
	}
	return nil
}

// EventsAfter returns up to limit events of the outbox after seq, oldest first.
func (s *Store) EventsAfter(ctx context.Context, seq int64, limit int) ([]server.Event, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT seq, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", seq, limitOf(limit, 500, 5000))
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
