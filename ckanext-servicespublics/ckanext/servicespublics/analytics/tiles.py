"""Vector tiles of the national map (Mapbox Vector Tile, one layer ``points``).

Up to ``CLUSTER_MAX_ZOOM`` a tile holds cells (16 x 16 per tile): a feature
per cell with points, at their mean position, with ``count``, and in a
comparison of two dates ``opened`` and ``closed``.  Above it, the points
themselves, with ``id`` (also the feature id), ``name``, ``type``, ``state``
(on the date) and, in a comparison, ``change`` (``opened`` or ``closed``
between the two dates).  A tile never carries more than
``MAX_POINTS_PER_TILE`` points: beyond, it is made of cells too.

No access check here: the view builds the scope from the datasets the user
may read.
"""
from __future__ import annotations

import datetime
import math
from typing import Any, Optional

import sqlalchemy as sa

import ckan.model as model

from .model import POINT
from .scope import Scope, state_sql

__all__ = ["render", "valid_tile", "CLUSTER_MAX_ZOOM", "MAX_ZOOM"]

LAYER = "points"
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
CLUSTER_MAX_ZOOM = 7
CELLS_PER_TILE = 16
MAX_POINTS_PER_TILE = 20000
_WORLD = 40075016.685578488


def valid_tile(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def _bounds(z: int, x: int, y: int, margin: float) -> tuple[float, float, float, float]:
    n = 1 << z

    def lon(v: float) -> float:
        return v / n * 360.0 - 180.0

    def lat(v: float) -> float:
        v = min(max(v, 0.0), float(n))
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * v / n))))

    return (max(-180.0, lon(x - margin)), lat(y + 1 + margin),
            min(180.0, lon(x + 1 + margin)), lat(y - margin))


def render(scope: Scope, states: tuple[str, ...], z: int, x: int, y: int,
           compare_from: Optional[datetime.date] = None) -> bytes:
    params: dict[str, Any] = {"date": scope.date, "states": list(states), "z": z, "x": x,
                              "y": y, "d1": compare_from}
    where = scope.where(params)
    xmin, ymin, xmax, ymax = _bounds(z, x, y, BUFFER / EXTENT)
    params.update(xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax)
    if compare_from is not None:
        change = ("CASE WHEN h.active_from < h.active_until AND h.active_from > :d1 "
                  "AND h.active_from <= :date THEN 'opened' "
                  "WHEN h.active_from < h.active_until AND h.active_until > :d1 "
                  "AND h.active_until <= :date THEN 'closed' END")
        keep = "(x.state = ANY(:states) OR x.change IS NOT NULL)"
    else:
        change = "NULL::text"
        keep = "x.state = ANY(:states)"
    selection = f"""
SELECT * FROM (
  SELECT h.id, h.name, h.service_type, h.geom, {state_sql()} AS state, {change} AS change
  FROM {POINT} h
  WHERE {where} AND h.geom && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)
) x WHERE {keep}"""
    clustered = z <= CLUSTER_MAX_ZOOM
    if not clustered:
        count = model.Session.execute(sa.text(
            f"SELECT count(*) FROM ({selection} LIMIT {MAX_POINTS_PER_TILE + 1}) c"),
            params).scalar()
        clustered = count > MAX_POINTS_PER_TILE
    if clustered:
        params["cell"] = _WORLD / (1 << z) / CELLS_PER_TILE
        sql = f"""
WITH bounds AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e),
pts AS (SELECT ST_Transform(x.geom, 3857) AS g, x.change FROM ({selection}) x)
SELECT ST_AsMVT(t, '{LAYER}', {EXTENT}, 'geom') FROM (
  SELECT count(*) AS count,
         count(*) FILTER (WHERE change = 'opened') AS opened,
         count(*) FILTER (WHERE change = 'closed') AS closed,
         ST_AsMVTGeom(ST_Centroid(ST_Collect(g)), bounds.e, {EXTENT}, {BUFFER}, true) AS geom
  FROM pts, bounds
  GROUP BY ST_SnapToGrid(g, :cell), bounds.e
) t WHERE t.geom IS NOT NULL"""
    else:
        sql = f"""
WITH bounds AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e)
SELECT ST_AsMVT(t, '{LAYER}', {EXTENT}, 'geom', 'id') FROM (
  SELECT x.id, x.name, x.service_type AS type, x.state, x.change,
         ST_AsMVTGeom(ST_Transform(x.geom, 3857), bounds.e, {EXTENT}, {BUFFER}, true) AS geom
  FROM ({selection}) x, bounds
) t WHERE t.geom IS NOT NULL"""
    data = model.Session.execute(sa.text(sql), params).scalar()
    return bytes(data or b"")
