"""Actions of servicespublics_map: name search, point details, layers; default views."""
from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Action, Context, DataDict

from ckanext.servicespublics.points.store import POINT_TABLE

from .. import defaults, layers, presentation
from . import schema

__all__ = [
    "servicespublics_map_search", "servicespublics_map_point_show",
    "servicespublics_map_layer_show", "servicespublics_map_layer_build",
    "resource_create_default_resource_views", "package_create_default_resource_views",
]

#: the point fields given by point_show, in order
#: most matches a name search counts (and sorts)
SEARCH_CAP = 1000
#: the point fields given by point_show, in order
POINT_FIELDS = ("source_id", "name", "service_type", "address", "postcode", "insee_code",
                "opening_hours", "opening_date", "closing_date", "status", "phone", "email",
                "website")


def _validate(data_dict: DataDict, schema_: dict[str, Any], context: Context) -> DataDict:
    data, errors = tk.navl_validate(dict(data_dict), schema_, context)
    if errors:
        raise tk.ValidationError(errors)
    return data


def _iso(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()[:10]
    return value


@tk.side_effect_free
def servicespublics_map_search(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Find the points of a resource by name (case and accents ignored).

    Readable by whoever can see the resource. Every word of ``q`` must start
    a word of the name (``valserh`` finds « France services de Valserhône »);
    names that start with the text come first, then shorter names. Past
    1,000 matches, the best of the first 1,000 are given.

    :param resource_id: the id of the resource
    :type resource_id: string
    :param q: words of the name (2 to 200 characters)
    :type q: string
    :param limit: the most points returned (optional, default 10, at most 50)
    :type limit: int

    :returns: ``count`` (how many points match, at most 1,000), ``more``
        (true when more than 1,000 match) and ``results``: ``id``, ``name``,
        ``service_type``, ``address``, ``postcode``, ``longitude``,
        ``latitude`` of each
    :rtype: dictionary
    """
    tk.check_access("servicespublics_map_search", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_map_search_schema(), context)
    resource_id = data["resource_id"]
    query = model.Session.execute(sa.text(
        "SELECT string_agg(quote_literal(lexeme) || ':*', ' & ') "
        f"FROM unnest({layers.words_sql(':text')})"), {"text": data["q"]}).scalar()
    if not query:
        return {"count": 0, "more": False, "results": []}
    current = layers.state(resource_id)
    params = {"resource_id": resource_id, "query": query, "text": data["q"],
              "limit": data["limit"], "cap": SEARCH_CAP + 1}
    if current is not None and current.fresh:
        matches = f"""
SELECT point_id AS id FROM {layers.NAME_TABLE}
WHERE words @@ to_tsquery('simple', :query) AND layer_id + 0 = :layer_id LIMIT :cap"""
        # (layer_id + 0: through the words' GIN index, never the layer's whole list)
        params["layer_id"] = current.layer_id
    else:  # the layer is being counted: the same search, on the points themselves
        matches = f"""
SELECT id FROM {POINT_TABLE}
WHERE resource_id = :resource_id AND {layers.words_sql("name")} @@ to_tsquery('simple', :query)
LIMIT :cap"""
    name = layers.fold_sql("p.name")
    rows = model.Session.execute(sa.text(f"""
WITH m AS MATERIALIZED ({matches})
SELECT p.id, p.name, p.service_type, p.address, p.postcode, ST_X(p.geom), ST_Y(p.geom),
       (SELECT count(*) FROM m) AS total
FROM m JOIN {POINT_TABLE} p ON p.id = m.id AND p.resource_id = :resource_id
ORDER BY {name} LIKE {layers.fold_sql(":text")} || '%' DESC, length(p.name), p.name, p.id
LIMIT :limit"""), params).all()
    total = int(rows[0][7]) if rows else 0
    return {
        "count": min(total, SEARCH_CAP),
        "more": total > SEARCH_CAP,
        "results": [{"id": r[0], "name": r[1], "service_type": r[2], "address": r[3],
                     "postcode": r[4], "longitude": r[5], "latitude": r[6]} for r in rows],
    }


@tk.side_effect_free
def servicespublics_map_point_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The fields of one point of a resource, as the map's popup shows them.

    Readable by whoever can see the resource.

    :param resource_id: the id of the resource
    :type resource_id: string
    :param id: the id of the point (the feature id of the map's tiles, or an
        ``id`` of ``servicespublics_map_search``)
    :type id: int

    :returns: ``id``, ``source_id`` (the id in the producer's file), ``name``,
        ``service_type`` and ``service_type_label``, ``address``,
        ``postcode``, ``insee_code``, ``opening_hours``, ``opening_date``,
        ``closing_date``, ``status`` and ``status_label``, ``phone``,
        ``email``, ``website``, ``longitude``, ``latitude`` (labels in the
        language of the request)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_map_point_show", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_map_point_show_schema(), context)
    row = model.Session.execute(sa.text(f"""
SELECT id, {", ".join(POINT_FIELDS)}, ST_X(geom), ST_Y(geom)
FROM {POINT_TABLE} WHERE resource_id = :resource_id AND id = :id"""), {
        "resource_id": data["resource_id"], "id": data["id"]}).first()
    if row is None:
        raise tk.ObjectNotFound(tk._("Point not found"))
    point: dict[str, Any] = {"id": row[0]}
    for i, field in enumerate(POINT_FIELDS, start=1):
        point[field] = _iso(row[i])
    point["longitude"], point["latitude"] = row[-2], row[-1]
    point["service_type_label"] = presentation.service_type_label(point["service_type"])
    point["status_label"] = presentation.status_label(point["status"])
    return point


@tk.side_effect_free
def servicespublics_map_layer_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The map layer of a resource: what its tiles are made of.

    Readable by whoever can see the resource.

    :param resource_id: the id of the resource
    :type resource_id: string

    :returns: ``resource_id``, ``point_count``, ``status`` (``ready``: the
        cluster levels are counted; ``pending``: grouped on the fly until
        they are; ``empty``: no points), ``fresh``, ``tiles`` (the URL
        template of the vector tiles), ``etag``, ``cluster_max_zoom``,
        ``extent`` (``bbox`` and ``territories`` with their counts and
        boxes) and ``service_types`` (code, label, count, colour)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_map_layer_show", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_map_layer_show_schema(), context)
    return presentation.layer_description(data["resource_id"])


def servicespublics_map_layer_build(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Count the cluster levels of a resource's map again (the dataset's editors).

    They are counted after each ingestion anyway; this is for a changed
    ``cluster_max_zoom`` or a failed build.

    :param resource_id: the id of the resource
    :type resource_id: string
    :param sync: build in this request instead of the jobs worker (optional,
        default false)
    :type sync: bool

    :returns: the layer, as ``servicespublics_map_layer_show`` gives it, with
        ``queued`` (true when a job was queued)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_map_layer_build", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_map_layer_build_schema(), context)
    resource_id = data["resource_id"]
    current = layers.state(resource_id)
    if current is None or not current.has_points:
        raise tk.ValidationError({"resource_id": [tk._(
            "This resource has no points yet: its file must be imported first")]})
    queued = False
    if data["sync"]:
        layers.build(resource_id, force=True)
    else:
        layers.bump_version(resource_id)
        queued = layers.enqueue_build(layers.state(resource_id) or current)
    out = presentation.layer_description(resource_id)
    out["queued"] = queued
    return out


@tk.chained_action
def resource_create_default_resource_views(original_action: Action, context: Context,
                                           data_dict: DataDict) -> list[dict[str, Any]]:
    created = list(original_action(context, data_dict) or [])
    if not tk.asbool(data_dict.get("create_datastore_views", False)):
        resource = data_dict.get("resource") or {}
        created += defaults.add_map_view(context, resource, data_dict.get("package"))
    return created


@tk.chained_action
def package_create_default_resource_views(original_action: Action, context: Context,
                                          data_dict: DataDict) -> list[dict[str, Any]]:
    created = list(original_action(context, data_dict) or [])
    if not tk.asbool(data_dict.get("create_datastore_views", False)):
        package = data_dict.get("package") or {}
        for resource in package.get("resources") or []:
            created += defaults.add_map_view(context, resource, package)
    return created
