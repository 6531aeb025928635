package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// hub fans events from the bus out to the connected WebSocket clients entitled to each.
type hub struct {
	log     *slog.Logger
	mu      sync.Mutex
	clients map[*wsClient]struct{}
	closed  bool
}

type wsClient struct {
	p      server.Principal
	send   chan outgoing
	cancel context.CancelCauseFunc
}

// outgoing is one message for a client: a notification with its ID ("" for pongs and resyncs).
type outgoing struct {
	id string
	b  []byte
}

// replayLimit bounds what a reconnecting client is sent of what it missed; beyond, it is told to resync.
const replayLimit = 1000

// clientBuffer is how many events may wait for a slow client before it is disconnected (it then resyncs from
// the change feed).
const clientBuffer = 256

func newHub(log *slog.Logger) *hub { return &hub{log: log, clients: map[*wsClient]struct{}{}} }

func (h *hub) add(cl *wsClient) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.clients[cl] = struct{}{}
	return true
}

func (h *hub) remove(cl *wsClient) {
	h.mu.Lock()
	delete(h.clients, cl)
	h.mu.Unlock()
}

// deliver sends e to every client entitled to it.
func (h *hub) deliver(e server.Event) {
	b, err := json.Marshal(e.Notification)
	if err != nil {
		h.log.Error("notification not delivered", "type", e.Type, "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for cl := range h.clients {
		if !e.Entitled(cl.p) {
			continue
		}
		select {
		case cl.send <- outgoing{e.ID, b}:
		default:
			cl.cancel(errSlowClient)
		}
	}
}

// closeAll closes every client with why and accepts no new one.
func (h *hub) closeAll(why *closeReason) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for cl := range h.clients {
		cl.cancel(why)
	}
}

type closeReason struct {
	code websocket.StatusCode
	text string
}

func (r *closeReason) Error() string { return r.text }

var (
	errSlowClient = &closeReason{websocket.StatusPolicyViolation, "too slow to keep up; reconnect and resync from the change feed"}
	errShutdown   = &closeReason{websocket.StatusGoingAway, "server shutting down"}
	errRestart    = &closeReason{websocket.StatusServiceRestart, "this server is restarting; reconnect"}
	errExpired    = &closeReason{websocket.StatusPolicyViolation, "access token expired; reconnect with a fresh token"}
)

// checkUpgrade refuses a request that is not a WebSocket opening handshake (RFC 6455 §4.2.1), before anything
// is recorded as a connection.
func checkUpgrade(r *http.Request) error {
	hasToken := func(header, token string) bool {
		for _, v := range r.Header.Values(header) {
			for _, t := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(t), token) {
					return true
				}
			}
		}
		return false
	}
	switch {
	case !hasToken("Connection", "upgrade") || !hasToken("Upgrade", "websocket"):
		return errorf(api.CodeInvalid, "this route is a WebSocket: send Connection: Upgrade and Upgrade: websocket")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return errorf(api.CodeInvalid, "WebSocket version %q is not supported; use 13", r.Header.Get("Sec-WebSocket-Version"))
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return errorf(api.CodeInvalid, "WebSocket handshake lacks Sec-WebSocket-Key")
	case r.Header.Get(api.LastEventIDHeader) != "" && !server.ValidEventID(r.Header.Get(api.LastEventIDHeader)):
		return errorf(api.CodeInvalid, "%s %q is not a notification ID", api.LastEventIDHeader, r.Header.Get(api.LastEventIDHeader))
	}
	return nil
}

// notifications upgrades to a WebSocket that carries the events the caller is entitled to until the access
// token expires. The token comes in the Authorization header, never in the URL (where the seed put it, and
// where proxies log it). The client may send {"type":"ping"}; the server answers {"type":"pong"}.
func (s *Server) notifications(c *call) error {
	c.objectType = "notifications"
	if err := checkUpgrade(c.r); err != nil {
		return err // an ordinary HTTP answer, audited as such
	}
	c.auditDone = true
	if err := s.audit.record(c.ctx, c.auditRecord(http.StatusSwitchingProtocols)); err != nil {
		return err
	}
	conn, err := websocket.Accept(c.w, c.r, nil)
	c.streamed = true // Accept answered, with the upgrade or with its own error
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(c.ctx))
	defer cancel(nil)
	cl := &wsClient{p: c.p, send: make(chan outgoing, clientBuffer), cancel: cancel}
	if !s.hub.add(cl) {
		why := errShutdown
		if s.draining.Load() {
			why = errRestart
		}
		conn.Close(why.code, why.text)
		return nil
	}
	defer s.hub.remove(cl)
	expiry := time.AfterFunc(time.Until(c.p.ExpiresAt), func() { cancel(errExpired) })
	defer expiry.Stop()

	go func() {
		for {
			// Not ctx: the library closes the connection at once when a read's context ends, which would
			// drop the close frame that tells the client why (and whether to reconnect). The read ends when
			// the handler closes the connection on its way out.
			typ, msg, err := conn.Read(context.Background())
			if err != nil {
				cancel(err)
				return
			}
			var in struct{ Type string }
			if typ == websocket.MessageText && json.Unmarshal(msg, &in) == nil && in.Type == "ping" {
				pong, _ := json.Marshal(api.Notification{Type: api.EventPong, At: time.Now().UTC()})
				select {
				case cl.send <- outgoing{b: pong}:
				default:
					cancel(errSlowClient)
				}
			}
		}
	}()
	w := &wsWriter{conn: conn, ctx: ctx}
	// What the client missed, read after it joined the hub: a notification published meanwhile comes both ways,
	// and the writer sends each ID once, in order.
	if after := c.r.Header.Get(api.LastEventIDHeader); after != "" {
		w.last = after
		s.replay(ctx, cl, w, after)
	}
	for w.err == nil {
		select {
		case <-ctx.Done():
			if r, ok := context.Cause(ctx).(*closeReason); ok {
				conn.Close(r.code, r.text)
			} else {
				conn.CloseNow()
			}
			return nil
		case m := <-cl.send:
			w.send(m)
		}
	}
	conn.CloseNow()
	return nil
}

// replay sends cl what it is entitled to of the notifications published after the one it last received, or a
// resync notice when some of them are no longer kept.
func (s *Server) replay(ctx context.Context, cl *wsClient, w *wsWriter, after string) {
	events, gap, err := s.Bus.Since(ctx, after, replayLimit)
	if err != nil {
		s.log.Warn("notifications not replayed; the client is told to resync", "user", cl.p.LoginID, "err", err)
		gap = true
	}
	if gap || len(events) == replayLimit {
		b, _ := json.Marshal(api.Notification{Type: api.EventResync, At: time.Now().UTC(),
			Message: "some notifications were missed: reread the change feed"})
		w.send(outgoing{b: b})
	}
	for _, e := range events {
		if e.Entitled(cl.p) {
			b, err := json.Marshal(e.Notification)
			if err == nil {
				w.send(outgoing{e.ID, b})
			}
		}
	}
}

// wsWriter writes a client's messages, notifications once each and in ID order.
type wsWriter struct {
	conn *websocket.Conn
	ctx  context.Context
	last string // the ID of the last notification sent
	err  error
}

func (w *wsWriter) send(m outgoing) {
	if w.err != nil {
		return
	}
	if m.id != "" {
		if w.last != "" && !server.EventIDLess(w.last, m.id) {
			return // sent already, by the replay
		}
		w.last = m.id
	}
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	w.err = w.conn.Write(ctx, websocket.MessageText, m.b)
	cancel()
}
