"""Tables of the servicespublics_issues plugin.

The tables are created and changed only by the alembic migrations in
``migration/servicespublics_issues/``; these classes only map them.
"""
from __future__ import annotations

import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.model.types import make_uuid

__all__ = ["Report", "Comment", "Event", "Correction",
           "CATEGORIES", "STATUSES", "MODERATION_STATES", "CORRECTION_FIELDS",
           "POINT_STATUSES"]

# report categories, in the order of the form
CATEGORIES = ("service_missing", "wrong_location", "wrong_information",
              "service_closed", "duplicate", "other")
# life of a published report
STATUSES = ("open", "in_progress", "resolved", "wont_fix")
# moderation: pending and held (suspicious) reports are not public; rejected
# and merged ones stay hidden for audit
MODERATION_STATES = ("pending", "held", "published", "rejected", "merged")
REJECTION_REASONS = ("spam", "abuse", "other")
# fields of a service point that a report may propose to correct
# (standard point columns of the service-points schema)
CORRECTION_FIELDS = ("name", "address", "postcode", "latitude", "longitude",
                     "opening_hours", "status", "opening_date", "closing_date")
POINT_STATUSES = ("open", "closed", "planned_opening", "planned_closure")


def _now() -> datetime.datetime:
    return datetime.datetime.utcnow()


class Report(tk.BaseModel):
    __tablename__ = "servicespublics_issues_report"

    id: Mapped[str] = sa.Column(sa.UnicodeText, primary_key=True, default=make_uuid)
    number: Mapped[int] = sa.Column(
        sa.BigInteger, unique=True, nullable=False,
        server_default=sa.text("nextval('servicespublics_issues_report_number_seq')"))
    package_id: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    resource_id: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    point_id: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    category: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    description: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    correction: Mapped[Optional[dict[str, Any]]] = sa.Column(JSONB)
    user_id: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    reporter_email: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    reporter_key: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    reporter_ip_hash: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    moderation_state: Mapped[str] = sa.Column(
        sa.UnicodeText, nullable=False, default="pending")
    spam_reasons: Mapped[list[str]] = sa.Column(JSONB, nullable=False, default=list)
    rejection_reason: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    merged_into_id: Mapped[Optional[str]] = sa.Column(
        sa.UnicodeText, sa.ForeignKey("servicespublics_issues_report.id"))
    status: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False, default="open")
    created: Mapped[datetime.datetime] = sa.Column(
        sa.DateTime, nullable=False, default=_now)
    modified: Mapped[datetime.datetime] = sa.Column(
        sa.DateTime, nullable=False, default=_now, onupdate=_now)
    moderated: Mapped[Optional[datetime.datetime]] = sa.Column(sa.DateTime)
    moderated_by: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)

    @classmethod
    def get(cls, id_or_number: Any) -> Optional["Report"]:
        """A report by id, or by its number (``42`` or ``"42"``)."""
        if id_or_number is None or id_or_number == "":
            return None
        report = model.Session.get(cls, str(id_or_number))
        if report is None and str(id_or_number).isdigit():
            report = model.Session.query(cls).filter(
                cls.number == int(id_or_number)).one_or_none()
        return report

    @property
    def is_public(self) -> bool:
        return self.moderation_state == "published"


class Comment(tk.BaseModel):
    __tablename__ = "servicespublics_issues_comment"

    id: Mapped[str] = sa.Column(sa.UnicodeText, primary_key=True, default=make_uuid)
    report_id: Mapped[str] = sa.Column(
        sa.UnicodeText, sa.ForeignKey("servicespublics_issues_report.id"),
        nullable=False)
    user_id: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    # reporter, moderator
    author_role: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    body: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    state: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False, default="active")
    created: Mapped[datetime.datetime] = sa.Column(
        sa.DateTime, nullable=False, default=_now)


class Event(tk.BaseModel):
    """One line of a report's history: who did what, when."""
    __tablename__ = "servicespublics_issues_event"

    id: Mapped[str] = sa.Column(sa.UnicodeText, primary_key=True, default=make_uuid)
    # insertion order (events of one action share their timestamp)
    seq: Mapped[int] = sa.Column(sa.BigInteger, sa.Identity(always=False), unique=True,
                                 nullable=False)
    report_id: Mapped[str] = sa.Column(
        sa.UnicodeText, sa.ForeignKey("servicespublics_issues_report.id"),
        nullable=False)
    user_id: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    # reporter, moderator, system
    actor_role: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    action: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    data: Mapped[dict[str, Any]] = sa.Column(JSONB, nullable=False, default=dict)
    # internal events (why a report was held, rejection notes) are shown to
    # moderators only
    public: Mapped[bool] = sa.Column(sa.Boolean, nullable=False, default=True)
    created: Mapped[datetime.datetime] = sa.Column(
        sa.DateTime, nullable=False, default=_now)


class Correction(tk.BaseModel):
    """An accepted correction of one service point, kept as an override.

    Identifies the point by (resource_id, source_id), the stable identity of
    a point in its resource. ``previous`` holds the point's values before the
    correction, when the points table was there to read them.
    """
    __tablename__ = "servicespublics_issues_correction"

    id: Mapped[str] = sa.Column(sa.UnicodeText, primary_key=True, default=make_uuid)
    report_id: Mapped[str] = sa.Column(
        sa.UnicodeText, sa.ForeignKey("servicespublics_issues_report.id"),
        nullable=False)
    package_id: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    resource_id: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    source_id: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False)
    fields: Mapped[dict[str, Any]] = sa.Column(JSONB, nullable=False)
    previous: Mapped[Optional[dict[str, Any]]] = sa.Column(JSONB)
    accepted_by: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    created: Mapped[datetime.datetime] = sa.Column(
        sa.DateTime, nullable=False, default=_now)
    state: Mapped[str] = sa.Column(sa.UnicodeText, nullable=False, default="active")
    removed: Mapped[Optional[datetime.datetime]] = sa.Column(sa.DateTime)
    removed_by: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    # producer (removed by hand), source_agrees (the producer's file now
    # has the corrected values)
    removal_reason: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
    # the ingestion of the resource whose points carry the correction (None:
    # not known, or the points plugin is not there)
    applied_ingestion: Mapped[Optional[str]] = sa.Column(sa.UnicodeText)
