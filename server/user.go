package server

import (
	"fmt"
	"regexp"
	"time"

	"github.com/neuronova/neuronova/api"
)

// Patient, Order, AIResult, AuditRecord and Change are the wire records themselves: the domain adds no hidden
// fields to them. User is not: it carries the password hash.
type (
	Patient      = api.Patient
	Order        = api.Order
	OrderHistory = api.OrderHistory
	AIResult     = api.AIResult
	AuditRecord  = api.AuditRecord
	Change       = api.Change
)

// User is an account with its password hash.
type User struct {
	api.User
	PasswordHash string
	LockedAt     *time.Time
	// TokensValidAfter: access tokens issued at or before it (to the millisecond) are refused.
	TokensValidAfter time.Time
}

// Principal is the authenticated caller of one request, taken from a verified access token.
type Principal struct {
	UserID             int64
	LoginID            string
	Name               string
	Role               api.Role
	MustChangePassword bool
	TokenID            string // the access token's jti
	SessionID          string // the refresh-token family the token was issued in
	IssuedAt           time.Time
	ExpiresAt          time.Time
	ClientAddr         string
}

var loginIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.@-]{3,50}$`)

// ValidateLoginID checks a login ID: 3 to 50 letters, digits or _.@-.
func ValidateLoginID(id string) error {
	if !loginIDPattern.MatchString(id) {
		return Errorf(api.CodeInvalid, "login_id %q must be 3 to 50 characters of letters, digits and _.@-", id)
	}
	return nil
}

// MinPasswordLength is the shortest password accepted for a new or changed password.
const MinPasswordLength = 10

// ValidateNewPassword checks a password chosen for loginID.
func ValidateNewPassword(loginID, password string) error {
	switch {
	case len(password) < MinPasswordLength:
		return Errorf(api.CodeInvalid, "password must be at least %d characters", MinPasswordLength)
	case len(password) > 72:
		return Errorf(api.CodeInvalid, "password must be at most 72 bytes (bcrypt's limit)")
	case password == loginID:
		return Errorf(api.CodeInvalid, "password must differ from the login ID")
	}
	return nil
}

// ValidateNewUser checks a user creation request made by creator.
func ValidateNewUser(creator Principal, req api.CreateUserRequest) error {
	if err := ValidateLoginID(req.LoginID); err != nil {
		return err
	}
	if _, err := api.ParseRole(string(req.Role)); err != nil {
		return Errorf(api.CodeInvalid, "%v", err)
	}
	if err := ValidateText("name", req.Name, 1, 100); err != nil {
		return err
	}
	if req.Role == api.RoleSystemManager && creator.Role != api.RoleSystemManager {
		return Errorf(api.CodeForbidden, "only a SYSTEMMANAGER may create a SYSTEMMANAGER account")
	}
	return ValidateNewPassword(req.LoginID, req.Password)
}

// CanManageUser reports whether actor may change target: SYSTEMMANAGER accounts are changed only by a
// SYSTEMMANAGER (the seed let an ADMIN edit the system account).
func CanManageUser(actor Principal, target *User) error {
	if !actor.Role.IsAdmin() {
		return Errorf(api.CodeForbidden, "only ADMIN and SYSTEMMANAGER manage users")
	}
	if target.Role == api.RoleSystemManager && actor.Role != api.RoleSystemManager {
		return Errorf(api.CodeForbidden, "only a SYSTEMMANAGER may change the SYSTEMMANAGER account %s", target.LoginID)
	}
	if target.ID == actor.UserID {
		return Errorf(api.CodeForbidden, "an administrator may not deactivate or unlock their own account")
	}
	return nil
}

// RefreshToken is a stored refresh token: only its hash is kept. Tokens of one login form a family; each
// refresh uses one up and issues the next. Presenting a used token again revokes the whole family.
type RefreshToken struct {
	Hash      string
	Family    string
	UserID    int64
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// String hides the hash from logs.
func (t RefreshToken) String() string {
	return fmt.Sprintf("refresh token of user %d, family %s", t.UserID, t.Family)
}

// MaxLoginFailures is the number of failed logins after which an account locks (the seed's 5).
const MaxLoginFailures = 5

// LoginFailureWindow is how long failed logins count towards the lockout; a lock itself lasts until an
// administrator unlocks the account.
const LoginFailureWindow = 24 * time.Hour

// AccessRefusal is the refusal of an access token given what the store found: its account active and locked,
// and whether the account's tokens, the token's session or the token itself were revoked. Nil: it may be used.
func AccessRefusal(active, locked, userRevoked, sessionRevoked, tokenRevoked bool) error {
	switch {
	case !active:
		return Errorf(api.CodeUnauthorized, "account is deactivated")
	case locked:
		return Errorf(api.CodeUnauthorized, "account is locked; an administrator must unlock it")
	case userRevoked:
		return Errorf(api.CodeUnauthorized, "access token was revoked (password change, deactivation or lockout); log in again")
	case sessionRevoked:
		return Errorf(api.CodeUnauthorized, "the session of this access token was ended (logout or a reused refresh token); log in again")
	case tokenRevoked:
		return Errorf(api.CodeUnauthorized, "access token was revoked (logout); log in again")
	}
	return nil
}
