"""Fixtures of the territorial reference, shared by tests/territories and
tests/dataset (their conftest.py import them).

``territories_loaded`` gives every test the full COG 2026 of ``shared/data``
and the shipped région/département boundaries. Loading them takes seconds,
so the first load of a test session is copied into two cache tables (named
outside the ``servicespublics_`` prefix that the shared ``clean_db`` empties)
and later tests restore the reference from them in a fraction of a second,
whatever a previous test did to it.
"""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data", "territories")
COG_DIR = os.path.join(SHARED, "cog-2026_etalab-decoupage-administratif")
GEOJSON_DIR = os.path.join(SHARED, "france-geojson")

#: what the COG 2026 files hold (see shared/data/territories/SOURCES.md)
COG_COUNTS = {"region": 26, "departement": 109, "epci": 1255, "commune": 34969,
              "arrondissement_municipal": 45, "former_codes": 4240}
#: régions and départements with a boundary in the shipped files
SHIPPED_BOUNDARIES = 18 + 101

_TABLES = {
    "servicespublics_dataset_territory": "test_cache_territory",
    "servicespublics_dataset_territory_former_code": "test_cache_territory_former_code",
}
_FINGERPRINT = """
SELECT (SELECT count(*) FROM {territory}),
       (SELECT count(*) FROM {territory} WHERE geom IS NOT NULL),
       (SELECT count(*) FROM {territory} WHERE geom IS NOT NULL
          AND level IN ('region', 'departement')),
       (SELECT count(*) FROM {former}),
       (SELECT string_agg(name, ',' ORDER BY code) FROM {territory} WHERE level = 'region')
"""
_EXPECTED_ROWS = sum(v for k, v in COG_COUNTS.items() if k != "former_codes")


def _fingerprint(conn, territory: str, former: str):
    return tuple(conn.execute(sa.text(_FINGERPRINT.format(
        territory=territory, former=former))).one())


def _is_reference(fingerprint) -> bool:
    rows, boundaries, shipped, former, _regions = fingerprint
    return (rows, boundaries, shipped, former) == (
        _EXPECTED_ROWS, SHIPPED_BOUNDARIES, SHIPPED_BOUNDARIES, COG_COUNTS["former_codes"])


def ensure_loaded() -> None:
    """Make the reference hold exactly the COG 2026 and the shipped boundaries."""
    from ckan.model import meta

    from ckanext.servicespublics.territories import loader

    meta.Session.remove()
    live = tuple(_TABLES)
    cache = tuple(_TABLES.values())
    with meta.engine.begin() as conn:
        current = _fingerprint(conn, *live)
        cached = None
        if conn.execute(sa.text("SELECT to_regclass(:t) IS NOT NULL"),
                        {"t": cache[0]}).scalar():
            cached = _fingerprint(conn, *cache)
        if cached is not None and _is_reference(cached):
            if current == cached:
                return
            for table, copy in _TABLES.items():
                conn.execute(sa.text(f"DELETE FROM {table}"))
                conn.execute(sa.text(f"INSERT INTO {table} SELECT * FROM {copy}"))
            return
    loader.load_cog(COG_DIR, echo=lambda _msg: None)
    with meta.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {live[0]} SET geom = NULL WHERE geom IS NOT NULL"))
    loader.load_boundaries(echo=lambda _msg: None)
    with meta.engine.begin() as conn:
        for table, copy in _TABLES.items():
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {copy}"))
            conn.execute(sa.text(f"CREATE TABLE {copy} AS SELECT * FROM {table}"))


@pytest.fixture
def territories_loaded(clean_db):
    """The COG 2026 and the shipped région/département boundaries."""
    from ckanext.servicespublics import territories

    ensure_loaded()
    return territories
