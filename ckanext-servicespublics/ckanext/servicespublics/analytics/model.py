"""The tables of servicespublics_analytics, declared for SQLAlchemy.

They are created by the alembic migration in
``migration/servicespublics_analytics`` (never at plugin load).  The point
history and the versions are catalogue content: they are declared on
``tk.BaseModel``'s metadata, so that ``ckan db clean`` and the test fixtures
empty them with CKAN's tables.  The communes' reference points are reference
data, like the territories: they have a metadata of their own.
"""
from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry

import ckan.plugins.toolkit as tk

__all__ = ["POINT", "VERSION", "COMMUNE", "point_table", "version_table", "commune_table"]

POINT = "servicespublics_analytics_point"
VERSION = "servicespublics_analytics_version"
COMMUNE = "servicespublics_analytics_commune"

#: the points plugin's tables that the history is built from
LIVE_POINT = "servicespublics_points_point"
LIVE_STATE = "servicespublics_points_resource"
LIVE_INGESTION = "servicespublics_points_ingestion"
#: the territorial reference (servicespublics_dataset)
TERRITORY = "servicespublics_dataset_territory"

ACTIVE_FROM_SQL = (
    "CASE WHEN status = 'closed' AND COALESCE(closing_date, closed_on, disappeared_on) IS NULL "
    "THEN 'infinity'::date "
    "WHEN status = 'planned_opening' THEN COALESCE(opening_date, 'infinity'::date) "
    "ELSE COALESCE(opening_date, opened_on, appeared_on, '-infinity'::date) END")
ACTIVE_UNTIL_SQL = "COALESCE(closing_date, closed_on, disappeared_on, 'infinity'::date)"

version_table = sa.Table(
    VERSION, tk.BaseModel.metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("resource_id", sa.UnicodeText, nullable=False),
    sa.Column("package_id", sa.UnicodeText, nullable=False),
    sa.Column("ingestion_id", sa.UnicodeText, nullable=False),
    # the date the version counts from: the day it was ingested
    sa.Column("version_date", sa.Date, nullable=False),
    sa.Column("recorded", sa.DateTime, nullable=False),
    sa.Column("point_count", sa.Integer, nullable=False, default=0),
    sa.Column("appeared", sa.Integer, nullable=False, default=0),
    sa.Column("disappeared", sa.Integer, nullable=False, default=0),
    # the first version recorded for the resource: its points did not "appear"
    sa.Column("first", sa.Boolean, nullable=False, default=False),
    sa.Index(f"{VERSION}_resource_idx", "resource_id", "id"),
)

point_table = sa.Table(
    POINT, tk.BaseModel.metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("resource_id", sa.UnicodeText, nullable=False),
    sa.Column("package_id", sa.UnicodeText, nullable=False),
    # the point's identity across versions: its id in the file, or a hash of
    # its type, name and position
    sa.Column("point_key", sa.UnicodeText, nullable=False),
    # servicespublics_points_point.id while the point is live
    sa.Column("point_id", sa.BigInteger),
    sa.Column("source_id", sa.UnicodeText),
    sa.Column("name", sa.UnicodeText),
    sa.Column("service_type", sa.UnicodeText),
    sa.Column("commune_code", sa.UnicodeText),
    sa.Column("departement_code", sa.UnicodeText),
    sa.Column("region_code", sa.UnicodeText),
    sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
    sa.Column("opening_date", sa.Date),
    sa.Column("closing_date", sa.Date),
    sa.Column("status", sa.UnicodeText),
    sa.Column("appeared_on", sa.Date),
    sa.Column("opened_on", sa.Date),
    sa.Column("closed_on", sa.Date),
    sa.Column("disappeared_on", sa.Date),
    # in service on day d when active_from <= d < active_until (see the migration)
    sa.Column("active_from", sa.Date, sa.Computed(ACTIVE_FROM_SQL, persisted=True)),
    sa.Column("active_until", sa.Date, sa.Computed(ACTIVE_UNTIL_SQL, persisted=True)),
)

reference_metadata = sa.MetaData()

commune_table = sa.Table(
    COMMUNE, reference_metadata,
    sa.Column("code", sa.UnicodeText, primary_key=True),
    sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
    # chef-lieu, surface, or the name of the file a site loaded
    sa.Column("source", sa.UnicodeText),
)
