#!/usr/bin/env bash
# Idempotent, non-interactive install of every Debian 12 package the build, the tests and the
# test servers need. Skips apt entirely when everything is already installed.
set -euo pipefail
# chromium: the status page test (headless Chromium; the test is skipped where it is missing).
PKGS=(
  build-essential cmake ninja-build pkg-config ccache
  librabbitmq-dev libpq-dev libcurl4-openssl-dev libsqlite3-dev
  libhiredis-dev nlohmann-json3-dev libsimdjson-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
  postgresql-15 postgresql-client-15 rabbitmq-server redis-server sqlite3 socat curl procps python3 time clang-format
  chromium
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root or install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages may start system-wide servers; ours run on private ports in temp dirs,
# so the system ones are left alone (they do not clash).
