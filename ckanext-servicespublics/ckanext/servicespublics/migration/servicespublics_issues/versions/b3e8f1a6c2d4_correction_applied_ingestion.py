"""Remember which ingestion of its resource a correction was written onto

Revision ID: b3e8f1a6c2d4
Revises: 7c41e2b9d5a3
Create Date: 2026-11-22 06:40:00

After a re-ingestion the corrections are compared with the points as the
producer's file gives them, then written back. Once written, the points
carry the corrected values: comparing them again (a second notice of the
same ingestion) would take the correction for the producer's own values and
retire it. ``applied_ingestion`` says which points already carry it.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b3e8f1a6c2d4"
down_revision = "7c41e2b9d5a3"
branch_labels = None
depends_on = None

CORRECTION = "servicespublics_issues_correction"


def upgrade():
    op.add_column(CORRECTION, sa.Column("applied_ingestion", sa.UnicodeText))


def downgrade():
    op.drop_column(CORRECTION, "applied_ingestion")
