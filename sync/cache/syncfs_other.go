//go:build !linux

package cache

// canSyncFS: without syncfs(2), adopted files are fsynced one by one.
const canSyncFS = false

func syncFS(string) error { panic("cache: syncFS without syncfs(2)") }
