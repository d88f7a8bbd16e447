"""Map layers: the cluster pyramid of a point resource, counted once per ingestion.

The points of a resource live in ``servicespublics_points_point`` (written by
``servicespublics_points``).  For the low zoom levels, where a tile may cover
most of them, the map shows cells instead of points: a cell of level ``z`` is
the tile of zoom ``z + 3`` (8 x 8 cells per tile), with its point count, the
weighted centroid of its points, the service type they share (NULL when
mixed) and, for a cell of one point, that point's id.

``build`` counts the cells of every level from 0 to ``cluster_max_zoom``: the
finest level from the points (one pass), each coarser one from the level
below, in one REPEATABLE READ transaction so that an ingestion committed
meanwhile cannot mix two versions.  The cells are written under a new
``layer_id`` and the layer switches to it at commit: tiles never read a half
built pyramid.  A layer is *fresh* when it was built from the resource's live
ingestion and at its current ``version`` (bumped when a moderator's
correction changes a point in place); until then tiles are grouped on the
fly from the points, with the same cells (``tiles.py``).

This module needs no request: the tile view, the jobs worker, the CLI and the
benchmark call it.
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import json
import logging
import time
from typing import Any, Optional

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk

from ckanext.servicespublics.points import geo
from ckanext.servicespublics.points.store import POINT_TABLE, STATE_TABLE

log = logging.getLogger(__name__)

__all__ = [
    "LAYER_TABLE", "CELL_TABLE", "NAME_TABLE", "CELL_SHIFT", "TILE_FORMAT", "LayerState",
    "state", "fold_sql", "words_sql",
    "build", "ensure_fresh", "enqueue_build", "build_job", "bump_version", "drop",
    "drop_package", "info", "stale_resources", "mercator_sql", "cell_sql", "TYPE_RULE",
]

LAYER_TABLE = "servicespublics_map_layer"
CELL_TABLE = "servicespublics_map_cell"
NAME_TABLE = "servicespublics_map_name"
#: a cell of level z is a tile of zoom z + CELL_SHIFT: 8 x 8 cells per tile
CELL_SHIFT = 3
#: half the width of the EPSG:3857 world, in metres
HALF_WORLD = 20037508.342789244
#: latitude limit of EPSG:3857
MAX_LAT = 85.0511287798066
#: bumped when what a tile holds changes (in the ETag)
TILE_FORMAT = 1
#: a build of at least this many points refreshes the tables' statistics
ANALYZE_FROM = 50000
#: advisory-lock namespace of the builds (with hashtext(resource id))
_LOCK_NAMESPACE = 7307

#: the service type shared by every point of a group, NULL when mixed
TYPE_RULE = ("CASE WHEN bool_and(service_type IS NOT NULL) AND "
             "min(service_type) = max(service_type) THEN min(service_type) END")


@functools.lru_cache(maxsize=4)
def _has_unaccent(url: str) -> bool:
    with model.meta.engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT to_regprocedure('unaccent(text)') IS NOT NULL")).scalar())


def fold_sql(expression: str) -> str:
    """SQL of the case- and accent-insensitive form of a text expression."""
    if _has_unaccent(str(model.meta.engine.url)):
        return f"lower(unaccent({expression}))"
    return f"lower({expression})"


def words_sql(expression: str) -> str:
    """SQL of the searchable words (a tsvector) of a text expression."""
    return f"to_tsvector('simple', {fold_sql(expression)})"


def mercator_sql(lon: str, lat: str) -> tuple[str, str]:
    """SQL expressions of the EPSG:3857 coordinates of a WGS84 lon/lat."""
    mx = f"({lon}) * {HALF_WORLD} / 180.0"
    clamped = f"LEAST(GREATEST({lat}, -{MAX_LAT}), {MAX_LAT})"
    my = f"ln(tan(radians(45.0 + ({clamped}) / 2.0))) * {HALF_WORLD} / pi()"
    return mx, my


def cell_sql(mx: str, my: str, level: int) -> tuple[str, str]:
    """SQL expressions of the cell (column, row) of level ``level``."""
    n = 1 << (level + CELL_SHIFT)
    size = 2 * HALF_WORLD / n
    cx = f"LEAST(GREATEST(floor((({mx}) + {HALF_WORLD}) / {size!r}), 0), {n - 1})::int"
    cy = f"LEAST(GREATEST(floor(({HALF_WORLD} - ({my})) / {size!r}), 0), {n - 1})::int"
    return cx, cy


def _territory_case() -> str:
    parts = [f"WHEN lon BETWEEN {x0} AND {x1} AND lat BETWEEN {y0} AND {y1} THEN '{code}'"
             for code, x0, y0, x1, y1 in geo.TERRITORY_BOXES]
    return "CASE " + " ".join(parts) + " ELSE 'other' END"


def cluster_max_zoom() -> int:
    return max(0, min(20, int(tk.config.get("ckanext.servicespublics.map.cluster_max_zoom"))))


@dataclasses.dataclass
class LayerState:
    """What the tiles of a resource are made from, read in one query."""

    resource_id: str
    package_id: str
    #: the resource's live ingestion (None: no points)
    ingestion_id: Optional[str]
    point_count: int
    layer_id: Optional[int] = None
    built_ingestion_id: Optional[str] = None
    version: int = 0
    built_version: Optional[int] = None
    max_zoom: Optional[int] = None
    status: Optional[str] = None
    queued: Optional[str] = None

    @property
    def has_points(self) -> bool:
        return bool(self.ingestion_id) and self.point_count > 0

    @property
    def key(self) -> str:
        """What the points of the resource are, now: the live ingestion and version."""
        return f"{self.ingestion_id}.{self.version}"

    @property
    def fresh(self) -> bool:
        return (self.layer_id is not None and self.has_points
                and self.built_ingestion_id == self.ingestion_id
                and self.built_version == self.version
                and (self.max_zoom or 0) >= cluster_max_zoom())

    def etag(self) -> str:
        """The tiles' entity tag: the data, the tile format and the settings."""
        settings = (f"{TILE_FORMAT}.{cluster_max_zoom()}."
                    f"{tk.config.get('ckanext.servicespublics.map.tile_max_points')}")
        digest = hashlib.sha1(f"{self.key}.{settings}".encode()).hexdigest()[:20]
        return digest


_STATE_SQL = f"""
SELECT s.resource_id, s.package_id, s.live_ingestion_id, s.point_count, l.layer_id,
       l.ingestion_id, COALESCE(l.version, 0), l.built_version, l.max_zoom, l.status,
       l.queued
FROM {STATE_TABLE} s LEFT JOIN {LAYER_TABLE} l ON l.resource_id = s.resource_id
WHERE s.resource_id = :id"""


def state(resource_id: str) -> Optional[LayerState]:
    """The layer state of a resource, or None when it never had points."""
    row = model.Session.execute(sa.text(_STATE_SQL), {"id": resource_id}).first()
    if row is None:
        return None
    return LayerState(
        resource_id=row[0], package_id=row[1], ingestion_id=row[2],
        point_count=int(row[3] or 0), layer_id=row[4], built_ingestion_id=row[5],
        version=int(row[6] or 0), built_version=row[7], max_zoom=row[8], status=row[9],
        queued=row[10])


def info(resource_id: str) -> Optional[dict[str, Any]]:
    """The layer's description (extent, territories, service types), if built."""
    row = model.Session.execute(sa.text(
        f"SELECT status, point_count, extent, service_types, built, seconds, ingestion_id, "
        f"version, error FROM {LAYER_TABLE} WHERE resource_id = :id"),
        {"id": resource_id}).first()
    if row is None:
        return None
    return {
        "status": row[0], "point_count": row[1], "extent": row[2] or {},
        "service_types": row[3] or [], "built": row[4].isoformat() if row[4] else None,
        "seconds": row[5], "ingestion_id": row[6], "version": row[7], "error": row[8],
    }


# -- building ----------------------------------------------------------------

class _Conn:
    """A DB-API connection of its own, with a session-level advisory lock."""

    def __init__(self, resource_id: str):
        self.resource_id = resource_id
        self.conn = model.meta.engine.raw_connection()
        self.locked = False

    def __enter__(self) -> Any:
        dbapi = getattr(self.conn, "dbapi_connection", self.conn)
        dbapi.autocommit = True
        cur = self.conn.cursor()
        cur.execute("SELECT pg_advisory_lock(%s, hashtext(%s))",
                    (_LOCK_NAMESPACE, self.resource_id))
        self.locked = True
        dbapi.autocommit = False
        self._dbapi = dbapi
        return self.conn

    def __exit__(self, *exc: Any) -> None:
        try:
            self.conn.rollback()
            if self.locked:
                self._dbapi.autocommit = True
                self.conn.cursor().execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                                           (_LOCK_NAMESPACE, self.resource_id))
                self._dbapi.autocommit = False
        finally:
            self.conn.close()


def _read_state(cur: Any, resource_id: str) -> Optional[LayerState]:
    cur.execute(_STATE_SQL.replace(":id", "%(id)s"), {"id": resource_id})
    row = cur.fetchone()
    if row is None:
        return None
    return LayerState(
        resource_id=row[0], package_id=row[1], ingestion_id=row[2],
        point_count=int(row[3] or 0), layer_id=row[4], built_ingestion_id=row[5],
        version=int(row[6] or 0), built_version=row[7], max_zoom=row[8], status=row[9],
        queued=row[10])


def _finest_level_sql(level: int) -> str:
    mx, my = mercator_sql("ST_X(geom)", "ST_Y(geom)")
    cx, cy = cell_sql("mx", "my", level)
    return f"""
INSERT INTO {CELL_TABLE} (layer_id, z, x, y, n, point_id, service_type, geom)
SELECT %(layer_id)s, {level}, cx, cy, count(*)::int,
       CASE WHEN count(*) = 1 THEN min(id) END, {TYPE_RULE},
       ST_SetSRID(ST_MakePoint(avg(mx), avg(my)), 3857)
FROM (
  SELECT id, service_type, mx, my, {cx} AS cx, {cy} AS cy
  FROM (SELECT id, service_type, {mx} AS mx, {my} AS my
        FROM {POINT_TABLE} WHERE resource_id = %(resource_id)s) p
) c
GROUP BY cx, cy"""


def _coarser_level_sql(level: int) -> str:
    return f"""
INSERT INTO {CELL_TABLE} (layer_id, z, x, y, n, point_id, service_type, geom)
SELECT %(layer_id)s, {level}, x >> 1, y >> 1, sum(n)::int,
       CASE WHEN sum(n) = 1 THEN min(point_id) END, {TYPE_RULE},
       ST_SetSRID(ST_MakePoint(sum(n * ST_X(geom)) / sum(n), sum(n * ST_Y(geom)) / sum(n)),
                  3857)
FROM {CELL_TABLE}
WHERE layer_id = %(layer_id)s AND z = {level + 1}
GROUP BY x >> 1, y >> 1"""


def _names_sql() -> str:
    return f"""
INSERT INTO {NAME_TABLE} (layer_id, point_id, words)
SELECT %(layer_id)s, id, {words_sql("name")}
FROM {POINT_TABLE} WHERE resource_id = %(resource_id)s AND name IS NOT NULL AND name <> ''"""


def _stats(cur: Any, resource_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Service types with counts; extent and territories with counts and boxes."""
    cur.execute(f"""
SELECT service_type, territory, count(*), min(lon), min(lat), max(lon), max(lat)
FROM (SELECT service_type, ST_X(geom) AS lon, ST_Y(geom) AS lat
      FROM {POINT_TABLE} WHERE resource_id = %(r)s) p0,
     LATERAL (SELECT {_territory_case()} AS territory) t
GROUP BY service_type, territory""", {"r": resource_id})
    types: dict[Optional[str], int] = {}
    territories: dict[str, list[float]] = {}
    for service_type, territory, count, x0, y0, x1, y1 in cur.fetchall():
        types[service_type] = types.get(service_type, 0) + count
        known = territories.get(territory)
        if known is None:
            territories[territory] = [count, x0, y0, x1, y1]
        else:
            territories[territory] = [known[0] + count, min(known[1], x0), min(known[2], y0),
                                      max(known[3], x1), max(known[4], y1)]
    service_types = [{"code": code, "count": count} for code, count in
                     sorted(types.items(), key=lambda i: (-i[1], i[0] or "~"))]
    ordered = sorted(territories.items(), key=lambda i: (-i[1][0], i[0]))
    extent: dict[str, Any] = {"territories": [
        {"code": code, "count": v[0], "bbox": [round(c, 6) for c in v[1:]]}
        for code, v in ordered]}
    if territories:
        boxes = [v[1:] for v in territories.values()]
        extent["bbox"] = [round(min(b[0] for b in boxes), 6), round(min(b[1] for b in boxes), 6),
                          round(max(b[2] for b in boxes), 6), round(max(b[3] for b in boxes), 6)]
    return service_types, extent


def _analyze() -> None:
    """Fresh statistics after a big change, so that tiles and searches use the indexes."""
    conn = model.meta.engine.raw_connection()
    try:
        dbapi = getattr(conn, "dbapi_connection", conn)
        dbapi.autocommit = True
        cur = conn.cursor()
        for table in (POINT_TABLE, CELL_TABLE, NAME_TABLE):
            cur.execute(f"ANALYZE {table}")
        dbapi.autocommit = False
    except Exception:
        log.warning("Could not analyze the map tables", exc_info=True)
    finally:
        conn.close()


def build(resource_id: str, *, force: bool = False) -> Optional[dict[str, Any]]:
    """Count the cells of a resource's points, unless its layer is fresh.

    Returns what was done (``{"built": bool, ...}``), or None when the
    resource has no points state.  A build that meets a concurrent change of
    the layer row (a new version queued, a correction) starts again.
    """
    from psycopg2 import errors

    for attempt in range(3):
        try:
            return _build(resource_id, force=force)
        except errors.SerializationFailure:
            if attempt == 2:
                raise
            log.info("Map layer of resource %s changed during its build: again", resource_id)
    return None


def _build(resource_id: str, *, force: bool) -> Optional[dict[str, Any]]:
    max_zoom = cluster_max_zoom()
    with _Conn(resource_id) as conn:
        cur = conn.cursor()
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        current = _read_state(cur, resource_id)
        if current is None:
            return None
        if current.fresh and not force:
            return {"built": False, "status": current.status, "layer_id": current.layer_id}
        started = time.monotonic()
        old_layer = current.layer_id
        layer_id = None
        service_types: list[dict[str, Any]] = []
        extent: dict[str, Any] = {}
        count = 0
        if current.has_points:
            cur.execute(f"SELECT nextval('{LAYER_TABLE}_build_seq')")
            layer_id = cur.fetchone()[0]
            params = {"layer_id": layer_id, "resource_id": resource_id}
            cur.execute(_finest_level_sql(max_zoom), params)
            for level in range(max_zoom - 1, -1, -1):
                cur.execute(_coarser_level_sql(level), params)
            cur.execute(_names_sql(), params)
            service_types, extent = _stats(cur, resource_id)
            count = sum(t["count"] for t in service_types)
        seconds = time.monotonic() - started
        cur.execute(f"""
INSERT INTO {LAYER_TABLE} AS l (resource_id, package_id, layer_id, ingestion_id, version,
    built_version, status, point_count, max_zoom, extent, service_types, built, seconds,
    error)
VALUES (%(r)s, %(p)s, %(layer_id)s, %(ingestion)s, %(version)s, %(version)s, %(status)s,
        %(count)s, %(max_zoom)s, %(extent)s, %(types)s, %(built)s, %(seconds)s, NULL)
ON CONFLICT (resource_id) DO UPDATE SET
    package_id = EXCLUDED.package_id, layer_id = EXCLUDED.layer_id,
    ingestion_id = EXCLUDED.ingestion_id, built_version = EXCLUDED.built_version,
    status = EXCLUDED.status, point_count = EXCLUDED.point_count,
    max_zoom = EXCLUDED.max_zoom, extent = EXCLUDED.extent,
    service_types = EXCLUDED.service_types, built = EXCLUDED.built,
    seconds = EXCLUDED.seconds, error = NULL
WHERE l.version = %(version)s""", {
            "r": resource_id, "p": current.package_id, "layer_id": layer_id,
            "ingestion": current.ingestion_id, "version": current.version,
            "status": "ready" if layer_id is not None else "empty", "count": count,
            "max_zoom": max_zoom, "extent": json.dumps(extent),
            "types": json.dumps(service_types),
            "built": datetime.datetime.utcnow(), "seconds": seconds})
        if old_layer is not None:
            cur.execute(f"DELETE FROM {CELL_TABLE} WHERE layer_id = %s", (old_layer,))
            cur.execute(f"DELETE FROM {NAME_TABLE} WHERE layer_id = %s", (old_layer,))
        conn.commit()
    log.info("Map layer of resource %s built: %s point(s), %s level(s), %.2f s", resource_id,
             count, max_zoom + 1, seconds)
    if count >= ANALYZE_FROM:
        _analyze()
    return {"built": True, "status": "ready" if layer_id is not None else "empty",
            "layer_id": layer_id, "point_count": count, "seconds": seconds}


def ensure_fresh(current: LayerState) -> LayerState:
    """Build a stale layer now when it is small, else queue its build.

    Returns the state to serve tiles from (possibly still stale: tiles are
    then grouped on the fly).
    """
    if current.fresh or not current.has_points:
        return current
    limit = tk.config.get("ckanext.servicespublics.map.build_sync_max_points")
    if current.point_count <= limit:
        try:
            build(current.resource_id)
        except Exception:
            log.exception("Could not build the map layer of resource %s",
                          current.resource_id)
            return current
        return state(current.resource_id) or current
    enqueue_build(current)
    return current


def _execute(sql: str, params: dict[str, Any]) -> list[Any]:
    """Run a statement in a transaction of its own (never the caller's)."""
    with model.meta.engine.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        return list(result) if result.returns_rows else []


def _mark_queued(current: LayerState) -> bool:
    """Record that a build of this version is queued; False if it already was."""
    return bool(_execute(f"""
INSERT INTO {LAYER_TABLE} AS l (resource_id, package_id, status, queued)
VALUES (:r, :p, 'pending', :key)
ON CONFLICT (resource_id) DO UPDATE SET queued = EXCLUDED.queued
WHERE l.queued IS DISTINCT FROM EXCLUDED.queued
RETURNING 1""", {"r": current.resource_id, "p": current.package_id, "key": current.key}))


def enqueue_build(current: LayerState) -> bool:
    """Queue the build of a stale layer, once per version of the points."""
    if current.fresh or not current.has_points:
        return False
    if not _mark_queued(current):
        return False
    try:
        tk.enqueue_job(build_job, [current.resource_id], title=(
            f"servicespublics map layer: {current.resource_id}"),
            rq_kwargs={"timeout": 3600})
    except Exception:
        log.exception("Could not queue the map layer of resource %s", current.resource_id)
        _execute(f"UPDATE {LAYER_TABLE} SET queued = NULL WHERE resource_id = :r",
                 {"r": current.resource_id})
        return False
    return True


def build_job(resource_id: str) -> Optional[str]:
    """The background job: build the layer, then make sure the resource has a map view."""
    try:
        result = build(resource_id)
    except Exception as e:
        log.exception("Could not build the map layer of resource %s", resource_id)
        _execute(f"UPDATE {LAYER_TABLE} SET status = 'error', error = :e WHERE resource_id = :r",
                 {"e": f"{type(e).__name__}: {e}"[:1000], "r": resource_id})
        raise
    if result is None:
        return None
    if result.get("status") == "ready":
        from . import defaults

        try:
            defaults.ensure_view(resource_id)
        except Exception:
            log.exception("Could not add the map view to resource %s", resource_id)
    return result.get("status")


def stale_resources(package_id: str) -> list[LayerState]:
    """The point resources of a dataset whose layer is not fresh.

    Read on a connection of its own: called while a dataset is indexed,
    inside the transaction of the action that changed it.
    """
    rows = _execute(_STATE_SQL.replace("WHERE s.resource_id = :id", (
        "WHERE s.package_id = :p AND s.live_ingestion_id IS NOT NULL "
        "AND s.point_count > 0")), {"p": package_id})
    found = []
    for row in rows:
        current = LayerState(
            resource_id=row[0], package_id=row[1], ingestion_id=row[2],
            point_count=int(row[3] or 0), layer_id=row[4], built_ingestion_id=row[5],
            version=int(row[6] or 0), built_version=row[7], max_zoom=row[8], status=row[9],
            queued=row[10])
        if not current.fresh:
            found.append(current)
    return found


def bump_version(resource_id: str) -> None:
    """The points of a resource changed in place (a correction): new tiles, new build."""
    _execute(f"""
INSERT INTO {LAYER_TABLE} AS l (resource_id, package_id, version, status)
SELECT id, package_id, 1, 'pending' FROM resource WHERE id = :r
ON CONFLICT (resource_id) DO UPDATE SET version = l.version + 1""", {"r": resource_id})


def drop(resource_id: str) -> None:
    """Forget the layer of a resource (deleted, or no longer a point file)."""
    _execute(f"""
WITH gone AS (DELETE FROM {LAYER_TABLE} WHERE resource_id = :r RETURNING layer_id),
     cells AS (DELETE FROM {CELL_TABLE} WHERE layer_id IN (SELECT layer_id FROM gone))
DELETE FROM {NAME_TABLE} WHERE layer_id IN (SELECT layer_id FROM gone)""",
             {"r": resource_id})


def drop_package(package_id: str, keep: frozenset[str] = frozenset()) -> None:
    rows = _execute(f"SELECT resource_id FROM {LAYER_TABLE} WHERE package_id = :p",
                    {"p": package_id})
    for (resource_id,) in rows:
        if resource_id not in keep:
            drop(resource_id)
