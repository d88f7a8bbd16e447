"""The map's rows of the leak matrix (``tests/access/test_leak_matrix.py``).

``build_map_world`` gives each dataset of the matrix's world one service point
named after its token, ingested for its uploaded resource with the points
plugin's own ingestion, and counts its map layer; ``rows`` gives the rows
that read them: the vector tiles, the name search, a point's details and the
layer's description. A refused request must show nothing; an allowed one
shows the token (the point's name) or, for the layer, the resource id.

The tiles are binary (Mapbox Vector Tiles): the rows read them as latin-1,
where the ASCII tokens and ids appear as they are.
"""
from __future__ import annotations

import csv
import math
import os
import tempfile
import uuid
from typing import Any, Callable

import ckan.model as model
import ckan.plugins as p

__all__ = ["build_map_world", "rows", "WRITES"]

#: each dataset's point, spread out so that no two share a detail tile
_PLACES = {"public": (2.3522, 48.8566), "restricted": (-1.6778, 48.1173),
           "private": (4.8357, 45.7640), "draft": (5.3698, 43.2965)}
#: zoom of the tile that holds the point itself (with its name)
DETAIL_ZOOM = 16


def _tile(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(lat)
    y = int((1.0 - math.log(math.tan(lat_r) + 1 / math.cos(lat_r)) / math.pi) / 2.0 * n)
    return z, x, y


def build_map_world(world: Any) -> None:
    """Points and map layers for the world's datasets (a ``world.WORLD_BUILDERS`` entry)."""
    if not (p.plugin_loaded("servicespublics_points") and p.plugin_loaded("servicespublics_map")):
        return
    import sqlalchemy as sa

    from ckanext.servicespublics.mapview import layers
    from ckanext.servicespublics.points import ingest, store

    for key, dataset in world.datasets.items():
        resource_id = dataset.resource_id
        existing = model.Session.execute(sa.text(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM servicespublics_points_point "
            "WHERE resource_id = :r AND name LIKE :token ORDER BY id LIMIT 1"),
            {"r": resource_id, "token": f"%{dataset.token}%"}).first()
        model.Session.commit()
        if existing is None:
            lon, lat = _PLACES.get(key, (2.0, 47.0))
            package = model.Package.get(dataset.id)
            with tempfile.TemporaryDirectory(prefix="leak-map-") as tmp:
                path = os.path.join(tmp, "points.csv")
                with open(path, "w", encoding="utf-8", newline="") as out:
                    writer = csv.writer(out)
                    writer.writerow(["id", "name", "service_type", "latitude", "longitude"])
                    writer.writerow(["1", f"Brigade {dataset.token}", "gendarmerie", lat, lon])
                conn = model.meta.engine.raw_connection()
                try:
                    ingestion_id = str(uuid.uuid4())
                    cur = conn.cursor()
                    store.start_ingestion(cur, ingestion_id, resource_id, dataset.id,
                                          trigger="test", fingerprint=None, source=path)
                    conn.commit()
                    result = ingest.run_ingestion(
                        conn, path, resource_id=resource_id, package_id=dataset.id,
                        owner_org=package.owner_org, ingestion_id=ingestion_id,
                        options=ingest.Options(declared_format="csv"))
                finally:
                    conn.close()
                assert result.replaced, result.report.messages
            existing = model.Session.execute(sa.text(
                "SELECT id, ST_X(geom), ST_Y(geom) FROM servicespublics_points_point "
                "WHERE resource_id = :r ORDER BY id LIMIT 1"), {"r": resource_id}).first()
            model.Session.commit()
        point_id, lon, lat = existing
        layers.build(resource_id)
        dataset.extra["map_point_id"] = point_id
        dataset.extra["map_tile"] = _tile(lon, lat, DETAIL_ZOOM)


def _binary(res: Any, response_class: Any) -> Any:
    return response_class(res.status_code, res.get_data().decode("latin-1"))


def rows(row_class: Any, response_class: Any, can_read: Callable[[str, str], bool]
         ) -> dict[str, Any]:
    """The rows, built with the matrix's ``Row``, ``Response`` and ``can_read``."""
    def tiles(c: Any, who: str, key: str) -> Any:
        d = c.world.datasets[key]
        z, x, y = d.extra["map_tile"]
        detail = c.app.get(f"/servicespublics/tiles/{d.resource_id}/{z}/{x}/{y}.pbf",
                           headers=c._headers(who))
        world = c.app.get(f"/servicespublics/tiles/{d.resource_id}/0/0/0.pbf",
                          headers=c._headers(who))
        first, second = _binary(detail, response_class), _binary(world, response_class)
        status = 200 if first.status == second.status == 200 else max(
            s for s in (first.status, second.status) if s != 200)
        return response_class(status, first.body + "\n" + second.body)

    return {
        "map tiles": row_class(
            covers=("url:servicespublics_map.tile",), each="dataset", allowed=can_read,
            requires=("servicespublics_map",), call=tiles),
        "map name search": row_class(
            covers=("action:servicespublics_map_search",), each="dataset", allowed=can_read,
            requires=("servicespublics_map",),
            call=lambda c, who, k: c.api(who, "servicespublics_map_search",
                                         resource_id=c.world.datasets[k].resource_id,
                                         q=c.world.datasets[k].token)),
        "map point details": row_class(
            covers=("action:servicespublics_map_point_show",), each="dataset",
            allowed=can_read, requires=("servicespublics_map",),
            call=lambda c, who, k: c.api(who, "servicespublics_map_point_show",
                                         resource_id=c.world.datasets[k].resource_id,
                                         id=c.world.datasets[k].extra["map_point_id"])),
        # the layer names no point: it shows the resource (its id), not the token
        "map layer": row_class(
            covers=("action:servicespublics_map_layer_show",), each="dataset",
            allowed=can_read, requires=("servicespublics_map",), shows_token=False,
            call=lambda c, who, k: c.api(who, "servicespublics_map_layer_show",
                                         resource_id=c.world.datasets[k].resource_id)),
    }


#: writes of the map, refused to those who do not manage the dataset
WRITES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "servicespublics_map_layer_build": lambda d: {"resource_id": d.resource_id},
}
