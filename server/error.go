// Package server is the domain of the NeuroNova central server: users and principals, patients, the order
// state machine, AI results, audit, the change feed, the visibility rules of the eight roles, and the
// interfaces of the services that technology packages implement (server/sqlite, server/redis,
// server/orthanc, server/auth) and that server/httpapi serves. Wiring lives in cmd/neuronova-server.
package server

import (
	"errors"
	"fmt"

	"github.com/neuronova/neuronova/api"
)

// Error is the one error type that crosses the HTTP boundary: a code the boundary maps to a status and a
// message safe to show to the client. Any other error becomes "internal error" for the client and is logged.
type Error struct {
	Code    api.ErrorCode
	Message string
	Remain  *int // attempts left before lockout, for LOGIN_FAIL
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code api.ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, or api.CodeInternal.
func ErrorCodeOf(err error) api.ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return api.CodeInternal
}

// IsCode reports whether err carries code.
func IsCode(err error, code api.ErrorCode) bool { return err != nil && ErrorCodeOf(err) == code }
