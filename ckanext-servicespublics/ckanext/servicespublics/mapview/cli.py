"""``ckan servicespublics map ...``: count the cluster levels of the maps.

The ``map`` group is added to the base plugin's ``servicespublics`` group when
this module is imported (by ``plugin.py``), as ``points`` is.
"""
from __future__ import annotations

from typing import Optional

import click

__all__ = ["map_"]


@click.group("map", short_help="Maps of the point resources: cluster levels")
def map_():
    """Maps of the point resources (servicespublics_map)."""


@map_.command("build")
@click.argument("resource_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Every resource that has points")
@click.option("--force", is_flag=True, help="Count again even when up to date")
def build(resource_id: Optional[str], all_: bool, force: bool):
    """Count the cluster levels of a resource's map (or of all of them), now."""
    import sqlalchemy as sa

    import ckan.model as model

    from ckanext.servicespublics.points.store import STATE_TABLE

    from . import layers

    if not resource_id and not all_:
        raise click.UsageError("Give a resource id, or --all")
    if all_:
        ids = [r for (r,) in model.Session.execute(sa.text(
            f"SELECT resource_id FROM {STATE_TABLE} WHERE point_count > 0 "
            "ORDER BY resource_id")).all()]
    else:
        ids = [resource_id]
    model.Session.remove()
    failed = 0
    for rid in ids:
        try:
            result = layers.build(rid, force=force)
        except Exception as e:
            failed += 1
            click.secho(f"{rid} : échec ({type(e).__name__}: {e})", fg="red", err=True)
            continue
        if result is None:
            click.echo(f"{rid} : aucun point")
        elif not result["built"]:
            click.echo(f"{rid} : déjà à jour")
        else:
            click.echo(f"{rid} : {result['point_count']} point(s), "
                       f"{result['seconds']:.2f} s")
    if failed:
        raise SystemExit(1)


def _register() -> None:
    try:
        from ckanext.servicespublics.cli import servicespublics
    except ImportError:
        return
    if "map" not in servicespublics.commands:
        servicespublics.add_command(map_)


_register()
