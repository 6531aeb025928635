package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

const userColumns = `id, login_id, name, email, role, password_hash, is_active, is_locked, locked_at,
	must_change_password, last_login, created_at`

type rowScanner interface{ Scan(...any) error }

func scanUser(r rowScanner) (*server.User, error) {
	u := &server.User{}
	err := r.Scan(&u.ID, &u.LoginID, &u.Name, &u.Email, &u.Role, &u.PasswordHash, &u.IsActive, &u.IsLocked,
		nullTimeCol{&u.LockedAt}, &u.MustChangePassword, nullTimeCol{&u.LastLogin}, timeCol{&u.CreatedAt})
	return u, err
}

// CreateUser stores u and sets its ID.
func (s *Store) CreateUser(ctx context.Context, u *server.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	res, err := s.write.ExecContext(ctx, `INSERT INTO users (login_id, name, email, role, password_hash, is_active,
		is_locked, must_change_password, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
		u.LoginID, u.Name, u.Email, u.Role, u.PasswordHash, u.IsActive, u.MustChangePassword, ts(u.CreatedAt), ts(u.CreatedAt))
	if isUniqueViolation(err) {
		return server.Errorf(api.CodeConflict, "login_id %q is taken", u.LoginID)
	}
	if err != nil {
		return err
	}
	u.ID, err = res.LastInsertId()
	return err
}

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id int64) (*server.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	return u, notFound(err, "user %d does not exist", id)
}

// UserByLoginID returns a user.
func (s *Store) UserByLoginID(ctx context.Context, loginID string) (*server.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE login_id = ?", loginID))
	return u, notFound(err, "user %q does not exist", loginID)
}

// ListUsers lists users, of one role or all.
func (s *Store) ListUsers(ctx context.Context, role api.Role) ([]*server.User, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+userColumns+" FROM users WHERE ? = '' OR role = ? ORDER BY id", role, role)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*server.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UpdateUser runs fn on a user and stores the result unless fn fails.
func (s *Store) UpdateUser(ctx context.Context, id int64, fn func(*server.User) error) (*server.User, error) {
	var u *server.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		if err != nil {
			return notFound(err, "user %d does not exist", id)
		}
		if err := fn(u); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET name = ?, email = ?, password_hash = ?, is_active = ?, is_locked = ?,
			locked_at = ?, must_change_password = ?, last_login = ?, updated_at = ? WHERE id = ?`,
			u.Name, u.Email, u.PasswordHash, u.IsActive, u.IsLocked, nullTS(u.LockedAt), u.MustChangePassword,
			nullTS(u.LastLogin), ts(time.Now()), id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// CreateRefreshToken stores a refresh token's hash.
func (s *Store) CreateRefreshToken(ctx context.Context, t server.RefreshToken) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family, user_id, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, t.Hash, t.Family, t.UserID, ts(t.IssuedAt), ts(t.ExpiresAt))
	return err
}

var errRefreshReused = server.Errorf(api.CodeUnauthorized, "refresh token was already used or revoked; its session is now revoked")

// UseRefreshToken spends a refresh token and stores its successor in the same family.
func (s *Store) UseRefreshToken(ctx context.Context, hash string, next server.RefreshToken, now time.Time) (*server.RefreshToken, error) {
	var used server.RefreshToken
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var usedAt, revokedAt sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT family, user_id, issued_at, expires_at, used_at, revoked_at
			FROM refresh_tokens WHERE hash = ?`, hash).Scan(&used.Family, &used.UserID, timeCol{&used.IssuedAt},
			timeCol{&used.ExpiresAt}, &usedAt, &revokedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return server.Errorf(api.CodeUnauthorized, "refresh token is unknown")
		}
		if err != nil {
			return err
		}
		used.Hash = hash
		if usedAt.Valid || revokedAt.Valid {
			return errRefreshReused // a second use means the token leaked: its family is revoked below
		}
		if !now.Before(used.ExpiresAt) {
			return server.Errorf(api.CodeUnauthorized, "refresh token expired at %s", used.ExpiresAt.Format(time.RFC3339))
		}
		if _, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET used_at = ? WHERE hash = ?", ts(now), hash); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family, user_id, issued_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`, next.Hash, used.Family, used.UserID, ts(next.IssuedAt), ts(next.ExpiresAt))
		return err
	})
	if errors.Is(err, errRefreshReused) {
		// The transaction rolled back; revoke the family in a transaction of its own.
		if _, rerr := s.write.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL`,
			ts(now), used.Family); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return &used, nil
}

// RevokeRefreshToken revokes the family of a token that belongs to userID.
func (s *Store) RevokeRefreshToken(ctx context.Context, hash string, userID int64, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var family string
		var owner int64
		err := tx.QueryRowContext(ctx, "SELECT family, user_id FROM refresh_tokens WHERE hash = ?", hash).Scan(&family, &owner)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != userID) {
			return server.Errorf(api.CodeInvalid, "refresh token is unknown or not yours")
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL", ts(now), family)
		return err
	})
}

// RevokeUserRefreshTokens revokes every refresh token of a user.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, userID int64, now time.Time) error {
	_, err := s.write.ExecContext(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", ts(now), userID)
	return err
}
