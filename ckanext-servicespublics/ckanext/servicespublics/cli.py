"""``ckan servicespublics ...`` commands of the base plugin."""
from __future__ import annotations

import click

__all__ = ["servicespublics"]


@click.group(short_help="ckanext-servicespublics commands")
def servicespublics():
    """Commands of the ckanext-servicespublics extension."""


@servicespublics.group()
def demo():
    """Demo catalogue with real service-point data."""


@demo.command("load")
def demo_load():
    """Create the demo organisations, groups and datasets (idempotent)."""
    from .demo import load

    created = load(echo=click.echo)
    click.secho(
        "Démo chargée : {organizations} organisation(s), {groups} groupe(s), "
        "{datasets} jeu(x) de données créés.".format(**created),
        fg="green",
    )
