#!/usr/bin/env bash
# Installs what reservd needs on a fresh Debian machine: npm dependencies (npm ci) and, when no browser is
# found, Debian's Chromium. With --postgres it also starts the local PostgreSQL on 127.0.0.1:5432 when it
# does not answer (the tests need it; the daemon's default is an embedded PostgreSQL and needs none).
set -euo pipefail
cd "$(dirname "$0")/.."

with_postgres=false
[ "${1:-}" = "--postgres" ] && with_postgres=true

echo "setup: npm ci"
npm ci --no-audit --no-fund

have_browser() {
  [ -n "${RESERVD_BROWSER:-}" ] && [ -x "${RESERVD_BROWSER}" ] && return 0
  for b in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    [ -x "$b" ] && return 0
  done
  return 1
}
if have_browser; then
  echo "setup: browser found"
else
  echo "setup: no browser found; installing Debian's chromium"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
  /usr/bin/chromium --version || true
fi

if $with_postgres; then
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "setup: PostgreSQL answers on 127.0.0.1:5432"
  else
    echo "setup: starting PostgreSQL"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
    for _ in $(seq 1 30); do
      pg_isready -q -h 127.0.0.1 -p 5432 && break
      sleep 1
    done
    pg_isready -h 127.0.0.1 -p 5432
  fi
fi
