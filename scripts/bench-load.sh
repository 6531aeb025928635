#!/usr/bin/env bash
# Loading the demo study (620 DICOM files, four 240×240×155 series) side by side: NeuroNova's Scan + LoadSeries
# against a pydicom `dcmread(f).pixel_array` loop over the same files, and against merely reading the files'
# bytes (the physical floor). Prints the two ratios the imaging-core issue asks for:
#   pydicom / NeuroNova  (target ≥ 4)      NeuroNova / read bytes  (target ≤ 2)
# Best of several runs each, page cache warm. Needs python3-pydicom and python3-numpy (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--tags=libsqlite3}
RUNS=${RUNS:-10}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The Go benchmarks write the demo study into NEURONOVA_BENCH_DIR on first use, so pydicom reads the same files.
bench=$(NEURONOVA_BENCH_DIR=$dir go test -run '^$' -bench '^Benchmark(LoadStudy|ReadFiles)$' -benchtime "${RUNS}x" -count 3 ./viewer/)
best() { awk -v name="$1" '$1 ~ "^"name"(-[0-9]+)?$" { ns = $3; if (min == "" || ns < min) min = ns } END { printf "%.1f", min / 1e6 }' <<<"$bench"; }
ours=$(best BenchmarkLoadStudy)
floor=$(best BenchmarkReadFiles)
files=$(find "$dir" -name '*.dcm' | wc -l)

pydicom=$(/usr/bin/python3 - "$dir" "$RUNS" <<'EOF'
import glob, sys, time
import pydicom
files = sorted(glob.glob(sys.argv[1] + "/**/*.dcm", recursive=True))
best = None
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    for f in files:
        pydicom.dcmread(f).pixel_array
    d = time.perf_counter() - t
    best = d if best is None else min(best, d)
print("%.1f" % (best * 1e3))
EOF
)

printf 'demo study: %d files, best of %d runs\n' "$files" "$RUNS"
printf '  read the bytes (os.ReadFile loop)   %8.1f ms\n' "$floor"
printf '  NeuroNova Scan + LoadStudy          %8.1f ms\n' "$ours"
printf '  pydicom dcmread().pixel_array loop  %8.1f ms\n' "$pydicom"
awk -v o="$ours" -v p="$pydicom" -v f="$floor" 'BEGIN {
	printf "ratio pydicom / NeuroNova: %.2f (target >= 4)\n", p / o
	printf "ratio NeuroNova / read bytes: %.2f (target <= 2)\n", o / f
}'
