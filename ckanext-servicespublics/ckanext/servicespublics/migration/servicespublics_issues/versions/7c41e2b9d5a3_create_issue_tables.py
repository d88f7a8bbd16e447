"""Create the issue-report tables: reports, comments, history, corrections

Revision ID: 7c41e2b9d5a3
Revises:
Create Date: 2026-11-22 10:00:00

A report is never deleted by the application: rejected and merged reports
stay, hidden, for audit. Dataset and resource ids are plain text (no foreign
key to CKAN's tables) so that purging a dataset never fails on its reports.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

# revision identifiers, used by Alembic.
revision = "7c41e2b9d5a3"
down_revision = None
branch_labels = None
depends_on = None

REPORT = "servicespublics_issues_report"
COMMENT = "servicespublics_issues_comment"
EVENT = "servicespublics_issues_event"
CORRECTION = "servicespublics_issues_correction"


def upgrade():
    op.execute(f"CREATE SEQUENCE IF NOT EXISTS {REPORT}_number_seq")
    op.create_table(
        REPORT,
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("number", sa.BigInteger, nullable=False, unique=True,
                  server_default=sa.text(f"nextval('{REPORT}_number_seq')")),
        sa.Column("package_id", sa.UnicodeText, nullable=False),
        sa.Column("resource_id", sa.UnicodeText),
        sa.Column("point_id", sa.UnicodeText),
        sa.Column("category", sa.UnicodeText, nullable=False),
        sa.Column("description", sa.UnicodeText, nullable=False),
        sa.Column("correction", JSONB),
        sa.Column("user_id", sa.UnicodeText),
        sa.Column("reporter_email", sa.UnicodeText),
        sa.Column("reporter_key", sa.UnicodeText),
        sa.Column("reporter_ip_hash", sa.UnicodeText),
        sa.Column("moderation_state", sa.UnicodeText, nullable=False,
                  server_default="pending"),
        sa.Column("spam_reasons", JSONB, nullable=False,
                  server_default=sa.text("'[]'::jsonb")),
        sa.Column("rejection_reason", sa.UnicodeText),
        sa.Column("merged_into_id", sa.UnicodeText,
                  sa.ForeignKey(f"{REPORT}.id")),
        sa.Column("status", sa.UnicodeText, nullable=False,
                  server_default="open"),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("modified", sa.DateTime, nullable=False),
        sa.Column("moderated", sa.DateTime),
        sa.Column("moderated_by", sa.UnicodeText),
        sa.CheckConstraint(
            "moderation_state IN ('pending', 'held', 'published', 'rejected', 'merged')",
            name=f"{REPORT}_moderation_state_check"),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'resolved', 'wont_fix')",
            name=f"{REPORT}_status_check"),
    )
    op.execute(f"ALTER SEQUENCE {REPORT}_number_seq OWNED BY {REPORT}.number")
    op.create_index(f"{REPORT}_package_idx", REPORT,
                    ["package_id", "moderation_state", "status"])
    op.create_index(f"{REPORT}_resource_idx", REPORT, ["resource_id", "point_id"])
    op.create_index(f"{REPORT}_moderation_idx", REPORT, ["moderation_state", "created"])
    op.create_index(f"{REPORT}_user_idx", REPORT, ["user_id"])

    op.create_table(
        COMMENT,
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("report_id", sa.UnicodeText, sa.ForeignKey(f"{REPORT}.id"),
                  nullable=False),
        sa.Column("user_id", sa.UnicodeText),
        sa.Column("author_role", sa.UnicodeText, nullable=False),
        sa.Column("body", sa.UnicodeText, nullable=False),
        sa.Column("state", sa.UnicodeText, nullable=False, server_default="active"),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_index(f"{COMMENT}_report_idx", COMMENT, ["report_id", "created"])

    op.create_table(
        EVENT,
        sa.Column("id", sa.UnicodeText, primary_key=True),
        # the order of the events, also within one transaction
        sa.Column("seq", sa.BigInteger, sa.Identity(always=False), nullable=False,
                  unique=True),
        sa.Column("report_id", sa.UnicodeText, sa.ForeignKey(f"{REPORT}.id"),
                  nullable=False),
        sa.Column("user_id", sa.UnicodeText),
        sa.Column("actor_role", sa.UnicodeText, nullable=False),
        sa.Column("action", sa.UnicodeText, nullable=False),
        sa.Column("data", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("public", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_index(f"{EVENT}_report_idx", EVENT, ["report_id", "seq"])
    op.create_index(f"{EVENT}_created_idx", EVENT, ["created"])

    op.create_table(
        CORRECTION,
        sa.Column("id", sa.UnicodeText, primary_key=True),
        sa.Column("report_id", sa.UnicodeText, sa.ForeignKey(f"{REPORT}.id"),
                  nullable=False),
        sa.Column("package_id", sa.UnicodeText, nullable=False),
        sa.Column("resource_id", sa.UnicodeText, nullable=False),
        sa.Column("source_id", sa.UnicodeText, nullable=False),
        sa.Column("fields", JSONB, nullable=False),
        sa.Column("previous", JSONB),
        sa.Column("accepted_by", sa.UnicodeText),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("state", sa.UnicodeText, nullable=False, server_default="active"),
        sa.Column("removed", sa.DateTime),
        sa.Column("removed_by", sa.UnicodeText),
        sa.Column("removal_reason", sa.UnicodeText),
        sa.CheckConstraint("state IN ('active', 'removed')",
                           name=f"{CORRECTION}_state_check"),
    )
    op.create_index(f"{CORRECTION}_point_idx", CORRECTION,
                    ["resource_id", "state", "source_id"])
    op.create_index(f"{CORRECTION}_report_idx", CORRECTION, ["report_id"])


def downgrade():
    op.drop_table(CORRECTION)
    op.drop_table(EVENT)
    op.drop_table(COMMENT)
    op.drop_table(REPORT)
    op.execute(f"DROP SEQUENCE IF EXISTS {REPORT}_number_seq")
