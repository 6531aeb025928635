package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// CheckAccess answers, in one read, whether the access token of p may still be used.
func (s *Store) CheckAccess(ctx context.Context, p server.Principal) error {
	var active, locked, tokenRevoked, sessionRevoked bool
	var validAfter *time.Time
	err := s.pool.QueryRow(ctx, `SELECT u.is_active, u.is_locked, u.tokens_valid_after,
		EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1),
		EXISTS (SELECT 1 FROM refresh_tokens WHERE family = $2 AND revoked_at IS NOT NULL)
		FROM users u WHERE u.id = $3`, p.TokenID, p.SessionID, p.UserID).
		Scan(&active, &locked, &validAfter, &tokenRevoked, &sessionRevoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return server.Errorf(api.CodeUnauthorized, "access token names an account that does not exist")
	}
	if err != nil {
		return err
	}
	userRevoked := validAfter != nil && p.IssuedAt.UnixMilli() <= validAfter.UnixMilli()
	return server.AccessRefusal(active, locked, userRevoked, sessionRevoked, tokenRevoked)
}

// RevokeAccessToken revokes one access token until it expires; expired revocations are dropped on the way.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, userID int64, expires time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM revoked_tokens WHERE expires_at < $1", time.Now()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (jti) DO NOTHING`, jti, userID, expires)
		return err
	})
}

// RevokeSession revokes a refresh-token family of userID. A family with no refresh token stored (an access
// token issued outside a login) has nothing to revoke.
func (s *Store) RevokeSession(ctx context.Context, family string, userID int64, now time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND user_id = $3 AND revoked_at IS NULL",
			now, family, userID)
		return err
	})
}

// LoginFailures returns the failed logins counted for a login ID and whether it is locked.
func (s *Store) LoginFailures(ctx context.Context, loginID string) (int, bool, error) {
	var n int
	var lockedAt *time.Time
	err := s.pool.QueryRow(ctx, "SELECT failures, locked_at FROM login_failures WHERE login_id = $1", loginID).Scan(&n, &lockedAt)
	if errors.Is(err, pgx.ErrNoRows) || isUnstorable(err) {
		return 0, false, nil // none counted (none can be, under a login ID PostgreSQL cannot hold)
	}
	return n, lockedAt != nil, err
}

// AddLoginFailure counts a failed login and locks the login ID, and its account, at the limit. The count is
// one statement on the login ID's row, so failures counted by several servers at once all count.
func (s *Store) AddLoginFailure(ctx context.Context, loginID string, now time.Time, window time.Duration) (int, bool, error) {
	var n int
	var locked bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var lockedAt *time.Time
		err := tx.QueryRow(ctx, `INSERT INTO login_failures AS f (login_id, failures, first_at) VALUES ($1, 1, $2)
			ON CONFLICT (login_id) DO UPDATE SET
				failures = CASE WHEN f.locked_at IS NULL AND f.first_at < $3 THEN 1 ELSE f.failures + 1 END,
				first_at = CASE WHEN f.locked_at IS NULL AND f.first_at < $3 THEN excluded.first_at ELSE f.first_at END
			RETURNING failures, locked_at`, loginID, now, now.Add(-window)).Scan(&n, &lockedAt)
		if err != nil {
			return err
		}
		locked = lockedAt != nil
		if locked || n < server.MaxLoginFailures {
			return nil
		}
		locked = true
		if _, err := tx.Exec(ctx, "UPDATE login_failures SET locked_at = $1 WHERE login_id = $2", now, loginID); err != nil {
			return err
		}
		// The account locks too, and the access tokens it holds stop working.
		_, err = tx.Exec(ctx, `UPDATE users SET is_locked = true, locked_at = $1, tokens_valid_after = $2, updated_at = $1
			WHERE login_id = $3 AND NOT is_locked`, now, storedValidAfter(now), loginID)
		return err
	})
	return n, locked, err
}

// StartSession records a successful login and stores the new session's first refresh token.
func (s *Store) StartSession(ctx context.Context, userID int64, t server.RefreshToken, now time.Time) (*server.User, error) {
	var u *server.User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// The login ID's failures go before the user row is touched, in the order AddLoginFailure locks them.
		if _, err := tx.Exec(ctx, "DELETE FROM login_failures WHERE login_id = (SELECT login_id FROM users WHERE id = $1)", userID); err != nil {
			return err
		}
		var err error
		u, err = scanUser(tx.QueryRow(ctx, "UPDATE users SET last_login = $1 WHERE id = $2 RETURNING "+userColumns, now, userID))
		if err != nil {
			return notFound(err, "user %d does not exist", userID)
		}
		return insertRefreshToken(ctx, tx, t)
	})
	return u, err
}
