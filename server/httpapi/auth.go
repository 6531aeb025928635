package httpapi

import (
	"net/http"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

// login checks a password, counts failures and locks the login ID at the fifth, and answers the seed's codes:
// LOGIN_FAIL with the attempts left, LOGIN_LOCKED, INACTIVE_USER. Unknown login IDs are counted, locked and
// timed like known ones, in the database, so the answers do not tell which accounts exist, not even after a
// Redis restart.
func (s *Server) login(c *call) error {
	c.auditAlways = true
	var req api.LoginRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.loginID = req.LoginID
	if req.LoginID == "" || req.Password == "" || len(req.LoginID) > 50 || len(req.Password) > 200 {
		return errorf(api.CodeInvalid, "login_id and password are required (login_id at most 50, password at most 200 characters)")
	}
	errLocked := errorf(api.CodeLoginLocked, "account is locked after %d failed logins; an administrator must unlock it", server.MaxLoginFailures)
	failures, locked, err := s.Store.LoginFailures(c.ctx, req.LoginID)
	if err != nil {
		return err
	}
	u, err := s.Store.UserByLoginID(c.ctx, req.LoginID)
	if server.IsCode(err, api.CodeNotFound) {
		u, err = nil, nil
	}
	if err != nil {
		return err
	}
	if locked || (u != nil && u.IsLocked) {
		c.action = "LOGIN_LOCKED"
		return errLocked
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	if !s.Passwords.Check(hash, req.Password) {
		// The record commits with the count; it names the lock this failure is expected to cause.
		c.action = "LOGIN_FAIL"
		c.expect(http.StatusUnauthorized)
		if failures+1 >= server.MaxLoginFailures {
			c.action = "LOGIN_LOCKED"
			c.expect(http.StatusLocked)
		}
		n, locked, err := s.Store.AddLoginFailure(c.ctx, req.LoginID, time.Now(), server.LoginFailureWindow)
		if err != nil {
			return err
		}
		if locked {
			return errLocked
		}
		remain := server.MaxLoginFailures - n
		return &server.Error{Code: api.CodeLoginFail, Message: "login ID or password is wrong", Remain: &remain}
	}
	if !u.IsActive {
		c.action = "INACTIVE_USER"
		return errorf(api.CodeInactiveUser, "account %s is deactivated", u.LoginID)
	}
	c.p.UserID, c.p.LoginID, c.p.Role = u.ID, u.LoginID, u.Role
	c.action = "LOGIN_SUCCESS"
	tokens, err := s.newSession(c, u.ID)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, tokens)
}

// newSession records a login of userID with the first refresh token of a new family and answers it with an
// access token of that session.
func (s *Server) newSession(c *call, userID int64) (*api.Tokens, error) {
	refresh, hash := auth.NewRefreshToken()
	now := time.Now()
	t := server.RefreshToken{Hash: hash, Family: auth.RandomHex(16), UserID: userID, IssuedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	u, err := s.Store.StartSession(c.ctx, userID, t, now)
	if err != nil {
		return nil, err
	}
	return s.tokens(u, t.Family, refresh, t.ExpiresAt)
}

// tokens signs an access token for u in session and pairs it with a refresh token.
func (s *Server) tokens(u *server.User, session, refresh string, refreshExpires time.Time) (*api.Tokens, error) {
	access, p, err := s.Issuer.IssueAccess(u, session)
	if err != nil {
		return nil, err
	}
	return &api.Tokens{Access: access, Refresh: refresh, AccessExpiresAt: p.ExpiresAt, RefreshExpiresAt: refreshExpires, User: u.User}, nil
}

// refresh spends a refresh token and answers a new pair. A token presented twice revokes its whole session.
func (s *Server) refresh(c *call) error {
	c.auditAlways = true
	var req api.RefreshRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if req.Refresh == "" {
		return errorf(api.CodeInvalid, "refresh is required")
	}
	now := time.Now()
	refresh, nextHash := auth.NewRefreshToken()
	next := server.RefreshToken{Hash: nextHash, IssuedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	c.action, c.refusedAction = "TOKEN_REFRESHED", "REFRESH_REFUSED"
	used, err := s.Store.UseRefreshToken(c.ctx, auth.HashRefreshToken(req.Refresh), next, now)
	if err != nil {
		c.action = "REFRESH_REFUSED"
		return err
	}
	u, err := s.Store.UserByID(c.ctx, used.UserID)
	if err != nil {
		return err
	}
	c.p.UserID, c.p.LoginID, c.p.Role = u.ID, u.LoginID, u.Role
	tokens, err := s.tokens(u, used.Family, refresh, next.ExpiresAt)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, tokens)
}

// logout ends the caller's session: the access token, the refresh tokens of its session (whether or not the
// client sends one) and, when given, the session of another refresh token of the caller.
func (s *Server) logout(c *call) error {
	c.auditAlways = true
	c.action = "LOGOUT"
	c.expect(http.StatusNoContent)
	var req api.RefreshRequest
	if err := c.decodeOptional(&req); err != nil {
		return err
	}
	now := time.Now()
	if req.Refresh != "" {
		if err := s.Store.RevokeRefreshToken(c.ctx, auth.HashRefreshToken(req.Refresh), c.p.UserID, now); err != nil {
			return err
		}
	}
	if err := s.Store.RevokeSession(c.ctx, c.p.SessionID, c.p.UserID, now); err != nil {
		return err
	}
	if err := s.Store.RevokeAccessToken(c.ctx, c.p.TokenID, c.p.UserID, c.p.ExpiresAt); err != nil {
		return err
	}
	return c.noContent()
}

// me answers the caller's account.
func (s *Server) me(c *call) error {
	u, err := s.Store.UserByID(c.ctx, c.p.UserID)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, u.User)
}

// changePassword sets a new password, revokes every token of the account and answers a new session.
func (s *Server) changePassword(c *call) error {
	c.auditAlways = true
	var req api.ChangePasswordRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	u, err := s.Store.UserByID(c.ctx, c.p.UserID)
	if err != nil {
		return err
	}
	if !s.Passwords.Check(u.PasswordHash, req.OldPassword) {
		c.action = "PASSWORD_CHANGE_REFUSED"
		return errorf(api.CodeInvalid, "old_password is wrong")
	}
	if req.NewPassword == req.OldPassword {
		return errorf(api.CodeInvalid, "new_password must differ from old_password")
	}
	if err := server.ValidateNewPassword(u.LoginID, req.NewPassword); err != nil {
		return err
	}
	hash, err := s.Passwords.Hash(req.NewPassword)
	if err != nil {
		return err
	}
	c.action = "PASSWORD_CHANGED"
	// The new session's token may carry this very millisecond: revoke up to the one before. The store
	// revokes the sessions begun until then with the password change, in one transaction.
	until := time.Now().Add(-time.Millisecond)
	if _, err := s.Store.UpdateUser(c.ctx, u.ID, func(u *server.User) error {
		u.PasswordHash, u.MustChangePassword, u.TokensValidAfter = hash, false, until
		return nil
	}); err != nil {
		return err
	}
	tokens, err := s.newSession(c, u.ID)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, tokens)
}
