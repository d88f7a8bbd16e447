"""Create the analytics tables: point history, versions, communes' reference points

Revision ID: 9d3f6a1c2b80
Revises:
Create Date: 2026-11-22 01:00:00

``servicespublics_analytics_point`` keeps every point ever ingested, one row
per stay of a point identity in a resource: ``appeared_on`` is the date of the
version that brought it (NULL for the first version recorded), and
``disappeared_on`` the date of the first version that no longer has it;
``opened_on`` and ``closed_on`` the dates of the versions where its status
went from planned to open, or to closed.  The live ones point at their row of
``servicespublics_points_point`` (``point_id``).  A point is in service on
day d when ``active_from <= d < active_until``: its own opening and closing
dates when it has them, else the versions' dates; a closed point without any
date was never counted (``active_from`` infinite), nor a planned opening
without a date.  ``servicespublics_analytics_version`` lists the versions
(ingestions) recorded per resource.  ``servicespublics_analytics_commune``
holds one reference point per commune (its chef-lieu), from which the
distances to the services are measured.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "9d3f6a1c2b80"
down_revision = None
branch_labels = None
depends_on = None

POINT = "servicespublics_analytics_point"
VERSION = "servicespublics_analytics_version"
COMMUNE = "servicespublics_analytics_commune"


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(f"""
CREATE TABLE {VERSION} (
  id bigserial PRIMARY KEY,
  resource_id text NOT NULL,
  package_id text NOT NULL,
  ingestion_id text NOT NULL,
  version_date date NOT NULL,
  recorded timestamp without time zone NOT NULL,
  point_count integer NOT NULL DEFAULT 0,
  appeared integer NOT NULL DEFAULT 0,
  disappeared integer NOT NULL DEFAULT 0,
  first boolean NOT NULL DEFAULT false
)""")
    op.execute(f"CREATE INDEX {VERSION}_resource_idx ON {VERSION} (resource_id, id)")
    op.execute(f"""
CREATE TABLE {POINT} (
  id bigserial PRIMARY KEY,
  resource_id text NOT NULL,
  package_id text NOT NULL,
  point_key text NOT NULL,
  point_id bigint,
  source_id text,
  name text,
  service_type text,
  commune_code text,
  departement_code text,
  region_code text,
  geom geometry(Point, 4326) NOT NULL,
  opening_date date,
  closing_date date,
  status text,
  appeared_on date,
  opened_on date,
  closed_on date,
  disappeared_on date,
  active_from date GENERATED ALWAYS AS (CASE
    WHEN status = 'closed' AND COALESCE(closing_date, closed_on, disappeared_on) IS NULL
      THEN 'infinity'::date
    WHEN status = 'planned_opening' THEN COALESCE(opening_date, 'infinity'::date)
    ELSE COALESCE(opening_date, opened_on, appeared_on, '-infinity'::date) END) STORED,
  active_until date GENERATED ALWAYS AS (
    COALESCE(closing_date, closed_on, disappeared_on, 'infinity'::date)) STORED
)""")
    op.execute(f"CREATE UNIQUE INDEX {POINT}_live_key_idx ON {POINT} (resource_id, point_key) "
               "WHERE disappeared_on IS NULL")
    op.execute(f"CREATE INDEX {POINT}_resource_idx ON {POINT} (resource_id)")
    op.execute(f"CREATE INDEX {POINT}_package_idx ON {POINT} (package_id)")
    op.execute(f"CREATE INDEX {POINT}_type_idx ON {POINT} (service_type, departement_code)")
    op.execute(f"CREATE INDEX {POINT}_geom_gist ON {POINT} USING gist (geom)")
    op.execute(f"CREATE INDEX {POINT}_geog_gist ON {POINT} USING gist ((geom::geography))")
    op.execute(f"""
CREATE TABLE {COMMUNE} (
  code text PRIMARY KEY,
  geom geometry(Point, 4326) NOT NULL,
  source text
)""")
    op.execute(f"CREATE INDEX {COMMUNE}_geog_gist ON {COMMUNE} USING gist ((geom::geography))")


def downgrade():
    for table in (POINT, VERSION, COMMUNE):
        op.execute(f"DROP TABLE IF EXISTS {table}")
