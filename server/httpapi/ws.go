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
	send   chan []byte
	cancel context.CancelCauseFunc
}

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
		case cl.send <- b:
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
	cl := &wsClient{p: c.p, send: make(chan []byte, clientBuffer), cancel: cancel}
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
				case cl.send <- pong:
				default:
					cancel(errSlowClient)
				}
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			if r, ok := context.Cause(ctx).(*closeReason); ok {
				conn.Close(r.code, r.text)
			} else {
				conn.CloseNow()
			}
			return nil
		case b := <-cl.send:
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Write(wctx, websocket.MessageText, b)
			wcancel()
			if err != nil {
				conn.CloseNow()
				return nil
			}
		}
	}
}
