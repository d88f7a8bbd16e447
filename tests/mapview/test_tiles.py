"""The vector tiles: contents at each zoom level, cluster levels, access, caching."""
from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

import ckan.lib.jobs as jobs_lib
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from .conftest import PLUGINS, auth, decode, fs_rows, point_rows, tile_of, tile_url

BUILD = "ckanext.servicespublics.mapview.layers.build_job"


def _get(app, url, user=None, **headers):
    return app.get(url, headers={**auth(user), **headers})


def _features(app, resource_id, z, x, y, user=None):
    res = _get(app, tile_url(resource_id, z, x, y), user)
    assert res.status_code in (200, 204), (res.status_code, res.get_data(as_text=True))
    return decode(res.data)


def _count_in_tile(resource_id, z, x, y):
    """Points whose EPSG:3857 position falls in the tile (as the grid counts them)."""
    n = 1 << z
    half = 20037508.342789244
    size = 2 * half / n
    x0, x1 = -half + x * size, -half + (x + 1) * size
    y1, y0 = half - y * size, half - (y + 1) * size
    count = model.Session.execute(sa.text(
        "SELECT count(*) FROM (SELECT ST_X(ST_Transform(geom, 3857)) AS mx, "
        "ST_Y(ST_Transform(geom, 3857)) AS my FROM servicespublics_points_point "
        "WHERE resource_id = :r) p WHERE mx >= :x0 AND mx < :x1 AND my > :y0 AND my <= :y1"),
        {"r": resource_id, "x0": x0, "x1": x1, "y0": y0, "y1": y1}).scalar()
    model.Session.commit()
    return count


def _layer(resource_id):
    row = model.Session.execute(sa.text(
        "SELECT status, layer_id, ingestion_id, version, built_version, point_count, "
        "service_types, extent FROM servicespublics_map_layer WHERE resource_id = :r"),
        {"r": resource_id}).first()
    model.Session.commit()
    return dict(row._mapping) if row else None


def _queued_builds():
    return [j for j in jobs_lib.get_queue().jobs if j.func_name == BUILD]


# the France Services of Paris and its inner suburbs (dense), and one point far
# from the others (Saint-Pierre-et-Miquelon, Mayotte...) are found in the data
PARIS = (2.3488, 48.8534)


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues")
class TestContents:
    def test_every_zoom_level_counts_every_point_once(self, app, point_resource):
        made = point_resource()
        rid = made["resource"]["id"]
        points = point_rows(rid)
        assert len(points) == made["result"].rows_ingested > 2800
        # zoom 0: one tile holds the whole world, as groups of points
        features = _features(app, rid, 0, 0, 0)
        assert sum(f["n"] for f in features) == len(points)
        assert len(features) <= 64
        assert any(f["n"] > 100 for f in features)
        assert {f.get("t") for f in features} == {"france-services"}
        # zoom 5 and 8, around Paris: groups, counting exactly the points of the tile
        for z in (5, 8):
            x, y = tile_of(*PARIS, z)
            features = _features(app, rid, z, x, y)
            assert sum(f["n"] for f in features) == _count_in_tile(rid, z, x, y) > 0
            assert any(f["n"] > 1 for f in features), z

    def test_points_when_zoomed_in(self, app, point_resource):
        made = point_resource()
        rid = made["resource"]["id"]
        points = {p["id"]: p for p in point_rows(rid)}
        target = next(p for p in points.values() if "Valserhône" in (p["name"] or ""))
        x, y = tile_of(target["lon"], target["lat"], 15)
        features = _features(app, rid, 15, x, y)
        assert features and all(f["n"] == 1 for f in features)
        by_id = {f["id"]: f for f in features}
        assert target["id"] in by_id
        found = by_id[target["id"]]
        assert found["name"] == target["name"]
        assert found["t"] == "france-services"
        # the feature sits where the point is, within a tile unit
        n = 1 << 15
        fx = ((target["lon"] + 180) / 360 * n - x) * 4096
        lat = math.radians(target["lat"])
        fy = ((1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * n - y) * 4096
        assert abs(found["x"] - fx) <= 1 and abs(found["y"] - fy) <= 1
        # every feature is a point of this resource, with its own name
        for feature in features:
            assert points[feature["id"]]["name"] == feature["name"]

    def test_single_point_cells_carry_the_point(self, app, point_resource):
        made = point_resource()
        rid = made["resource"]["id"]
        names = {p["id"]: p["name"] for p in point_rows(rid)}
        singles = []
        for z in range(6, 14):
            x, y = tile_of(4.8357, 45.7640, z)  # Lyon
            singles += [f for f in _features(app, rid, z, x, y) if f["n"] == 1]
        assert singles
        for feature in singles:
            assert names[feature["id"]] == feature["name"]

    def test_mixed_types_make_untyped_groups(self, app, point_resource):
        made = point_resource(source="75")
        rid = made["resource"]["id"]
        types = {p["service_type"] for p in point_rows(rid)}
        assert len(types) > 2
        x, y = tile_of(*PARIS, 9)
        features = _features(app, rid, 9, x, y)
        mixed = [f for f in features if f["n"] > 1 and "t" not in f]
        assert mixed, features
        for z in (14, 15):
            x, y = tile_of(*PARIS, z)
            for feature in _features(app, rid, z, x, y):
                if feature["n"] == 1:
                    assert feature["t"] in types

    def test_layer_and_on_the_fly_agree(self, app, point_resource):
        made = point_resource(source="59")
        rid = made["resource"]["id"]
        lille = (3.0573, 50.6292)
        tiles = [(0, 0, 0)] + [(z, *tile_of(*lille, z)) for z in (4, 7, 10, 13)]
        with helpers.changed_config(
                "ckanext.servicespublics.map.build_sync_max_points", 0):
            on_the_fly = {t: _features(app, rid, *t) for t in tiles}
            assert _layer(rid) is None or _layer(rid)["layer_id"] is None
        built = {t: _features(app, rid, *t) for t in tiles}
        assert _layer(rid)["status"] == "ready"

        def key(features):
            return sorted((f["n"], f.get("t") or "", f["x"], f["y"], f.get("name") or "")
                          for f in features)
        for t in tiles:
            assert built[t], t
            assert key(built[t]) == key(on_the_fly[t]), t

    def test_crowded_detail_tile_is_grouped(self, app, point_resource):
        made = point_resource(source="75")
        rid = made["resource"]["id"]
        x, y = tile_of(*PARIS, 14)
        plain = _features(app, rid, 14, x, y)
        assert len(plain) >= 4 and all(f["n"] == 1 for f in plain)
        with helpers.changed_config("ckanext.servicespublics.map.tile_max_points", 2):
            grouped = _features(app, rid, 14, x, y)
        assert any(f["n"] > 1 for f in grouped)
        assert sum(f["n"] for f in grouped) == _count_in_tile(rid, 14, x, y)

    def test_no_points_no_tile(self, app, map_world):
        package = factories.Dataset(owner_org=map_world["org"]["id"])
        resource = factories.Resource(package_id=package["id"],
                                      url="https://example.org/points.csv", format="CSV")
        res = app.get(tile_url(resource["id"], 3, 4, 2))
        assert res.status_code == 204 and res.data == b""


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues")
class TestLayers:
    def test_small_layer_is_built_by_the_first_tile(self, app, point_resource):
        made = point_resource(rows=fs_rows(300)[1])
        rid = made["resource"]["id"]
        assert _layer(rid) is None
        _features(app, rid, 0, 0, 0)
        layer = _layer(rid)
        assert layer["status"] == "ready" and layer["point_count"] == 300
        live = model.Session.execute(sa.text(
            "SELECT live_ingestion_id FROM servicespublics_points_resource "
            "WHERE resource_id = :r"), {"r": rid}).scalar()
        model.Session.commit()
        assert layer["ingestion_id"] == live
        assert layer["service_types"] == [{"code": "france-services", "count": 300}]
        assert layer["extent"]["territories"][0]["code"] == "metropole"
        cells = model.Session.execute(sa.text(
            "SELECT z, sum(n) FROM servicespublics_map_cell WHERE layer_id = :l GROUP BY z"),
            {"l": layer["layer_id"]}).all()
        model.Session.commit()
        assert sorted(cells) == [(z, 300) for z in range(14)]

    @pytest.mark.ckan_config("ckanext.servicespublics.map.build_sync_max_points", 100)
    def test_large_layer_is_built_by_a_job(self, app, point_resource):
        from ckanext.servicespublics.mapview import layers

        made = point_resource(rows=fs_rows(300)[1])
        rid = made["resource"]["id"]
        features = _features(app, rid, 0, 0, 0)  # grouped on the fly meanwhile
        assert sum(f["n"] for f in features) == 300
        (job,) = _queued_builds()
        assert job.args == [rid]
        _features(app, rid, 1, 1, 0)
        assert len(_queued_builds()) == 1  # queued once per version of the points
        assert layers.build_job(*job.args) == "ready"
        assert _layer(rid)["status"] == "ready"

    def test_reindex_after_ingestion_queues_the_build(self, point_resource):
        import ckan.lib.search as search

        made = point_resource(rows=fs_rows(50)[1])
        assert not _queued_builds()
        search.rebuild(made["package"]["id"])
        (job,) = _queued_builds()
        assert job.args == [made["resource"]["id"]]
        search.rebuild(made["package"]["id"])
        assert len(_queued_builds()) == 1

    def test_new_ingestion_new_layer(self, app, point_resource):
        from .conftest import FS_MAPPING, ingest, write_fs

        made = point_resource(rows=fs_rows(100)[1])
        rid = made["resource"]["id"]
        first = _get(app, tile_url(rid, 0, 0, 0))
        old_layer = _layer(rid)["layer_id"]
        path = write_fs(f"/tmp/sp-map-{rid}.csv", fs_rows(250)[1])
        ingest(path, made["resource"], FS_MAPPING, "csv")
        second = _get(app, tile_url(rid, 0, 0, 0))
        assert second.headers["ETag"] != first.headers["ETag"]
        assert sum(f["n"] for f in decode(second.data)) == 250
        layer = _layer(rid)
        assert layer["layer_id"] != old_layer
        left = model.Session.execute(sa.text(
            "SELECT count(*) FROM servicespublics_map_cell WHERE layer_id = :l"),
            {"l": old_layer}).scalar()
        model.Session.commit()
        assert left == 0

    def test_resource_deleted_drops_its_layer(self, app, point_resource, map_world):
        made = point_resource(rows=fs_rows(40)[1])
        rid = made["resource"]["id"]
        _features(app, rid, 0, 0, 0)
        layer_id = _layer(rid)["layer_id"]
        helpers.call_action("resource_delete", {"user": map_world["sysadmin"]["name"]}, id=rid)
        assert _layer(rid) is None
        cells = model.Session.execute(sa.text(
            "SELECT count(*) FROM servicespublics_map_cell WHERE layer_id = :l"),
            {"l": layer_id}).scalar()
        model.Session.commit()
        assert cells == 0
        assert app.get(tile_url(rid, 0, 0, 0)).status_code == 404

    def test_correction_gives_new_tiles(self, app, point_resource):
        made = point_resource(rows=fs_rows(40)[1])
        rid = made["resource"]["id"]
        first = _get(app, tile_url(rid, 0, 0, 0))
        point = point_rows(rid)[0]
        # what servicespublics_issues does when a moderator accepts a correction
        model.Session.execute(sa.text(
            "UPDATE servicespublics_points_point SET name = 'Maison France services corrigée' "
            "WHERE id = :id"), {"id": point["id"]})
        model.Session.commit()
        tk.signals.ckanext.signal("servicespublics_issue_correction_accepted").send(
            rid, report_id="r", correction_id="c", package_id=made["package"]["id"],
            source_id="1", fields={"name": "x"}, previous={}, applied=True)
        second = _get(app, tile_url(rid, 0, 0, 0), **{"If-None-Match": first.headers["ETag"]})
        assert second.status_code == 200
        assert second.headers["ETag"] != first.headers["ETag"]
        x, y = tile_of(point["lon"], point["lat"], 16)
        names = [f["name"] for f in _features(app, rid, 16, x, y) if f["id"] == point["id"]]
        assert names == ["Maison France services corrigée"]


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues")
class TestAccessAndHeaders:
    def test_private_points_only_for_those_who_may_see_them(self, app, point_resource,
                                                           map_world):
        made = point_resource(private=True, rows=fs_rows(60)[1])
        url = tile_url(made["resource"]["id"], 0, 0, 0)
        for who in (None, map_world["outsider"]):
            res = _get(app, url, who)
            assert res.status_code == 403, who
            assert res.data.startswith(b"You are not") or b"autoris" in res.data
            assert b"France" not in res.data
            assert "no-store" in res.headers["Cache-Control"]
        for who in (map_world["member"], map_world["sysadmin"]):
            res = _get(app, url, who)
            assert res.status_code == 200, who
            assert sum(f["n"] for f in decode(res.data)) == 60
            cache = res.headers["Cache-Control"]
            assert "private" in cache and "no-cache" in cache and "public" not in cache

    def test_public_tiles(self, app, point_resource):
        made = point_resource(rows=fs_rows(60)[1])
        res = app.get(tile_url(made["resource"]["id"], 0, 0, 0))
        assert res.status_code == 200
        assert res.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
        assert "public" in res.headers["Cache-Control"]
        assert "private" not in res.headers["Cache-Control"]

    def test_etag(self, app, point_resource, map_world):
        made = point_resource(private=True, rows=fs_rows(60)[1])
        url = tile_url(made["resource"]["id"], 2, 2, 1)
        first = _get(app, url, map_world["member"])
        etag = first.headers["ETag"]
        assert etag.startswith('W/"')
        again = _get(app, url, map_world["member"], **{"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
        # the ETag never answers for the access check
        assert _get(app, url, None, **{"If-None-Match": etag}).status_code == 403
        other = _get(app, url, map_world["member"], **{"If-None-Match": 'W/"other"'})
        assert other.status_code == 200 and other.data == first.data

    def test_missing_deleted_and_invalid(self, app, point_resource, map_world):
        made = point_resource(rows=fs_rows(10)[1])
        rid = made["resource"]["id"]
        assert app.get(tile_url("no-such-resource", 0, 0, 0)).status_code == 404
        for z, x, y in ((23, 0, 0), (2, 4, 0), (2, 0, 4)):
            assert app.get(tile_url(rid, z, x, y)).status_code == 400
        assert app.get(f"/servicespublics/tiles/{rid}/1/-1/0.pbf").status_code == 404
        helpers.call_action("package_delete", {"user": map_world["sysadmin"]["name"]},
                            id=made["package"]["id"])
        assert app.get(tile_url(rid, 0, 0, 0)).status_code in (403, 404)


@pytest.mark.ckan_config(
    "ckan.plugins", PLUGINS.replace("servicespublics_map", "servicespublics_access "
                                    "servicespublics_map"))
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues")
class TestRestricted:
    def test_restricted_points_for_public_agents_only(self, app):
        from .conftest import FS_MAPPING, ingest, write_fs

        sysadmin = factories.SysadminWithToken()
        member, agent, citizen = (factories.UserWithToken() for _ in range(3))
        context = {"user": sysadmin["name"], "ignore_auth": False}
        org = helpers.call_action(
            "organization_create", context=dict(context), name="ministere-interieur",
            org_type="ministere", users=[{"name": member["name"], "capacity": "editor"}])
        helpers.call_action("organization_create", context=dict(context), name="prefecture-35",
                            org_type="prefecture",
                            users=[{"name": agent["name"], "capacity": "member"}])
        package = helpers.call_action(
            "package_create", context={"user": member["name"], "ignore_auth": False},
            name="gendarmeries-restreintes", owner_org=org["id"], access_level="restricted")
        resource = factories.Resource(package_id=package["id"], role="point_file",
                                      url="https://example.org/p.csv", format="CSV")
        ingest(write_fs(f"/tmp/sp-map-{resource['id']}.csv", fs_rows(30)[1]), resource,
               FS_MAPPING, "csv")
        url = tile_url(resource["id"], 0, 0, 0)
        assert _get(app, url, None).status_code == 403
        assert _get(app, url, citizen).status_code == 403
        for who in (agent, member, sysadmin):
            res = _get(app, url, who)
            assert res.status_code == 200, who
            assert sum(f["n"] for f in decode(res.data)) == 30
            assert "private" in res.headers["Cache-Control"]
