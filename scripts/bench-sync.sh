#!/usr/bin/env bash
# bench-sync.sh: the sync engine side by side with curl on the same machine, against a real Redis, Orthanc and
# neuronova-server --demo started by the benchmark (sync/engine/bench_test.go):
#   pull: the 620-instance demo study through the server proxy into an empty cache (the manifest, four series
#         streams in parallel, every instance verified by size and MD5, imported) vs curl of Orthanc's
#         /studies/{id}/archive (direct, no checks);
#   push: 620 BraTS-size instances of one study through the outbox relay (STOW-RS batches through the server,
#         each instance confirmed by SOP Instance UID and MD5 from the study's manifest) vs four parallel curl
#         POST loops straight to Orthanc's /instances; the relay to one replica (plain HTTP), and through the
#         production HAProxy (TLS) to two replicas on the same database, Redis and Orthanc.
# A ratio ≥ 1 means the engine is at least as fast as curl. Usage: BENCHTIME=3x scripts/bench-sync.sh (default 5x)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--tags=libsqlite3}"
benchtime="${BENCHTIME:-5x}"
out=$(go test -count=1 -run '^$' -bench 'BenchmarkPullDemoStudy|BenchmarkPush620Instances' -benchtime "$benchtime" ./sync/engine/ 2>/dev/null)
echo "$out" | grep -E '^Benchmark'
# metric NAME LINE: the value printed before the unit NAME on a benchmark line.
metric() { awk -v unit="$1" '{ for (i = 2; i <= NF; i++) if ($i == unit) print $(i - 1) }' <<<"$2"; }
pull=$(grep '^BenchmarkPullDemoStudy' <<<"$out" || true)
if [ -n "$pull" ]; then
  printf 'pull 620 instances (median, alternating): engine via proxy %s s, curl archive %s s, ratio (curl/engine) %s\n' \
    "$(metric engine-s "$pull")" "$(metric curl-archive-s "$pull")" "$(metric ratio "$pull")"
fi
echo "$out" | awk '
  $1 ~ /^BenchmarkPush620Instances\/relay(-[0-9]+)?$/              { push = $3 }
  $1 ~ /^BenchmarkPush620Instances\/relay-two-replicas(-[0-9]+)?$/ { push2 = $3 }
  $1 ~ /^BenchmarkPush620Instances\/curl-x4(-[0-9]+)?$/            { curl4 = $3 }
  END {
    if (push && curl4)  printf "push 620 instances: outbox relay %.2f s, curl x4 %.2f s, ratio (curl/engine) %.2f\n", push/1e9, curl4/1e9, curl4/push
    if (push2 && curl4) printf "push 620 instances through HAProxy to two replicas: %.2f s, ratio (curl/engine) %.2f\n", push2/1e9, curl4/push2
  }'
