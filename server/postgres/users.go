package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

const userColumns = `id, login_id, name, email, role, password_hash, is_active, is_locked, locked_at,
	must_change_password, last_login, created_at, tokens_valid_after`

func scanUser(r rowScanner) (*server.User, error) {
	u := &server.User{}
	var validAfter *time.Time
	err := r.Scan(&u.ID, &u.LoginID, &u.Name, &u.Email, &u.Role, &u.PasswordHash, &u.IsActive, &u.IsLocked,
		&u.LockedAt, &u.MustChangePassword, &u.LastLogin, &u.CreatedAt, &validAfter)
	if validAfter != nil {
		u.TokensValidAfter = *validAfter
	}
	return u, err
}

// storedValidAfter is the stored form of TokensValidAfter: to the millisecond, NULL for none.
func storedValidAfter(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	ms := time.UnixMilli(t.UnixMilli()).UTC()
	return &ms
}

// CreateUser stores u and sets its ID.
func (s *Store) CreateUser(ctx context.Context, u *server.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	u.CreatedAt = usec(u.CreatedAt)
	return s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO users (login_id, name, email, role, password_hash, is_active, must_change_password,
			created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
			u.LoginID, u.Name, u.Email, u.Role, u.PasswordHash, u.IsActive, u.MustChangePassword, u.CreatedAt).Scan(&u.ID)
		if isUniqueViolation(err) {
			return server.Errorf(api.CodeConflict, "login_id %q is taken", u.LoginID)
		}
		if err != nil {
			return err
		}
		noteObject(ctx, "user", u.ID, 0)
		return nil
	})
}

// noteObject names the object a write created for the call's audit record.
func noteObject(ctx context.Context, typ string, id any, patientID int64) {
	if a := server.TxAuditOf(ctx); a != nil {
		a.Object(typ, id, patientID)
	}
}

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id int64) (*server.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", id))
	return u, notFound(err, "user %d does not exist", id)
}

// UserByLoginID returns a user.
func (s *Store) UserByLoginID(ctx context.Context, loginID string) (*server.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE login_id = $1", loginID))
	return u, notFound(err, "user %q does not exist", loginID)
}

// ListUsers lists users, of one role or all.
func (s *Store) ListUsers(ctx context.Context, role api.Role) ([]*server.User, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+userColumns+" FROM users WHERE $1 = '' OR role = $1 ORDER BY id", string(role))
	list, err := collect(rows, err, scanUser)
	if len(list) == 0 {
		list = nil // as the SQLite store answers
	}
	return list, err
}

// UpdateUser runs fn on a user and stores the result unless fn fails. Moving TokensValidAfter forward revokes
// the sessions begun before it; unlocking forgets the login ID's failed logins.
func (s *Store) UpdateUser(ctx context.Context, id int64, fn func(*server.User) error) (*server.User, error) {
	var u *server.User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// The login ID's failures are locked before the user, in the order AddLoginFailure takes them.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM login_failures WHERE login_id = (SELECT login_id FROM users WHERE id = $1)
			FOR UPDATE`, id); err != nil {
			return err
		}
		var err error
		u, err = scanUser(tx.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1 FOR NO KEY UPDATE", id))
		if err != nil {
			return notFound(err, "user %d does not exist", id)
		}
		before := *u
		if err := fn(u); err != nil {
			return err
		}
		now := time.Now()
		u.LockedAt, u.LastLogin = usecPtr(u.LockedAt), usecPtr(u.LastLogin)
		if va := storedValidAfter(u.TokensValidAfter); va != nil {
			u.TokensValidAfter = *va
		}
		_, err = tx.Exec(ctx, `UPDATE users SET name = $1, email = $2, password_hash = $3, is_active = $4, is_locked = $5,
			locked_at = $6, must_change_password = $7, last_login = $8, tokens_valid_after = $9, updated_at = $10 WHERE id = $11`,
			u.Name, u.Email, u.PasswordHash, u.IsActive, u.IsLocked, u.LockedAt, u.MustChangePassword, u.LastLogin,
			storedValidAfter(u.TokensValidAfter), now, id)
		if err != nil {
			return err
		}
		if u.TokensValidAfter.After(before.TokensValidAfter) {
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL
				AND issued_at <= $3`, now, id, u.TokensValidAfter); err != nil {
				return err
			}
		}
		if before.IsLocked && !u.IsLocked {
			_, err = tx.Exec(ctx, "DELETE FROM login_failures WHERE login_id = $1", u.LoginID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// CreateRefreshToken stores a refresh token's hash.
func (s *Store) CreateRefreshToken(ctx context.Context, t server.RefreshToken) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return insertRefreshToken(ctx, tx, t) })
}

func insertRefreshToken(ctx context.Context, tx pgx.Tx, t server.RefreshToken) error {
	_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, family, user_id, issued_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, t.Hash, t.Family, t.UserID, t.IssuedAt, t.ExpiresAt)
	return err
}

var (
	errRefreshReused  = server.Errorf(api.CodeUnauthorized, "refresh token was already used or revoked; its session is now revoked")
	errRefreshBlocked = server.Errorf(api.CodeUnauthorized, "the account of this refresh token is deactivated or locked; its session is now revoked")
)

// UseRefreshToken spends a refresh token and stores its successor in the same family. The token's row is
// locked while it is checked: of two servers spending it at once, the second sees it used.
func (s *Store) UseRefreshToken(ctx context.Context, hash string, next server.RefreshToken, now time.Time) (*server.RefreshToken, error) {
	var used server.RefreshToken
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var usedAt, revokedAt *time.Time
		err := tx.QueryRow(ctx, `SELECT family, user_id, issued_at, expires_at, used_at, revoked_at
			FROM refresh_tokens WHERE hash = $1 FOR NO KEY UPDATE`, hash).Scan(&used.Family, &used.UserID, &used.IssuedAt,
			&used.ExpiresAt, &usedAt, &revokedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return server.Errorf(api.CodeUnauthorized, "refresh token is unknown")
		}
		if err != nil {
			return err
		}
		used.Hash = hash
		owner, err := scanUser(tx.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", used.UserID))
		if err != nil {
			return err
		}
		if a := server.TxAuditOf(ctx); a != nil {
			a.Actor(owner) // the call's record names whose token this is, refused or not
		}
		if usedAt != nil || revokedAt != nil {
			return errRefreshReused // a second use means the token leaked: its family is revoked below
		}
		if !now.Before(used.ExpiresAt) {
			return server.Errorf(api.CodeUnauthorized, "refresh token expired at %s", used.ExpiresAt.Format(time.RFC3339))
		}
		if !owner.IsActive || owner.IsLocked {
			return errRefreshBlocked
		}
		if _, err := tx.Exec(ctx, "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2", now, hash); err != nil {
			return err
		}
		return insertRefreshToken(ctx, tx, server.RefreshToken{Hash: next.Hash, Family: used.Family, UserID: used.UserID,
			IssuedAt: next.IssuedAt, ExpiresAt: next.ExpiresAt})
	})
	if errors.Is(err, errRefreshReused) || errors.Is(err, errRefreshBlocked) {
		// The transaction rolled back; revoke the family, with the access tokens issued in it, in a
		// transaction of its own that carries the refusal's audit record.
		if rerr := s.auditedTx(ctx, err, func(tx pgx.Tx) error { return revokeFamily(ctx, tx, used.Family, now) }); rerr != nil {
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
	return s.tx(ctx, func(tx pgx.Tx) error {
		var family string
		var owner int64
		err := tx.QueryRow(ctx, "SELECT family, user_id FROM refresh_tokens WHERE hash = $1", hash).Scan(&family, &owner)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && owner != userID) {
			return server.Errorf(api.CodeInvalid, "refresh token is unknown or not yours")
		}
		if err != nil {
			return err
		}
		return revokeFamily(ctx, tx, family, now)
	})
}

func revokeFamily(ctx context.Context, tx pgx.Tx, family string, now time.Time) error {
	_, err := tx.Exec(ctx, "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL", now, family)
	return err
}

// RevokeUserRefreshTokens revokes every refresh token of a user.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, userID int64, now time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL", now, userID)
		return err
	})
}
