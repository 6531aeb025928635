package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// CheckAccess answers, in one read, whether the access token of p may still be used.
func (s *Store) CheckAccess(ctx context.Context, p server.Principal) error {
	var active, locked, tokenRevoked, sessionRevoked bool
	var validAfter int64
	err := s.read.QueryRowContext(ctx, `SELECT u.is_active, u.is_locked, u.tokens_valid_after_ms,
		EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?),
		EXISTS (SELECT 1 FROM refresh_tokens WHERE family = ? AND revoked_at IS NOT NULL)
		FROM users u WHERE u.id = ?`, p.TokenID, p.SessionID, p.UserID).
		Scan(&active, &locked, &validAfter, &tokenRevoked, &sessionRevoked)
	if errors.Is(err, sql.ErrNoRows) {
		return server.Errorf(api.CodeUnauthorized, "access token names an account that does not exist")
	}
	if err != nil {
		return err
	}
	return server.AccessRefusal(active, locked, p.IssuedAt.UnixMilli() <= validAfter, sessionRevoked, tokenRevoked)
}

// RevokeAccessToken revokes one access token until it expires; expired revocations are dropped on the way.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, userID int64, expires time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM revoked_tokens WHERE expires_at < ?", ts(time.Now())); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (jti) DO NOTHING`, jti, userID, ts(expires))
		return err
	})
}

// RevokeSession revokes a refresh-token family of userID. A family with no refresh token stored (an access
// token issued outside a login) has nothing to revoke.
func (s *Store) RevokeSession(ctx context.Context, family string, userID int64, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND user_id = ? AND revoked_at IS NULL",
			ts(now), family, userID)
		return err
	})
}

// LoginFailures returns the failed logins counted for a login ID and whether it is locked.
func (s *Store) LoginFailures(ctx context.Context, loginID string) (int, bool, error) {
	var n int
	var lockedAt sql.NullString
	err := s.read.QueryRowContext(ctx, "SELECT failures, locked_at FROM login_failures WHERE login_id = ?", loginID).Scan(&n, &lockedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return n, lockedAt.Valid, err
}

// AddLoginFailure counts a failed login and locks the login ID, and its account, at the limit.
func (s *Store) AddLoginFailure(ctx context.Context, loginID string, now time.Time, window time.Duration) (int, bool, error) {
	var n int
	var locked bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var lockedAt sql.NullString
		err := tx.QueryRowContext(ctx, `INSERT INTO login_failures (login_id, failures, first_at) VALUES (?, 1, ?)
			ON CONFLICT (login_id) DO UPDATE SET
				failures = CASE WHEN locked_at IS NULL AND first_at < ? THEN 1 ELSE failures + 1 END,
				first_at = CASE WHEN locked_at IS NULL AND first_at < ? THEN excluded.first_at ELSE first_at END
			RETURNING failures, locked_at`, loginID, ts(now), ts(now.Add(-window)), ts(now.Add(-window))).Scan(&n, &lockedAt)
		if err != nil {
			return err
		}
		locked = lockedAt.Valid
		if locked || n < server.MaxLoginFailures {
			return nil
		}
		locked = true
		if _, err := tx.ExecContext(ctx, "UPDATE login_failures SET locked_at = ? WHERE login_id = ?", ts(now), loginID); err != nil {
			return err
		}
		// The account locks too, and the access tokens it holds stop working.
		_, err = tx.ExecContext(ctx, `UPDATE users SET is_locked = 1, locked_at = ?, tokens_valid_after_ms = ?, updated_at = ?
			WHERE login_id = ? AND is_locked = 0`, ts(now), now.UnixMilli(), ts(now), loginID)
		return err
	})
	return n, locked, err
}

// StartSession records a successful login and stores the new session's first refresh token.
func (s *Store) StartSession(ctx context.Context, userID int64, t server.RefreshToken, now time.Time) (*server.User, error) {
	var u *server.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET last_login = ? WHERE id = ?", ts(now), userID); err != nil {
			return err
		}
		var err error
		if u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", userID)); err != nil {
			return notFound(err, "user %d does not exist", userID)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE login_id = ?", u.LoginID); err != nil {
			return err
		}
		return insertRefreshToken(ctx, tx, t)
	})
	return u, err
}
