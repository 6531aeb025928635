#!/usr/bin/env bash
# Smoke run of the real workstation: bin/neuronova on the embedded demo study in a virtual X display
# (xvfb-run), driven with xdotool like a user. Checks that the window maps, that its screenshot is not blank,
# and that scrolling, a window/level drag, a series change and layout changes each change the screen. Screenshots are kept in
# ${SMOKE_OUT:-out/smoke}. Needs xvfb, xdotool and ImageMagick (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${SMOKE_OUT:-out/smoke}
mkdir -p "$out"
[ -x bin/neuronova ] || { echo "smoke: bin/neuronova is missing: run make build" >&2; exit 1; }

if [ "${1:-}" != "--inside" ]; then
	exec timeout 180 xvfb-run -a -s "-screen 0 1280x800x24" "$0" --inside
fi

IM=/usr/bin/import  # ImageMagick; /usr/local/bin may hold stand-ins
# A cache of its own, so that the run neither reads nor changes the user's.
NEURONOVA_DATA=$(mktemp -d)
export NEURONOVA_DATA
CONVERT=/usr/bin/convert
log=$out/neuronova.log
bin/neuronova >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$NEURONOVA_DATA"' EXIT

fail() { echo "smoke: $*" >&2; tail -20 "$log" >&2; exit 1; }

win=""
for _ in $(seq 100); do
	win=$(xdotool search --name 'NeuroNova' 2>/dev/null | head -1 || true)
	[ -n "$win" ] && break
	kill -0 $pid 2>/dev/null || fail "the workstation exited before its window mapped"
	sleep 0.2
done
[ -n "$win" ] || fail "no NeuroNova window after 20 s"

shot() { sleep "${2:-1.5}"; "$IM" -window root "$out/$1.png"; }
# stddev of the grey levels (0…1): 0 for a blank screen.
spread() { "$CONVERT" "$out/$1.png" -colorspace Gray -format '%[fx:standard_deviation]' info:; }
# mean absolute difference of two screenshots, 0…1.
differ() { "$CONVERT" "$out/$1.png" "$out/$2.png" -compose difference -composite -colorspace Gray -format '%[fx:mean]' info:; }
changed() { awk -v d="$1" 'BEGIN { exit !(d > 0.0005) }'; }

xdotool windowactivate --sync "$win" 2>/dev/null || true
xdotool windowsize --sync "$win" 1280 800 2>/dev/null || true
xdotool windowmove --sync "$win" 0 0 2>/dev/null || true
shot start 3
s=$(spread start)
awk -v s="$s" 'BEGIN { exit !(s > 0.02) }' || fail "the screenshot is blank (grey-level spread $s)"
echo "smoke: window mapped, screenshot grey-level spread $s"

# Scroll the stack: the mouse over the top-left viewport of the 2×2 layout, ten wheel notches down.
geo=$(xdotool getwindowgeometry --shell "$win")
eval "$geo"
cx=$((X + WIDTH * 45 / 100)); cy=$((Y + HEIGHT * 30 / 100))
xdotool mousemove --sync "$cx" "$cy"
xdotool click --repeat 10 --delay 30 5
shot scrolled
d=$(differ start scrolled)
changed "$d" || fail "scrolling did not change the image (difference $d)"
echo "smoke: scroll changed the screen (mean difference $d)"

# Window/level: drag 150 px right and 60 px down with the left button.
xdotool mousedown 1
for i in $(seq 1 15); do xdotool mousemove --sync $((cx + 10 * i)) $((cy + 4 * i)); done
xdotool mouseup 1
shot windowed
d=$(differ scrolled windowed)
changed "$d" || fail "dragging did not change the window (difference $d)"
echo "smoke: window/level drag changed the screen (mean difference $d)"

# Keyboard: PgDn puts the next series in the active viewport.
xdotool key Next
shot nextseries
d=$(differ windowed nextseries)
changed "$d" || fail "PgDn did not change the series (difference $d)"
echo "smoke: PgDn changed the series (mean difference $d)"

# Layout: F5 switches to the three-plane MPR layout, F4 back to 2×2.
xdotool key F5
shot mpr
d=$(differ nextseries mpr)
changed "$d" || fail "F5 did not change the layout (difference $d)"
echo "smoke: F5 switched to MPR (mean difference $d)"
xdotool key F4
shot twobytwo
d=$(differ mpr twobytwo)
changed "$d" || fail "F4 did not change the layout back (difference $d)"
echo "smoke: F4 switched back to 2×2 (mean difference $d)"

kill -0 $pid 2>/dev/null || fail "the workstation died during the run"
echo "smoke: passed; screenshots in $out"
