"""Vector tiles of a resource's points (Mapbox Vector Tile, one layer ``points``).

Every feature is a point with the properties:

- ``n``: how many points it stands for (1 for a point);
- ``t``: the service type of its points, absent when they have several;
- ``name`` and ``status``: for a single point;

and, for a single point, the feature id is the point's id (for
``servicespublics_map_point_show``).

Up to ``cluster_max_zoom`` a tile holds the cells of its level (8 x 8 per
tile, see ``layers.py``): from the layer's pyramid when it is fresh, else
counted on the fly from the points with the same grid and the same rules, so
that both give the same tile.  Above it, a tile holds the points themselves,
read through the GiST index, unless there are more than ``tile_max_points``
of them: the tile is then made of cells too.

No access check here: the view checks before calling.
"""
from __future__ import annotations

import math
from typing import Optional

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk

from ckanext.servicespublics.points.store import POINT_TABLE

from . import layers
from .layers import CELL_SHIFT, CELL_TABLE, TYPE_RULE, cell_sql, mercator_sql

__all__ = ["render", "tile_bounds", "valid_tile", "LAYER_NAME", "EXTENT", "MAX_ZOOM"]

LAYER_NAME = "points"
#: tile resolution (MVT units per tile side) and buffer around it
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22


def valid_tile(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def _lon(x: float, n: int) -> float:
    return x / n * 360.0 - 180.0


def _lat(y: float, n: int) -> float:
    y = min(max(y, 0.0), float(n))
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def tile_bounds(z: int, x: int, y: int, margin: float = 0.0
                ) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of a tile, grown by ``margin`` tiles."""
    n = 1 << z
    return (max(_lon(x - margin, n), -180.0), _lat(y + 1 + margin, n),
            min(_lon(x + 1 + margin, n), 180.0), _lat(y - margin, n))


def _mvt(rows_sql: str) -> str:
    return (f"SELECT ST_AsMVT(q, '{LAYER_NAME}', {EXTENT}, 'geom', 'id') "
            f"FROM ({rows_sql}) q")


def _mvt_geom(geom: str) -> str:
    return (f"ST_AsMVTGeom({geom}, ST_TileEnvelope(:z, :x, :y), {EXTENT}, {BUFFER}, true)")


def _cell_range(z: int, x: int, y: int) -> dict[str, int]:
    k = 1 << CELL_SHIFT
    return {"cx0": x * k, "cx1": x * k + k - 1, "cy0": y * k, "cy1": y * k + k - 1}


def _params(z: int, x: int, y: int, **extra: object) -> dict[str, object]:
    return {"z": z, "x": x, "y": y, **extra}


def _cells_from_layer(layer_id: int, z: int, x: int, y: int) -> bytes:
    sql = _mvt(f"""
SELECT c.n, c.service_type AS t, c.point_id AS id, p.name, p.status,
       {_mvt_geom("c.geom")} AS geom
FROM {CELL_TABLE} c LEFT JOIN {POINT_TABLE} p ON p.id = c.point_id
WHERE c.layer_id = :layer_id AND c.z = :z
  AND c.x BETWEEN :cx0 AND :cx1 AND c.y BETWEEN :cy0 AND :cy1""")
    params = _params(z, x, y, layer_id=layer_id, **_cell_range(z, x, y))
    return _bytes(model.Session.execute(sa.text(sql), params).scalar())


def _cells_on_the_fly(resource_id: str, z: int, x: int, y: int) -> bytes:
    mx, my = mercator_sql("ST_X(geom)", "ST_Y(geom)")
    cx, cy = cell_sql("mx", "my", z)
    x0, y0, x1, y1 = tile_bounds(z, x, y)
    sql = _mvt(f"""
SELECT c.n, c.t, CASE WHEN c.n = 1 THEN c.mid END AS id, p.name, p.status,
       {_mvt_geom("ST_SetSRID(ST_MakePoint(c.mx, c.my), 3857)")} AS geom
FROM (
  SELECT cx, cy, count(*)::int AS n, min(id) AS mid, {TYPE_RULE} AS t,
         avg(mx) AS mx, avg(my) AS my
  FROM (
    SELECT id, service_type, mx, my, {cx} AS cx, {cy} AS cy
    FROM (SELECT id, service_type, {mx} AS mx, {my} AS my
          FROM {POINT_TABLE}
          WHERE resource_id = :resource_id
            AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)) p0
  ) p1
  GROUP BY cx, cy
) c LEFT JOIN {POINT_TABLE} p ON c.n = 1 AND p.id = c.mid
WHERE c.cx BETWEEN :cx0 AND :cx1 AND c.cy BETWEEN :cy0 AND :cy1""")
    params = _params(z, x, y, resource_id=resource_id, x0=x0, y0=y0, x1=x1, y1=y1,
                     **_cell_range(z, x, y))
    return _bytes(model.Session.execute(sa.text(sql), params).scalar())


def _points(resource_id: str, z: int, x: int, y: int, cap: int) -> Optional[bytes]:
    """The points of a tile, or None when there are more than ``cap``."""
    x0, y0, x1, y1 = tile_bounds(z, x, y, margin=BUFFER / EXTENT)
    # the tile's points of every resource first (the GiST index, whatever the
    # statistics say: a small area), then this resource's
    sql = f"""
WITH here AS MATERIALIZED (
  SELECT id, resource_id, service_type, name, status, geom FROM {POINT_TABLE}
  WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
), pts AS MATERIALIZED (
  SELECT id, service_type, name, status, geom FROM here
  WHERE resource_id = :resource_id LIMIT :cap + 1
)
SELECT CASE WHEN (SELECT count(*) FROM pts) > :cap THEN NULL ELSE ({_mvt(f'''
  SELECT id, 1 AS n, service_type AS t, name, status,
         {_mvt_geom("ST_Transform(geom, 3857)")} AS geom
  FROM pts''')}) END"""
    params = _params(z, x, y, resource_id=resource_id, x0=x0, y0=y0, x1=x1, y1=y1, cap=cap)
    row = model.Session.execute(sa.text(sql), params).first()
    if row is None or row[0] is None:
        return None
    return _bytes(row[0])


def _bytes(value: object) -> bytes:
    if value is None:
        return b""
    return bytes(value)  # a memoryview from psycopg2


def render(current: layers.LayerState, z: int, x: int, y: int) -> bytes:
    """The tile z/x/y of a resource's points (b"" when it has none there)."""
    if not current.has_points:
        return b""
    if z <= layers.cluster_max_zoom():
        if current.fresh and current.layer_id is not None:
            return _cells_from_layer(current.layer_id, z, x, y)
        return _cells_on_the_fly(current.resource_id, z, x, y)
    cap = max(1, int(tk.config.get("ckanext.servicespublics.map.tile_max_points")))
    data = _points(current.resource_id, z, x, y, cap)
    if data is None:
        return _cells_on_the_fly(current.resource_id, z, x, y)
    return data
