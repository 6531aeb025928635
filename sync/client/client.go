// Package client is the workstation's one HTTP client of the NeuroNova server API: login and token refresh,
// the change feed, AI result upload with an Idempotency-Key, audit forwarding, and the Orthanc proxy (study
// listings, instance download with MD5, transcoding, instance upload). It keeps the tokens in memory only;
// sync/engine caches a hash of the password for offline login.
//
// Errors from the server are *api.Error (with Status set); errors that mean "the server cannot be reached
// now" (connection refused or cut, timeouts, 502/503/504) satisfy IsOffline.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/neuronova/neuronova/api"
)

// Options configures New. The zero value is usable.
type Options struct {
	// HTTP is the client to use; nil means one with sensible timeouts and 8 connections per host.
	HTTP *http.Client
	// RequestTimeout bounds each API call but downloads (default 30 s); downloads are bounded by
	// DownloadTimeout (default 10 min).
	RequestTimeout, DownloadTimeout time.Duration
	// MaxFeedPage bounds the bytes of one change-feed page read (default MaxFeedPage).
	MaxFeedPage int64
}

// Client calls one server. It is safe for concurrent use.
type Client struct {
	base *url.URL
	hc   *http.Client
	opts Options

	mu      sync.Mutex
	tokens  *api.Tokens
	refresh chan struct{} // non-nil while a refresh runs; closed when it ends
}

// New makes a client of the server at baseURL (http://host:port).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://host:port or https://host:port", baseURL)
	}
	if opts.HTTP == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		tr.MaxConnsPerHost = 0
		tr.ResponseHeaderTimeout = 60 * time.Second
		tr.ReadBufferSize = 256 << 10 // studies stream in: a few large reads rather than many 4 KiB ones
		tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		opts.HTTP = &http.Client{Transport: tr}
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.DownloadTimeout <= 0 {
		opts.DownloadTimeout = 10 * time.Minute
	}
	if opts.MaxFeedPage <= 0 {
		opts.MaxFeedPage = MaxFeedPage
	}
	return &Client{base: u, hc: opts.HTTP, opts: opts}, nil
}

// BaseURL is the server's address.
func (c *Client) BaseURL() string { return c.base.String() }

// ErrNotLoggedIn is returned by calls that need a token before Login succeeded (or after Logout).
var ErrNotLoggedIn = errors.New("not logged in to the server")

// OfflineError wraps an error that means the server cannot be reached now; retry later.
type OfflineError struct{ Err error }

func (e *OfflineError) Error() string { return "server unreachable: " + e.Err.Error() }
func (e *OfflineError) Unwrap() error { return e.Err }

// IsOffline reports whether err means the server (or Orthanc behind it) cannot be reached now: a later
// attempt may succeed.
func IsOffline(err error) bool {
	var oe *OfflineError
	if errors.As(err, &oe) {
		return true
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Status == http.StatusBadGateway || ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusGatewayTimeout ||
			ae.Status == http.StatusTooManyRequests || ae.Status >= 500
	}
	return false
}

// IsCode reports whether err is an API error with code.
func IsCode(err error, code api.ErrorCode) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Code == code
}

// StatusOf returns the HTTP status of an API error, 0 for other errors.
func StatusOf(err error) int {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// Tokens returns the current tokens (nil before login).
func (c *Client) Tokens() *api.Tokens {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == nil {
		return nil
	}
	t := *c.tokens
	return &t
}

// Login logs in and keeps the tokens.
func (c *Client) Login(ctx context.Context, loginID, password string) (*api.Tokens, error) {
	var t api.Tokens
	if err := c.call(ctx, http.MethodPost, "/api/auth/login/", nil, api.LoginRequest{LoginID: loginID, Password: password}, &t, false); err != nil {
		return nil, fmt.Errorf("login as %s: %w", loginID, err)
	}
	c.mu.Lock()
	c.tokens = &t
	c.mu.Unlock()
	return &t, nil
}

// Logout revokes the refresh token (best effort) and forgets the tokens.
func (c *Client) Logout(ctx context.Context) error {
	t := c.Tokens()
	if t == nil {
		return nil
	}
	err := c.call(ctx, http.MethodPost, "/api/auth/logout/", nil, api.RefreshRequest{Refresh: t.Refresh}, nil, true)
	c.mu.Lock()
	c.tokens = nil
	c.mu.Unlock()
	return err
}

// Me returns the logged-in user as the server sees it.
func (c *Client) Me(ctx context.Context) (*api.User, error) {
	var u api.User
	if err := c.call(ctx, http.MethodGet, "/api/auth/me/", nil, nil, &u, true); err != nil {
		return nil, err
	}
	return &u, nil
}

// Refresh exchanges the refresh token for new tokens (refresh tokens are single-use). Concurrent callers
// share one refresh.
func (c *Client) Refresh(ctx context.Context) error {
	c.mu.Lock()
	if c.tokens == nil {
		c.mu.Unlock()
		return ErrNotLoggedIn
	}
	if wait := c.refresh; wait != nil {
		c.mu.Unlock()
		select {
		case <-wait:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	old := c.tokens.Refresh
	done := make(chan struct{})
	c.refresh = done
	c.mu.Unlock()
	var t api.Tokens
	err := c.call(ctx, http.MethodPost, "/api/auth/refresh/", nil, api.RefreshRequest{Refresh: old}, &t, false)
	c.mu.Lock()
	if err == nil {
		c.tokens = &t
	}
	c.refresh = nil
	close(done)
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("refresh the session: %w", err)
	}
	return nil
}

// access returns a valid access token, refreshing it first when it expires within 30 s.
func (c *Client) access(ctx context.Context) (string, error) {
	c.mu.Lock()
	t := c.tokens
	c.mu.Unlock()
	if t == nil {
		return "", ErrNotLoggedIn
	}
	if time.Until(t.AccessExpiresAt) < 30*time.Second && time.Until(t.RefreshExpiresAt) > 0 {
		if err := c.Refresh(ctx); err != nil {
			return "", err
		}
		c.mu.Lock()
		t = c.tokens
		c.mu.Unlock()
	}
	return t.Access, nil
}

// request is one API call: a body that can be sent again (after a token refresh).
type request struct {
	method, path string
	query        url.Values
	header       http.Header
	body         []byte
	auth         bool
	download     bool // bounded by DownloadTimeout, not RequestTimeout
}

// do sends r and returns the response of a 2xx answer (the caller closes its body) or the error. With auth,
// an answer 401 makes it refresh the tokens once and send again.
func (c *Client) do(ctx context.Context, r request) (*http.Response, context.CancelFunc, error) {
	for attempt := 0; ; attempt++ {
		timeout := c.opts.RequestTimeout
		if r.download {
			timeout = c.opts.DownloadTimeout
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		u := *c.base
		u.Path += r.path
		u.RawQuery = r.query.Encode()
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(cctx, r.method, u.String(), body)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		for k, v := range r.header {
			req.Header[k] = v
		}
		if r.auth {
			tok, err := c.access(cctx)
			if err != nil {
				cancel()
				return nil, nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, nil, &OfflineError{Err: fmt.Errorf("%s %s: %w", r.method, r.path, err)}
		}
		if resp.StatusCode/100 == 2 {
			return resp, cancel, nil
		}
		apiErr := readError(resp)
		resp.Body.Close()
		cancel()
		if r.auth && resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			if err := c.Refresh(ctx); err != nil {
				return nil, nil, fmt.Errorf("%s %s: %w (and %w)", r.method, r.path, apiErr, err)
			}
			continue
		}
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, r.path, apiErr)
	}
}

// readError turns a non-2xx answer into an *api.Error; an answer without one gets the code of its status
// (api.CodeOf).
func readError(resp *http.Response) *api.Error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	e := &api.Error{}
	if json.Unmarshal(raw, e) != nil || e.Code == "" {
		e = &api.Error{Code: api.CodeOf(resp.StatusCode), Message: strings.TrimSpace(string(raw))}
		if e.Message == "" {
			e.Message = resp.Status
		}
	}
	e.Status = resp.StatusCode
	return e
}

// call sends a JSON request (in may be nil) and decodes a JSON answer into out (may be nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any, auth bool) error {
	_, err := c.callHeader(ctx, method, path, query, nil, in, out, auth)
	return err
}

func (c *Client) callHeader(ctx context.Context, method, path string, query url.Values, header http.Header, in, out any, auth bool) (http.Header, error) {
	r := request{method: method, path: path, query: query, auth: auth, header: http.Header{"Accept": {"application/json"}}}
	for k, v := range header {
		r.header[k] = v
	}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		r.body = b
		r.header.Set("Content-Type", "application/json")
	}
	resp, cancel, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return resp.Header, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &OfflineError{Err: fmt.Errorf("%s %s: answer cut off or unreadable: %w", method, path, err)}
	}
	return resp.Header, nil
}

// UploadResult stores an AI result under an idempotency key. The same key with the same content answers
// the stored result again (replayed true); with other content the server answers CONFLICT.
func (c *Client) UploadResult(ctx context.Context, key string, up api.AIResultUpload) (r *api.AIResult, replayed bool, err error) {
	var out api.AIResult
	h, err := c.callHeader(ctx, http.MethodPost, "/api/ai/results/", nil, http.Header{"Idempotency-Key": {key}}, up, &out, true)
	if err != nil {
		return nil, false, err
	}
	return &out, h.Get("Idempotent-Replayed") == "true", nil
}

// AIResults lists stored AI results of a patient (at most limit).
func (c *Client) AIResults(ctx context.Context, patientID int64, limit int) ([]api.AIResult, error) {
	var out []api.AIResult
	q := url.Values{"patient_id": {strconv.FormatInt(patientID, 10)}, "limit": {strconv.Itoa(limit)}}
	err := c.call(ctx, http.MethodGet, "/api/ai/results/", q, nil, &out, true)
	return out, err
}

// ForwardAudit forwards audit events recorded on the workstation; the server stores each event_id once.
func (c *Client) ForwardAudit(ctx context.Context, events []api.ForwardedAuditEvent) (*api.AuditBatchResult, error) {
	var out api.AuditBatchResult
	if err := c.call(ctx, http.MethodPost, "/api/audit/events/", nil, api.AuditBatch{Events: events}, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// SaveOrderResult saves a worker's result (a report) on an order; saving the same result again changes
// nothing but the order's version.
func (c *Client) SaveOrderResult(ctx context.Context, orderID, key string, req api.OrderResultRequest) (*api.Order, error) {
	var out api.Order
	_, err := c.callHeader(ctx, http.MethodPost, "/api/ocs/"+url.PathEscape(orderID)+"/save_result/", nil,
		http.Header{"Idempotency-Key": {key}}, req, &out, true)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// PatientStudies lists the Orthanc studies of a patient.
func (c *Client) PatientStudies(ctx context.Context, patientID int64) ([]api.PatientStudy, error) {
	var out []api.PatientStudy
	err := c.call(ctx, http.MethodGet, "/api/patients/"+strconv.FormatInt(patientID, 10)+"/studies/", nil, nil, &out, true)
	return out, err
}
