"""``ckan servicespublics points ...``: import, reindex and report point files.

The ``points`` group is added to the base plugin's ``servicespublics`` group
when this module is imported (by ``plugin.py``): CKAN registers one command
per name, and ``servicespublics`` belongs to the base plugin.
"""
from __future__ import annotations

from typing import Any, Optional

import click

__all__ = ["points"]


@click.group(short_help="Service-point files: import, reindex, report")
def points():
    """Service points read from the resources' files (servicespublics_points)."""


def _point_resources() -> list[tuple[str, str]]:
    """(resource id, package id) of every active point resource."""
    import ckan.model as model

    from .jobs import is_point_resource

    found = []
    query = (model.Session.query(model.Resource, model.Package.type)
             .join(model.Package, model.Package.id == model.Resource.package_id)
             .filter(model.Resource.state == "active")
             .filter(model.Package.state == "active"))
    for resource, package_type in query:
        data = {"id": resource.id, "state": resource.state, "format": resource.format,
                "url": resource.url, **(resource.extras or {})}
        if is_point_resource(data, package_type):
            found.append((resource.id, resource.package_id))
    return found


def _load(resource_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    import ckan.model as model
    import ckan.plugins.toolkit as tk

    row = model.Resource.get(resource_id)
    if row is None or row.state != "active":
        raise click.ClickException(f"Ressource introuvable : {resource_id}")
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    package = tk.get_action("package_show")(
        {"user": site_user["name"], "ignore_auth": True, "use_cache": False},
        {"id": row.package_id})
    resource = next(r for r in package["resources"] if r["id"] == resource_id)
    return resource, package


def _summary_line(resource_id: str, result: Any) -> str:
    return (f"{resource_id} : {result.status}, {result.rows_ingested} point(s) sur "
            f"{result.rows_read} ligne(s), {result.rows_rejected} rejetée(s), "
            f"{result.rows_skipped} écartée(s) ({result.seconds:.1f} s)")


@points.command("import")
@click.argument("resource_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Every point resource of the site.")
@click.option("--sync", is_flag=True,
              help="Ingest now, in this process, instead of enqueueing jobs.")
def import_(resource_id: Optional[str], all_: bool, sync: bool):
    """Ingest RESOURCE_ID (or --all point resources), even if unchanged."""
    from . import jobs

    if bool(resource_id) == all_:
        raise click.UsageError("Donnez un RESOURCE_ID ou --all")
    targets = _point_resources() if all_ else [(resource_id, None)]
    if not sync:
        for rid, _ in targets:
            job = jobs.enqueue(rid, None, trigger="cli", force=True)
            click.echo(f"{rid} : import mis en file d'attente (tâche {job.id})")
        click.secho(f"{len(targets)} import(s) en file d'attente : lancez `ckan jobs worker`",
                    fg="green")
        return
    failed = 0
    for rid, _ in targets:
        resource, package = _load(rid)
        if not jobs.is_point_resource(resource, package.get("type")):
            click.secho(f"{rid} n'est pas un fichier de points", fg="yellow")
            continue
        label = f"{resource.get('name') or rid}"[:40]
        with click.progressbar(length=100, label=label, show_percent=True) as bar:
            state = {"done": 0}

            def progress(position: Optional[int], total: Optional[int]) -> None:
                if position is None or not total:
                    return
                done = min(100, int(position * 100 / total))
                if done > state["done"]:
                    bar.update(done - state["done"])
                    state["done"] = done

            result = jobs.ingest_resource(resource, package, trigger="cli",
                                          progress=progress)
            if state["done"] < 100:
                bar.update(100 - state["done"])
        color = {"valid": "green", "partial": "yellow"}.get(result.status, "red")
        click.secho(_summary_line(rid, result), fg=color)
        for message in result.report.messages:
            if message["severity"] != "info":
                click.echo(f"  {message['message']}")
        if not result.replaced:
            failed += 1
    if failed:
        raise SystemExit(1)


@points.command("reindex")
def reindex():
    """Reindex the datasets that have points; forget the points of vanished resources."""
    import ckan.lib.search as search
    import ckan.model as model

    from . import jobs, store, subscriptions

    with jobs.raw_cursor() as cur:
        cur.execute(f"SELECT resource_id, package_id FROM {store.STATE_TABLE}")
        states = cur.fetchall()
    live = {rid for rid, _ in _point_resources()}
    gone = [rid for rid, _ in states if rid not in live]
    for rid in gone:
        subscriptions.forget_resource(rid)
    packages = sorted({pid for rid, pid in states if rid in live})
    with click.progressbar(packages, label="Réindexation") as bar:
        for package_id in bar:
            if model.Package.get(package_id) is not None:
                search.rebuild(package_id)
    click.secho(f"{len(packages)} jeu(x) de données réindexé(s), points de {len(gone)} "
                "ressource(s) disparue(s) supprimés", fg="green")


@points.command("report")
@click.argument("resource_id")
@click.option("--limit", default=50, show_default=True, help="Entries shown.")
@click.option("--severity", type=click.Choice(["error", "warning", "info"]))
def report(resource_id: str, limit: int, severity: Optional[str]):
    """Print the validation report of RESOURCE_ID."""
    from . import queries

    state = queries.resource_state(resource_id)
    if state is None:
        raise click.ClickException(f"Aucun rapport pour la ressource {resource_id}")
    ingestion = queries.latest_ingestion(resource_id)
    click.echo(f"Ressource {resource_id} : statut {state['status']}, "
               f"{state['point_count']} point(s) en base")
    if ingestion is None:
        return
    click.echo(
        f"Dernier import {ingestion['started']} ({ingestion['status']}) : "
        f"{ingestion['rows_read']} ligne(s) lue(s), {ingestion['rows_ingested']} importée(s), "
        f"{ingestion['rows_rejected']} rejetée(s), {ingestion['rows_skipped']} écartée(s) ; "
        f"{ingestion['errors']} erreur(s), {ingestion['warnings']} avertissement(s), "
        f"{ingestion['infos']} information(s)")
    for message in ingestion.get("messages") or []:
        click.echo(f"  [{message['severity']}] {message['message']}")
    for item in ingestion.get("summary") or []:
        click.echo(f"  {item['count']:>7} × {item['label']} ({item['severity']})")
    total, entries = queries.entries(ingestion["id"], severity=severity, limit=limit)
    for entry in entries:
        where = f"ligne {entry['line']}" if entry["line"] is not None else "fichier"
        column = f", {entry['column']}" if entry["column"] else ""
        click.echo(f"{where}{column} [{entry['severity']}] {entry['message']}")
    if total > len(entries):
        click.echo(f"… {total - len(entries)} autre(s) entrée(s) "
                   "(action servicespublics_points_report)")


def _register() -> None:
    try:
        from ckanext.servicespublics.cli import servicespublics
    except ImportError:
        return
    if "points" not in servicespublics.commands:
        servicespublics.add_command(points)


_register()
