#!/usr/bin/env bash
# From files on disk to the first rendered image, side by side, on one 155-file series written like a
# third-party converter writes a session (one StudyInstanceUID per series; 240×240, unsigned 16-bit):
#   in process    the window's code (viewer.Open, the hanging protocol, the volume loaded in a worker, the
#                 viewport's render worker) until the first image is on the canvas: BenchmarkFirstImage
#   whole process `neuronova render --input SERIES --out x.png`, process start to exit
#   pydicom       a `dcmread(f).pixel_array` loop over the same files, in one Python process
# Best of RUNS runs each (page cache warm), then the ratios the reading-room issue asks for:
#   pydicom / in process (goal ≥ 3)      pydicom / whole process (goal ≥ 1.5)
# Needs python3-pydicom and python3-numpy (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--tags=libsqlite3}
RUNS=${RUNS:-15}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/neuronova" ./cmd/neuronova
"$dir/neuronova" demo --study-per-series --out "$dir/study" >/dev/null 2>&1
series=$dir/study/SE001
files=$(find "$series" -name '*.dcm' | wc -l)
"$dir/neuronova" info "$series" | grep -q 'grid 240×240×155' || { echo "unexpected fixture" >&2; exit 1; }

inproc=$(NEURONOVA_FIRST_IMAGE_DIR=$series go test -run '^$' -bench '^BenchmarkFirstImage$' -benchtime "${RUNS}x" -count 3 ./ui/ |
	awk '$1 ~ /^BenchmarkFirstImage/ { ns = $3; if (min == "" || ns < min) min = ns } END { printf "%.1f", min / 1e6 }')

whole=$(for _ in $(seq "$RUNS"); do
	s=$(date +%s%N)
	"$dir/neuronova" render --input "$series" --out "$dir/first.png" >/dev/null
	e=$(date +%s%N)
	echo $(( (e - s) / 1000 ))
done | sort -n | head -1 | awk '{ printf "%.1f", $1 / 1e3 }')

pydicom=$(/usr/bin/python3 - "$series" "$RUNS" <<'PY'
import glob, sys, time
import pydicom
files = sorted(glob.glob(sys.argv[1] + "/*.dcm"))
best = None
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    for f in files:
        pydicom.dcmread(f).pixel_array
    d = time.perf_counter() - t
    best = d if best is None else min(best, d)
print("%.1f" % (best * 1e3))
PY
)

printf 'one series: %d files, 240×240 uint16, one StudyInstanceUID per series; best of %d runs; %d CPUs, load average %s\n' \
	"$files" "$RUNS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  NeuroNova in process (window code, first image)   %8.1f ms\n' "$inproc"
printf '  neuronova render (whole process, PNG written)     %8.1f ms\n' "$whole"
printf '  pydicom dcmread().pixel_array loop                %8.1f ms\n' "$pydicom"
awk -v i="$inproc" -v w="$whole" -v p="$pydicom" 'BEGIN {
	printf "ratio pydicom / in process: %.2f (goal >= 3)\n", p / i
	printf "ratio pydicom / whole process: %.2f (goal >= 1.5)\n", p / w
}'
