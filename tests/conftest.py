"""Shared fixtures.

PostGIS, unaccent and pg_trgm live in a ``postgis`` schema that is on the
database's search path (after ``public``).  CKAN's own database reset reflects
every table *visible* on the search path and drops them all, which would reach
PostGIS' ``spatial_ref_sys``.  ``reset_db`` below is CKAN's reset, restricted
to the default schema; every CKAN fixture built on it (``clean_db``,
``non_clean_db``) uses it.  ``clean_db`` then re-applies the migrations of this
extension's plugins and empties the search table, which CKAN's fast reset
(deleting rows of the tables it knows) does not touch.
"""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import close_all_sessions

import ckan.lib.search as search
import ckan.model as model
import ckan.plugins as p
from ckan.model import meta
from ckan.tests import factories



def _drop_default_schema_tables() -> None:
    engine = meta.engine
    schema = engine.dialect.default_schema_name
    reflected = sa.MetaData()
    reflected.reflect(engine, schema=schema)
    with engine.begin() as conn:
        reflected.drop_all(conn)


def _reset_db() -> None:
    close_all_sessions()
    repo = model.repo
    if repo.tables_created_and_initialised:
        repo.delete_all()
    else:
        repo.commit_and_remove()
        _drop_default_schema_tables()
    repo.session.remove()
    repo.init_db()
    repo.session.flush()


@pytest.fixture(scope="session")
def reset_db():
    factories.fake.unique.clear()
    return _reset_db


def _plugins_with_migrations() -> list[str]:
    """Loaded plugins that ship alembic migrations (activity, harvest, ours)."""
    from ckan.cli.db import _resolve_alembic_config
    from ckan.common import config

    names = []
    for name in config.get("ckan.plugins"):
        if p.plugin_loaded(name) and os.path.exists(_resolve_alembic_config(name)):
            names.append(name)
    return names


@pytest.fixture
def clean_db(reset_db, migrate_db_for):
    reset_db()
    for plugin in _plugins_with_migrations():
        migrate_db_for(plugin)
    if p.plugin_loaded("servicespublics_search"):
        search.clear_all()
