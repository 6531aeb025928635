package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

func (s *Server) listUsers(c *call) error {
	role := api.Role(c.r.URL.Query().Get("role"))
	if role != "" {
		if _, err := api.ParseRole(string(role)); err != nil {
			return errorf(api.CodeInvalid, "%v", err)
		}
	}
	users, err := s.Store.ListUsers(c.ctx, role)
	if err != nil {
		return err
	}
	out := make([]api.User, 0, len(users))
	for _, u := range users {
		out = append(out, u.User)
	}
	return c.json(http.StatusOK, out)
}

// createUser creates an account that must change its password at first login.
func (s *Server) createUser(c *call) error {
	c.auditAlways = true
	var req api.CreateUserRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if err := server.ValidateNewUser(c.p, req); err != nil {
		return err
	}
	hash, err := s.Passwords.Hash(req.Password)
	if err != nil {
		return err
	}
	u := &server.User{User: api.User{LoginID: req.LoginID, Name: req.Name, Email: req.Email, Role: req.Role, IsActive: true,
		MustChangePassword: true, CreatedAt: time.Now().UTC()}, PasswordHash: hash}
	c.expect(http.StatusCreated)
	if err := s.Store.CreateUser(c.ctx, u); err != nil {
		return err
	}
	c.objectType, c.objectID = "user", fmt.Sprint(u.ID)
	return c.json(http.StatusCreated, u.User)
}

// updateUser changes name, e-mail or activity; deactivating revokes every token of the account.
func (s *Server) updateUser(c *call) error {
	c.auditAlways = true
	id, err := c.idParam("id")
	if err != nil {
		return err
	}
	var req api.UpdateUserRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.objectType, c.objectID = "user", fmt.Sprint(id)
	u, err := s.Store.UpdateUser(c.ctx, id, func(u *server.User) error {
		if err := server.CanManageUser(c.p, u); err != nil {
			return err
		}
		if req.Name != nil {
			if err := server.ValidateText("name", *req.Name, 1, 100); err != nil {
				return err
			}
			u.Name = *req.Name
		}
		if req.Email != nil {
			u.Email = *req.Email
		}
		if req.IsActive != nil {
			if u.IsActive && !*req.IsActive {
				u.TokensValidAfter = time.Now() // its tokens and sessions end with the deactivation, in one transaction
			}
			u.IsActive = *req.IsActive
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, u.User)
}

// unlockUser lifts a lockout; the store forgets the failed logins with it.
func (s *Server) unlockUser(c *call) error {
	c.auditAlways = true
	id, err := c.idParam("id")
	if err != nil {
		return err
	}
	c.objectType, c.objectID = "user", fmt.Sprint(id)
	u, err := s.Store.UpdateUser(c.ctx, id, func(u *server.User) error {
		if err := server.CanManageUser(c.p, u); err != nil {
			return err
		}
		u.IsLocked, u.LockedAt = false, nil
		return nil
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, u.User)
}

// resetPassword gives an account a temporary password, answered once, that must be changed at the next sign-in,
// and ends the account's sessions (an administrator's reset for a user who forgot theirs).
func (s *Server) resetPassword(c *call) error {
	c.auditAlways = true
	id, err := c.idParam("id")
	if err != nil {
		return err
	}
	c.objectType, c.objectID = "user", fmt.Sprint(id)
	password := auth.RandomHex(10)
	hash, err := s.Passwords.Hash(password)
	if err != nil {
		return err
	}
	u, err := s.Store.UpdateUser(c.ctx, id, func(u *server.User) error {
		if err := server.CanManageUser(c.p, u); err != nil {
			return err
		}
		u.PasswordHash, u.MustChangePassword, u.TokensValidAfter = hash, true, time.Now()
		return nil
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, api.PasswordReset{User: u.User, TemporaryPassword: password})
}
