"""Which resources get a map, by default or on request.

- *by default* (``ckanext.servicespublics.map.default_view``): the point
  files (role ``point_file``, or a point format in a ``service-points``
  dataset, as ``servicespublics_points`` decides) when they are created, and
  any resource once its points are ingested (the layer's build job);
- *on request* (the "new view" menu of the resource's editors): those, and the
  CSV, GeoJSON and JSON resources that are not documentation: their points
  show once the resource is a point file and its points are ingested.

CKAN asks ``can_view`` both when it creates the default views and for the
menu, so ``servicespublics_map`` must stay out of ``ckan.views.default_views``
(it would put a map on every CSV): the plugin adds its default view itself,
after core's (chained ``*_create_default_resource_views`` actions).
"""
from __future__ import annotations

import logging
from typing import Any, Optional

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk

log = logging.getLogger(__name__)

__all__ = ["VIEW_TYPE", "has_points", "is_map_resource", "can_add", "add_map_view",
           "ensure_view"]

VIEW_TYPE = "servicespublics_map"
#: formats a map can be added to (lower case, without dot)
ADDABLE_FORMATS = ("csv", "geojson", "json", "jsonl", "xlsx")
#: roles that are never maps
NOT_POINTS = ("documentation", "other")


def has_points(resource_id: Optional[str]) -> bool:
    if not resource_id:
        return False
    try:
        from ckanext.servicespublics.points import store

        with model.meta.engine.connect() as conn:
            count = conn.execute(sa.text(
                f"SELECT point_count FROM {store.STATE_TABLE} WHERE resource_id = :r "
                "AND live_ingestion_id IS NOT NULL"), {"r": resource_id}).scalar()
    except Exception:  # points plugin not migrated
        log.debug("No points state for %s", resource_id, exc_info=True)
        return False
    return bool(count)


def _format(resource: dict[str, Any]) -> str:
    fmt = (resource.get("format") or "").strip().lower().lstrip(".")
    if not fmt and resource.get("url"):
        path = str(resource["url"]).split("?")[0].lower()
        fmt = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    return fmt


def is_map_resource(resource: dict[str, Any], package: Optional[dict[str, Any]]) -> bool:
    """A service-point resource: it gets the map by default."""
    if resource.get("state", "active") != "active":
        return False
    role = resource.get("role")
    if role in NOT_POINTS:
        return False
    try:
        from ckanext.servicespublics.points.jobs import is_point_resource
    except ImportError:  # pragma: no cover - the points plugin ships with us
        is_point_resource = None
    package_type = (package or {}).get("type")
    if is_point_resource is not None and is_point_resource(resource, package_type):
        return True
    return has_points(resource.get("id"))


def can_add(resource: dict[str, Any], package: Optional[dict[str, Any]]) -> bool:
    """A map can be added to it (the "new view" menu)."""
    if is_map_resource(resource, package):
        return True
    return resource.get("role") not in NOT_POINTS and _format(resource) in ADDABLE_FORMATS


def _site_context() -> dict[str, Any]:
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"user": site_user["name"], "ignore_auth": True}


def _has_map_view(context: dict[str, Any], resource_id: str) -> bool:
    views = tk.get_action("resource_view_list")(dict(context), {"id": resource_id})
    return any(v["view_type"] == VIEW_TYPE for v in views)


def add_map_view(context: dict[str, Any], resource: dict[str, Any],
                 package: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create the map view of a service-point resource if it has none."""
    if not tk.config.get("ckanext.servicespublics.map.default_view"):
        return []
    if not resource.get("id") or not is_map_resource(resource, package):
        return []
    context = {"user": context.get("user"), "ignore_auth": True}
    if _has_map_view(context, resource["id"]):
        return []
    from ckan.lib import datapreview

    return datapreview.add_views_to_resource(
        context, resource, package, view_types=[VIEW_TYPE])


def ensure_view(resource_id: str) -> list[dict[str, Any]]:
    """After an ingestion: the resource has points, so it gets its map."""
    if not tk.config.get("ckanext.servicespublics.map.default_view"):
        return []
    row = model.Resource.get(resource_id)
    if row is None or row.state != "active":
        return []
    context = _site_context()
    resource = tk.get_action("resource_show")(dict(context), {"id": resource_id})
    package = tk.get_action("package_show")(dict(context), {"id": row.package_id})
    return add_map_view(context, resource, package)
