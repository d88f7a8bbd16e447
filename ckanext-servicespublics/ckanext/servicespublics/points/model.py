"""The tables of servicespublics_points, declared for SQLAlchemy.

They are created by the alembic migration in
``migration/servicespublics_points`` (never at plugin load).  Declaring them on
``tk.BaseModel`` puts them in CKAN's metadata, so that ``ckan db clean`` and
the test fixtures empty them with CKAN's own tables.
"""
from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

import ckan.plugins.toolkit as tk

from . import store

__all__ = ["Point", "Ingestion", "Entry", "ResourceState"]


class ResourceState(tk.BaseModel):
    """Where a point resource stands: last request, last ingestion, live points."""

    __tablename__ = store.STATE_TABLE

    resource_id = sa.Column(sa.UnicodeText, primary_key=True)
    package_id = sa.Column(sa.UnicodeText, nullable=False, index=True)
    requested_fingerprint = sa.Column(sa.UnicodeText)
    ingested_fingerprint = sa.Column(sa.UnicodeText)
    status = sa.Column(sa.UnicodeText, nullable=False, default="pending")
    point_count = sa.Column(sa.Integer, nullable=False, default=0)
    last_ingestion_id = sa.Column(sa.UnicodeText)
    live_ingestion_id = sa.Column(sa.UnicodeText)
    extents = sa.Column(JSONB)
    auto_spatial = sa.Column(sa.UnicodeText)
    updated = sa.Column(sa.DateTime)


class Ingestion(tk.BaseModel):
    """One run of the ingestion of a resource, with its counts and messages."""

    __tablename__ = store.INGESTION_TABLE

    id = sa.Column(sa.UnicodeText, primary_key=True)
    resource_id = sa.Column(sa.UnicodeText, nullable=False)
    package_id = sa.Column(sa.UnicodeText, nullable=False)
    status = sa.Column(sa.UnicodeText, nullable=False)
    trigger = sa.Column(sa.UnicodeText)
    fingerprint = sa.Column(sa.UnicodeText)
    source = sa.Column(sa.UnicodeText)
    started = sa.Column(sa.DateTime, nullable=False)
    finished = sa.Column(sa.DateTime)
    seconds = sa.Column(sa.Float)
    file_size = sa.Column(sa.BigInteger)
    file_hash = sa.Column(sa.UnicodeText)
    format = sa.Column(sa.UnicodeText)
    encoding = sa.Column(sa.UnicodeText)
    delimiter = sa.Column(sa.UnicodeText)
    crs = sa.Column(sa.UnicodeText)
    rows_read = sa.Column(sa.Integer, nullable=False, default=0)
    rows_ingested = sa.Column(sa.Integer, nullable=False, default=0)
    rows_rejected = sa.Column(sa.Integer, nullable=False, default=0)
    rows_skipped = sa.Column(sa.Integer, nullable=False, default=0)
    errors = sa.Column(sa.Integer, nullable=False, default=0)
    warnings = sa.Column(sa.Integer, nullable=False, default=0)
    infos = sa.Column(sa.Integer, nullable=False, default=0)
    entries_truncated = sa.Column(sa.Boolean, nullable=False, default=False)
    messages = sa.Column(JSONB)
    summary = sa.Column(JSONB)
    mapping = sa.Column(JSONB)
    extents = sa.Column(JSONB)

    __table_args__ = (
        sa.Index(f"{store.INGESTION_TABLE}_resource_idx", "resource_id", "started"),
    )


class Entry(tk.BaseModel):
    """A row-level problem found by an ingestion (capped per ingestion)."""

    __tablename__ = store.ENTRY_TABLE

    id = sa.Column(sa.BigInteger, primary_key=True)
    ingestion_id = sa.Column(
        sa.UnicodeText, sa.ForeignKey(f"{store.INGESTION_TABLE}.id", ondelete="CASCADE"),
        nullable=False)
    line = sa.Column(sa.Integer)
    column_name = sa.Column(sa.UnicodeText)
    value = sa.Column(sa.UnicodeText)
    severity = sa.Column(sa.UnicodeText, nullable=False)
    code = sa.Column(sa.UnicodeText, nullable=False)
    message = sa.Column(sa.UnicodeText, nullable=False)

    __table_args__ = (
        sa.Index(f"{store.ENTRY_TABLE}_ingestion_idx", "ingestion_id", "id"),
    )


class Point(tk.BaseModel):
    """A service point read from a resource's file."""

    __tablename__ = store.POINT_TABLE

    id = sa.Column(sa.BigInteger, primary_key=True)
    resource_id = sa.Column(sa.UnicodeText, nullable=False)
    package_id = sa.Column(sa.UnicodeText, nullable=False)
    owner_org = sa.Column(sa.UnicodeText)
    ingestion_id = sa.Column(sa.UnicodeText, nullable=False)
    row_number = sa.Column(sa.Integer, nullable=False)
    source_id = sa.Column(sa.UnicodeText)
    name = sa.Column(sa.UnicodeText)
    service_type = sa.Column(sa.UnicodeText)
    address = sa.Column(sa.UnicodeText)
    postcode = sa.Column(sa.UnicodeText)
    insee_code = sa.Column(sa.UnicodeText)
    commune_code = sa.Column(sa.UnicodeText)
    departement_code = sa.Column(sa.UnicodeText)
    region_code = sa.Column(sa.UnicodeText)
    geom = sa.Column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    opening_date = sa.Column(sa.Date)
    closing_date = sa.Column(sa.Date)
    status = sa.Column(sa.UnicodeText)
    opening_hours = sa.Column(sa.UnicodeText)
    phone = sa.Column(sa.UnicodeText)
    email = sa.Column(sa.UnicodeText)
    website = sa.Column(sa.UnicodeText)
    extra = sa.Column(JSONB)

    __table_args__ = (
        sa.Index(f"{store.POINT_TABLE}_resource_idx", "resource_id"),
        sa.Index(f"{store.POINT_TABLE}_geom_gist", "geom", postgresql_using="gist"),
    )
