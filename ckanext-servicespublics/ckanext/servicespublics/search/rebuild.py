"""Bulk rebuild of the PostgreSQL search index.

CKAN's ``search.rebuild()`` (``ckan search-index rebuild``) indexes one
dataset at a time: ``package_show`` (about eight queries, then validation)
and one INSERT per document, some 20 datasets per second. Without a dataset
id, and while PostgreSQL is the engine, this module builds the very same
documents in batches instead:

1. one query per table for a whole batch (packages, resources, tags, groups,
   organisations, relationships) replaces ``package_dictize``'s queries per
   dataset (:func:`package_show_batch`), and the group, organisation and
   licence parts of the dicts are made once per rebuild (a group's member
   count is a slow query);
2. the rest of ``package_show`` and ``package_show_default_and_custom_schemas``
   runs per dataset, unchanged: ``IPackageController.read``,
   ``IResourceController.before_resource_show``, validation with the default
   and the custom show schemas, ``after_dataset_show``; navl works out the
   structure of each shape of dataset once (:mod:`.validation`);
3. CKAN's own ``PackageSearchIndex.index_package`` turns each pair into the
   document (extras, vocabularies, ``before_dataset_index`` hooks of every
   plugin, permission labels);
4. the documents of a batch are written by one multi-row INSERT, and each
   batch is one transaction;
5. the batches are shared between worker processes, one per core;
6. a rebuild of the whole index (not ``only_missing``) writes into a fresh
   table without indexes or triggers, which gets the live table's indexes,
   facet counts and triggers once loaded and then replaces it in one short
   transaction (:mod:`.fresh`); searches use the live table until then.

Indexing one dataset (on create, update or ``rebuild <id>``) still goes
through CKAN's own path.
"""
from __future__ import annotations

import copy
import logging
import multiprocessing as mp
import os
import queue
import sys
import time
from typing import Any, Collection, Iterator, Optional

from sqlalchemy import false, select, text

import ckan.lib.dictization as d
import ckan.lib.dictization.model_dictize as model_dictize
import ckan.lib.helpers as h
import ckan.lib.plugins as lib_plugins
import ckan.logic as logic
import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.common import config
from ckan.lib.search.common import SearchIndexError
from ckan.lib.search.index import PackageSearchIndex
from ckan.logic.schema import default_show_package_schema
from ckan.model import meta
from ckan.types import Context

from . import backend, validation
from .fresh import FreshTable

log = logging.getLogger(__name__)

#: label of the extra column that tells which dataset a tag or group row is
#: for; removed again from the dictized rows
_PACKAGE_ID = "servicespublics_package_id"


# -- package_show for a batch ---------------------------------------------
def _core_package_show() -> bool:
    """True when ``package_show`` is CKAN's own, not chained or replaced
    by a plugin (the batch dictization reproduces CKAN's own only)."""
    from ckan.logic.action.get import package_show

    action = logic.get_action("package_show")
    return getattr(action, "__wrapped__", action) is package_show


#: the group and organisation dicts of one rebuild, by their database row:
#: ``group_list_dictize`` counts a group's members with a query that reads
#: every member of the group (a dataset is one), some 10 ms a group at
#: 100,000 datasets, which was most of PostgreSQL's work in a rebuild when
#: done for each batch. A group changed during the rebuild gets a dict of
#: its own; a change of members alone does not (CKAN does not index a
#: group's datasets again for that either). Emptied by :func:`index_packages`.
_shared: dict[tuple[str, Any], Any] = {}


def _grouped(rows: Any, key: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(getattr(row, key), []).append(row)
    return out


def _copy(value: Any) -> Any:
    """``copy.deepcopy`` for the JSON-like dicts of package_show, much faster
    (dict keys from SQLAlchemy are ``quoted_name`` strings, which deepcopy
    rebuilds one by one); anything else is deep-copied."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


def _schema_copy(schema: Any) -> Any:
    """A copy of a schema's dicts and lists; the validators themselves are
    shared."""
    if isinstance(schema, dict):
        return {k: _schema_copy(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_schema_copy(v) for v in schema]
    return schema


def _without_name_check(schema: dict[str, Any]) -> dict[str, Any]:
    """The show schema without ``package_name_validator`` on ``name``.

    That validator only looks for another dataset with the same name and
    reports an error; ``package_show`` throws the errors of its validation
    away, so the validated dict is the same without it, and the bulk path
    saves a query per dataset.
    """
    check = tk.get_validator("package_name_validator")
    names = schema.get("name")
    if not isinstance(names, list) or check not in names:
        return schema
    return dict(schema, name=[v for v in names if v is not check])


def _without_package_id(dicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for item in dicts:
        item.pop(_PACKAGE_ID, None)
    return dicts


class _BatchDictizer:
    """``model_dictize.package_dictize`` for many datasets at once.

    Each query of ``package_dictize`` runs once for the batch, with the
    same columns, and its rows go through the same dictization functions,
    so that every dataset gets the dict ``package_dictize`` would return.
    """

    def __init__(self, packages: list[model.Package]):
        session = model.Session
        ids = [pkg.id for pkg in packages]
        res = model.resource_table
        self.resources = _grouped(
            session.execute(select(res).where(res.c["package_id"].in_(ids))),
            "package_id")

        tag = model.tag_table
        pkg_tag = model.package_tag_table
        self.tags = _grouped(session.execute(
            select(tag, pkg_tag.c["state"], pkg_tag.c["package_id"].label(_PACKAGE_ID))
            .join(pkg_tag, tag.c["id"] == pkg_tag.c["tag_id"])
            .where(pkg_tag.c["package_id"].in_(ids))), _PACKAGE_ID)

        member = model.member_table
        group = model.group_table
        self.groups = _grouped(session.execute(
            select(group, member.c["capacity"], member.c["table_id"].label(_PACKAGE_ID))
            .join(member, group.c["id"] == member.c["group_id"])
            .where(member.c["table_id"].in_(ids), member.c["state"] == "active",
                   group.c["is_organization"] == false())), _PACKAGE_ID)

        owners = {pkg.owner_org for pkg in packages if pkg.owner_org}
        self.organizations = {}
        if owners:
            self.organizations = {row.id: row for row in session.execute(
                select(group).where(group.c["id"].in_(owners))
                .where(group.c["state"] == "active"))}

        rel = model.package_relationship_table
        self.subjects = _grouped(session.execute(
            select(rel).where(rel.c["subject_package_id"].in_(ids))),
            "subject_package_id")
        self.objects = _grouped(session.execute(
            select(rel).where(rel.c["object_package_id"].in_(ids))),
            "object_package_id")
        self._schemas: dict[str, tuple[Any, ...]] = {}
        # the plugins called for every dataset, listed once per batch
        self.read_hooks = list(p.PluginImplementations(p.IPackageController))
        self.resource_hooks = list(p.PluginImplementations(p.IResourceController))
        # does a plugin have an after_dataset_show of its own (which may
        # change the dict it gets)?
        self.show_hooks = any(
            getattr(type(item), "after_dataset_show", None)
            is not p.IPackageController.after_dataset_show
            for item in self.read_hooks)

    def schemas(self, dataset_type: str) -> tuple[Any, ...]:
        """What ``package_show_default_and_custom_schemas`` builds for every
        dataset: the default show schema (without the name check), the type's
        plugin, its show schema and whether that is the default one. Built
        once per type and batch rather than per dataset: building a schema
        looks up each of its validators by name, and comparing the two
        walks both (0.09 ms of Python per dataset)."""
        if dataset_type not in self._schemas:
            default_schema = default_show_package_schema()
            package_plugin = lib_plugins.lookup_package_plugin(dataset_type)
            custom_schema = package_plugin.show_package_schema()
            self._schemas[dataset_type] = (
                _without_name_check(default_schema), package_plugin, custom_schema,
                custom_schema == default_schema)
        return self._schemas[dataset_type]

    def _group_dict(self, row: Any, context: Context) -> dict[str, Any]:
        """A group as ``group_list_dictize`` gives it in ``package_dictize``:
        the same for every dataset with the same capacity in that group, so
        it is computed once per rebuild and group row (see :data:`_shared`)."""
        key = ("group", repr([v for k, v in row._mapping.items() if k != _PACKAGE_ID]))
        if key not in _shared:
            _shared[key] = _without_package_id(
                model_dictize.group_list_dictize(
                    [row], context, with_package_counts=False))[0]
        return _copy(_shared[key])

    def _organization(self, owner_org: Optional[str],
                      context: Context) -> Optional[dict[str, Any]]:
        row = self.organizations.get(owner_org) if owner_org else None
        key = ("organization", repr(tuple(row)) if row is not None else None)
        if key not in _shared:
            orgs = d.obj_list_dictize([row] if row is not None else [], context)
            if orgs:
                del orgs[0]["extras"]
            _shared[key] = orgs[0] if orgs else None
        return _copy(_shared[key])

    def package_dictize(self, pkg: model.Package, context: Context) -> dict[str, Any]:
        """``model_dictize.package_dictize(pkg, context)`` from the batch's rows
        (CKAN 2.12, ``include_plugin_data=False`` as in ``package_show``)."""
        result_dict = d.table_dictize(pkg, context)
        if result_dict.get("title"):
            result_dict["title"] = result_dict["title"].strip()
        result_dict.pop("plugin_data", None)

        result_dict["resources"] = model_dictize.resource_list_dictize(
            self.resources.get(pkg.id, []), context)
        result_dict["num_resources"] = len(result_dict.get("resources", []))

        result_dict["tags"] = _without_package_id(d.obj_list_dictize(
            self.tags.get(pkg.id, []), context, lambda x: x["name"]))
        result_dict["num_tags"] = len(result_dict.get("tags", []))
        for tag_dict in result_dict["tags"]:
            tag_dict["display_name"] = tag_dict["name"]

        result_dict["extras"] = [
            {"key": k, "value": v} for k, v in (result_dict["extras"] or {}).items()
        ]

        context["with_capacity"] = False
        result_dict["groups"] = sorted(
            (self._group_dict(row, context) for row in self.groups.get(pkg.id, [])),
            key=lambda x: h.strxfrm(x["display_name"]))

        result_dict["organization"] = self._organization(pkg.owner_org, context)

        result_dict["relationships_as_subject"] = d.obj_list_dictize(
            self.subjects.get(pkg.id, []), context)
        result_dict["relationships_as_object"] = d.obj_list_dictize(
            self.objects.get(pkg.id, []), context)

        result_dict["isopen"], license_url, license_title = _license(pkg)
        result_dict["type"] = pkg.type or "dataset"
        if license_url:
            result_dict["license_url"] = license_url
        result_dict["license_title"] = license_title
        result_dict["metadata_modified"] = pkg.metadata_modified.isoformat()
        result_dict["metadata_created"] = pkg.metadata_created.isoformat() \
            if pkg.metadata_created else None
        return result_dict


def _license(pkg: model.Package) -> tuple[bool, Optional[str], Optional[str]]:
    """``isopen``, ``license_url`` and ``license_title`` as package_dictize
    gives them, once per licence and rebuild (each ``pkg.license`` walks
    the licence register)."""
    key = ("license", pkg.license_id)
    if key not in _shared:
        license = pkg.license
        if license and license.url:
            url, title = license.url, license.title.split("::")[-1]
        elif license:
            url, title = None, license.title
        else:
            url, title = None, pkg.license_id
        _shared[key] = (pkg.isopen(), url, title)
    return _shared[key]


def package_show_batch(packages: list[model.Package]) -> Iterator[
        tuple[model.Package, Any]]:
    """``logic.package_show_default_and_custom_schemas`` for many datasets.

    Yields ``(package, (with_default_schema, with_custom_schema))``, or
    ``(package, exception)`` when a dataset fails, so that the caller can
    skip it (``--force``) or stop.
    """
    if not _core_package_show():
        # a plugin changed package_show: ask it, one dataset at a time
        for pkg in packages:
            try:
                yield pkg, logic.package_show_default_and_custom_schemas(
                    {"ignore_auth": True}, pkg.id)
            except Exception as e:  # reported by the caller, as CKAN does
                yield pkg, e
        return
    batch = _BatchDictizer(packages)
    for pkg in packages:
        try:
            yield pkg, _show_one(batch, pkg)
        except Exception as e:  # reported by the caller, as CKAN does
            yield pkg, e


def _show_one(batch: _BatchDictizer, pkg: model.Package) -> tuple[dict[str, Any],
                                                                  dict[str, Any]]:
    # the context package_show receives from package_show_default_and_
    # custom_schemas, as get_action and check_access complete it
    context = logic.fresh_context(
        {"ignore_auth": True}, ignore_auth=True, use_cache=False, validate=False)
    context["session"] = model.Session
    context["package"] = pkg
    context["__auth_audit"] = [("package_show", 0)]
    logic.check_access("package_show", context, {"id": pkg.id})

    # package_show with use_cache=False and validate=False
    package_dict = batch.package_dictize(pkg, context)
    for item in batch.read_hooks:
        item.read(pkg)
    for item in batch.resource_hooks:
        for resource_dict in package_dict["resources"]:
            item.before_resource_show(resource_dict)

    # package_show_default_and_custom_schemas
    default_schema, package_plugin, custom_schema, same = batch.schemas(
        package_dict["type"])
    with_default_schema, _errors = lib_plugins.plugin_validate(
        object(), context, package_dict, default_schema, "package_show")
    if same:
        with_custom_schema = with_default_schema
    elif type(package_plugin) is lib_plugins.DefaultDatasetForm:
        # no plugin for this type: CKAN validates the same dict again with
        # a second copy of the default schema (unequal only because some
        # validators are closures made per copy), which gives the same dict;
        # a copy of its own unless no after_dataset_show can change it
        # (index_package only serialises both)
        with_custom_schema = _copy(with_default_schema) if batch.show_hooks \
            else with_default_schema
    else:
        # a copy for each dataset, as package_show builds the schema for
        # each call: the plugin may change the schema it validates with
        # (ckanext-scheming sets its fields on it, and reads a field from
        # the extras only when the schema does not have it yet)
        with_custom_schema, _errors = lib_plugins.plugin_validate(
            package_plugin, context, package_dict, _schema_copy(custom_schema),
            "package_show")
    logic.apply_after_dataset_show_plugins(context, with_custom_schema)
    return with_default_schema, with_custom_schema


# -- indexing batches -------------------------------------------------------
def index_batch(ids: list[str], force: bool = False,
                table: Optional[str] = None) -> tuple[int, list[str]]:
    """Index the datasets ``ids`` in one transaction.

    Returns the number indexed and the ids that failed (with ``force``;
    without it the first failure is raised, as CKAN's rebuild does).
    ``table``: the fresh table of a full rebuild, instead of the live one.
    """
    index = PackageSearchIndex()
    packages = model.Session.query(model.Package).filter(
        model.Package.id.in_(ids)).all()
    by_id = {pkg.id: pkg for pkg in packages}
    packages = [by_id[i] for i in ids if i in by_id]
    failed: list[str] = []
    with backend.collect_documents() as rows, validation.planned():
        for pkg, both in package_show_batch(packages):
            try:
                if isinstance(both, Exception):
                    raise both
                index.index_package(dict(both[0], with_custom_schema=both[1]),
                                    defer_commit=True)
            except Exception as e:
                log.error("Error while indexing dataset %s: %r", pkg.id, e)
                if not force:
                    raise
                failed.append(pkg.id)
    if table is not None:
        # the data dicts and document (8 kB a dataset, compressed) of a
        # fresh table are compressed with lz4 when the server has it: some
        # 50 us less of PostgreSQL's CPU per dataset than pglz (10,000 bench
        # documents), for the same size; any method reads back the same
        model.Session.execute(text(
            "SELECT set_config('default_toast_compression', 'lz4', true) "
            "FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"))
    backend.write_rows(rows, table=table)
    model.Session.commit()
    return len(packages) - len(failed), failed


def _batches(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _worker(batches: list[list[str]], force: bool, table: Optional[str],
            report: Any) -> None:
    """A worker process: its own database connections, its own batches."""
    # the parent's pooled connections belong to the parent: never use them
    meta.engine.dispose(close=False)
    model.Session.remove()
    try:
        for ids in batches:
            done, failed = index_batch(ids, force, table)
            report.put(("done", done, failed))
    except Exception as e:  # the parent reports it and stops the others
        model.Session.rollback()
        report.put(("error", repr(e), []))
    finally:
        model.Session.remove()
        meta.engine.dispose()


def _workers() -> int:
    return config.get("ckanext.servicespublics.search.rebuild_workers") \
        or os.cpu_count() or 1


def index_packages(ids: list[str], force: bool = False, quiet: bool = True,
                   workers: Optional[int] = None,
                   batch_size: Optional[int] = None,
                   table: Optional[str] = None,
                   failed: Optional[list[str]] = None) -> int:
    """Index many datasets in batches, spread over worker processes.

    ``table``: write into that fresh table instead of the live one;
    ``failed``: a list that receives the ids that failed (with ``force``).
    """
    _shared.clear()
    if batch_size is None:
        batch_size = config.get("ckanext.servicespublics.search.rebuild_batch_size")
    workers = workers or _workers()
    batches = _batches(list(ids), max(1, batch_size))
    workers = max(1, min(workers, len(batches)))
    total = len(ids)
    done = 0
    if failed is None:
        failed = []

    def progress() -> None:
        if not quiet:
            sys.stdout.write(f"\rIndexing dataset {done}/{total}")
            sys.stdout.flush()

    model.Session.commit()
    if workers == 1:
        for batch in batches:
            n, bad = index_batch(batch, force, table)
            done += n + len(bad)
            failed.extend(bad)
            progress()
        return done - len(failed)

    # the workers inherit the loaded plugins and configuration (fork); the
    # parent holds no connection or transaction while they start
    model.Session.remove()
    ctx = mp.get_context("fork")
    report = ctx.Queue()
    procs = [ctx.Process(target=_worker,
                         args=(batches[i::workers], force, table, report),
                         daemon=True) for i in range(workers)]
    for proc in procs:
        proc.start()
    error = None
    finished = 0
    try:
        while finished < len(batches) and error is None:
            try:
                kind, value, bad = report.get(timeout=1)
            except queue.Empty:
                if not any(proc.is_alive() for proc in procs):
                    error = "a rebuild worker exited unexpectedly"
                continue
            if kind == "error":
                error = value
                continue
            finished += 1
            done += value + len(bad)
            failed.extend(bad)
            progress()
    finally:
        if error is not None:
            for proc in procs:
                proc.terminate()
        for proc in procs:
            proc.join()
    if error is not None:
        raise SearchIndexError(f"Search index rebuild failed: {error}")
    return done - len(failed)


# -- CKAN's search.rebuild ----------------------------------------------------
def rebuild(package_id: Optional[str] = None,
            only_missing: bool = False,
            force: bool = False,
            defer_commit: bool = False,
            package_ids: Optional[Collection[str]] = None,
            quiet: bool = False,
            clear: bool = False) -> None:
    """``ckan.lib.search.rebuild`` with the bulk path for the whole index.

    Same parameters and behaviour as CKAN's; one dataset or a list of ids
    are handed to CKAN's own function.
    """
    original = backend.original("ckan.lib.search.rebuild")
    if not backend.active() or package_id or package_ids is not None:
        return original(package_id, only_missing=only_missing, force=force,
                        defer_commit=defer_commit, package_ids=package_ids,
                        quiet=quiet, clear=clear)
    from ckan.lib.search import query_for

    log.info("Rebuilding search index...")
    started = time.monotonic()
    fresh = None
    if not only_missing:
        # the whole index: into a fresh table (``clear`` is implied); the
        # live table's changes are logged from before the datasets are listed
        log.info("Rebuilding the whole index into a fresh table...")
        fresh = FreshTable()
        model.Session.commit()
        fresh.start()
    try:
        packages = model.Session.query(model.Package.id)
        if config.get("ckan.search.remove_deleted_packages"):
            packages = packages.filter(model.Package.state != "deleted")
        ids = [r[0] for r in packages.all()]
        if only_missing:
            log.info("Indexing only missing packages...")
            indexed = set(query_for(model.Package).get_all_entity_ids(
                max_results=len(ids)))
            ids = [i for i in ids if i not in indexed]
            if not ids:
                log.info("All datasets are already indexed")
                return
        site_id = config.get("ckan.site_id")
        if fresh is not None:
            fresh.copy_other_sites(site_id)
        failed: list[str] = []
        count = index_packages(ids, force=force, quiet=quiet,
                               table=fresh.name if fresh else None, failed=failed)
        model.Session.commit()
        if fresh is not None:
            model.Session.remove()
            fresh.finish(_workers(), failed, site_id)
    finally:
        if fresh is not None:
            fresh.close()
    log.info("Finished rebuilding search index: %d datasets in %.1f s",
             count, time.monotonic() - started)
