#!/usr/bin/env bash
# Make sure the servers the integration tests need are on this machine and running:
# PostgreSQL on 127.0.0.1:5432 with a test role, the mosquitto binary (the tests start
# their own broker with deploy/mosquitto/cityops.conf on a free port), HAProxy (likewise), and Chromium with
# ChromeDriver for the browser tests. Installs from the distribution's packages where
# missing (Debian/Ubuntu). Idempotent.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "ensure-services: need root (or sudo) to run: $*" >&2; exit 1; fi; }

apt_updated=no
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "ensure-services: $* missing and this is not a Debian/Ubuntu machine; install it by hand" >&2; exit 1
  fi
  if [ "$apt_updated" = no ]; then as_root apt-get update -qq; apt_updated=yes; fi
  echo "ensure-services: installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL -----------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null && ! command -v pg_isready >/dev/null; then
  apt_install postgresql
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "ensure-services: starting PostgreSQL"
  for version in $(ls /etc/postgresql 2>/dev/null); do
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "ensure-services: PostgreSQL did not start" >&2; exit 1; }
fi
# A superuser role with a password works whatever the server's auth method on 127.0.0.1
# (trust here, scram on a fresh install); created over the local socket as postgres.
if ! psql -qtA "postgresql://cityops_test:cityops_test@127.0.0.1:5432/postgres" -c "select 1" >/dev/null 2>&1; then
  echo "ensure-services: creating the PostgreSQL role cityops_test"
  as_root su postgres -c "psql -qtA -c \"DO \\\$\\\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cityops_test') THEN
        CREATE ROLE cityops_test LOGIN SUPERUSER PASSWORD 'cityops_test';
      ELSE ALTER ROLE cityops_test LOGIN SUPERUSER PASSWORD 'cityops_test'; END IF; END \\\$\\\$;\"" >/dev/null
fi

# --- Mosquitto --------------------------------------------------------------------------
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  apt_install mosquitto mosquitto-clients
fi
# --- HAProxy (tests/integration/test_web_proxy.py runs deploy/haproxy/cityops.cfg in front of two web servers) ---
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
  apt_install haproxy
fi
# Debian starts the packaged haproxy.service with its own configuration; the tests start their own.
# --- Chromium (browser tests in tests/browser drive it headless through ChromeDriver) -----
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt_install chromium chromium-driver
fi
# The e-mail channel's tests make a throw-away TLS certificate for their SMTP server with openssl.
if ! command -v openssl >/dev/null; then
  apt_install openssl
fi
# A font with Chinese glyphs, so the zh-CN screens render as text rather than empty boxes.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  apt_install fonts-wqy-microhei
fi
# The PDF report (WeasyPrint) lays text out with the system's Pango (≥ 1.44); the CJK font above
# gives it Chinese glyphs, offline.
if ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then
  apt_install libpango-1.0-0 libpangoft2-1.0-0
fi
# pdftoppm: the browser test turns the printed report into page images for people to look at.
if ! command -v pdftoppm >/dev/null; then
  apt_install poppler-utils
fi
echo "ensure-services: PostgreSQL, Mosquitto, HAProxy and Chromium ready"
