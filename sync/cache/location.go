package cache

import (
	"fmt"
	"path/filepath"
	"strings"
)

// syncedFolderMarkers are path components of folders that a sync client mirrors: SQLite's locking and
// the rename-based store are not safe there (the client may upload half-written files or restore old ones).
var syncedFolderMarkers = []string{"dropbox", "onedrive", "google drive", "googledrive", "icloud drive",
	"icloud", "mobile documents", "nextcloud", "owncloud", "box sync", "syncthing", "seafile", "pcloud"}

// locationWarnings says why dir is a poor place for the cache: a network file system or a synced folder.
func locationWarnings(dir string) []string {
	var out []string
	for _, part := range strings.Split(filepath.ToSlash(dir), "/") {
		p := strings.ToLower(part)
		for _, m := range syncedFolderMarkers {
			if p == m || strings.HasPrefix(p, m+" ") || strings.HasPrefix(p, m+"-") {
				out = append(out, fmt.Sprintf("%s looks like a synced folder (%q): a sync client can corrupt the index; use a local folder (--data or NEURONOVA_DATA)", dir, part))
			}
		}
	}
	if fsType := networkFS(dir); fsType != "" {
		out = append(out, fmt.Sprintf("%s is on a network file system (%s): SQLite locking is unreliable there and reading offline is impossible; use a local folder (--data or NEURONOVA_DATA)", dir, fsType))
	}
	return out
}
