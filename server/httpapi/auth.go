package httpapi

import (
	"net/http"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

// login checks a password, counts failures in Redis and locks the account at the fifth, and answers the seed's
// codes: LOGIN_FAIL with the attempts left, LOGIN_LOCKED, INACTIVE_USER. Unknown login IDs are counted and
// timed like known ones, so the answers do not tell which accounts exist.
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
	locked := func(u *server.User) error {
		c.action = "LOGIN_LOCKED"
		if u != nil && !u.IsLocked {
			now := time.Now()
			if _, err := s.Store.UpdateUser(c.ctx, u.ID, func(u *server.User) error {
				u.IsLocked, u.LockedAt = true, &now
				return nil
			}); err != nil {
				return err
			}
		}
		return errorf(api.CodeLoginLocked, "account is locked after %d failed logins; an administrator must unlock it", server.MaxLoginFailures)
	}
	failures, err := s.Logins.Failures(c.ctx, req.LoginID)
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
	if failures >= server.MaxLoginFailures || (u != nil && u.IsLocked) {
		return locked(u)
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	if !s.Passwords.Check(hash, req.Password) {
		n, err := s.Logins.AddFailure(c.ctx, req.LoginID)
		if err != nil {
			return err
		}
		if n >= server.MaxLoginFailures {
			return locked(u)
		}
		c.action = "LOGIN_FAIL"
		remain := server.MaxLoginFailures - n
		return &server.Error{Code: api.CodeLoginFail, Message: "login ID or password is wrong", Remain: &remain}
	}
	if !u.IsActive {
		c.action = "INACTIVE_USER"
		return errorf(api.CodeInactiveUser, "account %s is deactivated", u.LoginID)
	}
	if err := s.Logins.Reset(c.ctx, req.LoginID); err != nil {
		return err
	}
	now := time.Now()
	u, err = s.Store.UpdateUser(c.ctx, u.ID, func(u *server.User) error {
		u.LastLogin = &now
		return nil
	})
	if err != nil {
		return err
	}
	c.p.UserID, c.p.LoginID, c.p.Role = u.ID, u.LoginID, u.Role
	c.action = "LOGIN_SUCCESS"
	tokens, err := s.newSession(c, u)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, tokens)
}

// newSession stores a refresh token of a new family for u and answers it with a new access token.
func (s *Server) newSession(c *call, u *server.User) (*api.Tokens, error) {
	refresh, hash := auth.NewRefreshToken()
	now := time.Now()
	t := server.RefreshToken{Hash: hash, Family: auth.RandomHex(16), UserID: u.ID, IssuedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	if err := s.Store.CreateRefreshToken(c.ctx, t); err != nil {
		return nil, err
	}
	return s.tokens(u, refresh, t.ExpiresAt)
}

// tokens signs an access token for u and pairs it with a refresh token.
func (s *Server) tokens(u *server.User, refresh string, refreshExpires time.Time) (*api.Tokens, error) {
	access, p, err := s.Issuer.IssueAccess(u)
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
	c.action = "TOKEN_REFRESHED"
	if !u.IsActive || u.IsLocked {
		c.action = "REFRESH_REFUSED"
		if err := s.Store.RevokeRefreshToken(c.ctx, nextHash, u.ID, now); err != nil {
			return err
		}
		return errorf(api.CodeUnauthorized, "account %s is deactivated or locked", u.LoginID)
	}
	tokens, err := s.tokens(u, refresh, next.ExpiresAt)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, tokens)
}

// logout revokes the caller's access token and, when given, the session of a refresh token.
func (s *Server) logout(c *call) error {
	c.auditAlways = true
	c.action = "LOGOUT"
	var req api.RefreshRequest
	if err := c.decodeOptional(&req); err != nil {
		return err
	}
	if req.Refresh != "" {
		if err := s.Store.RevokeRefreshToken(c.ctx, auth.HashRefreshToken(req.Refresh), c.p.UserID, time.Now()); err != nil {
			return err
		}
	}
	if err := s.Gate.RevokeAccessToken(c.ctx, c.p.TokenID, c.p.ExpiresAt); err != nil {
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
	now := time.Now()
	u, err = s.Store.UpdateUser(c.ctx, u.ID, func(u *server.User) error {
		u.PasswordHash, u.MustChangePassword = hash, false
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.Store.RevokeUserRefreshTokens(c.ctx, u.ID, now); err != nil {
		return err
	}
	// The new session's token may carry this very millisecond: revoke up to the one before.
	if err := s.Gate.RevokeUserTokens(c.ctx, u.ID, now.Add(-time.Millisecond)); err != nil {
		return err
	}
	c.action = "PASSWORD_CHANGED"
	tokens, err := s.newSession(c, u)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, tokens)
}
