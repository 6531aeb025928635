package api

import (
	"fmt"
	"net/http"
)

// ErrorCode names what went wrong; each code has one HTTP status (StatusOf).
type ErrorCode string

const (
	CodeInvalid                ErrorCode = "INVALID"                  // 400: the request is malformed or breaks a rule
	CodeUnauthorized           ErrorCode = "UNAUTHORIZED"             // 401: no, expired or tampered token
	CodeForbidden              ErrorCode = "FORBIDDEN"                // 403: the role or the ownership rules deny it
	CodeNotFound               ErrorCode = "NOT_FOUND"                // 404
	CodeConflict               ErrorCode = "CONFLICT"                 // 409: illegal state transition, reused key
	CodeTooLarge               ErrorCode = "TOO_LARGE"                // 413
	CodeRateLimited            ErrorCode = "RATE_LIMITED"             // 429
	CodeInternal               ErrorCode = "INTERNAL"                 // 500: details only in the server log
	CodeBadGateway             ErrorCode = "BAD_GATEWAY"              // 502: Orthanc answered something unusable
	CodeUnavailable            ErrorCode = "UNAVAILABLE"              // 503: Redis, Orthanc or the database is down
	CodeLoginFail              ErrorCode = "LOGIN_FAIL"               // 401, with Remain attempts before lockout
	CodeLoginLocked            ErrorCode = "LOGIN_LOCKED"             // 423
	CodeInactiveUser           ErrorCode = "INACTIVE_USER"            // 403
	CodePasswordChangeRequired ErrorCode = "PASSWORD_CHANGE_REQUIRED" // 403 on every route but me, change-password, logout
)

// codeStatus is the one table of error codes and HTTP statuses, read both ways: the server answers a code
// with its status, and the client reads a status that came without an error body as the first code listed
// with it.
var codeStatus = []struct {
	code   ErrorCode
	status int
}{
	{CodeInvalid, http.StatusBadRequest},
	{CodeUnauthorized, http.StatusUnauthorized},
	{CodeLoginFail, http.StatusUnauthorized},
	{CodeForbidden, http.StatusForbidden},
	{CodeInactiveUser, http.StatusForbidden},
	{CodePasswordChangeRequired, http.StatusForbidden},
	{CodeNotFound, http.StatusNotFound},
	{CodeConflict, http.StatusConflict},
	{CodeTooLarge, http.StatusRequestEntityTooLarge},
	{CodeLoginLocked, http.StatusLocked},
	{CodeRateLimited, http.StatusTooManyRequests},
	{CodeInternal, http.StatusInternalServerError},
	{CodeBadGateway, http.StatusBadGateway},
	{CodeUnavailable, http.StatusServiceUnavailable},
}

// Codes lists every error code, in the order of the table.
func Codes() []ErrorCode {
	out := make([]ErrorCode, len(codeStatus))
	for i, e := range codeStatus {
		out[i] = e.code
	}
	return out
}

// StatusOf returns the HTTP status the server answers code with; 500 for a code it does not know.
func StatusOf(code ErrorCode) int {
	for _, e := range codeStatus {
		if e.code == code {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// CodeOf returns the error code of an HTTP status that came without an error body (a proxy's answer): the
// first code of the table with that status, else UNAVAILABLE for another 5xx and INVALID for anything else.
func CodeOf(status int) ErrorCode {
	for _, e := range codeStatus {
		if e.status == status {
			return e.code
		}
	}
	if status >= 500 {
		return CodeUnavailable
	}
	return CodeInvalid
}

// Error is the one error type on the wire: the body of every non-2xx answer of the API, the error the server's
// handlers return (server.Error) and the one the workstation's client returns.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
	// Remain is the number of login attempts left before the account locks (LOGIN_FAIL only).
	Remain *int `json:"remain,omitempty"`
	// Status is the HTTP status the error came with (set by the client, not sent).
	Status int `json:"-"`
}

// Errorf returns an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Remain != nil {
		return fmt.Sprintf("%s: %s (%d attempts left)", e.Code, e.Message, *e.Remain)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}
