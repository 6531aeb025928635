package cache

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/neuronova/neuronova/api"
)

// This file is the AI results of a study as the server holds them: the change feed's copies, each tied to
// the local run it was uploaded from, if any, so that a result is listed once.

// ServerResult is an AI result of a study that the change feed brought.
type ServerResult struct {
	api.AIResult
	// Local is the run (ResultVersion.Run) of this cache the result was uploaded from; 0 when it came from
	// elsewhere (another workstation, the server's worker).
	Local int64
	// CreatorName and ReviewerName are the names of its creator and reviewer as the order's doctor or
	// worker; "" when the feed does not name them.
	CreatorName, ReviewerName string
}

// confirmedPrefix begins the confirmation the sync engine records for an uploaded AI result:
// "ai_result <id>", then " (replayed)" when the server had it already.
const confirmedPrefix = api.KindAIResult + " "

// ConfirmedResultID returns the server's result id a confirmation names, or "".
func ConfirmedResultID(confirmation string) string {
	rest, ok := strings.CutPrefix(confirmation, confirmedPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, " ")
	return id
}

// StudyServerResults lists the AI results of a study the change feed brought (withdrawn ones left out),
// newest first. A result uploaded from this cache names its local run: by the server's id recorded when the
// upload was confirmed, else (a confirmation not yet recorded) by the same result JSON.
func (c *Cache) StudyServerResults(ctx context.Context, studyUID string) ([]ServerResult, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT object_id, data FROM remote_objects WHERE kind = ?
		AND json_extract(data, '$.study_uid') = ? AND json_extract(data, '$.withdrawn_at') IS NULL`, api.KindAIResult, studyUID)
	if err != nil {
		return nil, fmt.Errorf("server results of study %s: %w", studyUID, err)
	}
	var out []ServerResult
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			rows.Close()
			return nil, fmt.Errorf("server results of study %s: %w", studyUID, err)
		}
		var r ServerResult
		if err := json.Unmarshal([]byte(data), &r.AIResult); err != nil {
			rows.Close()
			return nil, fmt.Errorf("server result %s of study %s: %w", id, studyUID, err)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("server results of study %s: %w", studyUID, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	if err := c.matchUploads(ctx, studyUID, out); err != nil {
		return nil, err
	}
	names := c.orderNames(ctx)
	for i := range out {
		r := &out[i]
		r.CreatorName = names.of(r.OrderID, r.CreatedBy)
		if r.ReviewedBy != nil {
			r.ReviewerName = names.of(r.OrderID, *r.ReviewedBy)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// upload is a result of this cache sent (or to be sent) to the server as an AI result.
type upload struct {
	run       int64
	confirmed string // the server's id, "" until confirmed
	payload   []byte
}

// matchUploads sets Local of the results in rs uploaded from study's results here.
func (c *Cache) matchUploads(ctx context.Context, studyUID string, rs []ServerResult) error {
	rows, err := c.rdb.QueryContext(ctx, `SELECT r.run_id, o.confirmation, coalesce(p.payload, x'')
		FROM results r JOIN outbox o ON o.kind = 'result.' || r.kind AND o.ref = CAST(r.id AS TEXT)
		LEFT JOIN result_payloads p ON p.result_id = r.id
		WHERE r.study_uid = ? AND r.kind NOT IN ('seg', 'sr')`, studyUID)
	if err != nil {
		return fmt.Errorf("uploads of study %s: %w", studyUID, err)
	}
	defer rows.Close()
	var ups []upload
	for rows.Next() {
		var u upload
		var confirmation string
		if err := rows.Scan(&u.run, &confirmation, &u.payload); err != nil {
			return fmt.Errorf("uploads of study %s: %w", studyUID, err)
		}
		u.confirmed = ConfirmedResultID(confirmation)
		ups = append(ups, u)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("uploads of study %s: %w", studyUID, err)
	}
	byID := map[string]int64{}
	for _, u := range ups {
		if u.confirmed != "" {
			byID[u.confirmed] = u.run
		}
	}
	for i := range rs {
		if run, ok := byID[rs[i].ID]; ok {
			rs[i].Local = run
			continue
		}
		for _, u := range ups {
			if u.confirmed == "" && sameResult(u.payload, rs[i].Result) {
				rs[i].Local = u.run
				break
			}
		}
	}
	return nil
}

// sameResult reports whether a kept payload (the pipeline's JSON, or an upload that wraps it) is the result
// the server stored, compacted as the server stores it.
func sameResult(payload []byte, stored json.RawMessage) bool {
	var up api.AIResultUpload
	if err := json.Unmarshal(payload, &up); err == nil && up.Model != "" && len(up.Result) > 0 {
		payload = up.Result
	}
	var a, b bytes.Buffer
	if json.Compact(&a, payload) != nil || json.Compact(&b, stored) != nil {
		return false
	}
	return a.Len() > 0 && bytes.Equal(a.Bytes(), b.Bytes())
}

type nameKey struct {
	order string
	user  int64
}

type userNames map[nameKey]string

// of is the name of user as order names it, else as any order names it, else "".
func (n userNames) of(order string, user int64) string {
	if name, ok := n[nameKey{order, user}]; ok {
		return name
	}
	return n[nameKey{"", user}]
}

// orderNames maps the users the cached orders name (their doctor and worker) to their names, per order and
// for any order (key order ""). Names that cannot be read are left out.
func (c *Cache) orderNames(ctx context.Context) userNames {
	out := userNames{}
	rows, err := c.rdb.QueryContext(ctx, `SELECT object_id, json_extract(data, '$.doctor_id'), json_extract(data, '$.doctor_name'),
		json_extract(data, '$.worker_id'), json_extract(data, '$.worker_name') FROM remote_objects WHERE kind = ?`, api.KindOrder)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var order string
		var doctor, worker sql.NullInt64
		var doctorName, workerName sql.NullString
		if rows.Scan(&order, &doctor, &doctorName, &worker, &workerName) != nil {
			continue
		}
		for _, u := range []struct {
			id   sql.NullInt64
			name sql.NullString
		}{{doctor, doctorName}, {worker, workerName}} {
			if u.id.Valid && u.name.String != "" {
				out[nameKey{order, u.id.Int64}] = u.name.String
				out[nameKey{"", u.id.Int64}] = u.name.String
			}
		}
	}
	return out
}
