"""Corrections accepted before ``applied_ingestion`` existed: the live points

Revision ID: c9d2e4f7a1b6
Revises: b3e8f1a6c2d4
Create Date: 2026-11-22 07:20:00

Until now every active correction was written onto the points when it was
accepted and again after each ingestion, so the live points of its
resource carry it. Saying so keeps the next call that is not a new
ingestion from reading the corrected values as the producer's. (A
correction whose point has left the file waits, as before, for the next
ingestion.) Without the points plugin's tables there is nothing to say.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "c9d2e4f7a1b6"
down_revision = "b3e8f1a6c2d4"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
DO $$
BEGIN
  IF to_regclass('servicespublics_points_resource') IS NOT NULL THEN
    UPDATE servicespublics_issues_correction c
       SET applied_ingestion = r.live_ingestion_id
      FROM servicespublics_points_resource r
     WHERE r.resource_id = c.resource_id
       AND c.state = 'active' AND c.applied_ingestion IS NULL;
  END IF;
END
$$""")


def downgrade():
    pass  # the column keeps its values; the previous revision drops it
