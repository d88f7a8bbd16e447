"""Running one harvest source synchronously (CLI ``run-once``, benchmark).

The same stages as the queue consumers (ckanext-harvest's
``queue.gather_stage`` and ``queue.fetch_and_import_stages``), in this
process, without Redis: for a manual run, a first import or a benchmark.
Scheduled runs go through ``ckan harvester run`` and the consumers.

Being in charge of the whole job, the runner does a little better than a
consumer: it splits the objects between ``workers`` processes, reads the
remote records of the next objects ahead while one is imported
(``ckanext.servicespublics.harvest.read_ahead``), and saves each object's
progress in two commits instead of five (:func:`fetch_and_import_stages`),
one when the import creates a dataset (its end is saved with the dataset).
"""
from __future__ import annotations

import collections
import datetime
from typing import Callable

from sqlalchemy import orm

import ckan.model as model
import ckan.plugins.toolkit as tk

from ckanext.harvest import queue
from ckanext.harvest.logic import HarvestJobExists
from ckanext.harvest.model import (
    HarvestGatherError,
    HarvestJob,
    HarvestObject,
    HarvestObjectExtra,
)

from .base import histories
from .http import ReadAhead


def _context() -> dict:
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"model": model, "session": model.Session, "user": site_user["name"],
            "ignore_auth": True}


def run_source(source_id_or_name: str, abort_running: bool = False,
               on_gathered: Callable[[int], None] | None = None,
               on_object: Callable[[], None] | None = None,
               workers: int = 1) -> dict:
    """Create a job for the source, gather, fetch and import every object
    (in ``workers`` processes, like as many fetch consumers), and close the
    job. Returns the job id, the number of objects by report status (added,
    updated, not modified, deleted, errored) and the gather errors."""
    source = tk.get_action("harvest_source_show")(_context(), {"id": source_id_or_name})
    harvester = queue.get_harvester(source["source_type"])
    if harvester is None:
        raise tk.ObjectNotFound(f"no harvester plugin for type {source['source_type']!r}")
    try:
        job_dict = tk.get_action("harvest_job_create")(
            _context(), {"source_id": source["id"], "run": False})
    except HarvestJobExists:
        if not abort_running:
            raise
        tk.get_action("harvest_job_abort")(_context(), {"source_id": source["id"]})
        job_dict = tk.get_action("harvest_job_create")(
            _context(), {"source_id": source["id"], "run": False})
    job = HarvestJob.get(job_dict["id"])
    job.status = "Running"
    job.save()
    object_ids = queue.gather_stage(harvester, job)
    if not isinstance(object_ids, list):
        object_ids = []
    if on_gathered:
        on_gathered(len(object_ids))
    if workers > 1 and len(object_ids) > 1:
        _parallel(source, object_ids, workers, on_object)
    else:
        _run_objects(harvester, source, object_ids, on_object or (lambda: None))
    tk.get_action("harvest_jobs_run")(_context(), {"source_id": source["id"]})
    counts = collections.Counter(
        status for (status,) in model.Session.query(HarvestObject.report_status).filter(
            HarvestObject.harvest_job_id == job_dict["id"]))
    errors = [e.message for e in model.Session.query(HarvestGatherError).filter(
        HarvestGatherError.harvest_job_id == job_dict["id"]).order_by(
            HarvestGatherError.created)]
    return {"job_id": job_dict["id"], "source": source["name"], "objects": len(object_ids),
            "counts": dict(counts), "gather_errors": errors}


def _fetch_and_import(harvester, object_id: str) -> None:
    # the object with its extras and source, which both stages read: one query
    obj = model.Session.get(HarvestObject, object_id, options=[
        orm.joinedload(HarvestObject.extras), orm.joinedload(HarvestObject.source)])
    fetch_and_import_stages(harvester, obj)
    model.Session.remove()


def fetch_and_import_stages(harvester, obj: HarvestObject) -> None:
    """ckanext-harvest's ``queue.fetch_and_import_stages``: the same states,
    dates and report statuses, saved in two commits instead of five: the
    fetch (a remote request, or nothing) and the start of the import are
    saved together, and the end of the import with its report status, which
    is counted on ids rather than on whole harvest objects and their
    content. When the import creates a dataset, it saves the end of the
    import (COMPLETE, "added") in the dataset's own commit, and there is
    nothing left to save here. An object is seen in the IMPORT state while
    it is imported; one whose fetch was interrupted stays WAITING, which
    ``ckan harvester run`` resubmits, rather than stuck in FETCH."""
    obj.fetch_started = datetime.datetime.utcnow()
    obj.state = "FETCH"
    success_fetch = harvester.fetch_stage(obj)
    obj.fetch_finished = datetime.datetime.utcnow()
    if success_fetch is True:
        obj.import_started = datetime.datetime.utcnow()
        obj.state = "IMPORT"
        obj.save()
        success_import = harvester.import_stage(obj)
        if success_import is True and obj.state == "COMPLETE" and obj.report_status:
            # a new dataset: the import saved its end in the dataset's commit
            return
        obj.import_finished = datetime.datetime.utcnow()
        if success_import:
            obj.state = "COMPLETE"
            if success_import == "unchanged":
                obj.report_status = "not modified"
                obj.save()
                return
        else:
            obj.state = "ERROR"
    elif success_fetch == "unchanged":
        obj.state = "COMPLETE"
        obj.report_status = "not modified"
        obj.save()
        return
    else:
        obj.state = "ERROR"
    if obj.state == "ERROR":
        obj.report_status = "errored"
    elif obj.current is False:
        obj.report_status = "deleted"
    elif len(model.Session.query(HarvestObject.id).filter_by(
            package_id=obj.package_id).limit(2).all()) == 2:
        obj.report_status = "updated"
    else:
        obj.report_status = "added"
    obj.save()


def _run_objects(harvester, source: dict, object_ids: list[str],
                 done: Callable[[], None]) -> None:
    """Fetch and import these objects in this process, one after the other,
    while a few threads read ahead the remote records of the next ones. The
    history of their remote ids is read first, a thousand at a time, rather
    than once per object."""
    guids, withdrawn = _job_objects(object_ids)
    imported = [guids[i] for i in object_ids if i in guids and i not in withdrawn]
    harvester.histories = histories(source["id"], imported) if imported else None
    model.Session.remove()
    ahead = _read_ahead(harvester, source, object_ids, guids, withdrawn)
    harvester.read_ahead = ahead
    try:
        for object_id in object_ids:
            _fetch_and_import(harvester, object_id)
            done()
    finally:
        harvester.read_ahead = None
        harvester.histories = None
        if ahead is not None:
            ahead.close()


def _job_objects(object_ids: list[str]) -> tuple[dict[str, str], set[str]]:
    """The remote id of these objects (of one job), and which of them are
    withdrawals."""
    if not object_ids:
        return {}, set()
    wanted = set(object_ids)
    job_id = model.Session.query(HarvestObject.harvest_job_id).filter(
        HarvestObject.id == object_ids[0]).scalar()
    guids = {object_id: guid for object_id, guid in model.Session.query(
        HarvestObject.id, HarvestObject.guid).filter(HarvestObject.harvest_job_id == job_id)
        if object_id in wanted}
    withdrawn = {object_id for (object_id,) in model.Session.query(
        HarvestObjectExtra.harvest_object_id).join(HarvestObject).filter(
        HarvestObject.harvest_job_id == job_id, HarvestObjectExtra.key == "status",
        HarvestObjectExtra.value == "delete")}
    return guids, withdrawn


def _read_ahead(harvester, source: dict, object_ids: list[str], guids: dict[str, str],
                withdrawn: set[str]) -> ReadAhead | None:
    """The remote records that the fetch stage will read for these objects
    (none for withdrawals), scheduled in that order."""
    threads = tk.config.get("ckanext.servicespublics.harvest.read_ahead")
    if not threads or not object_ids or not hasattr(harvester, "record_url"):
        return None
    try:
        config = harvester.parse_config(source["config"])
    except ValueError:
        return None  # the fetch stage reports it
    base_url = source["url"].rstrip("/")
    items = []
    for object_id in object_ids:
        if object_id in guids and object_id not in withdrawn:
            url = harvester.record_url(base_url, guids[object_id], config)
            if url:
                items.append((object_id, url))
    if not items:
        return None
    ahead = ReadAhead(harvester._client_settings(config), threads=threads,
                      window=4 * threads)
    ahead.schedule(items)
    return ahead


def _worker(source: dict, object_ids: list[str], progress) -> None:
    # a forked process: its own database connections
    model.Session.remove()
    model.meta.engine.dispose(close=False)
    harvester = queue.get_harvester(source["source_type"])
    try:
        _run_objects(harvester, source, object_ids, lambda: progress.put(1))
    finally:
        progress.put(None)


def _parallel(source: dict, object_ids: list[str], workers: int,
              on_object: Callable[[], None] | None) -> None:
    """Fetch and import in ``workers`` forked processes (the objects are
    independent: ckanext-harvest runs several fetch consumers the same way)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    model.Session.remove()
    model.meta.engine.dispose()
    progress = context.Queue()
    processes = [context.Process(target=_worker, args=(source, object_ids[i::workers],
                                                       progress))
                 for i in range(workers)]
    for process in processes:
        process.start()
    running = len(processes)
    while running:
        message = progress.get()
        if message is None:
            running -= 1
        elif on_object:
            on_object()
    for process in processes:
        process.join()
