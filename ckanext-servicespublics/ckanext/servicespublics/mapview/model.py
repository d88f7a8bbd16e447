"""The tables of servicespublics_map, declared for SQLAlchemy.

They are created by the alembic migration in ``migration/servicespublics_map``
(never at plugin load).  Declaring them on ``tk.BaseModel`` puts them in
CKAN's metadata, so that ``ckan db clean`` and the test fixtures empty them
with CKAN's own tables.  ``layers.py`` reads and writes them in SQL.
"""
from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

import ckan.plugins.toolkit as tk

from .layers import CELL_TABLE, LAYER_TABLE, NAME_TABLE

__all__ = ["Layer", "Cell", "name_table"]


class Layer(tk.BaseModel):
    """The map layer of a point resource: which points its cells count."""

    __tablename__ = LAYER_TABLE

    resource_id = sa.Column(sa.UnicodeText, primary_key=True)
    package_id = sa.Column(sa.UnicodeText, nullable=False)
    layer_id = sa.Column(sa.Integer)
    ingestion_id = sa.Column(sa.UnicodeText)
    version = sa.Column(sa.Integer, nullable=False, default=0)
    built_version = sa.Column(sa.Integer)
    status = sa.Column(sa.UnicodeText, nullable=False, default="pending")
    point_count = sa.Column(sa.Integer, nullable=False, default=0)
    max_zoom = sa.Column(sa.SmallInteger)
    extent = sa.Column(JSONB)
    service_types = sa.Column(JSONB)
    built = sa.Column(sa.DateTime)
    seconds = sa.Column(sa.Float)
    error = sa.Column(sa.UnicodeText)
    queued = sa.Column(sa.UnicodeText)

    __table_args__ = (sa.Index(f"{LAYER_TABLE}_package_idx", "package_id"),)


class Cell(tk.BaseModel):
    """A grid cell of one zoom level of a layer (the tile of zoom z + 3)."""

    __tablename__ = CELL_TABLE

    layer_id = sa.Column(sa.Integer, primary_key=True)
    z = sa.Column(sa.SmallInteger, primary_key=True)
    x = sa.Column(sa.Integer, primary_key=True)
    y = sa.Column(sa.Integer, primary_key=True)
    n = sa.Column(sa.Integer, nullable=False)
    point_id = sa.Column(sa.BigInteger)
    service_type = sa.Column(sa.UnicodeText)
    geom = sa.Column(Geometry("POINT", srid=3857, spatial_index=False), nullable=False)


#: the words of the points' names, for the name search (no primary key: a table)
name_table = sa.Table(
    NAME_TABLE, tk.BaseModel.metadata,
    sa.Column("layer_id", sa.Integer, nullable=False),
    sa.Column("point_id", sa.BigInteger, nullable=False),
    sa.Column("words", TSVECTOR, nullable=False),
    sa.Index(f"{NAME_TABLE}_words_idx", "words", postgresql_using="gin"),
    sa.Index(f"{NAME_TABLE}_layer_idx", "layer_id"),
)
