#!/usr/bin/env bash
# The README's screenshots of the reading room, from the real window in a virtual X display (xvfb-run),
# driven with xdotool as a reader would: the demo study written as a third-party converter writes a session
# (one StudyInstanceUID per series), opened with --input on a fresh cache. Writes into ${SCREENSHOTS_OUT:-docs}:
#   workstation-2x2.png          the exam in 2×2: corner annotations, scale bars, a RANO bidimensional and a
#                                length, the Measurements tab (RANO's sum of products)
#   workstation-maximised.png    F2 on T1CE: the measurement's handles, the annotations of a large viewport
#   workstation-ai.png           M1 run on the exam's chosen sequences: the segmentation with the model's banner
# Needs xvfb, xdotool and ImageMagick (scripts/setup.sh), and bin/neuronova (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${SCREENSHOTS_OUT:-docs}
[ -x bin/neuronova ] || { echo "reading-screenshots: bin/neuronova is missing: run make build" >&2; exit 1; }
if [ "${1:-}" != "--inside" ]; then
	exec timeout 300 xvfb-run -a -s "-screen 0 1280x800x24" "$0" --inside
fi
export ONNXRUNTIME_SHARED_LIBRARY_PATH=${ONNXRUNTIME_SHARED_LIBRARY_PATH:-$PWD/.deps/onnxruntime-1.30.0/libonnxruntime.so.1}
IM=/usr/bin/import
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
bin/neuronova demo --study-per-series --out "$work/session" >/dev/null 2>&1
NEURONOVA_DATA=$work/data bin/neuronova --input "$work/session" >"$work/log" 2>&1 &
pid=$!
win=
for _ in $(seq 100); do
	win=$(xdotool search --name 'NeuroNova' 2>/dev/null | head -1 || true)
	[ -n "$win" ] && break
	sleep 0.2
done
[ -n "$win" ] || { echo "reading-screenshots: no window" >&2; cat "$work/log" >&2; exit 1; }
xdotool windowactivate --sync "$win" 2>/dev/null || true
xdotool windowsize --sync "$win" 1280 800 2>/dev/null || true
xdotool windowmove --sync "$win" 0 0 2>/dev/null || true
sleep 8 # the exam loads; on a fresh cache the demo study goes into it too

# drag X0 Y0 X1 Y1: a left-button drag in small steps.
drag() {
	xdotool mousemove "$1" "$2" mousedown 1
	for i in $(seq 1 12); do xdotool mousemove $(($1 + ($3 - $1) * i / 12)) $(($2 + ($4 - $2) * i / 12)); sleep 0.02; done
	xdotool mouseup 1
}
# T1CE is top right (x 797–1278, y 62–377): a RANO bidimensional across the enhancing tumour.
xdotool mousemove 1150 300 click 1
xdotool key d
drag 966 207 1013 210
sleep 0.5
# FLAIR is bottom right: a length across the oedema.
xdotool mousemove 1150 620 click 1
xdotool key m
drag 951 545 1021 548
xdotool key Escape
xdotool mousemove 94 248 click 1 # the Measurements tab
xdotool mousemove 1200 740
sleep 1.5
"$IM" -window root "$out/workstation-2x2.png"

xdotool mousemove 1150 300 click 1
xdotool key F2
xdotool mousemove 1240 700
sleep 1.5
"$IM" -window root "$out/workstation-maximised.png"
xdotool key F2

xdotool mousemove 191 248 click 1 # the AI tab
sleep 0.5
xdotool mousemove 155 343 click 1 # Run M1
sleep 25
xdotool mousemove 1200 740
sleep 0.5
"$IM" -window root "$out/workstation-ai.png"
echo "reading-screenshots: wrote $out/workstation-2x2.png, workstation-maximised.png, workstation-ai.png"
