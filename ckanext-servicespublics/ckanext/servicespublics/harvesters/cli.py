"""``ckan servicespublics harvest ...``: harvest sources of the partner portals.

``sources-sync [DIR]``
    creates or updates the harvest sources described by ``DIR/*.json``
    (default: ``ckanext.servicespublics.harvest.sources_dir``, or the
    ``harvesters/sources`` folder of the checkout)
``run-once SOURCE``
    runs one source now, in this process, with a progress bar

Scheduled harvests use ckanext-harvest's own commands (``ckan harvester run``
from cron, and the ``gather-consumer``/``fetch-consumer`` workers).
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import click

from ckanext.servicespublics.cli import servicespublics

__all__ = ["harvest"]

SOURCE_KEYS = {"name", "title", "type", "url", "notes", "frequency", "active",
               "organization", "config"}
FREQUENCIES = ("MANUAL", "MONTHLY", "WEEKLY", "BIWEEKLY", "DAILY", "ALWAYS")


@click.group(short_help="Harvest sources of partner portals (data.gouv.fr, OpenDataSoft)")
def harvest():
    """Harvest sources of the partner portals (data.gouv.fr, OpenDataSoft)."""


def default_sources_dir() -> Path:
    import ckan.plugins.toolkit as tk

    configured = tk.config.get("ckanext.servicespublics.harvest.sources_dir")
    if configured:
        return Path(configured)
    # <checkout>/ckanext-servicespublics/ckanext/servicespublics/harvesters/cli.py
    return Path(__file__).resolve().parents[4] / "harvesters" / "sources"


def read_definition(path: Path) -> dict:
    """A source definition file, checked; ValueError with the reason."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"not valid JSON ({e})")
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object")
    unknown = set(data) - SOURCE_KEYS
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    for key in ("name", "title", "type", "url"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"{key!r} is required (a string)")
    if data.get("frequency", "MANUAL") not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
    org = data.get("organization")
    if org is not None and not (isinstance(org, str) or (
            isinstance(org, dict) and isinstance(org.get("name"), str))):
        raise ValueError("organization must be a name or an object with a name")
    if not isinstance(data.get("config", {}), dict):
        raise ValueError("config must be a JSON object")
    return data


def sync_sources(directory: Path, echo=click.echo) -> dict:
    """Create or update the harvest sources of ``directory``; returns the
    counts of created, updated, unchanged and failed definitions."""
    import ckan.model as model
    import ckan.plugins.toolkit as tk

    from .runner import _context

    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise click.ClickException(f"no source definition (*.json) in {directory}")
    for path in paths:
        try:
            data = read_definition(path)
        except ValueError as e:
            counts["failed"] += 1
            echo(f"{path.name}: {e}", err=True)
            continue
        owner_org = None
        org = data.get("organization")
        if org:
            org = {"name": org} if isinstance(org, str) else org
            group = model.Group.get(org["name"])
            if group is None:
                group_dict = tk.get_action("organization_create")(_context(), {
                    "name": org["name"], "title": org.get("title") or org["name"],
                    "description": org.get("description", "")})
                owner_org = group_dict["id"]
                echo(f"{path.name}: created organisation {org['name']}")
            else:
                owner_org = group.id
        wanted = {
            "name": data["name"], "title": data["title"], "url": data["url"],
            "source_type": data["type"], "notes": data.get("notes", ""),
            "frequency": data.get("frequency", "MANUAL"),
            "config": json.dumps(data.get("config", {}), ensure_ascii=False, indent=2),
            "active": bool(data.get("active", True)),
        }
        if owner_org:
            wanted["owner_org"] = owner_org
        try:
            current = tk.get_action("harvest_source_show")(_context(), {"id": data["name"]})
        except tk.ObjectNotFound:
            current = None
        try:
            if current is None:
                tk.get_action("harvest_source_create")(_context(), wanted)
                counts["created"] += 1
                echo(f"{path.name}: created source {data['name']}")
            elif _differs(current, wanted):
                tk.get_action("harvest_source_patch")(_context(), dict(wanted,
                                                                        id=current["id"]))
                counts["updated"] += 1
                echo(f"{path.name}: updated source {data['name']}")
            else:
                counts["unchanged"] += 1
                echo(f"{path.name}: source {data['name']} unchanged")
        except tk.ValidationError as e:
            model.Session.rollback()
            counts["failed"] += 1
            errors = e.error_summary if hasattr(e, "error_summary") else e.error_dict
            echo(f"{path.name}: invalid source: " + "; ".join(
                f"{k}: {v}" for k, v in errors.items()), err=True)
    return counts


def _differs(current: dict, wanted: dict) -> bool:
    for key, value in wanted.items():
        old = current.get(key)
        if key == "config":
            try:
                if json.loads(old or "{}") != json.loads(value):
                    return True
            except ValueError:
                return True
        elif key == "active":
            if bool(old) != value and current.get("state", "active") == "active":
                return True
        elif (old or "") != (value or ""):
            return True
    return False


def _app_context(ctx):
    """A request context of the CKAN app, as ckanext-harvest's commands do
    (none needed when called from within the app, e.g. in tests)."""
    app = ctx.meta.get("flask_app")
    return app.test_request_context() if app else contextlib.nullcontext()


@harvest.command("sources-sync")
@click.argument("directory", required=False,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def sources_sync(ctx, directory):
    """Create or update the harvest sources described in DIRECTORY/*.json."""
    directory = directory or default_sources_dir()
    if not os.path.isdir(directory):
        raise click.ClickException(f"{directory} is not a folder")
    with _app_context(ctx):
        counts = sync_sources(directory)
    click.secho("{created} created, {updated} updated, {unchanged} unchanged, "
                "{failed} failed".format(**counts),
                fg="red" if counts["failed"] else "green")
    if counts["failed"]:
        ctx.exit(1)


@harvest.command("run-once")
@click.argument("source")
@click.option("--abort-running", is_flag=True,
              help="Abort the source's unfinished job first, if any.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Processes fetching and importing in parallel.")
@click.pass_context
def run_once(ctx, source, abort_running, workers):
    """Run the harvest SOURCE (name or id) now, in this process."""
    import ckan.plugins.toolkit as tk

    from ckanext.harvest.logic import HarvestJobExists

    from .runner import run_source

    bar = {}

    def gathered(count):
        click.echo(f"{count} remote dataset(s) to import or withdraw")
        bar["bar"] = click.progressbar(length=count, label="Harvesting",
                                       show_pos=True, file=sys.stderr)
        bar["bar"].__enter__()

    def advanced():
        bar["bar"].update(1)

    with _app_context(ctx):
        try:
            result = run_source(source, abort_running=abort_running,
                                on_gathered=gathered, on_object=advanced, workers=workers)
        except tk.ObjectNotFound as e:
            raise click.ClickException(f"harvest source {source!r} not found ({e})")
        except HarvestJobExists:
            raise click.ClickException(
                f"source {source!r} already has an unfinished job: wait for it, or use "
                "--abort-running")
        finally:
            if "bar" in bar:
                bar["bar"].__exit__(None, None, None)
    counts = result["counts"]
    click.echo(f"Job {result['job_id']}: " + ", ".join(
        f"{counts.get(k, 0)} {k}" for k in ("added", "updated", "not modified", "deleted",
                                          "errored")))
    for message in result["gather_errors"]:
        click.secho(f"gather error: {message}", fg="yellow")
    if counts.get("errored") or result["gather_errors"]:
        ctx.exit(1)


servicespublics.add_command(harvest)
