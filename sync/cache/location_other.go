//go:build !linux

package cache

// networkFS is only implemented on Linux; elsewhere the synced-folder check by path still applies.
func networkFS(string) string { return "" }
