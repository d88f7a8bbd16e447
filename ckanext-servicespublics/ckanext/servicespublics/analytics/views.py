"""The national map: ``/carte`` and what it loads.

- ``/carte``: the page (its whole state is in the query string);
- ``/carte/tuiles/<z>/<x>/<y>.pbf``: vector tiles of the points the user may
  see, with the page's filters;
- ``/carte/export.csv``, ``/carte/export.geojson``: the filtered points,
  streamed;
- ``/carte/densite.csv``: the density table of ``servicespublics_density``;
- ``/carte/territoires/<level>.geojson``: the boundaries of the régions or
  départements (reference data), or the reference points of the EPCI and
  communes (no boundary is shipped for them);
- ``/carte/etendue``: where to zoom for a territory.

Every view that reads points checks ``servicespublics_points_export``'s auth
and counts only the datasets the user may read (``visibility.py``); their
responses are never cached publicly.
"""
from __future__ import annotations

import csv
import datetime
import io
import json
from typing import Any, Iterator

import sqlalchemy as sa
from flask import Blueprint, Response, request, stream_with_context

import ckan.model as model
import ckan.plugins.toolkit as tk

from ckanext.servicespublics import territories

from . import stats, tiles, visibility
from .logic import action, schema
from .model import COMMUNE, TERRITORY

__all__ = ["servicespublics_analytics"]

servicespublics_analytics = Blueprint("servicespublics_analytics", __name__)

MVT = "application/vnd.mapbox-vector-tile"


def _context() -> dict[str, Any]:
    user = tk.current_user
    name = user.name if user and user.is_authenticated else ""
    return {"user": name, "auth_user_obj": user if name else None}


def _params() -> dict[str, Any]:
    """The query string as a data dict (repeated keys: lists)."""
    data: dict[str, Any] = {}
    for key in request.args:
        values = [v for v in request.args.getlist(key) if v != ""]
        if values:
            data[key] = values if len(values) > 1 else values[0]
    return data


def _private(response: Response) -> Response:
    """What depends on the user's permissions is never cached publicly."""
    request.environ["__no_cache__"] = True
    response.cache_control.private = True
    response.cache_control.no_cache = True
    response.vary.add("Cookie")
    response.vary.add("Authorization")
    return response


def _error(status: int, message: Any) -> Response:
    if isinstance(message, dict):
        message = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                            for k, v in message.items())
    response = Response(str(message) + "\n", status=status, mimetype="text/plain")
    return _private(response)


def carte() -> Any:
    """The national map page."""
    context = _context()
    try:
        tk.check_access("servicespublics_density", context, {})
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Not authorized to see this page"))
    vocabulary = action._vocabulary()
    lang = vocabulary.current_lang() if vocabulary else "fr"
    domains = [{"code": e["code"], "label": vocabulary.text(e["label"], lang)}
               for e in vocabulary.entries("domains")] if vocabulary else []
    types = [{"code": e["code"], "domain": e.get("domain"),
              "label": vocabulary.text(e["label"], lang)}
             for e in vocabulary.entries("service_types")] if vocabulary else []
    # the producers of the points the visitor may see: an organisation whose
    # point datasets are all closed to them is not one of them
    organizations = [{"name": name, "title": title} for name, title in model.Session.execute(
        sa.text("""SELECT DISTINCT g.name, g.title FROM "group" g
                   JOIN package pk ON pk.owner_org = g.id AND pk.id = ANY(:packages)
                   WHERE g.is_organization AND g.state = 'active' ORDER BY g.title"""),
        {"packages": visibility.visible_packages(context)})]
    basemap = {}
    helper = getattr(tk.h, "servicespublics_map_basemap", None)
    if helper is not None:
        try:
            basemap = helper()
        except Exception:  # the map plugin is optional
            basemap = {}
    config = {
        "domains": domains, "serviceTypes": types, "organizations": organizations,
        "basemap": basemap, "today": datetime.date.today().isoformat(),
        "threshold": tk.config.get("ckanext.servicespublics.analytics.threshold_km"),
        "clusterMaxZoom": tiles.CLUSTER_MAX_ZOOM,
        "urls": {
            "api": tk.url_for("api.action", ver=3, logic_function="servicespublics_density")
            .rsplit("/", 1)[0] + "/",
            "tiles": tk.url_for("servicespublics_analytics.tile", z=0, x=0, y=0)
            .replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf"),
            "territories": tk.url_for("servicespublics_analytics.territory_layer",
                                      level="LEVEL"),
            "extent": tk.url_for("servicespublics_analytics.extent"),
            "exportCsv": tk.url_for("servicespublics_analytics.export", fmt="csv"),
            "exportGeojson": tk.url_for("servicespublics_analytics.export", fmt="geojson"),
            "densityCsv": tk.url_for("servicespublics_analytics.density_csv"),
        },
    }
    return tk.render("servicespublics/analytics/carte.html",
                     {"carte_config": json.dumps(config, ensure_ascii=False)})


def _scope_from_request(schema_: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    context = _context()
    tk.check_access("servicespublics_points_export", context, {})
    data = action._validate(_params(), schema_, context)
    errors: dict[str, list[str]] = {}
    scope = action._scope(context, data, errors)
    return scope, data


def tile(z: int, x: int, y: int) -> Any:
    if not tiles.valid_tile(z, x, y):
        return _error(400, tk._("No such tile: zoom 0 to 22, x and y within the grid"))
    tile_schema = schema.servicespublics_points_export_schema()
    tile_schema["compare"] = [tk.get_validator("ignore_missing"),
                              tk.get_validator("servicespublics_analytics_date")]
    try:
        scope, data = _scope_from_request(tile_schema)
        errors: dict[str, list[str]] = {}
        states = action.export_states(data, errors)
        if errors:
            raise tk.ValidationError(errors)
    except tk.NotAuthorized:
        return _error(403, tk._("Not authorized"))
    except tk.ValidationError as e:
        return _error(400, e.error_dict)
    compare = data.get("compare")
    if compare is not None and compare >= scope.date:
        compare = None
    body = tiles.render(scope, states, z, x, y, compare)
    response = Response(body, status=200 if body else 204, mimetype=MVT)
    return _private(response)


def export(fmt: str) -> Any:
    """The filtered points, streamed as CSV or GeoJSON."""
    if fmt not in ("csv", "geojson"):
        return _error(404, tk._("Unknown format"))
    try:
        scope, data = _scope_from_request(schema.servicespublics_points_export_schema())
        errors: dict[str, list[str]] = {}
        states = action.export_states(data, errors)
        if errors:
            raise tk.ValidationError(errors)
    except tk.NotAuthorized:
        return _error(403, tk._("Not authorized"))
    except tk.ValidationError as e:
        return _error(400, e.error_dict)
    rows = stats.export_rows(scope, states)
    stamp = scope.date.isoformat()

    def csv_lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(stats.EXPORT_COLUMNS)
        yield "\ufeff" + buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(["" if row[c] is None else row[c] for c in stats.EXPORT_COLUMNS])
            yield buffer.getvalue()

    def geojson_lines() -> Iterator[str]:
        yield '{"type":"FeatureCollection","features":[\n'
        first = True
        for row in rows:
            text = json.dumps(action.feature(row), ensure_ascii=False, default=str)
            yield ("" if first else ",\n") + text
            first = False
        yield "\n]}\n"

    if fmt == "csv":
        body, mimetype = csv_lines(), "text/csv; charset=utf-8"
    else:
        body, mimetype = geojson_lines(), "application/geo+json; charset=utf-8"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="services-publics-{stamp}.{fmt}"')
    return _private(response)


def density_csv() -> Any:
    """The table of ``servicespublics_density`` (same parameters), as CSV."""
    context = _context()
    try:
        result = tk.get_action("servicespublics_density")(context, _params())
    except tk.NotAuthorized:
        return _error(403, tk._("Not authorized"))
    except tk.ValidationError as e:
        return _error(400, e.error_dict)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([tk._("rank"), tk._("code"), tk._("territory"), tk._("population"),
                     tk._("services"), tk._("services per 10,000 inhabitants")])
    for row in result["territories"]:
        writer.writerow([row["rank"] or "", row["code"], row["name"], row["population"] or "",
                         row["count"], "" if row["per_10000"] is None else row["per_10000"]])
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="densite-{result["level"]}-{result["date"]}.csv"')
    return _private(response)


def territory_layer(level: str) -> Any:
    """Boundaries of régions or départements; reference points of EPCI and communes."""
    if level in ("region", "departement"):
        rows = model.Session.execute(sa.text(f"""
SELECT code, name, ST_AsGeoJSON(geom, 4) AS geometry FROM {TERRITORY}
WHERE level = :level AND geom IS NOT NULL ORDER BY code"""), {"level": level})
    elif level == "commune":
        rows = model.Session.execute(sa.text(f"""
SELECT t.code, t.name, ST_AsGeoJSON(c.geom, 5) AS geometry FROM {TERRITORY} t
JOIN {COMMUNE} c ON c.code = t.code WHERE t.level = 'commune' ORDER BY t.code"""))
    elif level == "epci":
        rows = model.Session.execute(sa.text(f"""
SELECT e.code, e.name, ST_AsGeoJSON(ST_Centroid(ST_Collect(c.geom)), 5) AS geometry
FROM {TERRITORY} e JOIN {TERRITORY} t ON t.level = 'commune' AND t.epci = e.code
JOIN {COMMUNE} c ON c.code = t.code
WHERE e.level = 'epci' GROUP BY e.code, e.name ORDER BY e.code"""))
    else:
        return _error(404, tk._("Unknown level"))
    features = [{"type": "Feature", "id": i, "properties": {"code": r.code, "name": r.name},
                 "geometry": json.loads(r.geometry)} for i, r in enumerate(rows)]
    body = json.dumps({"type": "FeatureCollection", "features": features},
                      ensure_ascii=False, separators=(",", ":"))
    response = Response(body, mimetype="application/geo+json")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


def extent() -> Any:
    """``{"bbox": [xmin, ymin, xmax, ymax], "label": ...}`` of a territory
    (its boundary, else its communes' reference points)."""
    code = request.args.get("territory", "")
    level = request.args.get("territory_level") or None
    if level is not None and level not in schema.TERRITORY_LEVELS:
        return _error(400, tk._("Unknown level"))
    found = territories.get(code, level) if code else None
    if found is None and code and level in (None, "commune"):
        found = territories.resolve_commune(code)
    if found is None:
        return _error(404, tk._("Territory not found: {code}").format(code=code))
    params = {"level": found["level"], "code": found["code"]}
    box = model.Session.execute(sa.text(f"""
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
  SELECT ST_Extent(geom) AS e FROM {TERRITORY}
  WHERE level = :level AND code = :code AND geom IS NOT NULL) x"""), params).one()
    if box[0] is None:
        column = {"region": "region", "departement": "departement", "epci": "epci",
                  "commune": "code", "arrondissement_municipal": "code"}[found["level"]]
        box = model.Session.execute(sa.text(f"""
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
  SELECT ST_Extent(c.geom) AS e FROM {TERRITORY} t JOIN {COMMUNE} c ON c.code = t.code
  WHERE t.level IN ('commune', 'arrondissement_municipal') AND t.{column} = :code) x"""),
            params).one()
    if box[0] is None:
        return _error(404, tk._("No position for this territory"))
    pad = 0.02
    body = {"level": found["level"], "code": found["code"], "label": found["label"],
            "bbox": [box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad]}
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


servicespublics_analytics.add_url_rule("/carte", view_func=carte, endpoint="carte")
servicespublics_analytics.add_url_rule("/carte/tuiles/<int:z>/<int:x>/<int:y>.pbf",
                                       view_func=tile, endpoint="tile")
servicespublics_analytics.add_url_rule("/carte/export.<fmt>", view_func=export,
                                       endpoint="export")
servicespublics_analytics.add_url_rule("/carte/densite.csv", view_func=density_csv,
                                       endpoint="density_csv")
servicespublics_analytics.add_url_rule("/carte/territoires/<level>.geojson",
                                       view_func=territory_layer, endpoint="territory_layer")
servicespublics_analytics.add_url_rule("/carte/etendue", view_func=extent, endpoint="extent")
