package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/neuronova/neuronova/server"
)

// appendEvents puts a write's events into the outbox, inside its transaction.
func appendEvents(ctx context.Context, tx *sql.Tx, events []server.Event) error {
	for _, e := range events {
		data, err := server.EncodeEvent(e)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO events (at, data) VALUES (?, ?)", ts(time.Now()), data)
		if err != nil {
			return err
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if seq%server.EventsTrimEvery == 0 {
			if _, err := tx.ExecContext(ctx, "DELETE FROM events WHERE seq <= ?", seq-server.EventsKept); err != nil {
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
	return server.ReadEvents(rows)
}
