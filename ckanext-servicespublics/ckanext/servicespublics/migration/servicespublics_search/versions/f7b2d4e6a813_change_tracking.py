"""Change tracking of the search documents, for the in-memory index

Revision ID: f7b2d4e6a813
Revises: e5a9c0d4b318
Create Date: 2026-11-22 09:00:00

Each web process may keep the text and facet columns of every document in
memory (``search/memindex.py``) to answer word queries with facets without
reading the table. Before each query it asks PostgreSQL what changed since
it last looked, in the reader's own snapshot:

- ``changed_xid`` is the transaction that wrote the row's current version
  (the default on INSERT, a row trigger on UPDATE, so every writer is
  covered, ``ON CONFLICT DO UPDATE`` included). A reader that saw the
  table in a snapshot whose oldest running transaction was ``x`` has seen
  every version written by a transaction older than ``x``; it re-reads the
  rows with ``changed_xid >= x`` (an index range, usually empty).
- ``servicespublics_search_removal`` logs the documents deleted, with the
  deleting transaction, and ``*`` for a TRUNCATE (readers start over). It
  keeps a day of history; a process idle for longer starts over.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "f7b2d4e6a813"
down_revision = "e5a9c0d4b318"
branch_labels = None
depends_on = None

TABLE = "servicespublics_search_document"
REMOVAL = "servicespublics_search_removal"


def upgrade():
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN changed_xid xid8 NOT NULL "
               "DEFAULT pg_current_xact_id()")
    op.execute(f"CREATE INDEX {TABLE}_changed_xid_idx ON {TABLE} (changed_xid)")
    # statistics for the new column: without them the planner reads the
    # whole table for "changed since" instead of the index
    op.execute(f"ANALYZE {TABLE}")
    op.execute("""
CREATE OR REPLACE FUNCTION servicespublics_search_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_xid := pg_current_xact_id();
  RETURN NEW;
END
$$""")
    op.execute(f"""
CREATE TRIGGER {TABLE}_touch BEFORE UPDATE ON {TABLE}
  FOR EACH ROW EXECUTE FUNCTION servicespublics_search_touch()""")
    op.execute(f"""
CREATE TABLE {REMOVAL} (
  index_id text NOT NULL,
  removed_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  removed_at timestamptz NOT NULL DEFAULT now()
)""")
    op.execute(f"CREATE INDEX {REMOVAL}_xid_idx ON {REMOVAL} (removed_xid)")
    op.execute(f"CREATE INDEX {REMOVAL}_at_idx ON {REMOVAL} (removed_at)")
    op.execute(f"""
CREATE OR REPLACE FUNCTION servicespublics_search_log_removal() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO {REMOVAL} (index_id) SELECT index_id FROM old_docs;
  ELSE
    INSERT INTO {REMOVAL} (index_id) VALUES ('*');
  END IF;
  DELETE FROM {REMOVAL} WHERE removed_at < now() - interval '1 day';
  RETURN NULL;
END
$$""")
    op.execute(f"""
CREATE TRIGGER {REMOVAL}_delete AFTER DELETE ON {TABLE}
  REFERENCING OLD TABLE AS old_docs
  FOR EACH STATEMENT EXECUTE FUNCTION servicespublics_search_log_removal()""")
    op.execute(f"""
CREATE TRIGGER {REMOVAL}_truncate AFTER TRUNCATE ON {TABLE}
  FOR EACH STATEMENT EXECUTE FUNCTION servicespublics_search_log_removal()""")


def downgrade():
    op.execute(f"DROP TRIGGER IF EXISTS {REMOVAL}_delete ON {TABLE}")
    op.execute(f"DROP TRIGGER IF EXISTS {REMOVAL}_truncate ON {TABLE}")
    op.execute("DROP FUNCTION IF EXISTS servicespublics_search_log_removal()")
    op.execute(f"DROP TABLE IF EXISTS {REMOVAL}")
    op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_touch ON {TABLE}")
    op.execute("DROP FUNCTION IF EXISTS servicespublics_search_touch()")
    op.execute(f"DROP INDEX IF EXISTS {TABLE}_changed_xid_idx")
    op.execute(f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS changed_xid")
