package cache

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/neuronova/neuronova/viewer/measure"
)

// SaveMeasurement keeps a measurement (a new one, or a new state of one by its ID), under its series, plane,
// slice and image. The study need not be cached: measurements outlive evictions.
func (c *Cache) SaveMeasurement(ctx context.Context, m measure.Measurement) error {
	if m.ID == "" || m.SeriesUID == "" {
		return fmt.Errorf("save measurement: no ID or series")
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("save measurement %s: %w", m.ID, err)
	}
	sop := ""
	if m.Image != nil {
		sop = m.Image.SOPInstanceUID
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO measurements(id, study_uid, series_uid, sop_uid, plane, slice, user, data, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET study_uid = excluded.study_uid, series_uid = excluded.series_uid,
			sop_uid = excluded.sop_uid, plane = excluded.plane, slice = excluded.slice, user = excluded.user, data = excluded.data,
			updated_at = excluded.updated_at`,
			m.ID, m.StudyUID, m.SeriesUID, sop, int(m.Plane), m.Slice, m.User, string(data), nowMillis())
		if err != nil {
			return fmt.Errorf("save measurement %s: %w", m.ID, err)
		}
		return nil
	})
}

// DeleteMeasurement removes a measurement; removing one that is not there is not an error.
func (c *Cache) DeleteMeasurement(ctx context.Context, id string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM measurements WHERE id = ?`, id)
		return err
	})
}

// Measurements returns the measurements kept on the series with these SeriesInstanceUIDs, by series, plane,
// slice and time of the last change.
func (c *Cache) Measurements(ctx context.Context, seriesUIDs ...string) ([]measure.Measurement, error) {
	if len(seriesUIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(seriesUIDs))
	for i, u := range seriesUIDs {
		args[i] = u
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT id, data FROM measurements WHERE series_uid IN (?`+strings.Repeat(",?", len(args)-1)+`)
		ORDER BY series_uid, plane, slice, updated_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("measurements: %w", err)
	}
	defer rows.Close()
	var out []measure.Measurement
	var bad []string
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("measurements: %w", err)
		}
		var m measure.Measurement
		if err := json.Unmarshal([]byte(data), &m); err != nil || m.ID != id {
			bad = append(bad, id)
			continue
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("measurements: %w", err)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("measurements: %d could not be read (%s): %w", len(bad), strings.Join(bad, ", "), errUnreadable)
	}
	return out, nil
}

// errUnreadable marks stored records that no longer decode.
var errUnreadable = errors.New("unreadable record")
