// Package server is the domain of the NeuroNova central server: users and principals, patients, the order
// state machine, AI results, audit, the change feed, the visibility rules of the eight roles, and the
// interfaces of the services that technology packages implement (server/sqlite, server/redis,
// server/orthanc, server/auth) and that server/httpapi serves. Wiring lives in cmd/neuronova-server.
package server

import (
	"errors"

	"github.com/neuronova/neuronova/api"
)

// Error is the one error type that crosses the HTTP boundary (api.Error): a code the boundary maps to a status
// (api.StatusOf) and a message safe to show to the client. Any other error becomes "internal error" for the
// client and is logged.
type Error = api.Error

// Errorf returns an *Error with a formatted message.
func Errorf(code api.ErrorCode, format string, args ...any) *Error {
	return api.Errorf(code, format, args...)
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
