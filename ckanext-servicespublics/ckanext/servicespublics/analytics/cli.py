"""``ckan servicespublics analytics ...``: communes' reference points, point history.

The ``analytics`` group is added to the base plugin's ``servicespublics``
group when this module is imported (by ``plugin.py``), as the points plugin
does: CKAN registers one command per name.
"""
from __future__ import annotations

from typing import Optional

import click

__all__ = ["analytics"]


@click.group(short_help="National map: communes' reference points, points history")
def analytics():
    """The national map's statistics (servicespublics_analytics)."""


@analytics.command("load-centres")
@click.option("--source", "source", default=None,
              help="CSV (code, longitude, latitude[, source]), gzipped or not, or GeoJSON "
                   "points with a code property; default: the shipped chefs-lieux")
def load_centres(source: Optional[str]):
    """Load the points distances to the services are measured from, one per commune."""
    from . import centres

    try:
        centres.load(source, echo=click.echo)
    except centres.CentreLoadError as e:
        raise click.ClickException(str(e)) from e


@analytics.command("sync")
def sync():
    """Record the versions of the point resources ingested since the last run."""
    from . import history

    results = history.sync()
    for result in results:
        if "deleted" in result:
            click.echo(f"{result['resource_id']} : historique supprimé (ressource disparue)")
        else:
            click.echo(
                f"{result['resource_id']} : version du {result['version_date']}, "
                f"{result['points']} point(s), {result['appeared']} apparu(s), "
                f"{result['disappeared']} disparu(s)")
    click.secho(f"{len(results)} ressource(s) mise(s) à jour", fg="green")


def _register() -> None:
    try:
        from ckanext.servicespublics.cli import servicespublics
    except ImportError:
        return
    if "analytics" not in servicespublics.commands:
        servicespublics.add_command(analytics)


_register()
