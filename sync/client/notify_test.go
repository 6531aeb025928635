package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neuronova/neuronova/api"
)

// TestNotifications: the stream opens with the token in the Authorization header and Last-Event-ID, refreshes
// an expired token once, skips pongs, and ends with an offline error when the server closes it.
func TestNotifications(t *testing.T) {
	var lastEventID string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens := func(access string) {
			json.NewEncoder(w).Encode(api.Tokens{Access: access, Refresh: "r-" + access, AccessExpiresAt: time.Now().Add(time.Hour),
				RefreshExpiresAt: time.Now().Add(time.Hour)})
		}
		switch r.URL.Path {
		case "/api/auth/login/":
			tokens("old")
		case "/api/auth/refresh/":
			tokens("new")
		case "/ws/notifications":
			if r.Header.Get("Authorization") != "Bearer new" {
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(api.Error{Code: api.CodeUnauthorized, Message: "token expired"})
				return
			}
			lastEventID = r.Header.Get(api.LastEventIDHeader)
			conn, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			for _, m := range []string{`{"id":"17-0","type":"OCS_CREATED","order_id":"ocs_0001"}`, `{"type":"pong"}`,
				`{"id":"18-0","type":"RESYNC"}`} {
				conn.Write(r.Context(), websocket.MessageText, []byte(m))
			}
			conn.Close(websocket.StatusGoingAway, "server shutting down")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Login(ctx, "ris1", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notifications(ctx, "not an ID"); err == nil {
		t.Fatal("a malformed Last-Event-ID was sent")
	}
	s, err := c.Notifications(ctx, "16-0")
	if err != nil {
		t.Fatal(err)
	}
	if lastEventID != "16-0" {
		t.Errorf("Last-Event-ID %q, want 16-0", lastEventID)
	}
	var got []string
	for {
		n, err := s.Next(ctx)
		if err != nil {
			if !IsOffline(err) {
				t.Errorf("end of the stream: %v, want an offline error", err)
			}
			break
		}
		got = append(got, n.ID+" "+n.Type)
	}
	if len(got) != 2 || got[0] != "17-0 OCS_CREATED" || got[1] != "18-0 RESYNC" {
		t.Errorf("notifications %q", got)
	}
}

func FuzzParseNotification(f *testing.F) {
	f.Add([]byte(`{"id":"1700000000000-0","type":"OCS_CREATED","order_id":"ocs_0001","patient_id":3}`))
	f.Add([]byte(`{"type":"RESYNC"}`))
	f.Add([]byte(`{"id":"x","type":"pong"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNotification(b)
		if err != nil {
			return
		}
		if n.Type == "" || (n.ID != "" && !ValidEventID(n.ID)) {
			t.Fatalf("accepted %+v", n)
		}
		again, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := ParseNotification(again); err != nil || m.ID != n.ID || m.Type != n.Type || m.OrderID != n.OrderID {
			t.Fatalf("round trip: %+v → %+v %v", n, m, err)
		}
	})
}
