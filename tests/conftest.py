"""Shared fixtures.

PostGIS, unaccent and pg_trgm live in a ``postgis`` schema that is on the
database's search path (after ``public``).  CKAN's own database reset reflects
every table *visible* on the search path and drops them all, which would reach
PostGIS' ``spatial_ref_sys``.  ``reset_db`` below is CKAN's reset restricted to
the default schema; every CKAN fixture built on it (``clean_db``,
``non_clean_db``, ``reset_db_once``) uses it.  After the reset it applies the
migrations of every loaded plugin that ships some (activity, harvest, this
extension's plugins) and empties this extension's own tables, which CKAN's
fast reset (deleting the rows of the tables it knows) does not reach.
"""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import close_all_sessions

import ckan.model as model
import ckan.plugins as p
from ckan.model import meta
from ckan.tests import factories

from tests.territories.fixtures import territories_loaded  # noqa: F401 (shared fixture)

#: tables of this extension, emptied at every reset (not their alembic versions)
OWN_TABLE_PREFIX = "servicespublics_"


def _drop_default_schema_tables() -> None:
    engine = meta.engine
    schema = engine.dialect.default_schema_name
    reflected = sa.MetaData()
    reflected.reflect(engine, schema=schema)
    with engine.begin() as conn:
        reflected.drop_all(conn)


def _plugins_with_migrations() -> list[str]:
    """Loaded plugins that ship alembic migrations, in ``ckan.plugins`` order."""
    from ckan.cli.db import _resolve_alembic_config
    from ckan.common import config

    return [
        name for name in config.get("ckan.plugins")
        if p.plugin_loaded(name) and os.path.exists(_resolve_alembic_config(name))
    ]


def _migrate_plugins() -> None:
    from ckan.cli.db import _run_migrations

    for plugin in _plugins_with_migrations():
        _run_migrations(plugin)


def _empty_own_tables() -> None:
    with meta.engine.begin() as conn:
        names = conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename LIKE :prefix AND tablename NOT LIKE :versions"
        ), {"prefix": OWN_TABLE_PREFIX + "%", "versions": "%alembic_version"}).scalars().all()
        if names:
            conn.execute(sa.text(
                "TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))


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
    repo.session.commit()
    _migrate_plugins()
    _empty_own_tables()


@pytest.fixture(scope="session")
def reset_db():
    factories.fake.unique.clear()
    return _reset_db


@pytest.fixture(autouse=True)
def load_standard_plugins(with_plugins):
    """Every test runs with the plugins of ``ckan.plugins`` loaded (test.ini,
    or a ``ckan_config`` mark), as CKAN recommends for extensions."""
