"""Create the territorial reference tables (COG 2026 and boundaries)

Revision ID: 7c4e2b9a1d10
Revises:
Create Date: 2026-11-22 09:00:00

``servicespublics_dataset_territory`` holds one row per commune,
arrondissement municipal, EPCI, département and région of the Code officiel
géographique, with its parents, legal population, postcodes and an optional
boundary; ``servicespublics_dataset_territory_former_code`` maps the codes of
communes that merged or were absorbed to the current commune.  Both are
filled by ``ckan servicespublics territories load`` / ``load-boundaries``.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "7c4e2b9a1d10"
down_revision = None
branch_labels = None
depends_on = None

TERRITORY = "servicespublics_dataset_territory"
FORMER_CODE = "servicespublics_dataset_territory_former_code"


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(f"""
CREATE TABLE {TERRITORY} (
  level text NOT NULL,
  code text NOT NULL,
  name text NOT NULL,
  name_search text NOT NULL,
  kind text,
  commune text,
  epci text,
  departement text,
  region text,
  zone text,
  chef_lieu text,
  population integer,
  postcodes text[] NOT NULL DEFAULT '{{}}',
  geom geometry(MultiPolygon, 4326),
  PRIMARY KEY (level, code),
  CONSTRAINT {TERRITORY}_level_check CHECK (
    level IN ('region', 'departement', 'epci', 'commune', 'arrondissement_municipal'))
)""")
    op.execute(f"CREATE INDEX {TERRITORY}_code_idx ON {TERRITORY} (code text_pattern_ops)")
    op.execute(f"CREATE INDEX {TERRITORY}_name_search_idx "
               f"ON {TERRITORY} (name_search text_pattern_ops)")
    op.execute(f"CREATE INDEX {TERRITORY}_departement_idx ON {TERRITORY} (departement)")
    op.execute(f"CREATE INDEX {TERRITORY}_region_idx ON {TERRITORY} (region)")
    op.execute(f"CREATE INDEX {TERRITORY}_epci_idx ON {TERRITORY} (epci)")
    op.execute(f"CREATE INDEX {TERRITORY}_commune_idx ON {TERRITORY} (commune)")
    op.execute(f"CREATE INDEX {TERRITORY}_postcodes_idx ON {TERRITORY} USING gin (postcodes)")
    op.execute(f"CREATE INDEX {TERRITORY}_geom_idx ON {TERRITORY} USING gist (geom)")
    op.execute(f"""
CREATE TABLE {FORMER_CODE} (
  code text PRIMARY KEY,
  current_code text NOT NULL,
  name text
)""")
    op.execute(f"CREATE INDEX {FORMER_CODE}_current_code_idx ON {FORMER_CODE} (current_code)")


def downgrade():
    op.execute(f"DROP TABLE IF EXISTS {FORMER_CODE}")
    op.execute(f"DROP TABLE IF EXISTS {TERRITORY}")
