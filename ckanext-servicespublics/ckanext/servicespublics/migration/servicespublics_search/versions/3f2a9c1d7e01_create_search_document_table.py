"""Create the PostgreSQL search table, its French text configuration and helpers

Revision ID: 3f2a9c1d7e01
Revises:
Create Date: 2026-11-21 23:30:00

The table holds, per dataset, what Solr would hold: the flattened document
CKAN builds for indexing (``doc``), the two cached data dicts that
``package_search`` and ``package_show`` return, the fields that queries filter,
facet and sort on as typed columns, a weighted French text vector and the
spatial extent.

PostGIS, unaccent and pg_trgm may already exist in another schema (the dev
script keeps them in ``postgis``, off CKAN's default schema, so that the test
fixtures never try to drop ``spatial_ref_sys``): ``IF NOT EXISTS`` leaves them
where they are, and names resolve through the database's search path.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "3f2a9c1d7e01"
down_revision = None
branch_labels = None
depends_on = None

TABLE = "servicespublics_search_document"


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'servicespublics_fr') THEN
    CREATE TEXT SEARCH CONFIGURATION servicespublics_fr (COPY = pg_catalog.french);
    ALTER TEXT SEARCH CONFIGURATION servicespublics_fr
      ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;
    ALTER TEXT SEARCH CONFIGURATION servicespublics_fr
      ALTER MAPPING FOR asciihword, asciiword, hword_asciipart WITH french_stem;
  END IF;
END $$;
""")
    # the values of a JSON field, scalar or array, as text
    op.execute("""
CREATE OR REPLACE FUNCTION servicespublics_search_values(j jsonb)
RETURNS SETOF text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT v FROM jsonb_array_elements_text(
    CASE WHEN j IS NULL OR jsonb_typeof(j) = 'null' THEN '[]'::jsonb
         WHEN jsonb_typeof(j) = 'array' THEN j
         ELSE jsonb_build_array(j) END) AS v
  WHERE v IS NOT NULL
$$;
""")
    # a number, or NULL when the text is not one (never a cast error)
    op.execute(r"""
CREATE OR REPLACE FUNCTION servicespublics_search_num(t text)
RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN t ~ '^\s*-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*$'
              THEN t::numeric END
$$;
""")
    # a timestamp, or NULL when the text is not one (never a cast error)
    op.execute("""
CREATE OR REPLACE FUNCTION servicespublics_search_ts(t text)
RETURNS timestamptz LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
  RETURN t::timestamptz;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;
""")
    op.execute(f"""
CREATE TABLE {TABLE} (
  index_id text PRIMARY KEY,
  id text NOT NULL,
  site_id text NOT NULL,
  name text NOT NULL DEFAULT '',
  entity_type text NOT NULL DEFAULT 'package',
  dataset_type text NOT NULL DEFAULT '',
  state text NOT NULL DEFAULT '',
  capacity text NOT NULL DEFAULT '',
  organization text NOT NULL DEFAULT '',
  owner_org text NOT NULL DEFAULT '',
  license_id text NOT NULL DEFAULT '',
  title_string text NOT NULL DEFAULT '',
  tags text[] NOT NULL DEFAULT '{{}}',
  groups text[] NOT NULL DEFAULT '{{}}',
  res_format text[] NOT NULL DEFAULT '{{}}',
  permission_labels text[] NOT NULL DEFAULT '{{}}',
  metadata_created timestamptz,
  metadata_modified timestamptz,
  indexed_ts timestamptz,
  doc jsonb NOT NULL DEFAULT '{{}}',
  data_dict text,
  validated_data_dict text,
  tsv tsvector NOT NULL DEFAULT ''::tsvector,
  extent geometry(Geometry, 4326)
)
""")
    for column in ("id", "name", "organization", "owner_org", "license_id",
                   "metadata_modified", "metadata_created"):
        op.execute(f"CREATE INDEX {TABLE}_{column}_idx ON {TABLE} ({column})")
    op.execute(f"CREATE INDEX {TABLE}_state_idx ON {TABLE} (site_id, state, capacity)")
    op.execute(f'CREATE INDEX {TABLE}_title_idx ON {TABLE} (title_string COLLATE "C")')
    for column in ("tags", "groups", "res_format", "permission_labels", "tsv", "doc"):
        op.execute(f"CREATE INDEX {TABLE}_{column}_gin ON {TABLE} USING gin ({column})")
    op.execute(f"CREATE INDEX {TABLE}_extent_gist ON {TABLE} USING gist (extent)")


def downgrade():
    op.execute(f"DROP TABLE IF EXISTS {TABLE}")
    op.execute("DROP FUNCTION IF EXISTS servicespublics_search_values(jsonb)")
    op.execute("DROP FUNCTION IF EXISTS servicespublics_search_num(text)")
    op.execute("DROP FUNCTION IF EXISTS servicespublics_search_ts(text)")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS servicespublics_fr")
