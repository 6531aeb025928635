#!/usr/bin/env bash
# Starts a private Orthanc and Redis on loopback ports, then `neuronova-server --demo` next to them, exactly as
# the README's "Central server" section does by hand. Everything lives in a temporary folder (or $DIR) and
# stops on Ctrl-C. The server prints one "demo account: ROLE login_id password" line per role.
#   scripts/server-demo.sh            # server on 127.0.0.1:8080, Orthanc on 8042, Redis on 6379
#   PORT=18080 ORTHANC_PORT=18042 REDIS_PORT=16379 scripts/server-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--tags=libsqlite3}
PORT=${PORT:-8080}
ORTHANC_PORT=${ORTHANC_PORT:-8042}
DICOM_PORT=${DICOM_PORT:-4242}
REDIS_PORT=${REDIS_PORT:-6379}
DIR=${DIR:-$(mktemp -d -t neuronova-server-XXXXXX)}
mkdir -p "$DIR"
for p in Orthanc redis-server; do
	command -v "$p" >/dev/null || { echo "$p is not installed: apt-get install orthanc orthanc-dicomweb orthanc-gdcm redis-server" >&2; exit 1; }
done

# Orthanc: loopback only (remote access off), authentication on; only the server knows the password.
ORTHANC_PASSWORD=${ORTHANC_PASSWORD:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
cat >"$DIR/orthanc.json" <<JSON
{
  "Name": "NeuroNova PACS",
  "HttpPort": $ORTHANC_PORT,
  "DicomPort": $DICOM_PORT,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": true,
  "RegisteredUsers": { "neuronova": "$ORTHANC_PASSWORD" },
  "StorageDirectory": "$DIR/orthanc-storage",
  "IndexDirectory": "$DIR/orthanc-index",
  "Plugins": [ "/usr/share/orthanc/plugins" ],
  "GDCM": { "Enable": true, "RestrictTransferSyntaxes": [ "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93" ] }
}
JSON
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

Orthanc "$DIR/orthanc.json" >"$DIR/orthanc.log" 2>&1 &
pids+=($!)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" >"$DIR/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	if curl -sf -u "neuronova:$ORTHANC_PASSWORD" "http://127.0.0.1:$ORTHANC_PORT/system" >/dev/null &&
		(exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; then
		break
	fi
	sleep 0.1
done

go build -o "$DIR/neuronova-server" ./cmd/neuronova-server
echo "Orthanc on 127.0.0.1:$ORTHANC_PORT, Redis on 127.0.0.1:$REDIS_PORT, files in $DIR; starting the server (Ctrl-C stops all three)"
NEURONOVA_ADDR=127.0.0.1:$PORT NEURONOVA_DB=$DIR/neuronova-server.db \
	ORTHANC_URL=http://127.0.0.1:$ORTHANC_PORT ORTHANC_USER=neuronova ORTHANC_PASSWORD=$ORTHANC_PASSWORD \
	REDIS_ADDR=127.0.0.1:$REDIS_PORT \
	"$DIR/neuronova-server" --demo "$@" 2>"$DIR/server.log" &
server=$!
pids+=("$server")
# The demo study (620 files) goes to Orthanc before the server listens: a few seconds.
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do
	if ! kill -0 "$server" 2>/dev/null; then
		echo "neuronova-server stopped; the end of its log ($DIR/server.log):" >&2
		tail -n 5 "$DIR/server.log" >&2
		exit 1
	fi
	sleep 0.2
done
echo "ready: http://127.0.0.1:$PORT  (JSON log: $DIR/server.log)"
wait "$server"
