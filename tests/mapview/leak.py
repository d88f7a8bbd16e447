"""The map's rows of the leak matrix (``tests/access/test_leak_matrix.py``).

``build_map_world`` counts the map layer of each world dataset's point file
(its points were ingested by the points plugin when the world was built),
with the map plugin's own action, as the dataset's editor, and notes where
the dataset's gendarmerie is; ``rows`` gives the rows that read them: the
vector tiles, the name search, a point's details and the layer's
description. A refused request must show nothing; an allowed one shows the
token (the points' names) or, for the layer, the resource id.

The tiles are Mapbox Vector Tiles: the rows decode them (mapbox_vector_tile)
and read the features' properties, so that a name hidden in a tile is found
whatever its encoding.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins as p
from ckan.tests import helpers

__all__ = ["build_map_world", "rows", "WRITES", "decode_tile", "tile_of"]

#: zoom of the tile that holds the gendarmerie itself (with its name)
DETAIL_ZOOM = 16


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(lat)
    y = int((1.0 - math.log(math.tan(lat_r) + 1 / math.cos(lat_r)) / math.pi) / 2.0 * n)
    return z, x, y


def decode_tile(data: bytes) -> list[dict[str, Any]]:
    """The features of every layer of a vector tile: ``id``, ``layer`` and
    the properties."""
    if not data:
        return []
    import mapbox_vector_tile

    tile = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    return [{"layer": name, "id": feature.get("id"), **feature["properties"]}
            for name, layer in tile.items() for feature in layer["features"]]


def tile_response(res: Any, response_class: Any) -> Any:
    """A tile as a matrix response: its decoded features as JSON text (an
    error's text as it is)."""
    data = res.get_data()
    if res.status_code == 200 and res.mimetype == "application/vnd.mapbox-vector-tile":
        body = json.dumps(decode_tile(data), ensure_ascii=False, default=str)
        out = response_class(200, body)
        out.json = decode_tile(data)
        return out
    return response_class(res.status_code, data.decode("utf-8", "replace"))


def build_map_world(world: Any) -> None:
    """Map layers for the world's datasets (a ``world.WORLD_BUILDERS`` entry)."""
    if not (p.plugin_loaded("servicespublics_points") and p.plugin_loaded("servicespublics_map")):
        return
    member = world.users["member"]
    for dataset in world.datasets.values():
        layer = helpers.call_action(
            "servicespublics_map_layer_build", context={"user": member["name"]},
            resource_id=dataset.resource_id, sync=True)
        assert layer["status"] == "ready", layer
        point_id, lon, lat = model.Session.execute(sa.text(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM servicespublics_points_point "
            "WHERE resource_id = :r AND source_id = :s"),
            {"r": dataset.resource_id, "s": dataset.brigade_source_id}).one()
        model.Session.commit()
        dataset.extra["map_point_id"] = point_id
        dataset.extra["map_tile"] = tile_of(lon, lat, DETAIL_ZOOM)


def rows(row_class: Any, response_class: Any, can_read: Callable[[str, str], bool],
         merge: Callable[..., tuple[int, str]]) -> dict[str, Any]:
    """The rows, built with the matrix's ``Row``, ``Response``, ``can_read``
    and ``_merge``."""
    def tiles(c: Any, who: str, key: str) -> Any:
        d = c.world.datasets[key]
        z, x, y = d.extra["map_tile"]
        detail = c.app.get(f"/servicespublics/tiles/{d.resource_id}/{z}/{x}/{y}.pbf",
                           headers=c._headers(who))
        whole = c.app.get(f"/servicespublics/tiles/{d.resource_id}/0/0/0.pbf",
                          headers=c._headers(who))
        first = tile_response(detail, response_class)
        second = tile_response(whole, response_class)
        if first.status == 200:
            # the gendarmerie, with its name, and nothing else
            names = [f.get("name") for f in first.json]
            assert len(names) == 1 and names[0].startswith(f"Brigade {d.token}"), names
            # the whole world, in groups: the file's four points
            assert sum(f.get("n", 1) for f in second.json) == 4, second.json
        return response_class(*merge(first, second))

    return {
        "map tiles": row_class(
            covers=("url:servicespublics_map.tile",), each="dataset", allowed=can_read,
            requires=("servicespublics_map",), call=tiles),
        "map name search": row_class(
            covers=("action:servicespublics_map_search",), each="dataset", allowed=can_read,
            requires=("servicespublics_map",), token_in_request=True,
            call=lambda c, who, k: c.api(who, "servicespublics_map_search",
                                         resource_id=c.world.datasets[k].resource_id,
                                         q=c.world.datasets[k].token)),
        "map point details": row_class(
            covers=("action:servicespublics_map_point_show",), each="dataset",
            allowed=can_read, requires=("servicespublics_map",),
            call=lambda c, who, k: c.api(who, "servicespublics_map_point_show",
                                         resource_id=c.world.datasets[k].resource_id,
                                         id=c.world.datasets[k].extra["map_point_id"])),
        # a point of the dataset asked through the public dataset's resource:
        # a point belongs to its resource, whoever asks
        "map point details through another resource": row_class(
            covers=("action:servicespublics_map_point_show",), each="dataset",
            allowed=lambda who, k: k == "public", requires=("servicespublics_map",),
            call=lambda c, who, k: c.api(who, "servicespublics_map_point_show",
                                         resource_id=c.world.datasets["public"].resource_id,
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
