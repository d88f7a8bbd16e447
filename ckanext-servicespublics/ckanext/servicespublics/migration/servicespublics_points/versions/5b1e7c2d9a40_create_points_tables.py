"""Create the service-point tables: points, ingestions, report entries, resource state

Revision ID: 5b1e7c2d9a40
Revises:
Create Date: 2026-11-22 00:10:00

``servicespublics_points_point`` holds the points read from the resources'
files (geometry in WGS84 with a GiST index); ``servicespublics_points_ingestion``
one row per ingestion (counts, messages, effective mapping),
``servicespublics_points_entry`` its row-level problems and
``servicespublics_points_resource`` where each point resource stands
(requested and ingested fingerprints, status, live point count, extent).

PostGIS may already exist in another schema (the dev script keeps it in
``postgis``, on the search path): ``IF NOT EXISTS`` leaves it there.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "5b1e7c2d9a40"
down_revision = None
branch_labels = None
depends_on = None

POINT = "servicespublics_points_point"
INGESTION = "servicespublics_points_ingestion"
ENTRY = "servicespublics_points_entry"
STATE = "servicespublics_points_resource"


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(f"""
CREATE TABLE {STATE} (
  resource_id text PRIMARY KEY,
  package_id text NOT NULL,
  requested_fingerprint text,
  ingested_fingerprint text,
  status text NOT NULL DEFAULT 'pending',
  point_count integer NOT NULL DEFAULT 0,
  last_ingestion_id text,
  live_ingestion_id text,
  extents jsonb,
  auto_spatial text,
  updated timestamp without time zone
)""")
    op.execute(f"CREATE INDEX {STATE}_package_id_idx ON {STATE} (package_id)")
    op.execute(f"""
CREATE TABLE {INGESTION} (
  id text PRIMARY KEY,
  resource_id text NOT NULL,
  package_id text NOT NULL,
  status text NOT NULL,
  trigger text,
  fingerprint text,
  source text,
  started timestamp without time zone NOT NULL,
  finished timestamp without time zone,
  seconds double precision,
  file_size bigint,
  file_hash text,
  format text,
  encoding text,
  delimiter text,
  crs text,
  rows_read integer NOT NULL DEFAULT 0,
  rows_ingested integer NOT NULL DEFAULT 0,
  rows_rejected integer NOT NULL DEFAULT 0,
  rows_skipped integer NOT NULL DEFAULT 0,
  errors integer NOT NULL DEFAULT 0,
  warnings integer NOT NULL DEFAULT 0,
  infos integer NOT NULL DEFAULT 0,
  entries_truncated boolean NOT NULL DEFAULT false,
  messages jsonb,
  summary jsonb,
  mapping jsonb,
  extents jsonb
)""")
    op.execute(f"CREATE INDEX {INGESTION}_resource_idx ON {INGESTION} (resource_id, started)")
    op.execute(f"""
CREATE TABLE {ENTRY} (
  id bigserial PRIMARY KEY,
  ingestion_id text NOT NULL REFERENCES {INGESTION} (id) ON DELETE CASCADE,
  line integer,
  column_name text,
  value text,
  severity text NOT NULL,
  code text NOT NULL,
  message text NOT NULL
)""")
    op.execute(f"CREATE INDEX {ENTRY}_ingestion_idx ON {ENTRY} (ingestion_id, id)")
    op.execute(f"""
CREATE TABLE {POINT} (
  id bigserial PRIMARY KEY,
  resource_id text NOT NULL,
  package_id text NOT NULL,
  owner_org text,
  ingestion_id text NOT NULL,
  row_number integer NOT NULL,
  source_id text,
  name text,
  service_type text,
  address text,
  postcode text,
  insee_code text,
  commune_code text,
  departement_code text,
  region_code text,
  geom geometry(Point, 4326) NOT NULL,
  opening_date date,
  closing_date date,
  status text,
  opening_hours text,
  phone text,
  email text,
  website text,
  extra jsonb
)""")
    # few indexes: each one costs on every COPY (a million points a run).
    # Points are reached by resource (a dataset's through its resources) and
    # by place; other filters come on top of these.
    op.execute(f"CREATE INDEX {POINT}_resource_idx ON {POINT} (resource_id)")
    op.execute(f"CREATE INDEX {POINT}_geom_gist ON {POINT} USING gist (geom)")


def downgrade():
    for table in (POINT, ENTRY, INGESTION, STATE):
        op.execute(f"DROP TABLE IF EXISTS {table}")
