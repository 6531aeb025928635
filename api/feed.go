package api

import (
	"encoding/json"
	"time"
)

// Kinds of objects in the change feed.
const (
	KindPatient  = "patient"
	KindOrder    = "order"
	KindAIResult = "ai_result"
)

// Change is one entry of the change feed: the object as it was right after the change.
type Change struct {
	Seq      int64           `json:"seq"`
	Kind     string          `json:"kind"`
	ObjectID string          `json:"object_id"`
	Op       string          `json:"op"` // created, updated or withdrawn
	At       time.Time       `json:"at"`
	Data     json.RawMessage `json:"data"`
}

// ChangesPage is the answer of GET /api/changes/?cursor=N: changes after N; pass NextCursor to get more.
type ChangesPage struct {
	Changes    []Change `json:"changes"`
	NextCursor int64    `json:"next_cursor"`
	HasMore    bool     `json:"has_more"`
}
