#!/usr/bin/env bash
# Installs the Debian packages vecmirror needs to build and test, only those that are missing.
# Runs apt-get as root directly, otherwise through sudo. Safe to run again: with everything
# installed it changes nothing and needs no network.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libfaiss-dev libopenblas-dev libeigen3-dev
  libpq-dev libpqxx-dev postgresql
  postgresql-server-dev-15  # server headers: tests/pgvector_shim, the pgvector stand-in
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  grpc-proto  # grpc/health/v1/health.proto for vecmirror-cli's health check
  libabsl-dev  # absl::InlinedVector in the mirror (also a dependency of libgrpc-dev)
  libgtest-dev libbenchmark-dev
  libspdlog-dev libcli11-dev nlohmann-json3-dev
  libcpp-httplib-dev  # the Prometheus /metrics endpoint
  zlib1g-dev  # CRC-32 of snapshot files (index/checksummed_file.h)
  libssl-dev  # SHA-256 of tokens, checking TLS files (src/auth)
  openssl     # the tests' throwaway certificates (tests/support/make-test-certs.sh)
)
# Node (18 or newer) and npm for clients/typescript; a Node installed otherwise is kept.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
readonly PACKAGES

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for package in "${PACKAGES[@]}"; do
  is_installed "$package" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 ||
    { echo "install-deps: not root and no sudo; install these packages: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
