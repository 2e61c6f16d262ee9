#!/usr/bin/env bash
# Installs killreport with its systemd units (deploy/systemd), the dedicated user and the
# environment file; enables nothing. Run as root on the machine that runs the workers:
#
#   deploy/install.sh [KILLREPORT_BIN]          (default: build/killreport)
#
# then edit /etc/killreport/killreport.env and enable one layout (docs/operations.md).
# DESTDIR=/some/root installs into that tree instead and touches nothing of this machine's
# (no user, no daemon-reload): for packaging, and for tests/deploy/deploy_test.cpp.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/killreport}
DESTDIR=${DESTDIR:-}
[ -x "$BIN" ] || { echo "install.sh: $BIN is not built (scripts/build.sh)" >&2; exit 1; }

install -D -m 0755 "$BIN" "$DESTDIR/usr/local/bin/killreport"
install -D -m 0644 deploy/killreport.sysusers "$DESTDIR/etc/sysusers.d/killreport.conf"
install -d -m 0755 "$DESTDIR/etc/systemd/system"
install -m 0644 deploy/systemd/killreport-* "$DESTDIR/etc/systemd/system/"
env_file="$DESTDIR/etc/killreport/killreport.env"
if [ -e "$env_file" ]; then
  echo "install.sh: kept $env_file (deploy/killreport.env is the current example)"
else
  install -D -m 0640 deploy/killreport.env "$env_file"
fi
if [ -z "$DESTDIR" ]; then
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers killreport.conf
  elif ! id killreport >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/killreport --shell /usr/sbin/nologin killreport
  fi
  chgrp killreport "$env_file"
  systemctl daemon-reload
fi
timers=$(cd deploy/systemd && echo killreport-*.timer)
echo "installed; next: edit /etc/killreport/killreport.env, then enable one layout (docs/operations.md):"
echo "  embedded:   systemctl enable --now killreport-run.service"
echo "  scaled out: systemctl enable --now killreport-workers.target"
echo "  schedule:   systemctl enable --now $timers"
