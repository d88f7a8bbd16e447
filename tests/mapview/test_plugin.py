"""The resource view: which resources get it, its page (French, English), the
dataset page's extent map."""
from __future__ import annotations

import json
import re

import pytest

import ckan.plugins as p
from ckan.tests import factories, helpers

from .conftest import FS_MAPPING, PLUGINS, fs_rows, ingest, write_fs


def _views(resource_id):
    return [v["view_type"] for v in helpers.call_action("resource_view_list", id=resource_id)]


def _config(body):
    match = re.search(r'data-module="servicespublics-map" data-module-config="([^"]*)"', body)
    assert match, "no map module on the page"
    import html

    return json.loads(html.unescape(match.group(1)))


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues", "with_request_context")
class TestWhichResources:
    def test_point_files_get_the_map(self, map_world):
        package = factories.Dataset(owner_org=map_world["org"]["id"])
        points = factories.Resource(package_id=package["id"], role="point_file",
                                    url="https://example.org/fs.csv", format="CSV")
        plain = factories.Resource(package_id=package["id"], url="https://example.org/a.csv",
                                   format="CSV")
        doc = factories.Resource(package_id=package["id"], role="documentation",
                                 url="https://example.org/notice.pdf", format="PDF")
        assert _views(points["id"]) == ["servicespublics_map"]
        assert _views(plain["id"]) == []
        assert _views(doc["id"]) == []

    def test_dataset_created_with_its_resources(self, map_world):
        package = factories.Dataset(owner_org=map_world["org"]["id"], resources=[
            {"url": "https://example.org/fs.csv", "format": "CSV", "role": "point_file"},
            {"url": "https://example.org/a.pdf", "format": "PDF"}])
        first, second = package["resources"]
        assert _views(first["id"]) == ["servicespublics_map"]
        assert _views(second["id"]) == []

    @pytest.mark.ckan_config("ckanext.servicespublics.map.default_view", "false")
    def test_default_view_can_be_turned_off(self, map_world):
        package = factories.Dataset(owner_org=map_world["org"]["id"])
        points = factories.Resource(package_id=package["id"], role="point_file",
                                    url="https://example.org/fs.csv", format="CSV")
        assert _views(points["id"]) == []

    def test_can_be_added_to_csv_and_geojson(self, map_world):
        plugin = p.get_plugin("servicespublics_map")
        package = factories.Dataset(owner_org=map_world["org"]["id"])
        for fmt, role, expected in (("CSV", None, True), ("GeoJSON", None, True),
                                    ("JSON", None, True), ("PDF", None, False),
                                    ("CSV", "documentation", False), ("ZIP", "point_file", True)):
            resource = {"id": "x", "format": fmt, "url": "https://example.org/f",
                        **({"role": role} if role else {})}
            assert plugin.can_view({"resource": resource, "package": package}) is expected, (
                fmt, role)

    def test_ingested_points_bring_the_map(self, map_world):
        from ckanext.servicespublics.mapview import layers

        package = factories.Dataset(owner_org=map_world["org"]["id"])
        resource = factories.Resource(package_id=package["id"], url="https://example.org/a.csv",
                                      format="CSV")
        assert _views(resource["id"]) == []
        ingest(write_fs(f"/tmp/sp-map-{resource['id']}.csv", fs_rows(20)[1]), resource,
               FS_MAPPING, "csv")
        assert layers.build_job(resource["id"]) == "ready"
        assert _views(resource["id"]) == ["servicespublics_map"]
        assert layers.build_job(resource["id"]) == "ready"
        assert _views(resource["id"]) == ["servicespublics_map"]


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues")
class TestPages:
    def _view_url(self, made, lang=""):
        (view,) = [v for v in helpers.call_action("resource_view_list",
                                                  id=made["resource"]["id"])
                   if v["view_type"] == "servicespublics_map"]
        return (f"{lang}/dataset/{made['package']['name']}/resource/"
                f"{made['resource']['id']}/view/{view['id']}")

    def test_view_page(self, app, point_resource):
        made = point_resource(rows=fs_rows(200)[1])
        res = app.get(self._view_url(made))
        assert res.status_code == 200
        body = res.get_data(as_text=True)
        cfg = _config(body)
        rid = made["resource"]["id"]
        assert cfg["resourceId"] == rid and cfg["pointCount"] == 200
        assert f"/servicespublics/tiles/{rid}/{{z}}/{{x}}/{{y}}.pbf?v=" in cfg["tiles"]
        assert cfg["legend"][0]["code"] == "france-services"
        assert cfg["colors"] == {"france-services": cfg["legend"][0]["color"]}
        assert cfg["basemap"] == {"styleUrl": "", "tileUrl": "", "attribution": ""}
        assert cfg["searchUrl"].endswith("/api/3/action/servicespublics_map_search")
        assert "/vendor/maplibre-gl/maplibre-gl.js" in body
        assert 'role="search"' in body and "sp-map-visible-list" in body
        # French by default
        assert cfg["lang"] == "fr"
        assert "Chercher un point par son nom" in body and "Légende" in body
        assert cfg["texts"]["address"] == "Adresse"
        assert cfg["typeLabels"]["france-services"] == "France Services"

    def test_view_page_in_english(self, app, point_resource):
        made = point_resource(rows=fs_rows(20)[1])
        body = app.get(self._view_url(made, "/en")).get_data(as_text=True)
        cfg = _config(body)
        assert cfg["lang"] == "en"
        assert "Find a point by name" in body and "Legend" in body
        assert cfg["texts"]["address"] == "Address"

    @pytest.mark.ckan_config("ckanext.servicespublics.map.tile_url",
                             "https://data.geopf.fr/wmts?LAYER=PLANIGNV2&TILEMATRIX={z}"
                             "&TILEROW={y}&TILECOL={x}")
    @pytest.mark.ckan_config("ckanext.servicespublics.map.attribution", "© IGN")
    def test_basemap_settings(self, app, point_resource):
        made = point_resource(rows=fs_rows(5)[1])
        cfg = _config(app.get(self._view_url(made)).get_data(as_text=True))
        assert cfg["basemap"]["tileUrl"].startswith("https://data.geopf.fr/wmts?")
        assert cfg["basemap"]["attribution"] == "© IGN"

    def test_no_points_yet(self, app, map_world):
        package = factories.Dataset(owner_org=map_world["org"]["id"])
        resource = factories.Resource(package_id=package["id"], role="point_file",
                                      url="https://example.org/fs.csv", format="CSV")
        (view,) = helpers.call_action("resource_view_list", id=resource["id"])
        res = app.get(f"/dataset/{package['name']}/resource/{resource['id']}/view/{view['id']}")
        assert res.status_code == 200
        body = res.get_data(as_text=True)
        assert "Aucun point à afficher pour l'instant" in body
        assert _config(body)["tiles"] is None

    def test_private_view_refused(self, app, point_resource, map_world):
        made = point_resource(private=True, rows=fs_rows(5)[1])
        url = self._view_url(made)
        assert app.get(url).status_code == 404
        res = app.get(url, headers={"Authorization": map_world["outsider"]["token"]})
        assert res.status_code == 404
        res = app.get(url, headers={"Authorization": map_world["member"]["token"]})
        assert res.status_code == 200 and _config(res.get_data(as_text=True))["pointCount"] == 5

    def test_dataset_page_extent(self, app, map_world):
        spatial = {"type": "MultiPolygon", "coordinates": [
            [[[-5.1, 42.3], [-5.1, 51.1], [8.2, 51.1], [8.2, 42.3], [-5.1, 42.3]]],
            [[[55.2, -21.4], [55.2, -20.8], [55.8, -20.8], [55.8, -21.4], [55.2, -21.4]]]]}
        with_extent = factories.Dataset(owner_org=map_world["org"]["id"], extras=[
            {"key": "spatial", "value": json.dumps(spatial)}])
        body = app.get(f"/dataset/{with_extent['name']}").get_data(as_text=True)
        assert 'data-module="servicespublics-map-extent"' in body
        assert "Étendue géographique" in body
        assert "/vendor/maplibre-gl/maplibre-gl.js" in body
        without = factories.Dataset(owner_org=map_world["org"]["id"])
        body = app.get(f"/dataset/{without['name']}").get_data(as_text=True)
        assert "servicespublics-map-extent" not in body
        broken = factories.Dataset(owner_org=map_world["org"]["id"], extras=[
            {"key": "spatial", "value": "{not json"}])
        res = app.get(f"/dataset/{broken['name']}")
        assert res.status_code == 200
        assert "servicespublics-map-extent" not in res.get_data(as_text=True)
