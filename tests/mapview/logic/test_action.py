"""The actions of servicespublics_map: name search, point details, layers, default views."""
from __future__ import annotations

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from ..conftest import PLUGINS, fs_rows, point_rows


def _as(user, action, **data):
    return helpers.call_action(action, {"user": user["name"] if user else "",
                                        "ignore_auth": False}, **data)


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues", "with_request_context")
class TestSearch:
    def test_accents_case_and_order(self, point_resource):
        made = point_resource(rows=fs_rows(600)[1])
        rid = made["resource"]["id"]
        found = _as(None, "servicespublics_map_search", resource_id=rid, q="VALSERHONE")
        assert found["count"] == 1
        (point,) = found["results"]
        assert point["name"] == "France services de Valserhône"
        assert point["service_type"] == "france-services"
        assert point["postcode"] == "01200"
        assert 5.8 < point["longitude"] < 5.9 and 46.1 < point["latitude"] < 46.2
        # names starting with the text first, then shorter names; the count is all of them
        found = _as(None, "servicespublics_map_search", resource_id=rid, q="france serv",
                    limit=5)
        names = [p["name"] for p in found["results"]]
        assert len(names) == 5 and found["count"] > 300
        assert all(n.lower().startswith("france serv") for n in names)
        assert [len(n) for n in names] == sorted(len(n) for n in names)
        every = {p["name"] for p in point_rows(rid)}
        assert all(n in every for n in names)

    def test_wildcards_are_text(self, point_resource):
        made = point_resource(rows=fs_rows(100)[1])
        rid = made["resource"]["id"]
        for text in ("%%", "__", "!%"):
            assert _as(None, "servicespublics_map_search", resource_id=rid,
                       q=text)["count"] == 0

    def test_validation(self, point_resource):
        made = point_resource(rows=fs_rows(10)[1])
        rid = made["resource"]["id"]
        with pytest.raises(tk.ValidationError) as error:
            _as(None, "servicespublics_map_search", resource_id=rid, q=" a ")
        assert "q" in error.value.error_dict
        found = _as(None, "servicespublics_map_search", resource_id=rid, q="france",
                    limit=500)
        assert len(found["results"]) == 10

    def test_private_resource(self, point_resource, map_world):
        made = point_resource(private=True, rows=fs_rows(20)[1])
        rid = made["resource"]["id"]
        for who in (None, map_world["outsider"]):
            with pytest.raises(tk.NotAuthorized):
                _as(who, "servicespublics_map_search", resource_id=rid, q="france")
        assert _as(map_world["member"], "servicespublics_map_search", resource_id=rid,
                   q="france")["count"] == 20
        with pytest.raises(tk.ObjectNotFound):
            _as(None, "servicespublics_map_search", resource_id="nope", q="france")


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues", "with_request_context")
class TestPointShow:
    def test_fields_and_labels(self, point_resource):
        made = point_resource(rows=fs_rows(5)[1])
        rid = made["resource"]["id"]
        target = next(p for p in point_rows(rid) if "Valserh" in p["name"])
        point = _as(None, "servicespublics_map_point_show", resource_id=rid,
                    id=str(target["id"]))
        assert point["id"] == target["id"]
        assert point["name"] == "France services de Valserhône"
        assert point["source_id"] == "1"
        assert point["address"].startswith("5-9 Rue des Papetiers")
        assert point["postcode"] == "01200"
        assert point["opening_hours"] and "lundi" in point["opening_hours"]
        assert point["opening_date"] and len(point["opening_date"]) == 10
        assert point["phone"] == "04 50 56 87 49"
        assert point["service_type_label"] == "France Services"
        assert abs(point["longitude"] - target["lon"]) < 1e-9

    def test_a_point_of_another_resource_is_not_found(self, point_resource, map_world):
        public = point_resource(rows=fs_rows(5)[1])
        private = point_resource(private=True, rows=fs_rows(5)[1])
        secret = point_rows(private["resource"]["id"])[0]
        # readable resource, point of the private one: nothing
        with pytest.raises(tk.ObjectNotFound):
            _as(None, "servicespublics_map_point_show", resource_id=public["resource"]["id"],
                id=secret["id"])
        with pytest.raises(tk.NotAuthorized):
            _as(map_world["outsider"], "servicespublics_map_point_show",
                resource_id=private["resource"]["id"], id=secret["id"])
        shown = _as(map_world["member"], "servicespublics_map_point_show",
                    resource_id=private["resource"]["id"], id=secret["id"])
        assert shown["name"] == secret["name"]

    def test_bad_id(self, point_resource):
        made = point_resource(rows=fs_rows(5)[1])
        for value in ("abc", "-3", "0"):
            with pytest.raises(tk.ValidationError):
                _as(None, "servicespublics_map_point_show",
                    resource_id=made["resource"]["id"], id=value)


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues", "with_request_context")
class TestLayerActions:
    def test_layer_show(self, point_resource):
        made = point_resource(rows=fs_rows(120)[1])
        rid = made["resource"]["id"]
        layer = _as(None, "servicespublics_map_layer_show", resource_id=rid)
        assert layer["status"] == "ready" and layer["fresh"]
        assert layer["point_count"] == 120
        assert layer["tiles"].endswith(f"/servicespublics/tiles/{rid}/{{z}}/{{x}}/{{y}}.pbf"
                                       f"?v={layer['etag']}")
        (entry,) = layer["service_types"]
        assert entry["code"] == "france-services" and entry["count"] == 120
        assert entry["color"].startswith("#")
        territory = layer["extent"]["territories"][0]
        assert territory["code"] == "metropole" and territory["count"] <= 120
        x0, y0, x1, y1 = layer["extent"]["bbox"]
        assert x0 < x1 and y0 < y1

    def test_layer_build_for_editors(self, point_resource, map_world):
        made = point_resource(rows=fs_rows(30)[1])
        rid = made["resource"]["id"]
        before = _as(None, "servicespublics_map_layer_show", resource_id=rid)
        for who in (None, map_world["outsider"]):
            with pytest.raises(tk.NotAuthorized):
                _as(who, "servicespublics_map_layer_build", resource_id=rid)
        built = _as(map_world["member"], "servicespublics_map_layer_build", resource_id=rid,
                    sync=True)
        assert built["status"] == "ready" and built["etag"] == before["etag"]
        queued = _as(map_world["member"], "servicespublics_map_layer_build", resource_id=rid)
        assert queued["queued"] is True
        assert queued["etag"] != before["etag"]

    def test_resource_without_points(self, map_world):
        package = factories.Dataset(owner_org=map_world["org"]["id"])
        resource = factories.Resource(package_id=package["id"], url="https://example.org/x.csv")
        layer = _as(None, "servicespublics_map_layer_show", resource_id=resource["id"])
        assert layer["status"] == "empty" and layer["tiles"] is None
        with pytest.raises(tk.ValidationError):
            _as(map_world["sysadmin"], "servicespublics_map_layer_build",
                resource_id=resource["id"])
