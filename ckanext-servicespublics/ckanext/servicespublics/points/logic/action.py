"""Actions of servicespublics_points: reports, points, re-ingestion."""
from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict

from .. import jobs, queries
from . import schema

__all__ = [
    "servicespublics_points_report", "servicespublics_points_list",
    "servicespublics_points_ingest",
]


def _validate(data_dict: DataDict, schema_: dict[str, Any], context: Context) -> DataDict:
    data, errors = tk.navl_validate(dict(data_dict), schema_, context)
    if errors:
        raise tk.ValidationError(errors)
    return data


def _resource(resource_id: str) -> model.Resource:
    resource = model.Resource.get(resource_id)
    if resource is None or resource.state != "active":
        raise tk.ObjectNotFound(tk._("Resource not found"))
    return resource


@tk.side_effect_free
def servicespublics_points_report(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The validation report of a point resource: status, counts and row-level entries.

    Readable by whoever can see the resource's dataset.

    :param id: the id of the resource
    :type id: string
    :param ingestion_id: an earlier ingestion of this resource (optional; the
        latest by default; the last ten are kept)
    :type ingestion_id: string
    :param severity: only the entries of this severity: ``error`` (row
        rejected), ``warning`` (row kept) or ``info`` (optional)
    :type severity: string
    :param limit: entries per page (optional, default 100, at most 1000)
    :type limit: int
    :param offset: entries to skip (optional, default 0)
    :type offset: int

    :returns: ``resource_id``, ``package_id``, ``validation_status`` (pending,
        valid, partial, invalid, error), ``point_count`` (points currently
        stored), ``ingestion`` (the ingestion's status, dates, file hash and
        size, format, encoding, delimiter, crs, counts ``rows_read``,
        ``rows_ingested``, ``rows_rejected``, ``rows_skipped``, ``errors``,
        ``warnings``, ``infos``, general ``messages``, ``summary`` by code,
        effective ``mapping``), ``entries`` (``line``, ``column``, ``value``,
        ``severity``, ``code``, ``message``), ``entries_count`` (matching
        entries stored), ``entries_truncated`` (more were found than stored),
        ``ingestions`` (the ids and statuses of the ingestions kept)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_points_report", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_points_report_schema(), context)
    resource = _resource(data["id"])
    state = queries.resource_state(resource.id)
    if state is None:
        raise tk.ObjectNotFound(tk._("This resource has no point report"))
    if data.get("ingestion_id"):
        ingestion = queries.ingestion(data["ingestion_id"], resource.id)
        if ingestion is None:
            raise tk.ObjectNotFound(tk._("Ingestion not found"))
    else:
        ingestion = queries.latest_ingestion(resource.id)
    count, entries = 0, []
    if ingestion is not None:
        count, entries = queries.entries(ingestion["id"], severity=data.get("severity"),
                                         limit=data["limit"], offset=data["offset"])
    history = queries.history(resource.id)
    return {
        "resource_id": resource.id,
        "package_id": resource.package_id,
        "validation_status": state["status"] if state["status"] in queries.STATUSES
        else "pending",
        "point_count": state["point_count"],
        "ingestion": ingestion,
        "entries": entries,
        "entries_count": count,
        "entries_truncated": bool(ingestion and ingestion.get("entries_truncated")),
        "limit": data["limit"],
        "offset": data["offset"],
        "ingestions": history,
    }


@tk.side_effect_free
def servicespublics_points_list(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The points of a resource, or of every point resource of a dataset.

    Readable by whoever can see the dataset: the points of a private or
    restricted dataset are refused to everyone else.

    :param resource_id: the id of a point resource (this or ``package_id``)
    :type resource_id: string
    :param package_id: the id or name of a dataset (this or ``resource_id``)
    :type package_id: string
    :param bbox: only the points in this box, ``minlon,minlat,maxlon,maxlat``
        in WGS84 (optional)
    :type bbox: string
    :param service_type: only the points of this service type code (optional)
    :type service_type: string
    :param limit: points per page (optional, default 1000, at most
        ``ckanext.servicespublics.points.list_max_limit``, 5000 by default)
    :type limit: int
    :param offset: points to skip (optional, default 0)
    :type offset: int
    :param format: ``geojson`` (default: a FeatureCollection) or ``list``
    :type format: string

    :returns: a GeoJSON FeatureCollection whose features have the standard
        columns as properties (plus ``total``, ``limit`` and ``offset``
        members), or ``{"count": total, "results": [...]}`` with ``format=list``
    :rtype: dictionary
    """
    tk.check_access("servicespublics_points_list", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_points_list_schema(), context)
    if bool(data.get("resource_id")) == bool(data.get("package_id")):
        raise tk.ValidationError(
            {"resource_id": [tk._("Give either resource_id or package_id")]})
    if data.get("resource_id"):
        resource_ids = [_resource(data["resource_id"]).id]
    else:
        package = model.Package.get(data["package_id"])
        if package is None:
            raise tk.ObjectNotFound(tk._("Dataset not found"))
        resource_ids = [r.id for r in package.resources if r.state == "active"]
    total, rows = queries.points(resource_ids, bbox=data.get("bbox"),
                                 service_type=data.get("service_type"),
                                 limit=data["limit"], offset=data["offset"])
    if data["format"] == "list":
        return {"count": total, "limit": data["limit"], "offset": data["offset"],
                "results": rows}
    features = []
    for row in rows:
        lon, lat = row.pop("longitude"), row.pop("latitude")
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": row})
    return {"type": "FeatureCollection", "features": features, "total": total,
            "limit": data["limit"], "offset": data["offset"]}


def servicespublics_points_ingest(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Ingest a point resource again, now, even if its file did not change.

    For the dataset's editors (and sysadmins).

    :param id: the id of the resource
    :type id: string
    :param sync: run the ingestion in this request instead of the jobs worker
        (optional, default false; for small files)
    :type sync: bool

    :returns: ``{"resource_id", "job_id"}`` when enqueued; with ``sync``, the
        report (as ``servicespublics_points_report`` gives it)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_points_ingest", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_points_ingest_schema(), context)
    resource = _resource(data["id"])
    package = tk.get_action("package_show")(
        {"ignore_auth": True, "use_cache": False, "user": context.get("user")},
        {"id": resource.package_id})
    resource_dict = next(r for r in package["resources"] if r["id"] == resource.id)
    if not jobs.is_point_resource(resource_dict, package.get("type")):
        raise tk.ValidationError({"id": [tk._(
            "This resource is not a point file: set its role to point_file, or give it a "
            "CSV, GeoJSON, JSON, JSONL or XLSX format in a service-points dataset")]})
    if data["sync"]:
        jobs.ingest_resource(resource_dict, package, trigger="api")
        return servicespublics_points_report(context, {"id": resource.id})
    job = jobs.enqueue(resource.id, None, trigger="api", force=True)
    return {"resource_id": resource.id, "job_id": getattr(job, "id", None)}
