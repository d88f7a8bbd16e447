"""Create the map tables: one layer per point resource, its cluster cells

Revision ID: 7d3c5e1a2b90
Revises:
Create Date: 2026-11-22 00:30:00

``servicespublics_map_layer`` says, for each point resource, which ingestion
its cluster pyramid was built from (and when, how long it took, the extent
and the service types of the points, for the legend), the ``version`` of
the points (bumped when a correction changes a point in place) and which
version a queued build is for.
``servicespublics_map_cell`` holds the pyramid: at each zoom level up to the
layer's ``max_zoom``, one row per non-empty grid cell (a cell is the tile of
zoom ``z + 3``: 8 x 8 cells per tile) with its point count, the weighted
centroid of its points in EPSG:3857, the service type shared by all of them
(NULL when mixed) and, for a cell of one point, that point's id. Each build
writes its cells under a new ``layer_id`` and then switches the layer to it,
so that tiles never read a half-built pyramid.
``servicespublics_map_name`` holds the words of each point's name (folded:
lower case, no accents) for the name search, per layer, with a GIN index.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "7d3c5e1a2b90"
down_revision = None
branch_labels = None
depends_on = None

LAYER = "servicespublics_map_layer"
CELL = "servicespublics_map_cell"
NAME = "servicespublics_map_name"


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(f"""
CREATE TABLE {LAYER} (
  resource_id text PRIMARY KEY,
  package_id text NOT NULL,
  layer_id integer,
  ingestion_id text,
  version integer NOT NULL DEFAULT 0,
  built_version integer,
  status text NOT NULL DEFAULT 'pending',
  point_count integer NOT NULL DEFAULT 0,
  max_zoom smallint,
  extent jsonb,
  service_types jsonb,
  built timestamp without time zone,
  seconds double precision,
  error text,
  queued text
)""")
    op.execute(f"CREATE INDEX {LAYER}_package_idx ON {LAYER} (package_id)")
    # numbers the builds; owned by the table, so that it goes with it
    op.execute(f"CREATE SEQUENCE IF NOT EXISTS {LAYER}_build_seq OWNED BY {LAYER}.layer_id")
    op.execute(f"""
CREATE TABLE {CELL} (
  layer_id integer NOT NULL,
  z smallint NOT NULL,
  x integer NOT NULL,
  y integer NOT NULL,
  n integer NOT NULL,
  point_id bigint,
  service_type text,
  geom geometry(Point, 3857) NOT NULL,
  PRIMARY KEY (layer_id, z, x, y)
)""")
    op.execute(f"""
CREATE TABLE {NAME} (
  layer_id integer NOT NULL,
  point_id bigint NOT NULL,
  words tsvector NOT NULL
)""")
    op.execute(f"CREATE INDEX {NAME}_words_idx ON {NAME} USING gin (words)")
    op.execute(f"CREATE INDEX {NAME}_layer_idx ON {NAME} (layer_id)")


def downgrade():
    op.execute(f"DROP TABLE IF EXISTS {NAME}")
    op.execute(f"DROP TABLE IF EXISTS {CELL}")
    op.execute(f"DROP TABLE IF EXISTS {LAYER}")
