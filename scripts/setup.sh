#!/usr/bin/env bash
# Installs what NeuroNova needs to build, run and test it, and only what is missing: Debian packages, the
# en_US.UTF-8 locale, the ONNX Runtime library and the loopback-bind library. Run as root (or with sudo available). Idempotent: when
# everything is there it returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.30.0
ORT_DIR=.deps/onnxruntime-$ORT_VERSION
ORT_LIB=$ORT_DIR/libonnxruntime.so.1
ORT_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23

# Build: cgo for Fyne (GLFW, OpenGL), SQLite and the image codecs (OpenJPEG 2.5 for JPEG 2000 and HTJ2K, CharLS
# 2.4 for JPEG-LS). Run and test: a virtual display and input for the smoke run, DICOM cross-checkers, codec
# references and encoders (GDCM's Python module and tools, OpenJPH, libjpeg-turbo), Orthanc with its DICOMweb,
# GDCM and PostgreSQL plugins, Redis, HAProxy, ip (network namespaces for the DICOM test), npm to fetch ONNX
# Runtime.
PACKAGES=(
  gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev
  libxxf86vm-dev libsqlite3-dev libopenjp2-7-dev libcharls-dev
  xvfb xauth xdotool imagemagick poppler-utils
  dcmtk dicom3tools python3-pydicom python3-numpy python3-gdcm libgdcm-tools openjph-tools libjpeg-turbo-progs
  orthanc orthanc-dicomweb orthanc-gdcm orthanc-postgresql redis-server postgresql iproute2 haproxy
  locales ca-certificates
)
# npm may come with a non-Debian Node.js (whose nodejs package conflicts with Debian's npm): ask for it only
# when there is no npm at all.
command -v npm >/dev/null || PACKAGES+=(npm)

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else say "need root to run: $*"; exit 1; fi
}

# retry N CMD…: apt can fail once with "cannot access archive" when something else cleans its cache.
retry() {
  local n=$1 i; shift
  for ((i = 1; i <= n; i++)); do
    "$@" && return 0
    say "attempt $i of $n failed: $*"
    sleep $((i * 2))
  done
  return 1
}

missing=()
while read -r pkg status; do
  [ "$status" = installed ] || missing+=("$pkg")
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  install() { as_root apt-get install -y --no-install-recommends "${missing[@]}" || { as_root apt-get update && false; }; }
  retry 3 install
fi

if ! locale -a 2>/dev/null | grep -qix 'en_US.utf8'; then
  say "generating the en_US.UTF-8 locale"
  as_root sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen
  grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' | as_root tee -a /etc/locale.gen >/dev/null
  as_root locale-gen >/dev/null
fi

if ! [ -f "$ORT_LIB" ] || ! echo "$ORT_SHA256  $ORT_LIB" | sha256sum -c --status; then
  say "fetching ONNX Runtime $ORT_VERSION (npm pack onnxruntime-node@$ORT_VERSION)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && retry 3 npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
  tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  echo "$ORT_SHA256  $tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c --status ||
    { say "the ONNX Runtime library from npm does not have the expected sha256"; exit 1; }
  mkdir -p "$ORT_DIR"
  mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_LIB"
fi

# loopback-bind keeps Orthanc 1.10 on loopback (deploy/loopback-bind); scripts/server-demo.sh preloads it. The test
# harness builds its own copy; a production host installs it as the README says.
BIND_SRC=deploy/loopback-bind/loopback-bind.c
BIND_LIB=.deps/loopback-bind.so
if ! [ -f "$BIND_LIB" ] || [ "$BIND_SRC" -nt "$BIND_LIB" ]; then
  say "building $BIND_LIB"
  mkdir -p .deps
  cc -shared -fPIC -O2 -Wall -o "$BIND_LIB" "$BIND_SRC"
fi

if ! command -v go >/dev/null; then
  say "Go is missing: install Go 1.26 or newer in /usr/local/go (https://go.dev/doc/install)"
  exit 1
fi
