"""What the map shows around the tiles: legend, colours, labels, extent, texts.

Labels of service types and statuses come from the dataset vocabularies
(``ckanext.servicespublics.dataset.vocabulary``), in the language of the
request; a code the vocabulary lacks is shown as it is.
"""
from __future__ import annotations

import functools
import json
import logging
from typing import Any, Optional

import yaml

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import layers

log = logging.getLogger(__name__)

__all__ = [
    "PALETTE", "OTHER_COLOR", "MIXED_COLOR", "service_type_label", "status_label",
    "legend", "layer_description", "view_config", "basemap", "dataset_extent",
    "territory_label",
]

#: colours of the service types of a resource, most frequent first (readable
#: on a light background, distinct for the common colour blindnesses first)
PALETTE = ("#0063cb", "#e1000f", "#18753c", "#b34000", "#6e445a", "#009099", "#a558a0",
           "#716043", "#c3992a", "#417dc4", "#ce614a", "#66673d")
#: points of the types beyond the palette, or without a type
OTHER_COLOR = "#6a6a6a"
#: groups of points of several types
MIXED_COLOR = "#3a3a3a"


@functools.lru_cache(maxsize=1)
def _shipped_vocabularies() -> dict[str, Any]:
    from ckanext.servicespublics.dataset import vocabulary

    with open(vocabulary.VOCABULARY_FILE, encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _vocabulary(name: str) -> list[dict[str, Any]]:
    """A vocabulary's entries: with the site's file when servicespublics_dataset
    (which declares its setting) is loaded, else as shipped."""
    try:
        if p.plugin_loaded("servicespublics_dataset"):
            from ckanext.servicespublics.dataset import vocabulary

            return vocabulary.entries(name)
        return _shipped_vocabularies().get(name) or []
    except Exception:  # the site's vocabulary file is broken: codes are shown
        log.warning("The %s vocabulary cannot be read", name, exc_info=True)
        return []


def _text(label: Any) -> str:
    from ckanext.servicespublics.dataset import vocabulary

    return vocabulary.text(label)


def _vocabulary_label(name: str, code: Optional[str]) -> str:
    if not code:
        return ""
    for entry in _vocabulary(name):
        if entry.get("code") == code:
            return _text(entry.get("label")) or code
    return code


def service_type_label(code: Optional[str]) -> str:
    return _vocabulary_label("service_types", code) if code else tk._("No type given")


def status_label(code: Optional[str]) -> str:
    return _vocabulary_label("point_statuses", code)


def territory_label(code: str) -> str:
    if code == "other":
        return tk._("Elsewhere")
    from ckanext.servicespublics.points import geo

    return geo.territory_label(code)


def legend(service_types: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Legend entries (most frequent first) with a colour each."""
    out = []
    for i, entry in enumerate(service_types):
        code = entry.get("code")
        color = PALETTE[i] if code and i < len(PALETTE) else OTHER_COLOR
        out.append({"code": code, "label": service_type_label(code),
                    "count": entry.get("count", 0), "color": color})
    return out


def _tiles_url(resource_id: str, etag: str) -> str:
    url = tk.url_for("servicespublics_map.tile", resource_id=resource_id, z=0, x=0, y=0)
    suffix = "/0/0/0.pbf"
    assert url.endswith(suffix), url
    return f"{url[:-len(suffix)]}/{{z}}/{{x}}/{{y}}.pbf?v={etag}"


def layer_description(resource_id: str, *, build: bool = True) -> dict[str, Any]:
    """The layer of a resource for the API and the view (builds a small stale one)."""
    current = layers.state(resource_id)
    out: dict[str, Any] = {"resource_id": resource_id, "point_count": 0, "status": "empty",
                           "fresh": False, "tiles": None, "etag": None,
                           "cluster_max_zoom": layers.cluster_max_zoom(),
                           "extent": {}, "service_types": []}
    if current is None or not current.has_points:
        return out
    if build:
        current = layers.ensure_fresh(current)
    etag = current.etag()
    out.update(point_count=current.point_count, fresh=current.fresh,
               status="ready" if current.fresh else "pending",
               tiles=_tiles_url(resource_id, etag), etag=etag)
    info = layers.info(resource_id) if current.fresh else None
    if info:
        extent = dict(info["extent"])
        extent["territories"] = [dict(t, label=territory_label(t["code"]))
                                 for t in extent.get("territories", [])]
        out["extent"] = extent
        out["service_types"] = legend(info["service_types"])
    else:
        out["extent"] = _extent_from_points_state(resource_id)
    return out


def _extent_from_points_state(resource_id: str) -> dict[str, Any]:
    """The boxes per territory the ingestion recorded (no counts)."""
    from ckanext.servicespublics.points import queries

    found = queries.resource_state(resource_id) or {}
    extents = found.get("extents") or {}
    if isinstance(extents, str):
        extents = json.loads(extents)
    territories = [{"code": code, "label": territory_label(code), "count": None,
                    "bbox": list(box)} for code, box in extents.items()]
    territories.sort(key=lambda t: t["code"] != "metropole")
    out: dict[str, Any] = {"territories": territories}
    if territories:
        boxes = [t["bbox"] for t in territories]
        out["bbox"] = [min(b[0] for b in boxes), min(b[1] for b in boxes),
                       max(b[2] for b in boxes), max(b[3] for b in boxes)]
    return out


def basemap() -> dict[str, str]:
    """The configured basemap (empty strings: a plain background)."""
    config = tk.config
    return {
        "styleUrl": config.get("ckanext.servicespublics.map.style_url") or "",
        "tileUrl": config.get("ckanext.servicespublics.map.tile_url") or "",
        "attribution": config.get("ckanext.servicespublics.map.attribution") or "",
    }


def _texts() -> dict[str, str]:
    _ = tk._
    return {
        "mapTitle": _("Map of the service points"),
        "onePoint": _("1 point"),
        "group": _("Group of {n} points"),
        "zoomIn": _("Zoom in"),
        "close": _("Close"),
        "type": _("Type"),
        "address": _("Address"),
        "hours": _("Opening hours"),
        "openingDate": _("Opening date"),
        "closingDate": _("Closing date"),
        "status": _("Status"),
        "phone": _("Phone"),
        "email": _("E-mail"),
        "website": _("Website"),
        "loading": _("Loading…"),
        "pointError": _("The details of this point could not be loaded."),
        "searchNone": _("No point of this resource has this name."),
        "searchError": _("The search failed; please try again."),
        "searchOne": _("1 point found."),
        "searchCount": _("{n} points found; the first {shown} are listed."),
        "searchMore": _("More than {n} points found; the first {shown} are listed."),
        "searchShort": _("Type at least 2 characters"),
        "visibleNone": _("No point in the visible area."),
        "visibleOne": _("1 item in the visible area."),
        "visibleCount": _("{n} items in the visible area (points and groups)."),
        "visibleMore": _("Only the first {shown} are listed: zoom in to see the others."),
        "noWebGL": _("Your browser cannot display this map (WebGL is not available). "
                     "Use the search box and the list of points, or download the data."),
        "noLibrary": _("The map library is not installed on this site."),
        "basemapFailed": _("The background map could not be loaded: the points are shown "
                           "on a plain background."),
        "zoomInControl": _("Zoom in"),
        "zoomOutControl": _("Zoom out"),
        "resetBearing": _("Reset bearing to north"),
        "noType": _("No type given"),
        "mixed": _("Several types"),
    }


def view_config(resource: dict[str, Any], package: dict[str, Any]) -> dict[str, Any]:
    """Everything the ``servicespublics-map`` module needs, as JSON."""
    layer = layer_description(resource["id"])
    statuses = {e["code"]: _text(e.get("label")) for e in _vocabulary("point_statuses")}
    colors = {e["code"]: e["color"] for e in layer["service_types"] if e["code"]}
    labels = {e["code"]: e["label"] for e in layer["service_types"] if e["code"]}
    return {
        "resourceId": resource["id"],
        "tiles": layer["tiles"],
        "pointCount": layer["point_count"],
        "clusterMaxZoom": layer["cluster_max_zoom"],
        "sourceMaxZoom": max(16, layer["cluster_max_zoom"] + 1),
        "extent": layer["extent"],
        "legend": layer["service_types"],
        "importStatus": _import_status(resource),
        "colors": colors,
        "otherColor": OTHER_COLOR,
        "mixedColor": MIXED_COLOR,
        "typeLabels": labels,
        "statusLabels": statuses,
        "searchUrl": tk.url_for("api.action", ver=3, logic_function="servicespublics_map_search"),
        "pointUrl": tk.url_for("api.action", ver=3,
                               logic_function="servicespublics_map_point_show"),
        "basemap": basemap(),
        "lang": tk.h.lang() or tk.config.get("ckan.locale_default") or "fr",
        "texts": _texts(),
    }


def _import_status(resource: dict[str, Any]) -> str:
    status = resource.get("validation_status")
    if not status:
        return ""
    try:
        from ckanext.servicespublics.points.helpers import servicespublics_points_status_label

        return servicespublics_points_status_label(status)
    except ImportError:  # pragma: no cover
        return status


def dataset_extent(package: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The dataset's ``spatial`` (field or extra) as a GeoJSON geometry, if valid."""
    value = package.get("spatial")
    if not value:
        for extra in package.get("extras") or []:
            if extra.get("key") == "spatial":
                value = extra.get("value")
                break
    if not value:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    if value.get("type") == "Feature":
        value = value.get("geometry") or {}
    if value.get("type") not in ("Point", "MultiPoint", "LineString", "MultiLineString",
                                 "Polygon", "MultiPolygon", "GeometryCollection"):
        return None
    if value["type"] != "GeometryCollection" and not value.get("coordinates"):
        return None
    return value
