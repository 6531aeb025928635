#!/usr/bin/env bash
# The clinical workflow tried as a new user would, on the real workstation in a virtual X display: the demo
# server (scripts/server-demo.sh: accounts, patients, orders, the demo study in Orthanc), then bin/neuronova
# --server driven with xdotool — the radiographer signs in, sees the orders, runs M1 for the open MRI order
# and writes the report; the doctor reviews it; the system manager opens the Admin view. It writes
# docs/clinic-orders.png, docs/clinic-report.png, docs/clinic-review.png and docs/clinic-admin.png (or into
# $SHOTS). Needs make build, xvfb, xdotool, ImageMagick, curl and jq. The clicks are at the positions of a
# 1400×1000 window.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOTS=${SHOTS:-docs}
PORT=${PORT:-18480}
export LANG=${LANG:-en_US.UTF-8}
export ONNXRUNTIME_SHARED_LIBRARY_PATH=${ONNXRUNTIME_SHARED_LIBRARY_PATH:-$PWD/.deps/onnxruntime-1.30.0/libonnxruntime.so.1}
[ -x bin/neuronova ] || { echo "clinic-screenshots: bin/neuronova is missing: run make build" >&2; exit 1; }

if [ "${1:-}" != "--inside" ]; then
	exec timeout 600 xvfb-run -a -s "-screen 0 1400x1000x24" "$0" --inside
fi

work=$(mktemp -d -t neuronova-shots-XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "clinic-screenshots: $*" >&2
	tail -n 5 "$work"/*.log >&2 || true
	/usr/bin/import -window root "$work/failed.png" 2>/dev/null || true
	mkdir -p "$SHOTS" && cp "$work"/*.png "$SHOTS"/ 2>/dev/null || true # what the screen showed, to see why
	exit 1
}

# The demo server, Orthanc and Redis on ports of their own.
DIR=$work/server PORT=$PORT ORTHANC_PORT=$((PORT + 1)) REDIS_PORT=$((PORT + 2)) setsid scripts/server-demo.sh >"$work/server-demo.log" 2>&1 &
pids+=($!)
url=http://127.0.0.1:$PORT
for _ in $(seq 600); do
	grep -q '^ready:' "$work/server-demo.log" && break
	kill -0 "${pids[0]}" 2>/dev/null || fail "the demo server stopped: $(tail -3 "$work/server-demo.log")"
	sleep 0.2
done
grep -q '^ready:' "$work/server-demo.log" || fail "the demo server did not start"
password() { awk -v u="$1" '$1 == "demo" && $4 == u { print $5 }' "$work/server-demo.log"; }

# The test's own view of the server, as the system manager.
token=$(curl -sf "$url/api/auth/login/" -H 'Content-Type: application/json' \
	-d "{\"login_id\":\"system\",\"password\":\"$(password system)\"}" | jq -r .access)
api() { curl -sf -H "Authorization: Bearer $token" "$url$1"; }
until_api() { # wait until the jq filter $2 on GET $1 is true
	for _ in $(seq 600); do [ "$(api "$1" | jq -r "$2" 2>/dev/null)" = true ] && return 0; sleep 0.5; done
	fail "timed out waiting for $1 | $2"
}

shot() { sleep "${2:-2}"; /usr/bin/import -window root "$work/$1.png"; }
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-1}"; }
type_text() { xdotool type --delay 15 "$1"; }
sign_in() { # the sign-in dialog has the focus
	type_text "$1"
	xdotool key Tab
	type_text "$(password "$1")"
	xdotool key Return
	sleep 8
}

# The workstation, signed in as the radiographer (its first round pulls the demo study).
NEURONOVA_DATA=$work/workstation bin/neuronova --server "$url" >"$work/workstation.log" 2>&1 &
pids+=($!)
win=""
for _ in $(seq 100); do
	win=$(xdotool search --name NeuroNova 2>/dev/null | head -1 || true)
	[ -n "$win" ] && break
	sleep 0.2
done
[ -n "$win" ] || fail "no NeuroNova window"
sleep 3
sign_in ris1
# The window fills the screen (the clicks below are at its positions).
for _ in 1 2 3; do
	xdotool windowsize --sync "$win" 1400 1000 2>/dev/null || true
	xdotool windowmove --sync "$win" 0 0 2>/dev/null || true
	sleep 1
	eval "$(xdotool getwindowgeometry --shell "$win")"
	[ "$WIDTH" = 1400 ] && [ "$HEIGHT" = 1000 ] && break
done
[ "$WIDTH" = 1400 ] && [ "$HEIGHT" = 1000 ] || fail "the window is ${WIDTH}x$HEIGHT, not 1400x1000"
click 98 78      # the Orders tab
click 40 176 3   # ocs_0001, the demo MRI order in progress
shot clinic-orders

click 847 233 8  # Open images
click 98 78      # back to Orders
click 1305 233   # Run M1 for order
until_api "/api/ai/results/?order_id=ocs_0001" 'length > 0'
click 98 78
click 40 176 3
click 879 380 2  # Fill from AI and measurements
click 1082 573; type_text "Right frontal ring-enhancing mass with central necrosis and surrounding oedema; most likely a high-grade glioma."
click 1082 671; type_text "Neurosurgical referral; perfusion MR if surgery is delayed."
click 974 749; click 894 755   # lobe: frontal
click 974 781; click 887 843   # hemisphere: right
click 1298 715; type_text "4.6"
shot clinic-report
click 1120 380 3 # Submit report
until_api "/api/ocs/ocs_0001/" '.status == "RESULT_READY"'

click 1361 43 3  # Sign out: the sign-in dialog opens
sign_in doctor1
click 98 78
click 40 176 4   # the RESULT_READY order comes first; its AI results wait for review
shot clinic-review

click 1361 43 3
sign_in system
click 157 78 5   # the Admin tab
shot clinic-admin

kill -0 "${pids[-1]}" 2>/dev/null || fail "the workstation died during the run"
mkdir -p "$SHOTS"
for s in orders report review admin; do cp "$work/clinic-$s.png" "$SHOTS/clinic-$s.png"; done
echo "clinic-screenshots: wrote $SHOTS/clinic-{orders,report,review,admin}.png"
