#!/usr/bin/env bash
# Every test of NeuroNova, as CI runs it. Called by `make test` after scripts/setup.sh, with PATH, locale,
# ONNXRUNTIME_SHARED_LIBRARY_PATH and GOFLAGS set by the Makefile. Services (Redis, Orthanc) are started by the
# Go test harness itself (internal/testsvc) on loopback ports with temporary storage.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-8s}

step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }
start=$SECONDS

step "format and vet"
unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
go vet ./...

step "UI and core packages build without cgo (only main may pull in a Fyne driver)"
CGO_ENABLED=0 go vet ./ui/... ./viewer/...

step "build"
go build -o bin/neuronova ./cmd/neuronova
go build -o bin/neuronova-server ./cmd/neuronova-server

step "tests"
# Set-up installed every program the tests check against: a missing one fails its test instead of skipping it
# (internal/testenv). Only tests of the real BraTS subject skip, when ../shared is absent.
NEURONOVA_STRICT_TESTS=1 go test -count=1 -timeout 40m ./...

step "fuzz, ${FUZZTIME} per target"
# Every func FuzzXxx in the tree gets a short run; a crash fails the build and leaves its input in testdata/fuzz.
while IFS=: read -r file _ line; do
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")
  dir=./$(dirname "$file")
  echo "fuzz $dir $name"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$dir" >/tmp/neuronova-fuzz.log 2>&1 ||
    { tail -40 /tmp/neuronova-fuzz.log; exit 1; }
done < <(git grep -n -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' -- '*_test.go')

if [ -x scripts/smoke.sh ]; then
  step "smoke: the real workstation under xvfb, driven with xdotool"
  scripts/smoke.sh
fi

step "all tests passed in $((SECONDS - start)) s"
