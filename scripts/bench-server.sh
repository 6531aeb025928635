#!/usr/bin/env bash
# The central server's speed, side by side with Orthanc itself. Runs the Go benchmarks of server/httpapi, which
# start a real redis-server and Orthanc on loopback (internal/testsvc) and the server's full HTTP stack:
#   - authenticated GET of a patient (token, Redis gate, role check, SQLite read, committed audit record) with
#     parallel clients: throughput, p50 and p99;
#   - the same DICOM data fetched from Orthanc directly and through /api/orthanc/, alternating request by
#     request: p50 of each and the ratio proxy / direct (the issue's target is ≤ 1.1), for one MR slice
#     (256² and 512²), the DICOMweb metadata of a 64-slice series and that series' ZIP archive; and, as the
#     floor any proxy pays, a bare Go pass-through proxy with no checks.
# Figures only; nothing is asserted. On a shared machine, run it twice and read the better run.
#   CPUS=2 GET_TIME=3s PROXY_N=300 scripts/bench-server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--tags=libsqlite3}
CPUS=${CPUS:-2}
GET_TIME=${GET_TIME:-3s}
PROXY_N=${PROXY_N:-300}

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
get=$(go test -run '^$' -bench '^BenchmarkAuthenticatedGET$' -benchtime "$GET_TIME" -cpu "$CPUS" ./server/httpapi/ | grep '^Benchmark')
proxy=$(go test -run '^$' -bench '^BenchmarkProxyOverhead$' -benchtime "${PROXY_N}x" -cpu "$CPUS" ./server/httpapi/ | grep '^Benchmark')

# metric NAME LINE: the value printed before the unit NAME on a benchmark line.
metric() { awk -v unit="$1" '{ for (i = 2; i <= NF; i++) if ($i == unit) print $(i - 1) }' <<<"$2"; }

printf 'authenticated GET /api/patients/{id}/ (%s cores, 8 parallel clients, %s)\n' "$CPUS" "$GET_TIME"
printf '  %10s req/s   p50 %6s µs   p99 %6s µs\n' "$(metric req/s "$get")" "$(metric p50-µs "$get")" "$(metric p99-µs "$get")"
printf '\nOrthanc direct vs through /api/orthanc/ (%s requests each, alternating)\n' "$PROXY_N"
printf '  %-26s %12s %12s %12s %12s %10s\n' workload 'direct p50' 'proxy p50' 'added p50' 'proxy p99' 'p50 ratio'
while read -r line; do
	name=$(awk '{ print $1 }' <<<"$line" | sed -e 's|^BenchmarkProxyOverhead/||' -e 's|-[0-9]*$||')
	d=$(metric direct-p50-µs "$line") p=$(metric proxy-p50-µs "$line")
	printf '  %-26s %9s µs %9s µs %9s µs %9s µs %10s\n' "$name" "$d" "$p" "$(awk -v d="$d" -v p="$p" 'BEGIN { printf "%.0f", p - d }')" \
		"$(metric proxy-p99-µs "$line")" "$(metric p50-ratio "$line")"
done <<<"$proxy"
echo '  (target: p50 ratio ≤ 1.1; bare-go-proxy is the floor of any extra HTTP hop on this machine: a Go'
echo '   pass-through with no token, Redis or audit; its added p50 is what a second hop costs on its own)'
printf 'load average before / after: %s / %s (the machine is shared: run twice, read the better run)\n' \
	"$load_before" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
