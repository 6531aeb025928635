#!/usr/bin/env bash
# bench-replicas.sh: 50 simulated workstations making sync rounds at once (the change feed, one AI result with an
# Idempotency-Key, forwarded audit events, the order list) against one neuronova-server and against two behind
# the production HAProxy (deploy/haproxy/haproxy.cfg), on SQLite and on PostgreSQL, all started by the benchmark
# (cmd/neuronova-server BenchmarkSyncLoad, with real Redis, Orthanc and PostgreSQL on loopback). One run; figures
# only. On 2 cores, more replicas cannot add CPU: read what the figures show, not what they should.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--tags=libsqlite3}
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
out=$(go test -count=1 -run '^$' -bench '^BenchmarkSyncLoad$' -benchtime 1x ./cmd/neuronova-server/ | grep '^BenchmarkSyncLoad/')
metric() { awk -v unit="$1" '{ for (i = 2; i <= NF; i++) if ($i == unit) print $(i - 1) }' <<<"$2"; }
printf '50 workstations x 6 sync rounds (load average before: %s)\n' "$load_before"
printf '  %-10s %-9s %10s %10s %12s\n' store replicas 'p50 ms' 'p99 ms' 'rounds/s'
while read -r line; do
	name=${line%% *}
	store=$(cut -d/ -f2 <<<"$name")
	replicas=$(sed -E 's/.*replicas=([0-9]+).*/\1/' <<<"$name")
	printf '  %-10s %-9s %10s %10s %12s\n' "$store" "$replicas" "$(metric p50-ms "$line")" "$(metric p99-ms "$line")" "$(metric rounds/s "$line")"
done <<<"$out"
