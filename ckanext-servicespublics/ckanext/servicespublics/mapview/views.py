"""The vector tiles of a resource's points: ``/servicespublics/tiles/<id>/<z>/<x>/<y>.pbf``.

Every request checks that the user may see the resource (``resource_show``,
so the dataset's access level), whatever the cache headers: a restricted or
private point never reaches a browser that may not see it.

- 200 ``application/vnd.mapbox-vector-tile`` (the ``points`` layer of
  ``tiles.py``), 204 when the resource has no points (yet);
- 304 when ``If-None-Match`` holds the tile's ETag (the live ingestion of the
  resource, the version of its points, the tile format and settings);
- 400 for a tile outside the zoom 0-22 grid, 403 when the user may not see
  the resource, 404 when it does not exist or was deleted.

``Cache-Control``: ``private, no-cache`` for the tiles of a restricted or
private dataset; CKAN's own policy (``public``, ``ckan.cache_expires``,
``must-revalidate``) for a public one. The view's tile URLs carry the ETag
(``?v=``), so a new ingestion never meets an old cached tile.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import layers, tiles

__all__ = ["servicespublics_map"]

MIMETYPE = "application/vnd.mapbox-vector-tile"

servicespublics_map = Blueprint("servicespublics_map", __name__)


def _error(status: int, message: str) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    request.environ["__no_cache__"] = True
    return response


def _user() -> str:
    user = tk.current_user
    return user.name if user and user.is_authenticated else ""


def tile(resource_id: str, z: int, x: int, y: int) -> Any:
    if not tiles.valid_tile(z, x, y):
        return _error(400, tk._("No such tile: zoom 0 to 22, x and y within the grid"))
    try:
        tk.check_access("resource_show", {"user": _user()}, {"id": resource_id})
    except tk.ObjectNotFound:
        return _error(404, tk._("Resource not found"))
    except tk.NotAuthorized:
        return _error(403, tk._("You are not authorized to see the points of this resource"))
    resource = model.Resource.get(resource_id)
    if resource is None or resource.state != "active":
        return _error(404, tk._("Resource not found"))
    package = model.Package.get(resource.package_id)
    public = package is not None and not package.private and package.state == "active"
    current = layers.state(resource_id) if p.plugin_loaded("servicespublics_points") else None
    if current is None or not current.has_points:
        response = Response(b"", status=204, mimetype=MIMETYPE)
    else:
        etag = current.etag()
        if request.if_none_match.contains_weak(etag):
            response = Response(status=304)
        else:
            current = layers.ensure_fresh(current)
            response = Response(tiles.render(current, z, x, y), status=200, mimetype=MIMETYPE)
        response.set_etag(etag, weak=True)
    if not public:
        # CKAN's after-request hook then only adds "private"
        request.environ["__no_cache__"] = True
        response.cache_control.no_cache = True
    response.cache_control.private = not public
    response.vary.add("Cookie")
    response.vary.add("Authorization")
    return response


servicespublics_map.add_url_rule(
    "/servicespublics/tiles/<resource_id>/<int:z>/<int:x>/<int:y>.pbf", view_func=tile,
    endpoint="tile", methods=["GET"])
