package api

import "time"

// LoginRequest is the body of POST /api/auth/login/.
type LoginRequest struct {
	LoginID  string `json:"login_id"`
	Password string `json:"password"`
}

// Tokens is the answer of login and refresh: a short-lived access JWT and a single-use opaque refresh token.
type Tokens struct {
	Access           string    `json:"access"`
	Refresh          string    `json:"refresh"`
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	User             User      `json:"user"`
}

// RefreshRequest is the body of POST /api/auth/refresh/ and POST /api/auth/logout/.
type RefreshRequest struct {
	Refresh string `json:"refresh"`
}

// ChangePasswordRequest is the body of POST /api/auth/change-password/.
type ChangePasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// User is an account as the API shows it (never with its password hash).
type User struct {
	ID                 int64      `json:"id"`
	LoginID            string     `json:"login_id"`
	Name               string     `json:"name"`
	Email              string     `json:"email,omitempty"`
	Role               Role       `json:"role"`
	IsActive           bool       `json:"is_active"`
	IsLocked           bool       `json:"is_locked"`
	MustChangePassword bool       `json:"must_change_password"`
	LastLogin          *time.Time `json:"last_login,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
}

// CreateUserRequest is the body of POST /api/users/. The new user must change the password at first login.
type CreateUserRequest struct {
	LoginID  string `json:"login_id"`
	Name     string `json:"name"`
	Email    string `json:"email,omitempty"`
	Role     Role   `json:"role"`
	Password string `json:"password"`
}

// PasswordReset answers POST /api/users/{id}/reset-password/: the account, and its temporary password, shown once
// and to be changed at the next sign-in.
type PasswordReset struct {
	User              User   `json:"user"`
	TemporaryPassword string `json:"temporary_password"`
}

// UpdateUserRequest is the body of PATCH /api/users/{id}/; absent fields are left as they are.
type UpdateUserRequest struct {
	Name     *string `json:"name,omitempty"`
	Email    *string `json:"email,omitempty"`
	IsActive *bool   `json:"is_active,omitempty"`
}
