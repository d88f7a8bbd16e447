#!/usr/bin/env bash
# ckanext-servicespublics: set up, run and test the catalogue on Debian 12.
#
#   ./dev.sh demo     install everything, start PostgreSQL/PostGIS and Redis,
#                     load the demo data and serve http://127.0.0.1:5000
#   ./dev.sh test     install everything, start the services, lint, run pytest
#   ./dev.sh stop     stop what demo/test started (CKAN, worker, PostgreSQL, Redis)
#   ./dev.sh status   tell what is running
#   ./dev.sh setup    install and start the services, no demo data, no server
#   ./dev.sh ckan ... run a `ckan` command against the demo site's ini
#
# Everything lives in .run/ (git-ignored): the virtualenv, the PostgreSQL
# cluster, Redis' data, uploads, logs and the generated ckan.ini.  Services
# listen on 127.0.0.1 only, on non-default ports.  Running any command twice
# is harmless: each step checks what is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$ROOT/.run"
VENV="$RUN/venv"
PG_PORT="${SP_PG_PORT:-55432}"
REDIS_PORT="${SP_REDIS_PORT:-56379}"
CKAN_HOST="127.0.0.1"
CKAN_PORT="${SP_CKAN_PORT:-5000}"
PG_BIN="/usr/lib/postgresql/15/bin"
PYTHON="${SP_PYTHON:-python3}"
SITE_INI="$RUN/ckan.ini"

# database names and roles; the test credentials are also written in test.ini
DEMO_DB="servicespublics"
DEMO_ROLE="servicespublics"
TEST_DB="servicespublics_test"
TEST_ROLE="servicespublics_test"
TEST_PASSWORD="servicespublics_test"

APT_BASE=(postgresql-15 postgresql-15-postgis-3 redis-server python3 python3-venv
          python3-dev build-essential libpq-dev git ca-certificates curl)
APT_TEST=(chromium chromium-driver)

log() { printf '\033[1;34m[servicespublics]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[servicespublics] %s\033[0m\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ---------------------------------------------------------------- system
install_system() {
  local wanted=("${APT_BASE[@]}") missing=() p
  if [ "${1:-}" = test ]; then wanted+=("${APT_TEST[@]}"); fi
  command -v npm >/dev/null 2>&1 || wanted+=(nodejs npm)
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "Installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# ---------------------------------------------------------------- python
install_python() {
  mkdir -p "$RUN"
  local stamp="$RUN/venv.stamp" sum
  sum="$(cat "$ROOT/setup.py" "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" \
          | sha256sum | cut -c1-16)"
  if [ ! -x "$VENV/bin/python" ]; then
    log "Creating the virtualenv in .run/venv"
    "$PYTHON" -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$sum" ]; then
    log "Installing CKAN 2.12, the extensions and this one (editable)"
    "$VENV/bin/pip" install -q --disable-pip-version-check -U pip setuptools wheel
    "$VENV/bin/pip" install -q --disable-pip-version-check \
      -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$ROOT"
    echo "$sum" > "$stamp"
  fi
  # translations are compiled from the .po files kept in git
  "$VENV/bin/pybabel" -q compile -f -D ckanext-servicespublics \
    -d "$ROOT/ckanext-servicespublics/ckanext/servicespublics/i18n" \
    || die "could not compile the translation catalogues"
}

install_npm() {
  [ -f "$ROOT/package.json" ] || return 0
  local stamp="$RUN/npm.stamp" sum
  sum="$(cat "$ROOT/package.json" "$ROOT/package-lock.json" 2>/dev/null | sha256sum | cut -c1-16)"
  if [ ! -d "$ROOT/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$sum" ]; then
    log "Installing front-end packages from npm"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$sum" > "$stamp"
  fi
  "$VENV/bin/python" "$ROOT/ckanext-servicespublics/ckanext/servicespublics/vendor.py" "$ROOT"
}

# ---------------------------------------------------------------- postgres
pg_owner() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_dirs() {
  mkdir -p "$RUN"
  local key
  key="$(printf '%s' "$ROOT" | sha256sum | cut -c1-10)"
  PG_SOCK="/tmp/servicespublics-pg-$key"
  if [ ! -e "$RUN/pg" ]; then
    mkdir -p "$RUN/pg"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$RUN/pg"
      # the postgres user must reach .run/pg: when the checkout sits in a
      # private home (/root), keep the cluster under /var/lib and link to it
      if ! runuser -u postgres -- test -w "$RUN/pg"; then
        rmdir "$RUN/pg"
        mkdir -p "/var/lib/servicespublics/pg-$key"
        chown postgres:postgres "/var/lib/servicespublics/pg-$key"
        ln -s "/var/lib/servicespublics/pg-$key" "$RUN/pg"
      fi
    fi
  fi
  PGDATA_DIR="$RUN/pg/data"
  if [ ! -d "$PG_SOCK" ]; then
    mkdir -p "$PG_SOCK"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_SOCK"; fi
    chmod 700 "$PG_SOCK"
  fi
}

psql_admin() {
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" \
    -U "$(pg_owner)" "$@"
}

start_postgres() {
  pg_dirs
  if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
    log "Creating the PostgreSQL cluster in .run/pg (port $PG_PORT)"
    as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U "$(pg_owner)" -E UTF8 \
      --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    log "Starting PostgreSQL on 127.0.0.1:$PG_PORT"
    local fast=""
    # the test command trades durability for speed: the test database is
    # thrown away at every run
    if [ "${SP_PG_FAST:-0}" = 1 ]; then fast="-c fsync=off -c full_page_writes=off"; fi
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$RUN/pg/postgresql.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_SOCK -c synchronous_commit=off $fast" \
      start >/dev/null
  fi
}

# create_database NAME ROLE PASSWORD
create_database() {
  local db="$1" role="$2" password="$3"
  psql_admin -d postgres <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE "$role" LOGIN PASSWORD '$password';
  ELSE
    ALTER ROLE "$role" LOGIN PASSWORD '$password';
  END IF;
END \$\$;
SQL
  if [ -z "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    log "Creating database $db"
    psql_admin -d postgres -c "CREATE DATABASE \"$db\" OWNER \"$role\" ENCODING 'UTF8' TEMPLATE template0"
  fi
  # PostGIS and unaccent live in their own schema, after public on the
  # search path: CKAN's test fixtures reflect and drop every table of the
  # default schema, and PostGIS' spatial_ref_sys must not be one of them.
  psql_admin -d "$db" <<SQL
CREATE SCHEMA IF NOT EXISTS postgis;
GRANT USAGE ON SCHEMA postgis TO "$role";
CREATE EXTENSION IF NOT EXISTS postgis SCHEMA postgis;
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA postgis;
ALTER DATABASE "$db" SET search_path = "\$user", public, postgis;
SQL
}

# ---------------------------------------------------------------- redis
start_redis() {
  mkdir -p "$RUN/redis"
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "Starting Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$RUN/redis" \
      --daemonize yes --pidfile "$RUN/redis/redis.pid" \
      --logfile "$RUN/redis/redis.log" --protected-mode yes >/dev/null
    local i
    for i in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
      sleep 0.2
    done
    die "Redis did not start (see .run/redis/redis.log)"
  fi
}

# ---------------------------------------------------------------- site
secret() { "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))'; }

write_site_ini() {
  mkdir -p "$RUN/storage" "$RUN/logs"
  if [ ! -f "$RUN/secrets.env" ]; then
    umask 077
    {
      echo "DB_PASSWORD=$(secret)"
      echo "SECRET_KEY=$(secret)"
    } > "$RUN/secrets.env"
    umask 022
  fi
  # shellcheck disable=SC1091
  . "$RUN/secrets.env"
  umask 077
  cat > "$SITE_INI" <<INI
# Generated by dev.sh from config/demo.ini: do not edit, it is rewritten.
[app:main]
use = config:../config/demo.ini
sqlalchemy.url = postgresql://$DEMO_ROLE:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DEMO_DB
ckan.redis.url = redis://127.0.0.1:$REDIS_PORT/0
ckan.site_url = http://$CKAN_HOST:$CKAN_PORT
ckan.storage_path = $RUN/storage
SECRET_KEY = $SECRET_KEY
beaker.session.secret = $SECRET_KEY
WTF_CSRF_SECRET_KEY = $SECRET_KEY
api_token.jwt.encode.secret = string:$SECRET_KEY
api_token.jwt.decode.secret = string:$SECRET_KEY
INI
  umask 022
}

ckan_cmd() { "$VENV/bin/ckan" -c "$SITE_INI" "$@"; }

create_sysadmin() {
  local name="${SP_ADMIN_USER:-admin}" email="${SP_ADMIN_EMAIL:-admin@example.org}"
  local password="${SP_ADMIN_PASSWORD:-}"
  if ckan_cmd user show "$name" 2>/dev/null | grep -q "name=$name"; then
    if [ -n "$password" ]; then ckan_cmd user setpass "$name" -p "$password" >/dev/null; fi
    ckan_cmd sysadmin add "$name" >/dev/null 2>&1 || true
    log "Sysadmin '$name' already exists (reset the password with: ./dev.sh ckan user setpass $name)"
    return 0
  fi
  local generated=0
  if [ -z "$password" ]; then password="$(secret | cut -c1-20)"; generated=1; fi
  ckan_cmd user add "$name" email="$email" password="$password" >/dev/null
  ckan_cmd sysadmin add "$name" >/dev/null
  if [ "$generated" = 1 ]; then
    log "Sysadmin created: user '$name', password '$password' (printed only this once)"
  else
    log "Sysadmin created: user '$name' with the password from SP_ADMIN_PASSWORD"
  fi
}

start_worker() {
  if [ -f "$RUN/worker.pid" ] && kill -0 "$(cat "$RUN/worker.pid")" 2>/dev/null; then return 0; fi
  log "Starting the background jobs worker (log: .run/logs/worker.log)"
  nohup "$VENV/bin/ckan" -c "$SITE_INI" jobs worker \
    >"$RUN/logs/worker.log" 2>&1 &
  echo $! > "$RUN/worker.pid"
}

setup_services() {
  install_system "${1:-}"
  install_python
  install_npm
  start_postgres
  start_redis
}

cmd_setup() {
  setup_services
  write_site_ini
  # shellcheck disable=SC1091
  . "$RUN/secrets.env"
  create_database "$DEMO_DB" "$DEMO_ROLE" "$DB_PASSWORD"
  log "Applying CKAN's and the plugins' migrations"
  ckan_cmd db init >/dev/null
  ckan_cmd db upgrade >/dev/null
  create_sysadmin
}

cmd_demo() {
  local detach=0
  if [ "${1:-}" = "--detach" ]; then detach=1; fi
  cmd_setup
  log "Loading the territories (COG 2026 from npm, boundaries shipped in the package)"
  if ckan_cmd servicespublics territories status 2>&1 | grep -q "Aucun territoire"; then
    ckan_cmd servicespublics territories load
    ckan_cmd servicespublics territories load-boundaries
  fi
  log "Loading the demo data (real service-point files shipped in the package)"
  ckan_cmd servicespublics demo load
  start_worker
  if [ "$detach" = 1 ]; then
    if [ -f "$RUN/ckan.pid" ] && kill -0 "$(cat "$RUN/ckan.pid")" 2>/dev/null; then
      log "CKAN already running at http://$CKAN_HOST:$CKAN_PORT"
      return 0
    fi
    nohup "$VENV/bin/ckan" -c "$SITE_INI" run -H "$CKAN_HOST" -p "$CKAN_PORT" \
      >"$RUN/logs/ckan.log" 2>&1 &
    echo $! > "$RUN/ckan.pid"
    local i
    for i in $(seq 1 120); do
      if curl -fsS "http://$CKAN_HOST:$CKAN_PORT/api/3/action/status_show" >/dev/null 2>&1; then
        log "Catalogue served at http://$CKAN_HOST:$CKAN_PORT (log: .run/logs/ckan.log)"
        return 0
      fi
      sleep 1
    done
    die "CKAN did not answer on port $CKAN_PORT (see .run/logs/ckan.log)"
  fi
  log "Serving the catalogue at http://$CKAN_HOST:$CKAN_PORT (Ctrl-C to stop the web server;"
  log "./dev.sh stop stops PostgreSQL, Redis and the worker)"
  echo $$ > "$RUN/ckan.pid"
  exec "$VENV/bin/ckan" -c "$SITE_INI" run -H "$CKAN_HOST" -p "$CKAN_PORT"
}

cmd_test() {
  export SP_PG_FAST=1
  setup_services test
  create_database "$TEST_DB" "$TEST_ROLE" "$TEST_PASSWORD"
  log "Lint (ruff)"
  "$VENV/bin/ruff" check "$ROOT/ckanext-servicespublics" "$ROOT/tests" "$ROOT/bench" "$ROOT/setup.py"
  log "Migrations on the test database"
  "$VENV/bin/ckan" -c "$ROOT/test.ini" db init >/dev/null
  log "Tests"
  cd "$ROOT"
  "$VENV/bin/pytest" --ckan-ini=test.ini "$@" tests
}

cmd_stop() {
  local f
  for f in ckan worker; do
    if [ -f "$RUN/$f.pid" ]; then
      kill "$(cat "$RUN/$f.pid")" 2>/dev/null || true
      rm -f "$RUN/$f.pid"
    fi
  done
  if [ -s "$RUN/pg/data/PG_VERSION" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$RUN/pg/data" status >/dev/null 2>&1 \
      && as_pg "$PG_BIN/pg_ctl" -D "$RUN/pg/data" -m fast -w stop >/dev/null && log "PostgreSQL stopped"
  fi
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    log "Redis stopped"
  fi
}

cmd_status() {
  if [ -s "$RUN/pg/data/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$RUN/pg/data" status >/dev/null 2>&1; then
    echo "PostgreSQL: running on 127.0.0.1:$PG_PORT"
  else echo "PostgreSQL: stopped"; fi
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "Redis: running on 127.0.0.1:$REDIS_PORT"
  else echo "Redis: stopped"; fi
  if curl -fsS "http://$CKAN_HOST:$CKAN_PORT/api/3/action/status_show" >/dev/null 2>&1; then
    echo "CKAN: http://$CKAN_HOST:$CKAN_PORT"
  else echo "CKAN: not answering on port $CKAN_PORT"; fi
}

main() {
  local cmd="${1:-help}"
  shift || true
  case "$cmd" in
    demo) cmd_demo "$@" ;;
    test) cmd_test "$@" ;;
    setup) cmd_setup "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    ckan) ckan_cmd "$@" ;;
    testdb)
      # an extra test database (same role as test.ini), for parallel runs:
      # ./dev.sh testdb servicespublics_test_x
      [ -n "${1:-}" ] || die "usage: ./dev.sh testdb NAME"
      pg_dirs; start_postgres; start_redis
      create_database "$1" "$TEST_ROLE" "$TEST_PASSWORD" ;;
    *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; [ "$cmd" = help ] || exit 2 ;;
  esac
}

main "$@"
