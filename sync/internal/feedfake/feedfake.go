// Package feedfake is an in-memory stand-in for the server's login, change-feed and audit routes, for fast
// unit tests of the workstation's feed path (an httptest server on loopback). Changes are served exactly
// as added, so a test can put any bytes in the feed; the real server is tested with the real stack.
package feedfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/neuronova/neuronova/api"
)

// Server answers POST /api/auth/login/ (any password), GET /api/changes/ and POST /api/audit/events/.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	seqs    []int64  // of the changes, increasing
	raws    [][]byte // the JSON of each change, served as it is
	cursors []int64  // the cursors asked for, in order
}

// New starts a server; it is closed at the end of the test by Close.
func New() *Server {
	s := &Server{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth/login/", s.login)
	mux.HandleFunc("GET /api/changes/", s.changes)
	mux.HandleFunc("POST /api/audit/events/", s.audit)
	s.Server = httptest.NewServer(mux)
	return s
}

// Add appends a change with this seq (larger than any before) whose JSON is raw, served as it is.
func (s *Server) Add(seq int64, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seqs = append(s.seqs, seq)
	s.raws = append(s.raws, raw)
}

// Change is the JSON of a well-formed change.
func Change(seq int64, kind, objectID string, data any) []byte {
	d, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	b, err := json.Marshal(api.Change{Seq: seq, Kind: kind, ObjectID: objectID, Op: "created", At: time.Unix(1_800_000_000, 0).UTC(), Data: d})
	if err != nil {
		panic(err)
	}
	return b
}

// Cursors returns the cursors the feed was asked for, in order.
func (s *Server) Cursors() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.cursors...)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req api.LoginRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now().UTC()
	writeJSON(w, api.Tokens{Access: "access", Refresh: "refresh", AccessExpiresAt: now.Add(time.Hour), RefreshExpiresAt: now.Add(24 * time.Hour),
		User: api.User{ID: 1, LoginID: req.LoginID, Name: req.LoginID, Role: api.RoleRIS, IsActive: true, CreatedAt: now}})
}

// changes writes the page after ?cursor= of at most ?limit= changes, its changes' bytes as they were added.
func (s *Server) changes(w http.ResponseWriter, r *http.Request) {
	cursor, err1 := strconv.ParseInt(r.URL.Query().Get("cursor"), 10, 64)
	limit, err2 := strconv.Atoi(r.URL.Query().Get("limit"))
	if err1 != nil || err2 != nil || limit < 1 {
		http.Error(w, "bad cursor or limit", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.cursors = append(s.cursors, cursor)
	var b bytes.Buffer
	b.WriteString(`{"changes":[`)
	next, n, more := cursor, 0, false
	for i, seq := range s.seqs {
		if seq <= cursor {
			continue
		}
		if n == limit {
			more = true
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(s.raws[i])
		next, n = seq, n+1
	}
	s.mu.Unlock()
	fmt.Fprintf(&b, `],"next_cursor":%d,"has_more":%t}`, next, more)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	var batch api.AuditBatch
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, api.AuditBatchResult{Stored: len(batch.Events)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
