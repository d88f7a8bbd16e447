"""Facet counts kept per visibility bucket, maintained by statement triggers

Revision ID: e5a9c0d4b318
Revises: d81f3b6c2a57
Create Date: 2026-11-22 03:30:00

The dataset list, organisation pages and group/organisation counts ask for
the number of datasets and the facets of everything a visitor may see
(``*:*`` with the site, state, capacity, type, organisation and permission
filters). Counting 100,000 rows for every page view costs hundreds of
milliseconds however the rows are laid out, so the counts are kept up to
date instead:

``servicespublics_search_facet_count`` holds, per *bucket* (the values of the
columns those filters read: site, entity type, state, capacity, dataset type,
owning organisation and the set of permission labels), how many documents it
has (``field = ''``) and how many of them have each value of each counted
facet field. A document is in exactly one bucket, so a filter on bucket
columns matches whole buckets, and the sum of their counts is exactly what
counting the matching documents gives.

Statement-level triggers on the document table (``INSERT``, ``UPDATE``,
``DELETE``, with transition tables, and ``TRUNCATE``) add the changes of each
statement as signed rows, in the writer's transaction, so that a reader sees
counts that match the documents of its snapshot. Rows are not updated in
place: each statement then merges the rows of the keys it touched into one,
taking only rows no other transaction holds (``SKIP LOCKED``), so concurrent
writers never wait for each other and the table stays small.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "e5a9c0d4b318"
down_revision = "d81f3b6c2a57"
branch_labels = None
depends_on = None

TABLE = "servicespublics_search_document"
COUNTS = "servicespublics_search_facet_count"
BUCKET = ("site_id", "entity_type", "state", "capacity", "dataset_type",
          "owner_org", "permission_labels")
KEY = BUCKET + ("field", "value")
#: counted fields: text columns and (distinct values of) array columns
SCALARS = ("organization", "owner_org", "license_id", "dataset_type")
ARRAYS = ("tags", "groups", "res_format")


def _deltas(sources: str) -> str:
    """The signed counts of the documents in ``sources`` (columns s, ...)."""
    values = ["SELECT '' AS field, '' AS value"]
    values += [f"SELECT '{c}', x.{c}" for c in SCALARS]
    values += [f"SELECT DISTINCT '{c}', v FROM unnest(x.{c}) v" for c in ARRAYS]
    bucket = ", ".join(f"x.{c}" for c in BUCKET)
    return f"""
    SELECT {bucket}, f.field, f.value, sum(x.s)::integer AS n
    FROM ({sources}) x,
         LATERAL ({" UNION ALL ".join(f"({v})" for v in values)}) f
    WHERE f.field = '' OR f.value <> ''
    GROUP BY {bucket}, f.field, f.value
    HAVING sum(x.s) <> 0"""


def _apply(sources: str) -> str:
    key = ", ".join(KEY)
    on = " AND ".join(f"c.{k} = t.{k}" for k in KEY)
    return f"""
    WITH delta AS ({_deltas(sources)}),
    merged AS (
      DELETE FROM {COUNTS} WHERE ctid = ANY (ARRAY(
        SELECT c.ctid FROM {COUNTS} c JOIN delta t ON {on}
        FOR UPDATE OF c SKIP LOCKED))
      RETURNING {key}, n)
    INSERT INTO {COUNTS} ({key}, n)
    SELECT {key}, sum(n) FROM (
      SELECT {key}, n FROM delta UNION ALL SELECT {key}, n FROM merged) t
    GROUP BY {key}
    HAVING sum(n) <> 0;"""


def upgrade():
    op.execute(f"""
CREATE TABLE {COUNTS} (
  site_id text NOT NULL,
  entity_type text NOT NULL,
  state text NOT NULL,
  capacity text NOT NULL,
  dataset_type text NOT NULL,
  owner_org text NOT NULL,
  permission_labels text[] NOT NULL,
  field text NOT NULL,
  value text NOT NULL,
  n integer NOT NULL
)""")
    op.execute(f"CREATE INDEX {COUNTS}_key_idx ON {COUNTS} (owner_org, field, value)")
    names = list(dict.fromkeys(BUCKET + SCALARS + ARRAYS))
    columns = ", ".join(names)
    # an UPDATE that leaves every counted column as it was (a rebuild, most
    # edits) changes no count: only rows that differ are counted out and in
    differs = (f"({', '.join(f'n.{c}' for c in names)}) IS DISTINCT FROM "
               f"({', '.join(f'o.{c}' for c in names)})")
    updated = (
        f"SELECT 1 AS s, {', '.join(f'n.{c}' for c in names)} FROM new_docs n "
        f"LEFT JOIN old_docs o ON o.index_id = n.index_id "
        f"WHERE o.index_id IS NULL OR {differs} "
        f"UNION ALL SELECT -1, {', '.join(f'o.{c}' for c in names)} FROM old_docs o "
        f"LEFT JOIN new_docs n ON n.index_id = o.index_id "
        f"WHERE n.index_id IS NULL OR {differs}")
    op.execute(f"""
CREATE OR REPLACE FUNCTION servicespublics_search_count_facets() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_apply(f"SELECT 1 AS s, {columns} FROM new_docs")}
  ELSIF TG_OP = 'UPDATE' THEN
    {_apply(updated)}
  ELSIF TG_OP = 'DELETE' THEN
    {_apply(f"SELECT -1 AS s, {columns} FROM old_docs")}
  ELSE
    -- TRUNCATE (possibly of both tables in one command)
    DELETE FROM {COUNTS};
  END IF;
  RETURN NULL;
END
$$""")
    op.execute(f"""
CREATE TRIGGER {COUNTS}_insert AFTER INSERT ON {TABLE}
  REFERENCING NEW TABLE AS new_docs
  FOR EACH STATEMENT EXECUTE FUNCTION servicespublics_search_count_facets()""")
    op.execute(f"""
CREATE TRIGGER {COUNTS}_update AFTER UPDATE ON {TABLE}
  REFERENCING OLD TABLE AS old_docs NEW TABLE AS new_docs
  FOR EACH STATEMENT EXECUTE FUNCTION servicespublics_search_count_facets()""")
    op.execute(f"""
CREATE TRIGGER {COUNTS}_delete AFTER DELETE ON {TABLE}
  REFERENCING OLD TABLE AS old_docs
  FOR EACH STATEMENT EXECUTE FUNCTION servicespublics_search_count_facets()""")
    op.execute(f"""
CREATE TRIGGER {COUNTS}_truncate AFTER TRUNCATE ON {TABLE}
  FOR EACH STATEMENT EXECUTE FUNCTION servicespublics_search_count_facets()""")
    # the documents already indexed
    op.execute(_apply(f"SELECT 1 AS s, {columns} FROM {TABLE}"))
    op.execute(f"ANALYZE {COUNTS}")


def downgrade():
    for event in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS {COUNTS}_{event} ON {TABLE}")
    op.execute("DROP FUNCTION IF EXISTS servicespublics_search_count_facets()")
    op.execute(f"DROP TABLE IF EXISTS {COUNTS}")
