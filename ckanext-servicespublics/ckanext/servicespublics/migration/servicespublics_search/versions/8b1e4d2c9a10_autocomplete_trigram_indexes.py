"""Accent- and case-folding function and trigram indexes for autocomplete

Revision ID: 8b1e4d2c9a10
Revises: 3f2a9c1d7e01
Create Date: 2026-11-21 23:45:00

``package_autocomplete`` queries Solr's ``name_ngram`` and ``title_ngram``
fields: any part of a word matches.  PostgreSQL answers the same with
``LIKE '%part%'`` on folded text, served by pg_trgm GIN indexes.  The folding
function must be IMMUTABLE to be indexed, so it names unaccent's schema
explicitly (looked up here: the dev script keeps extensions in ``postgis``).
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "8b1e4d2c9a10"
down_revision = "3f2a9c1d7e01"
branch_labels = None
depends_on = None

TABLE = "servicespublics_search_document"


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("""
DO $$
DECLARE
  unaccent_schema text;
  trgm_schema text;
BEGIN
  SELECT n.nspname INTO unaccent_schema FROM pg_extension e
    JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
  SELECT n.nspname INTO trgm_schema FROM pg_extension e
    JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  EXECUTE format(
    'CREATE OR REPLACE FUNCTION servicespublics_search_fold(t text) RETURNS text '
    'LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS '
    '$f$ SELECT lower(%I.unaccent(%L::regdictionary, t)) $f$',
    unaccent_schema, unaccent_schema || '.unaccent');
  EXECUTE format(
    'CREATE INDEX servicespublics_search_document_title_trgm ON '
    'servicespublics_search_document USING gin '
    '(servicespublics_search_fold(title_string) %I.gin_trgm_ops)', trgm_schema);
  EXECUTE format(
    'CREATE INDEX servicespublics_search_document_name_trgm ON '
    'servicespublics_search_document USING gin '
    '(servicespublics_search_fold(name) %I.gin_trgm_ops)', trgm_schema);
END $$;
""")


def downgrade():
    op.execute(f"DROP INDEX IF EXISTS {TABLE}_title_trgm")
    op.execute(f"DROP INDEX IF EXISTS {TABLE}_name_trgm")
    op.execute("DROP FUNCTION IF EXISTS servicespublics_search_fold(text)")
