#!/usr/bin/env bash
# Side-by-side, per transfer syntax: the workstation's decoders (Go JPEG, OpenJPEG, CharLS through the viewer)
# and GDCM (Debian python3-gdcm, the C++ decoders pydicom uses) on the same files: a 16-frame 512×512 12-bit
# series encoded in each syntax by dcmtk, GDCM and OpenJPH. One thread each; each side decodes each file once
# to warm up and three times timed in CPU time (so that other work on a shared machine does not count), the
# fastest counting; prints frames per CPU second and the ratio (goal: ≥ 1× GDCM). GDCM 3.0 does not decode
# HTJ2K.
#
# Needs what scripts/setup.sh installs (dcmtk, libgdcm-tools, python3-gdcm, openjph-tools).
# Usage: scripts/bench-codecs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH GOFLAGS=${GOFLAGS:--tags=libsqlite3} LANG=${LANG:-en_US.UTF-8} LC_ALL=${LC_ALL:-en_US.UTF-8}
# Frames are decoded one after the other on both sides.
go test -v -run '^$' -bench '^BenchmarkVersusGDCM$' -benchtime 1x ./viewer/codec/conformance |
  sed -n '/syntax (/,/^PASS/p' | grep -v '^PASS' | sed 's/^ *//'
