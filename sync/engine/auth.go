package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/sync/client"
)

// credentialKey is the settings key of a user's cached credential.
func credentialKey(loginID string) string { return "sync.credential." + strings.ToLower(loginID) }

// credential is what the workstation keeps of a user who logged in here online: a bcrypt hash of the
// password (never the password), the user as the server described it, and when the server last confirmed
// the password.
type credential struct {
	LoginID   string    `json:"login_id"`
	Hash      string    `json:"bcrypt"`
	User      api.User  `json:"user"`
	Confirmed time.Time `json:"confirmed_at"`
	Server    string    `json:"server"`
}

// Session is who is logged in on the workstation.
type Session struct {
	User api.User
	// Offline is true when the server could not be reached and the cached credential was accepted; the
	// engine logs in to the server on the next round that reaches it.
	Offline bool
	// ValidUntil is when an offline session's grace period ends (zero for online sessions).
	ValidUntil time.Time
}

// ErrNoOfflineLogin is returned when the server cannot be reached and the user has no usable cached
// credential on this workstation (never logged in here, grace period over, or wrong password).
var ErrNoOfflineLogin = errors.New("the server cannot be reached and offline login is not possible")

// Login logs in to the server. When the server is reachable, its answer decides: on success the credential
// is cached (bcrypt hash) for offline use; when it refuses the password, the account is locked or inactive,
// the cached credential is dropped. When the server cannot be reached, a user who logged in here online
// within the grace period and gives the same password gets an offline session; the engine keeps the
// password in memory (only) to log in to the server as soon as it answers. Both outcomes are recorded in
// the local audit trail.
func (e *Engine) Login(ctx context.Context, loginID, password string) (*Session, error) {
	tok, err := e.server.Login(ctx, loginID, password)
	now := e.opts.Now()
	if err == nil {
		return e.loggedIn(ctx, loginID, password, tok)
	}
	return e.loginFailed(ctx, loginID, password, now, err)
}

// loggedIn caches the credential of a successful online login and makes it the session. A temporary
// password (one the user must change first) is not cached, and forgets any password cached before: it opens
// no offline session.
func (e *Engine) loggedIn(ctx context.Context, loginID, password string, tok *api.Tokens) (*Session, error) {
	value := ""
	if !tok.User.MustChangePassword {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), e.opts.BcryptCost)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(credential{LoginID: loginID, Hash: string(hash), User: tok.User, Confirmed: e.opts.Now(), Server: e.server.BaseURL()})
		value = string(b)
	}
	if err := e.cache.SetSetting(ctx, credentialKey(loginID), value); err != nil {
		return nil, fmt.Errorf("cache the credential: %w", err)
	}
	e.mu.Lock()
	e.session = &Session{User: tok.User}
	e.pendingLogin = nil
	e.online = true
	e.mu.Unlock()
	e.audit(ctx, loginID, "login", loginID, "online")
	return &Session{User: tok.User}, nil
}

// loginFailed handles a login the server refused or could not answer.
func (e *Engine) loginFailed(ctx context.Context, loginID, password string, now time.Time, err error) (*Session, error) {
	if !client.IsOffline(err) {
		if client.IsCode(err, api.CodeLoginFail) || client.IsCode(err, api.CodeLoginLocked) || client.IsCode(err, api.CodeInactiveUser) {
			e.cache.SetSetting(ctx, credentialKey(loginID), "")
		}
		e.audit(ctx, loginID, "login.denied", loginID, err.Error())
		return nil, err
	}
	e.setOnline(false, err)
	raw, cerr := e.cache.Setting(ctx, credentialKey(loginID), "")
	if cerr != nil {
		return nil, cerr
	}
	var cred credential
	if raw == "" || json.Unmarshal([]byte(raw), &cred) != nil {
		e.audit(ctx, loginID, "login.offline.denied", loginID, "no cached credential")
		return nil, fmt.Errorf("%w: %s never logged in on this workstation while online (%v)", ErrNoOfflineLogin, loginID, err)
	}
	until := cred.Confirmed.Add(e.opts.OfflineGrace)
	if now.After(until) {
		e.audit(ctx, loginID, "login.offline.denied", loginID, "grace period over")
		return nil, fmt.Errorf("%w: the last online login of %s was %s ago, more than the %s grace period (%v)", ErrNoOfflineLogin, loginID,
			now.Sub(cred.Confirmed).Round(time.Minute), e.opts.OfflineGrace, err)
	}
	if bcrypt.CompareHashAndPassword([]byte(cred.Hash), []byte(password)) != nil {
		e.audit(ctx, loginID, "login.offline.denied", loginID, "wrong password")
		return nil, fmt.Errorf("%w: wrong password", ErrNoOfflineLogin)
	}
	s := &Session{User: cred.User, Offline: true, ValidUntil: until}
	e.mu.Lock()
	e.session = s
	e.pendingLogin = &pendingLogin{loginID: loginID, password: password}
	e.mu.Unlock()
	e.audit(ctx, loginID, "login.offline", loginID, "cached credential, valid until "+until.UTC().Format(time.RFC3339))
	c := *s
	return &c, nil
}

// pendingLogin is the password of an offline session, kept in memory until the server answers.
type pendingLogin struct{ loginID, password string }

// Logout ends the session (revoking the refresh token when online) and forgets any password held in memory.
func (e *Engine) Logout(ctx context.Context) error {
	e.mu.Lock()
	s := e.session
	e.session, e.pendingLogin = nil, nil
	e.mu.Unlock()
	e.clinic.mu.Lock()
	e.clinic.lastID = "" // the next user's notifications start where the server is now
	e.clinic.mu.Unlock()
	if s != nil {
		e.audit(ctx, s.User.LoginID, "logout", s.User.LoginID, "")
		if e.server.Tokens() != nil && !s.User.MustChangePassword {
			// What the user did here reaches the server in their name, while their session lasts.
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := e.forwardAudit(fctx, &Summary{}, func(Progress) {}); err != nil {
				e.log.Info("audit events left for the next session to forward", "err", err)
			}
			cancel()
		}
	}
	err := e.server.Logout(ctx)
	if client.IsOffline(err) {
		return nil
	}
	return err
}

// ensureOnline makes sure the client holds tokens: an offline session logs in now.
func (e *Engine) ensureOnline(ctx context.Context) error {
	if e.server.Tokens() != nil {
		return nil
	}
	e.mu.Lock()
	p := e.pendingLogin
	e.mu.Unlock()
	if p == nil {
		return client.ErrNotLoggedIn
	}
	// Only the server may turn an offline session into an online one: no second offline login here.
	tok, err := e.server.Login(ctx, p.loginID, p.password)
	if err != nil {
		return err
	}
	_, err = e.loggedIn(ctx, p.loginID, p.password, tok)
	return err
}

func (e *Engine) audit(ctx context.Context, actor, action, target, detail string) {
	if err := e.cache.RecordAudit(context.WithoutCancel(ctx), actor, action, target, detail); err != nil {
		e.log.Warn("local audit event not recorded", "action", action, "err", err)
	}
}
