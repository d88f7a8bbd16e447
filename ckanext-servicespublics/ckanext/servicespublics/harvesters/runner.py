"""Running one harvest source synchronously (CLI ``run-once``, benchmark).

The same stages as the queue consumers (ckanext-harvest's
``queue.gather_stage`` and ``queue.fetch_and_import_stages``), in this
process, without Redis: for a manual run, a first import or a benchmark.
Scheduled runs go through ``ckan harvester run`` and the consumers.
"""
from __future__ import annotations

import collections
from typing import Callable

import ckan.model as model
import ckan.plugins.toolkit as tk

from ckanext.harvest import queue
from ckanext.harvest.logic import HarvestJobExists
from ckanext.harvest.model import HarvestGatherError, HarvestJob, HarvestObject


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
        _parallel(source["source_type"], object_ids, workers, on_object)
    else:
        for object_id in object_ids:
            _fetch_and_import(harvester, object_id)
            if on_object:
                on_object()
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
    obj = HarvestObject.get(object_id)
    queue.fetch_and_import_stages(harvester, obj)
    model.Session.remove()


def _worker(source_type: str, object_ids: list[str], progress) -> None:
    # a forked process: its own database connections
    model.Session.remove()
    model.meta.engine.dispose(close=False)
    harvester = queue.get_harvester(source_type)
    try:
        for object_id in object_ids:
            _fetch_and_import(harvester, object_id)
            progress.put(1)
    finally:
        progress.put(None)


def _parallel(source_type: str, object_ids: list[str], workers: int,
              on_object: Callable[[], None] | None) -> None:
    """Fetch and import in ``workers`` forked processes (the objects are
    independent: ckanext-harvest runs several fetch consumers the same way)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    model.Session.remove()
    model.meta.engine.dispose()
    progress = context.Queue()
    processes = [context.Process(target=_worker, args=(source_type, object_ids[i::workers],
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
