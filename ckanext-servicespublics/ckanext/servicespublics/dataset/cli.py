"""``ckan servicespublics territories ...``: the territorial reference.

The group is added to the base plugin's ``ckan servicespublics`` group.
"""
from __future__ import annotations

import click

from ckanext.servicespublics.cli import servicespublics

__all__ = ["servicespublics"]


@click.group(short_help="Territorial reference: COG communes, EPCI, départements, régions")
def territories():
    """Territorial reference (Code officiel géographique, legal populations,
    boundaries)."""


@territories.command("load")
@click.option("--source", type=click.Path(), default=None,
              help="Folder of the JSON files of @etalab/decoupage-administratif "
                   "(default: the npm package installed by npm ci)")
def load(source):
    """Load (or replace) the communes, EPCI, départements and régions."""
    from ckanext.servicespublics.territories import loader

    try:
        counts = loader.load_cog(source, echo=click.echo)
    except loader.TerritoryLoadError as e:
        raise click.ClickException(str(e))
    click.secho(
        "Territoires chargés : {region} régions, {departement} départements, {epci} EPCI, "
        "{commune} communes, {arrondissement_municipal} arrondissements municipaux, "
        "{former_codes} anciens codes de communes.".format(**counts), fg="green")


@territories.command("load-boundaries")
@click.argument("path", required=False, type=click.Path())
@click.option("--level", type=click.Choice(
    ["region", "departement", "epci", "commune", "arrondissement_municipal"]),
    default=None, help="Level of the features (guessed from their codes and names)")
def load_boundaries(path, level):
    """Load boundaries from a GeoJSON file or folder (default: the simplified
    régions and départements shipped with the extension)."""
    from ckanext.servicespublics.territories import loader

    try:
        result = loader.load_boundaries(path, level=level, echo=click.echo)
    except loader.TerritoryLoadError as e:
        raise click.ClickException(str(e))
    click.secho(f"Contours chargés : {result['updated']} territoires "
                f"({len(result['unknown'])} codes inconnus ignorés).", fg="green")


@territories.command("status")
def status():
    """How many territories, boundaries and former codes are loaded."""
    from ckanext.servicespublics import territories as reference

    counts = reference.counts()
    for key, value in counts.items():
        click.echo(f"{key}: {value}")
    if not counts["commune"]:
        click.secho("Aucun territoire chargé : ckan servicespublics territories load",
                    fg="yellow")


@territories.command("simplify-boundaries")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--tolerance", type=float, default=0.003, show_default=True,
              help="Simplification tolerance, in degrees")
@click.option("--precision", type=float, default=0.0001, show_default=True,
              help="Coordinates are rounded to this many degrees")
def simplify_boundaries(source, target, tolerance, precision):
    """Write a lighter copy of a GeoJSON boundary file."""
    from ckanext.servicespublics.territories import loader

    try:
        n = loader.simplify_boundaries(source, target, tolerance, precision)
    except loader.TerritoryLoadError as e:
        raise click.ClickException(str(e))
    click.secho(f"{n} contours écrits dans {target}", fg="green")


servicespublics.add_command(territories)
