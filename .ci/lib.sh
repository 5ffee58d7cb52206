# Shared by .ci/run and .ci/fresh: the services and the fresh virtual environment a test run needs.
# Sourced, not run.

# A PostgreSQL server on 127.0.0.1:5432 (the tests discover it and make a scratch database).
PG_STARTED_BY_CI=""
ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "ci: installing PostgreSQL from the distribution's packages"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || return 1
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    local ver
    ver="$(ls /etc/postgresql | sort -V | tail -1)"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || return 1
    PG_STARTED_BY_CI="$ver"
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 -q
}
stop_postgres() {
  if [ -n "$PG_STARTED_BY_CI" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$PG_STARTED_BY_CI" main stop || true
  fi
}

# Debian's Chromium for the browser tests (Playwright drives it; its own download cannot work here).
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "ci: installing Chromium from the distribution's packages"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || return 1
  fi
}

# A new virtual environment at $1, activated; removed when the script exits.
fresh_venv() {
  CI_VENV="$1"
  rm -rf "$CI_VENV"
  python3.11 -m venv "$CI_VENV"
  # shellcheck disable=SC1091
  source "$CI_VENV/bin/activate"
  python -m pip install -q --upgrade pip
  echo "ci: fresh virtual environment at $CI_VENV ($(python --version), pip $(python -m pip --version | cut -d' ' -f2))"
}
cleanup() {
  stop_postgres
  if [ -n "${CI_VENV:-}" ]; then
    deactivate 2>/dev/null || true
    rm -rf "$CI_VENV"
  fi
}

ci_setup() {
  trap cleanup EXIT
  if ensure_postgres; then
    echo "ci: PostgreSQL at 127.0.0.1:5432"
  else
    echo "ci: could not provide PostgreSQL at 127.0.0.1:5432" >&2
    exit 1
  fi
  ensure_chromium || { echo "ci: could not install Chromium" >&2; exit 1; }
  export MPLBACKEND=Agg
  export CI=true  # the test run fails if the PostgreSQL or the browser tests did not run
}
