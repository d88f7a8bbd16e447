#!/bin/bash
# ckanext-servicespublics: first start of the PostgreSQL container.
#
# Mounted into /docker-entrypoint-initdb.d/ by docker/docker-compose.yml: the
# postgis/postgis image runs it once, when the data volume is empty, after its
# own 10_postgis.sh. It creates CKAN's role (not a superuser) and database, and
# the extensions that the search table's migration needs but cannot create
# without a superuser. As in dev.sh, PostGIS, unaccent and pg_trgm live in
# their own `postgis` schema, after `public` on the database's search path.
# With PG_REPLICATION_PASSWORD set it also prepares streaming replication for
# a read replica (docker/docker-compose.replica.yml).
set -euo pipefail

: "${CKAN_DB:?}" "${CKAN_DB_USER:?}" "${CKAN_DB_PASSWORD:?}"

psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER")

"${psql[@]}" --dbname postgres \
  --set=role="$CKAN_DB_USER" --set=password="$CKAN_DB_PASSWORD" --set=db="$CKAN_DB" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role" ENCODING 'UTF8' TEMPLATE template0;
SQL

"${psql[@]}" --dbname "$CKAN_DB" --set=role="$CKAN_DB_USER" --set=db="$CKAN_DB" <<'SQL'
CREATE SCHEMA IF NOT EXISTS postgis;
GRANT USAGE ON SCHEMA postgis TO :"role";
CREATE EXTENSION IF NOT EXISTS postgis SCHEMA postgis;
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA postgis;
ALTER DATABASE :"db" SET search_path = "$user", public, postgis;
SQL

if [ -n "${PG_REPLICATION_PASSWORD:-}" ]; then
  "${psql[@]}" --dbname postgres --set=password="$PG_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
  echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
