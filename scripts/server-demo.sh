#!/usr/bin/env bash
# Starts a private Orthanc and Redis with the production configuration of deploy/ (ports, folders and passwords
# replaced), then `neuronova-server --demo` next to them. Orthanc, Redis and the server listen on 127.0.0.1
# only; Orthanc's DICOM server is off. Everything lives in a temporary folder (or $DIR) and stops on Ctrl-C. The
# server prints one "demo account: ROLE login_id password" line per role. Orthanc and Redis run the
# configurations the test harness (internal/testsvc) runs, which TestServerDemoRunsTheHarnessConfiguration
# checks.
#   scripts/server-demo.sh            # server on 127.0.0.1:8080, Orthanc on 8042, Redis on 6379
#   PORT=18080 ORTHANC_PORT=18042 REDIS_PORT=16379 scripts/server-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--tags=libsqlite3}
PORT=${PORT:-8080}
ORTHANC_PORT=${ORTHANC_PORT:-8042}
REDIS_PORT=${REDIS_PORT:-6379}
DIR=${DIR:-$(mktemp -d -t neuronova-server-XXXXXX)}
BIND_LIB=$PWD/.deps/loopback-bind.so
mkdir -p "$DIR"
secret() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ORTHANC_PASSWORD=${ORTHANC_PASSWORD:-$(secret)}
REDIS_PASSWORD=${REDIS_PASSWORD:-$(secret)}

# Orthanc: deploy/orthanc/orthanc.json with this demo's port, folders and password, and its index and files in
# those folders rather than in PostgreSQL.
sed -e "s|\"HttpPort\": 8042,|\"HttpPort\": $ORTHANC_PORT,|" \
	-e "s|\"EnableIndex\": true,|\"EnableIndex\": false,|" -e "s|\"EnableStorage\": true,|\"EnableStorage\": false,|" \
	-e "s|\"Host\": \"127.0.0.1:8042\",|\"Host\": \"127.0.0.1:$ORTHANC_PORT\",|" \
	-e "s|\"StorageDirectory\": \"/var/lib/orthanc/db\",|\"StorageDirectory\": \"$DIR/orthanc-storage\",|" \
	-e "s|\"IndexDirectory\": \"/var/lib/orthanc/db\",|\"IndexDirectory\": \"$DIR/orthanc-index\",|" \
	-e "s|\"CHANGE-THIS-PASSWORD\"|\"$ORTHANC_PASSWORD\"|" deploy/orthanc/orthanc.json >"$DIR/orthanc.json"
# Redis: deploy/redis/redis.conf with this demo's port, folder and password.
sed -e "s|^port 6379$|port $REDIS_PORT|" -e "s|^dir /var/lib/redis$|dir $DIR|" \
	-e "s|^requirepass CHANGE-THIS-PASSWORD$|requirepass $REDIS_PASSWORD|" deploy/redis/redis.conf >"$DIR/redis.conf"
chmod 600 "$DIR/orthanc.json" "$DIR/redis.conf"
for f in "$DIR/orthanc.json" "$DIR/redis.conf"; do
	if grep -v '^#' "$f" | grep -q 'CHANGE-THIS-PASSWORD\|/var/lib/'; then
		echo "$f still holds a production value: deploy/ changed, update this script" >&2
		exit 1
	fi
done
# CONFIG_ONLY=1 stops here: internal/testsvc checks that these are the configurations its services run.
[ -z "${CONFIG_ONLY:-}" ] || exit 0

for p in Orthanc redis-server; do
	command -v "$p" >/dev/null || { echo "$p is not installed: apt-get install orthanc orthanc-dicomweb orthanc-gdcm redis-server" >&2; exit 1; }
done
if ! [ -f "$BIND_LIB" ] || [ deploy/loopback-bind/loopback-bind.c -nt "$BIND_LIB" ]; then
	echo "$BIND_LIB is missing or older than its source: run scripts/setup.sh" >&2
	exit 1
fi

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

LD_PRELOAD=$BIND_LIB Orthanc "$DIR/orthanc.json" >"$DIR/orthanc.log" 2>&1 &
pids+=($!)
redis-server "$DIR/redis.conf" >"$DIR/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	if curl -sf -u "neuronova:$ORTHANC_PASSWORD" "http://127.0.0.1:$ORTHANC_PORT/system" >/dev/null &&
		(exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; then
		break
	fi
	sleep 0.1
done

go build -o "$DIR/neuronova-server" ./cmd/neuronova-server
echo "Orthanc on 127.0.0.1:$ORTHANC_PORT (DICOM off), Redis on 127.0.0.1:$REDIS_PORT, files in $DIR; starting the server (Ctrl-C stops all three)"
NEURONOVA_ADDR=127.0.0.1:$PORT NEURONOVA_DB=$DIR/neuronova-server.db \
	ORTHANC_URL=http://127.0.0.1:$ORTHANC_PORT ORTHANC_USER=neuronova ORTHANC_PASSWORD=$ORTHANC_PASSWORD \
	REDIS_ADDR=127.0.0.1:$REDIS_PORT REDIS_PASSWORD=$REDIS_PASSWORD \
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
