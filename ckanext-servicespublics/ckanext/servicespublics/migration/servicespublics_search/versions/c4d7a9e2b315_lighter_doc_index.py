"""Index the document with jsonb_path_ops

Revision ID: c4d7a9e2b315
Revises: 8b1e4d2c9a10
Create Date: 2026-11-22 00:05:00

Field queries on custom fields use JSON containment (``doc @> ...``), which
``jsonb_path_ops`` serves with an index several times smaller and cheaper to
update than the default ``jsonb_ops`` (that one also indexes every key, for
``?``, which only the rare ``field:*`` query needs).
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "c4d7a9e2b315"
down_revision = "8b1e4d2c9a10"
branch_labels = None
depends_on = None

TABLE = "servicespublics_search_document"


def upgrade():
    op.execute(f"DROP INDEX IF EXISTS {TABLE}_doc_gin")
    op.execute(f"CREATE INDEX {TABLE}_doc_gin ON {TABLE} USING gin (doc jsonb_path_ops)")


def downgrade():
    op.execute(f"DROP INDEX IF EXISTS {TABLE}_doc_gin")
    op.execute(f"CREATE INDEX {TABLE}_doc_gin ON {TABLE} USING gin (doc)")
