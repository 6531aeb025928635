// Package deploy holds the production configuration of the services that run next to neuronova-server, and
// embeds it for the test harness (internal/testsvc), which runs these very files:
//   - orthanc/orthanc.json: Orthanc with its DICOM server off, HTTP for the server alone (loopback,
//     authentication), no WebDAV, no Lua, no file writes, the DICOMweb and GDCM (JPEG 2000 only) plugins;
//   - orthanc/orthanc-dicom.json: the same with the DICOM server on, for registered modalities only;
//   - loopback-bind/loopback-bind.c: preloaded into Orthanc 1.10, which has no setting for the address it
//     listens on, it keeps Orthanc's sockets on loopback (all but the DICOM port of the variant);
//   - orthanc/neuronova.conf: the systemd drop-in for Debian's orthanc.service that runs both;
//   - redis/redis.conf: Redis on loopback with a password, an append-only file and no dangerous commands;
//   - haproxy/haproxy.cfg: the load balancer in front of the server's replicas, terminating TLS.
//
// The README's "Central server" section says how to install them.
package deploy

import _ "embed"

var (
	// RedisConf is redis/redis.conf.
	//go:embed redis/redis.conf
	RedisConf string

	// OrthancJSON is orthanc/orthanc.json.
	//go:embed orthanc/orthanc.json
	OrthancJSON []byte

	// OrthancDicomJSON is orthanc/orthanc-dicom.json.
	//go:embed orthanc/orthanc-dicom.json
	OrthancDicomJSON []byte

	// HAProxyCfg is haproxy/haproxy.cfg.
	//go:embed haproxy/haproxy.cfg
	HAProxyCfg string

	// LoopbackBindC is loopback-bind/loopback-bind.c.
	//go:embed loopback-bind/loopback-bind.c
	LoopbackBindC []byte
)
