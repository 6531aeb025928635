//go:build !unix

package engine

// lockRelay is a no-op where flock is missing; the in-process mutex still keeps one round at a time, and
// idempotency keys keep a second relay harmless.
func lockRelay(string) (func(), error) { return func() {}, nil }
