//go:build linux

package cache

import "syscall"

// networkFileSystems maps statfs f_type magic numbers of network and user-space file systems to names.
var networkFileSystems = map[int64]string{
	0x6969:     "NFS",
	0x517B:     "SMB",
	0xFF534D42: "CIFS",
	0xFE534D42: "SMB2",
	0x65735546: "FUSE (sshfs, rclone, a cloud drive…)",
	0x5346414F: "AFS",
	0x01021997: "9P",
	0x564C:     "NCP",
	0x00C36400: "Ceph",
	0x47504653: "GPFS",
	0x0BD00BD0: "Lustre",
}

// networkFS returns the name of dir's file system when it is a network one, "" otherwise.
func networkFS(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ""
	}
	return networkFileSystems[int64(st.Type)]
}
