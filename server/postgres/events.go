package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/server"
)

// appendEvents puts a write's events into the outbox, inside its transaction, after its change (the counter
// 'events' is taken last, so the locks are always taken in the same order).
func appendEvents(ctx context.Context, tx pgx.Tx, events []server.Event) error {
	for _, e := range events {
		data, err := server.EncodeEvent(e)
		if err != nil {
			return err
		}
		seq, err := nextID(ctx, tx, "events")
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO events (seq, at, data) VALUES ($1, $2, $3)", seq, time.Now(), data); err != nil {
			return err
		}
		if seq%server.EventsTrimEvery == 0 {
			if _, err := tx.Exec(ctx, "DELETE FROM events WHERE seq <= $1", seq-server.EventsKept); err != nil {
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
	return server.ReadEvents(rows)
}
