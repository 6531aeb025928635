package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/coder/websocket"

	"github.com/neuronova/neuronova/api"
)

// maxNotification bounds one notification read from the WebSocket (they are a few hundred bytes).
const maxNotification = 64 << 10

// NotificationStream is an open /ws/notifications connection.
type NotificationStream struct {
	conn *websocket.Conn
}

// Notifications opens the server's notification WebSocket, with the access token in the Authorization
// header (never in the URL) and, when lastEventID is not empty, Last-Event-ID: the server then first sends
// what the user is entitled to of the notifications after it, or RESYNC when it no longer keeps them. An
// answer 401 makes it refresh the tokens once and try again.
func (c *Client) Notifications(ctx context.Context, lastEventID string) (*NotificationStream, error) {
	if lastEventID != "" && !ValidEventID(lastEventID) {
		return nil, fmt.Errorf("%q is not a notification ID", lastEventID)
	}
	u := *c.base
	u.Path += "/ws/notifications"
	for attempt := 0; ; attempt++ {
		tok, err := c.access(ctx)
		if err != nil {
			return nil, err
		}
		h := http.Header{"Authorization": {"Bearer " + tok}}
		if lastEventID != "" {
			h.Set(api.LastEventIDHeader, lastEventID)
		}
		dctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
		conn, resp, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPClient: c.wsHTTP(), HTTPHeader: h})
		cancel()
		if err == nil {
			conn.SetReadLimit(maxNotification)
			return &NotificationStream{conn: conn}, nil
		}
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case resp == nil:
			return nil, &OfflineError{Err: fmt.Errorf("GET /ws/notifications: %w", err)}
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			if rerr := c.Refresh(ctx); rerr != nil {
				return nil, fmt.Errorf("GET /ws/notifications: %w", rerr)
			}
			continue
		case resp.StatusCode/100 != 1 && resp.StatusCode/100 != 2:
			return nil, fmt.Errorf("GET /ws/notifications: %w", readError(resp))
		}
		return nil, &OfflineError{Err: fmt.Errorf("GET /ws/notifications: %w", err)}
	}
}

// wsHTTP is the client's HTTP client for WebSocket handshakes: HTTP/1.1 only (an upgrade cannot ride on
// HTTP/2, which TLS would otherwise negotiate), no overall timeout (the connection lives for hours).
func (c *Client) wsHTTP() *http.Client {
	tr, ok := c.hc.Transport.(*http.Transport)
	if !ok {
		return c.hc
	}
	tr = tr.Clone()
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return &http.Client{Transport: tr}
}

// Next returns the next notification (pongs are skipped). An error ends the stream: the connection closed
// (IsOffline: reconnect), or the server sent something that is not a notification.
func (s *NotificationStream) Next(ctx context.Context) (api.Notification, error) {
	for {
		typ, b, err := s.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return api.Notification{}, ctx.Err()
			}
			return api.Notification{}, &OfflineError{Err: fmt.Errorf("notifications: %w", err)}
		}
		if typ != websocket.MessageText {
			return api.Notification{}, errors.New("notifications: the server sent a binary message")
		}
		n, err := ParseNotification(b)
		if err != nil {
			return n, err
		}
		if n.Type != api.EventPong {
			return n, nil
		}
	}
}

// Ping asks the server for a pong, which keeps idle proxies from closing the connection.
func (s *NotificationStream) Ping(ctx context.Context) error {
	b, _ := json.Marshal(map[string]string{"type": "ping"})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, b)
}

// Close closes the connection.
func (s *NotificationStream) Close() error { return s.conn.Close(websocket.StatusNormalClosure, "") }

// eventID matches a notification ID: "<ms>-<n>", as Redis streams number their entries.
var eventID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// ValidEventID reports whether s is a notification ID.
func ValidEventID(s string) bool { return eventID.MatchString(s) }

// ParseNotification reads one notification and checks what the workstation relies on: a type, and an ID
// (when present) of the form the server gives, which the client sends back as Last-Event-ID.
func ParseNotification(b []byte) (api.Notification, error) {
	var n api.Notification
	if len(b) > maxNotification {
		return n, fmt.Errorf("notification of %d bytes, more than %d", len(b), maxNotification)
	}
	if err := json.Unmarshal(b, &n); err != nil {
		return api.Notification{}, fmt.Errorf("notification: %w", err)
	}
	switch {
	case n.Type == "" || len(n.Type) > 64:
		return api.Notification{}, errors.New("notification without a type")
	case n.ID != "" && !ValidEventID(n.ID):
		return api.Notification{}, fmt.Errorf("notification ID %q is malformed", n.ID)
	}
	return n, nil
}
