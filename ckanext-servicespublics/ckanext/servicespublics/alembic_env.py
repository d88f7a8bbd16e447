"""The alembic environment shared by every plugin's migrations.

Each ``migration/<plugin>/env.py`` calls :func:`run` with its own path: the
folder name is the plugin name, which prefixes its tables and its version
table (``<plugin>_alembic_version``), so that plugins migrate independently
(``ckan db upgrade -p <plugin>``) and autogenerate only looks at their tables.
"""
from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any, Optional


def run(env_file: str, extra_metadata: Optional[list[Any]] = None) -> None:
    from alembic import context
    from sqlalchemy import engine_from_config, pool

    from ckan.model.meta import metadata

    config = context.config
    fileConfig(config.config_file_name)
    name = os.path.basename(os.path.dirname(os.path.abspath(env_file)))
    target = [metadata, *extra_metadata] if extra_metadata else metadata

    def include_object(object, object_name, type_, reflected, compare_to):
        return not (type_ == "table" and not object_name.startswith(name))

    options = {"target_metadata": target, "version_table": f"{name}_alembic_version",
               "include_object": include_object}
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"),
                          literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    connectable = engine_from_config(config.get_section(config.config_ini_section),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
