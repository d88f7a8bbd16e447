#!/bin/bash
# ckanext-servicespublics: entry point of the CKAN image (docker/Dockerfile).
#
# The first argument chooses the role of the container:
#
#   web        CKAN under uWSGI on port 5000; run several behind the load balancer
#   init       one-shot: `ckan db upgrade` (core and plugin migrations), then the
#              first sysadmin (SP_ADMIN_USER) when it does not exist yet
#   jobs       CKAN's background jobs worker, on the queues in SP_JOBS_QUEUES
#   gather     ckanext-harvest gather consumer
#   fetch      ckanext-harvest fetch consumer
#   scheduler  periodic commands from SP_SCHEDULE_* (`ckan harvester run`...)
#
# Anything else is run as a command with the same configuration, e.g.
# `ckan search-index rebuild` or `bash`.
#
# Every start writes the runtime ini ($CKAN_INI): `use = config:$SP_SITE_INI`
# (config/production.ini) plus `ckan.plugins` from CKAN__PLUGINS (or, when it
# is empty, the site ini's list), so that enabling a plugin is one line of
# docker/.env. Secrets are never written:
# CKAN reads them from the environment (CKAN_SQLALCHEMY_URL, CKAN___SECRET_KEY,
# CKAN_SMTP_PASSWORD...).
set -euo pipefail

APP_DIR="${SP_APP_DIR:-/srv/app/servicespublics}"
SITE_INI="${SP_SITE_INI:-/srv/app/src/ckanext-servicespublics/config/production.ini}"
RUNTIME_INI="${CKAN_INI:-/srv/app/ckan.ini}"
MODE_FILE="${SP_MODE_FILE:-/tmp/servicespublics-mode}"
# settings without which no CKAN process can start
REQUIRED=(CKAN_SQLALCHEMY_URL CKAN_SITE_URL CKAN___SECRET_KEY)

log() { printf '[servicespublics] %s\n' "$*" >&2; }
die() { log "$*"; exit 64; }

check_environment() {
  local missing=() unchanged=() var
  for var in "${REQUIRED[@]}"; do
    if [ -z "${!var:-}" ]; then missing+=("$var"); fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    die "missing settings: ${missing[*]} (see docker/.env.example)"
  fi
  # the placeholders of docker/.env.example must not reach production
  while IFS= read -r var; do
    case "${!var:-}" in *CHANGE_ME*) unchanged+=("$var") ;; esac
  done < <(compgen -e)
  if [ "${#unchanged[@]}" -gt 0 ]; then
    die "still set to CHANGE_ME: ${unchanged[*]} (edit docker/.env)"
  fi
}

write_runtime_ini() {
  [ -f "$SITE_INI" ] || die "no site configuration at $SITE_INI"
  # no list in the environment: the site ini's, which the envvars plugin
  # must then see too (an empty CKAN__PLUGINS would empty ckan.plugins)
  if [ -z "${CKAN__PLUGINS:-}" ]; then
    CKAN__PLUGINS="$(sed -n 's/^ckan\.plugins[[:space:]]*=[[:space:]]*//p' "$SITE_INI" | tail -n 1)"
    export CKAN__PLUGINS
  fi
  {
    printf '# Written by %s at container start: do not edit.\n' "$0"
    printf '[app:main]\n'
    printf 'use = config:%s\n' "$SITE_INI"
    if [ -n "${CKAN__PLUGINS:-}" ]; then
      printf 'ckan.plugins = %s\n' "$CKAN__PLUGINS"
    fi
  } > "$RUNTIME_INI"
}

create_sysadmin() {
  local name="${SP_ADMIN_USER:-}"
  [ -n "$name" ] || return 0
  if ckan user show "$name" 2>/dev/null | grep -q "name=$name"; then
    log "sysadmin '$name' exists"
    return 0
  fi
  [ -n "${SP_ADMIN_PASSWORD:-}" ] || die "SP_ADMIN_PASSWORD is needed to create '$name'"
  ckan user add "$name" email="${SP_ADMIN_EMAIL:?SP_ADMIN_EMAIL is needed}" \
    password="$SP_ADMIN_PASSWORD" >/dev/null
  ckan sysadmin add "$name" >/dev/null
  log "sysadmin '$name' created: remove SP_ADMIN_PASSWORD from docker/.env"
}

run_init() {
  python3 "$APP_DIR/healthcheck.py" db --wait "${SP_INIT_WAIT:-120}"
  log "applying core and plugin migrations (ckan db upgrade)"
  ckan db upgrade
  create_sysadmin
  log "init done"
}

main() {
  local mode="${1:-web}"
  case "$mode" in
    bash|sh) exec "$@" ;;
  esac
  check_environment
  write_runtime_ini
  printf '%s\n' "$mode" > "$MODE_FILE"
  case "$mode" in
    web)
      # tuning comes from UWSGI_PROCESSES, UWSGI_THREADS, UWSGI_HARAKIRI,
      # UWSGI_MAX_REQUESTS (uWSGI reads UWSGI_<OPTION> variables itself)
      exec uwsgi --http-socket :5000 --wsgi-file "$APP_DIR/wsgi.py" \
        --master --need-app --lazy-apps --enable-threads --single-interpreter \
        --die-on-term --vacuum --disable-logging --buffer-size 32768 \
        --post-buffering 65536 --ignore-sigpipe --ignore-write-errors \
        --disable-write-exception
      ;;
    init) run_init ;;
    jobs)
      local queues=()
      read -r -a queues <<< "${SP_JOBS_QUEUES:-default}"
      exec ckan jobs worker "${queues[@]}"
      ;;
    gather) exec ckan harvester gather-consumer ;;
    fetch) exec ckan harvester fetch-consumer ;;
    scheduler) exec python3 "$APP_DIR/scheduler.py" ;;
    *) exec "$@" ;;
  esac
}

main "$@"
