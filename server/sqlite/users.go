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
	must_change_password, last_login, created_at, tokens_valid_after_ms`

type rowScanner interface{ Scan(...any) error }

func scanUser(r rowScanner) (*server.User, error) {
	u := &server.User{}
	var validAfter int64
	err := r.Scan(&u.ID, &u.LoginID, &u.Name, &u.Email, &u.Role, &u.PasswordHash, &u.IsActive, &u.IsLocked,
		nullTimeCol{&u.LockedAt}, &u.MustChangePassword, nullTimeCol{&u.LastLogin}, timeCol{&u.CreatedAt}, &validAfter)
	if validAfter > 0 {
		u.TokensValidAfter = time.UnixMilli(validAfter).UTC()
	}
	return u, err
}

// CreateUser stores u and sets its ID.
func (s *Store) CreateUser(ctx context.Context, u *server.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (login_id, name, email, role, password_hash, is_active,
			is_locked, must_change_password, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
			u.LoginID, u.Name, u.Email, u.Role, u.PasswordHash, u.IsActive, u.MustChangePassword, ts(u.CreatedAt), ts(u.CreatedAt))
		if isUniqueViolation(err) {
			return server.Errorf(api.CodeConflict, "login_id %q is taken", u.LoginID)
		}
		if err != nil {
			return err
		}
		if u.ID, err = res.LastInsertId(); err != nil {
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

// UpdateUser runs fn on a user and stores the result unless fn fails. Moving TokensValidAfter forward revokes
// the sessions begun before it; unlocking forgets the login ID's failed logins.
func (s *Store) UpdateUser(ctx context.Context, id int64, fn func(*server.User) error) (*server.User, error) {
	var u *server.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		if err != nil {
			return notFound(err, "user %d does not exist", id)
		}
		before := *u
		if err := fn(u); err != nil {
			return err
		}
		now := time.Now()
		_, err = tx.ExecContext(ctx, `UPDATE users SET name = ?, email = ?, password_hash = ?, is_active = ?, is_locked = ?,
			locked_at = ?, must_change_password = ?, last_login = ?, tokens_valid_after_ms = ?, updated_at = ? WHERE id = ?`,
			u.Name, u.Email, u.PasswordHash, u.IsActive, u.IsLocked, nullTS(u.LockedAt), u.MustChangePassword,
			nullTS(u.LastLogin), millis(u.TokensValidAfter), ts(now), id)
		if err != nil {
			return err
		}
		if u.TokensValidAfter.After(before.TokensValidAfter) {
			if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL
				AND issued_at <= ?`, ts(now), id, ts(u.TokensValidAfter)); err != nil {
				return err
			}
		}
		if before.IsLocked && !u.IsLocked {
			_, err = tx.ExecContext(ctx, "DELETE FROM login_failures WHERE login_id = ?", u.LoginID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// millis is t in Unix milliseconds, 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// CreateRefreshToken stores a refresh token's hash.
func (s *Store) CreateRefreshToken(ctx context.Context, t server.RefreshToken) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return insertRefreshToken(ctx, tx, t) })
}

func insertRefreshToken(ctx context.Context, tx *sql.Tx, t server.RefreshToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family, user_id, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, t.Hash, t.Family, t.UserID, ts(t.IssuedAt), ts(t.ExpiresAt))
	return err
}

var (
	errRefreshReused  = server.Errorf(api.CodeUnauthorized, "refresh token was already used or revoked; its session is now revoked")
	errRefreshBlocked = server.Errorf(api.CodeUnauthorized, "the account of this refresh token is deactivated or locked; its session is now revoked")
)

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
		owner, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", used.UserID))
		if err != nil {
			return err
		}
		if a := server.TxAuditOf(ctx); a != nil {
			a.Actor(owner) // the call's record names whose token this is, refused or not
		}
		if usedAt.Valid || revokedAt.Valid {
			return errRefreshReused // a second use means the token leaked: its family is revoked below
		}
		if !now.Before(used.ExpiresAt) {
			return server.Errorf(api.CodeUnauthorized, "refresh token expired at %s", used.ExpiresAt.Format(time.RFC3339))
		}
		if !owner.IsActive || owner.IsLocked {
			return errRefreshBlocked
		}
		if _, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET used_at = ? WHERE hash = ?", ts(now), hash); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family, user_id, issued_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`, next.Hash, used.Family, used.UserID, ts(next.IssuedAt), ts(next.ExpiresAt))
		return err
	})
	if errors.Is(err, errRefreshReused) || errors.Is(err, errRefreshBlocked) {
		// The transaction rolled back; revoke the family, with the access tokens issued in it, in a
		// transaction of its own.
		if rerr := s.auditedTx(ctx, err, func(tx *sql.Tx) error { return revokeFamily(ctx, tx, used.Family, now) }); rerr != nil {
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
		return revokeFamily(ctx, tx, family, now)
	})
}

func revokeFamily(ctx context.Context, tx *sql.Tx, family string, now time.Time) error {
	_, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL", ts(now), family)
	return err
}

// RevokeUserRefreshTokens revokes every refresh token of a user.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, userID int64, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", ts(now), userID)
		return err
	})
}
