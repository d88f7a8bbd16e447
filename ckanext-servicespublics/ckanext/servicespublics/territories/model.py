"""Tables of the territorial reference (COG communes, EPCI, départements, régions).

They are created by the ``servicespublics_dataset`` plugin's migration and
filled by ``ckan servicespublics territories load`` and ``load-boundaries``.

The tables belong to their own ``MetaData``, not to CKAN's: they hold
reference data (like PostGIS' ``spatial_ref_sys``), not catalogue content, so
CKAN's ``repo.delete_all()`` (the test fixtures' fast reset) leaves them as
they are, and a site's ``ckan db clean`` drops them with the other tables.
"""
from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY

metadata = sa.MetaData()

TERRITORY = "servicespublics_dataset_territory"
FORMER_CODE = "servicespublics_dataset_territory_former_code"

territory_table = sa.Table(
    TERRITORY, metadata,
    # region, departement, epci, commune, arrondissement_municipal
    sa.Column("level", sa.Text, primary_key=True),
    # COG code (commune, département, région) or SIREN (EPCI)
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    # lowercase, without accents or punctuation: what searches compare
    sa.Column("name_search", sa.Text, nullable=False),
    # EPCI legal form: CC, CA, CU, METRO, MET69
    sa.Column("kind", sa.Text),
    # the commune of an arrondissement municipal (Paris, Lyon, Marseille)
    sa.Column("commune", sa.Text),
    sa.Column("epci", sa.Text),
    sa.Column("departement", sa.Text),
    sa.Column("region", sa.Text),
    # metro, drom, com
    sa.Column("zone", sa.Text),
    sa.Column("chef_lieu", sa.Text),
    # population municipale (INSEE legal populations); summed for
    # départements and régions
    sa.Column("population", sa.Integer),
    sa.Column("postcodes", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)),
)

former_code_table = sa.Table(
    FORMER_CODE, metadata,
    # the code of a commune that merged into another (commune nouvelle) or
    # was absorbed
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("current_code", sa.Text, nullable=False),
    # its name when the COG still lists it (commune déléguée or associée)
    sa.Column("name", sa.Text),
)
