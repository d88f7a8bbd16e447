"""Reacting to changes of datasets and resources: enqueue ingestions, forget points.

A resource is (re)ingested when its fingerprint (url, upload date, size,
hash, format, mapping, crs, encoding, delimiter, role) differs from the last
one requested: a dataset edit that leaves the file alone, or the job's own
``package_patch`` of the extent, enqueues nothing.

Dataset-level actions are followed through ``action_succeeded`` (sent after
the action returned, so after its commit); resource-level ones through
``IResourceController`` (``plugin.py``), which ends up here too.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Optional

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan import types

from . import jobs, store

log = logging.getLogger(__name__)

__all__ = ["get_subscriptions", "resource_changed", "forget_resource"]


def _safe(receiver: Callable[..., None]) -> Callable[..., None]:
    """A failure here must never fail the action that changed the dataset."""
    @functools.wraps(receiver)
    def wrapped(sender: str, **kwargs: Any) -> None:
        try:
            receiver(sender, **kwargs)
        except Exception:
            log.exception("servicespublics_points could not follow %s", sender)
    return wrapped


def get_subscriptions() -> types.SignalMapping:
    # module-level receivers: blinker keeps only weak references
    return {
        tk.signals.action_succeeded: [
            {"sender": "package_create", "receiver": _on_package_changed},
            {"sender": "package_update", "receiver": _on_package_changed},
            {"sender": "package_delete", "receiver": _on_package_deleted},
            {"sender": "dataset_purge", "receiver": _on_package_deleted},
            {"sender": "resource_delete", "receiver": _on_resource_deleted},
            {"sender": "bulk_update_delete", "receiver": _on_bulk_deleted},
        ]
    }


def _package_type(package_id: str) -> Optional[str]:
    package = model.Package.get(package_id)
    return package.type if package else None


def resource_changed(resource: dict[str, Any], package_type: Optional[str] = None,
                     package_id: Optional[str] = None) -> bool:
    """Enqueue an ingestion if the resource is a point file that changed."""
    resource_id = resource.get("id")
    package_id = package_id or resource.get("package_id")
    if not resource_id or not package_id:
        return False
    if package_type is None:
        package_type = _package_type(package_id)
    if not jobs.is_point_resource(resource, package_type):
        forget_resource(resource_id)
        return False
    fp = jobs.resource_fingerprint(resource)
    with jobs.raw_cursor() as cur:
        changed = store.request(cur, resource_id, package_id, fp)
    if not changed:
        return False
    try:
        jobs.enqueue(resource_id, fp)
    except Exception:
        # no Redis: forget the request, so that the next change tries again
        log.exception("Could not enqueue the ingestion of resource %s", resource_id)
        with jobs.raw_cursor() as cur:
            cur.execute(f"UPDATE {store.STATE_TABLE} SET requested_fingerprint = NULL, "
                        "status = 'error' WHERE resource_id = %s", (resource_id,))
        return False
    return True


def forget_resource(resource_id: str) -> None:
    """Delete the points, reports and state of a resource, if it has any."""
    with jobs.raw_cursor() as cur:
        cur.execute(f"SELECT 1 FROM {store.STATE_TABLE} WHERE resource_id = %s",
                    (resource_id,))
        if cur.fetchone() is None:
            return
        store.delete_resource_points(cur, resource_id)
    log.info("Points of resource %s deleted", resource_id)


def _forget_package(package_id: str, keep: frozenset[str] = frozenset()) -> None:
    with jobs.raw_cursor() as cur:
        cur.execute(f"SELECT resource_id FROM {store.STATE_TABLE} WHERE package_id = %s",
                    (package_id,))
        gone = [r for (r,) in cur.fetchall() if r not in keep]
    for resource_id in gone:
        forget_resource(resource_id)


def package_changed(sender: str, **kwargs: Any) -> None:
    result = kwargs.get("result")
    if isinstance(result, dict) and "package" in result and "resources" not in result:
        result = result["package"]  # package_revise
    if not isinstance(result, dict) or "id" not in result:
        return
    package_id = result["id"]
    if result.get("state") == "deleted":
        _forget_package(package_id)
        return
    resources = result.get("resources") or []
    for resource in resources:
        try:
            resource_changed(resource, result.get("type"), package_id)
        except Exception:
            log.exception("Could not follow resource %s", resource.get("id"))
    _forget_package(package_id, keep=frozenset(r.get("id") for r in resources))
    # the points carry the dataset's organisation (found through the
    # resources: the points table has no index on package_id)
    ids = [r["id"] for r in resources if r.get("id")]
    if ids:
        with jobs.raw_cursor() as cur:
            cur.execute(f"UPDATE {store.POINT_TABLE} SET owner_org = %s "
                        "WHERE resource_id = ANY(%s) AND owner_org IS DISTINCT FROM %s",
                        (result.get("owner_org"), ids, result.get("owner_org")))


def package_deleted(sender: str, **kwargs: Any) -> None:
    data_dict = kwargs.get("data_dict") or {}
    name_or_id = data_dict.get("id")
    if not name_or_id:
        return
    package = model.Package.get(name_or_id)
    _forget_package(package.id if package else name_or_id)


def resource_deleted(sender: str, **kwargs: Any) -> None:
    data_dict = kwargs.get("data_dict") or {}
    if data_dict.get("id"):
        forget_resource(data_dict["id"])


def bulk_deleted(sender: str, **kwargs: Any) -> None:
    data_dict = kwargs.get("data_dict") or {}
    for package_id in data_dict.get("datasets") or []:
        _forget_package(package_id)


_on_package_changed = _safe(package_changed)
_on_package_deleted = _safe(package_deleted)
_on_resource_deleted = _safe(resource_deleted)
_on_bulk_deleted = _safe(bulk_deleted)
