package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// call is one request as handlers see it.
type call struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	route *Route
	p     server.Principal // zero on public routes
	start time.Time

	// audit details the handler adds; the middleware writes the record.
	objectType, objectID, detail, loginID string
	patientID                             *int64
	action                                string // overrides the route's action (auth events)
	refusedAction                         string // the action of a write that answers a refusal
	auditAlways                           bool   // write a record even on a route without PatientData
	reachedNone                           bool   // the call read and wrote nothing (an empty claim): no record unless refused

	// The answer of a JSON handler is held until its audit record is committed.
	status    int
	body      []byte
	header    http.Header
	streamed  bool // the handler wrote the answer itself (proxy, WebSocket)
	auditDone bool // the handler committed its audit record itself, before streaming

	// txAudit is the record the store inserts with the call's first write; okStatus is the status that
	// record names (the handler's answer when the write succeeds; 200 unless the handler says otherwise).
	txAudit  *server.TxAudit
	okStatus int
}

// expect names the status the call answers if its write succeeds, for the record committed with the write.
func (c *call) expect(status int) { c.okStatus = status }

// writeRecord is the record committed with the call's first write (server.TxAudit): the call as it will
// answer when the write commits, or the refusal the write is the store's answer to.
func (c *call) writeRecord(refusal error) server.AuditRecord {
	if refusal == nil {
		return c.auditRecord(c.okStatus)
	}
	rec := c.auditRecord(api.StatusOf(server.ErrorCodeOf(refusal)))
	if c.refusedAction != "" {
		rec.Action = c.refusedAction
	}
	return rec
}

func errorf(code api.ErrorCode, format string, args ...any) error {
	return server.Errorf(code, format, args...)
}

// serve wraps a route's handler in the chain every request goes through: authenticate, admit (revocation and
// rate limit), the password-change gate, the role check, the handler, the audit record, the answer.
func (s *Server) serve(rt *Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{s: s, w: w, r: r, route: rt, start: time.Now(), header: http.Header{}, okStatus: http.StatusOK}
		c.txAudit = &server.TxAudit{Record: c.writeRecord}
		c.ctx = server.WithTxAudit(r.Context(), c.txAudit)
		addr := s.clientAddr(r)
		err := c.guard(addr)
		if err == nil {
			err = c.runHandler()
		}
		c.finish(err)
	})
}

func (c *call) runHandler() (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err = fmt.Errorf("panic in %s: %v\n%s", c.route.Name(), v, debug.Stack())
		}
	}()
	return c.route.handle(c)
}

// guard authenticates and authorises the request.
func (c *call) guard(addr string) error {
	rt, s := c.route, c.s
	c.p.ClientAddr = addr
	if rt.Public() {
		if !rt.RateLimited {
			return nil
		}
		return c.rateLimit("ip:" + addr)
	}
	token, ok := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return errorf(api.CodeUnauthorized, "this route needs an access token: send Authorization: Bearer <token>")
	}
	p, err := s.Issuer.Verify(token)
	if err != nil {
		return err
	}
	p.ClientAddr = addr
	c.p = p // the signature holds: records of what is refused below name the account
	if err := s.Store.CheckAccess(c.ctx, p); err != nil {
		return err
	}
	if rt.RateLimited {
		if err := c.rateLimit("user:" + strconv.FormatInt(p.UserID, 10)); err != nil {
			return err
		}
	}
	if p.MustChangePassword && !rt.BeforePasswordChange {
		return errorf(api.CodePasswordChangeRequired, "change your password first (POST /api/auth/change-password/)")
	}
	if !slices.Contains(rt.Roles, p.Role) {
		return errorf(api.CodeForbidden, "role %s may not call %s", p.Role, rt.Name())
	}
	return nil
}

// rateLimit takes one request from the bucket of key.
func (c *call) rateLimit(key string) error {
	wait, err := c.s.Gate.Admit(c.ctx, key)
	if err != nil || wait <= 0 {
		return err
	}
	c.w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return errorf(api.CodeRateLimited, "rate limit reached; retry in %v", wait.Round(time.Millisecond))
}

// finish audits the call when its route asks for it and sends the answer held for it.
func (c *call) finish(err error) {
	if err != nil {
		c.setError(err)
	}
	code := api.ErrorCode("")
	if err != nil {
		code = server.ErrorCodeOf(err)
	}
	// Calls of patient-data routes leave a record, unless they reached nothing (a worker's poll of an empty
	// queue), and so does every refused attempt (no or a bad token, a forbidden role, an unknown route) on any
	// route; rate-limited calls do not, so that a flood stays a flood.
	denied := code == api.CodeUnauthorized || code == api.CodeForbidden || c.route.Action == unknownRoute
	if (c.route.PatientData && !c.reachedNone || c.auditAlways || denied) && code != api.CodeRateLimited && !c.auditDone && !c.txAudit.Stored() {
		if aerr := c.s.audit.record(c.ctx, c.auditRecord(c.status)); aerr != nil {
			c.s.log.Error("audit write failed; answer withheld", "route", c.route.Name(), "err", aerr)
			if !c.streamed {
				c.setError(fmt.Errorf("audit record for %s not stored: %w", c.route.Name(), aerr))
			}
		}
	}
	if c.txAudit.Stored() {
		c.s.kickRelay() // the write may have committed events
	}
	if c.streamed {
		return
	}
	for k, vs := range c.header {
		c.w.Header()[k] = vs
	}
	if c.body != nil {
		c.w.Header().Set("Content-Type", "application/json")
		c.w.Header().Set("Content-Length", strconv.Itoa(len(c.body)))
	}
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(c.status)
	if c.body != nil && c.r.Method != http.MethodHead {
		c.w.Write(c.body)
	}
}

// setError turns err into the answer: the *server.Error's code and message, or "internal error" (the full
// error goes to the log only).
func (c *call) setError(err error) {
	var se *server.Error
	var tooLarge *http.MaxBytesError
	status := http.StatusInternalServerError
	body := api.Error{Code: api.CodeInternal, Message: "internal error"}
	switch {
	case errors.As(err, &tooLarge): // also when it surfaced through a forwarded upload
		status, body = http.StatusRequestEntityTooLarge, api.Error{Code: api.CodeTooLarge,
			Message: fmt.Sprintf("request body exceeds %d bytes", tooLarge.Limit)}
	case errors.As(err, &se) && se.Code != api.CodeInternal:
		status = api.StatusOf(se.Code)
		body = api.Error{Code: se.Code, Message: se.Message, Remain: se.Remain}
	}
	level := c.s.log.Info
	if status >= 500 {
		level = c.s.log.Error
	}
	level("request failed", "route", c.route.Name(), "path", c.r.URL.Path, "user", c.p.LoginID, "status", status, "err", err)
	if c.streamed {
		return // the answer has begun; the log is all that is left
	}
	c.status = status
	c.body, _ = json.Marshal(body)
}

// json holds v as the answer with status.
func (c *call) json(status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal answer of %s: %w", c.route.Name(), err)
	}
	c.status, c.body = status, b
	return nil
}

// noContent holds an empty answer.
func (c *call) noContent() error {
	c.status, c.body = http.StatusNoContent, nil
	return nil
}

// Bounds of every JSON request body, beyond its size (free-form fields have tighter ones: server.MaxFieldDepth).
const (
	maxBodyDepth  = 32
	maxBodyValues = 1_000_000
)

// decode reads the JSON body into v: one object, no unknown fields, at most the route's MaxBody bytes.
func (c *call) decode(v any) error {
	limit := c.route.MaxBody
	if limit <= 0 {
		limit = 64 << 10
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errorf(api.CodeTooLarge, "request body exceeds %d bytes", limit)
		}
		return errorf(api.CodeInvalid, "cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(api.CodeInvalid, "request body is empty; %s expects a JSON object", c.route.Name())
	}
	if err := server.CheckJSONShape(body, maxBodyDepth, maxBodyValues); err != nil {
		return errorf(api.CodeInvalid, "request body of %s: %v", c.route.Name(), err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(api.CodeInvalid, "request body is not valid JSON for %s: %v", c.route.Name(), err)
	}
	if dec.More() {
		return errorf(api.CodeInvalid, "request body holds more than one JSON value")
	}
	return nil
}

// decodeOptional is decode for bodies that may be empty.
func (c *call) decodeOptional(v any) error {
	if c.r.ContentLength == 0 {
		return nil
	}
	return c.decode(v)
}

// idParam returns the path parameter name as a positive integer.
func (c *call) idParam(name string) (int64, error) {
	v := c.r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(api.CodeInvalid, "%s %q in the path must be a positive integer", name, v)
	}
	return id, nil
}

// queryInt returns an integer query parameter, or def when absent.
func (c *call) queryInt(name string, def int64) (int64, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errorf(api.CodeInvalid, "query parameter %s=%q must be a non-negative integer", name, v)
	}
	return n, nil
}

// queryTime returns an RFC 3339 query parameter, or the zero time when absent.
func (c *call) queryTime(name string) (time.Time, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errorf(api.CodeInvalid, "query parameter %s=%q must be an RFC 3339 time", name, v)
	}
	return t, nil
}

// about notes the patient data a call touched, for its audit record.
func (c *call) about(objectType, objectID string, patientID int64) {
	c.objectType, c.objectID = objectType, objectID
	if patientID > 0 {
		c.patientID = &patientID
	}
}

// clientAddr is the caller's IP address: the peer's, or — when the peer is a trusted proxy (the load balancer
// in front of the replicas) — the last address that proxy appended to X-Forwarded-For. A header from anyone
// else is ignored: the seed trusted it from everyone, which let any client choose its address.
func (s *Server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	hops := r.Header.Values("X-Forwarded-For")
	if len(hops) == 0 {
		return host
	}
	parts := strings.Split(hops[len(hops)-1], ",")
	if fwd, err := netip.ParseAddr(strings.TrimSpace(parts[len(parts)-1])); err == nil {
		return fwd.Unmap().String()
	}
	return host
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
