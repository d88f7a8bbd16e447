"""The whole site, as `./dev.sh demo` runs it.

Every plugin of ``config/development.ini``, in its order and with its
settings, on the demo catalogue (real files shipped in the package), the
points ingested by CKAN's real jobs worker (RQ on Redis, burst mode). Each
feature has its own tests; these check that they work together: a plugin
order, a template override or a signal that only breaks when all of them are
loaded shows up here.
"""
from __future__ import annotations

import re

import pytest

import ckan.plugins.toolkit as tk
from ckan.lib import jobs
from ckan.tests import factories, helpers

from tests.development_settings import development_settings

SETTINGS = development_settings()
PLUGINS = SETTINGS["ckan.plugins"]


pytestmark = [
    *(pytest.mark.ckan_config(key, value) for key, value in SETTINGS.items()),
    pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index"),
]


def _run_jobs() -> None:
    """Run the queued jobs to the end, as `ckan jobs worker` does."""
    jobs.Worker([jobs.DEFAULT_QUEUE_NAME]).work(burst=True)


@pytest.fixture
def demo_site(app, territories_loaded):
    """The demo catalogue, its points ingested, with the COG loaded (as
    `./dev.sh demo` does before loading the demo)."""
    from ckanext.servicespublics import demo

    for queue in jobs.get_all_queues():
        queue.empty()  # jobs left by other tests point at rows that are gone
    created = demo.load(echo=lambda _msg: None)
    _run_jobs()
    return created


def _text(res) -> str:
    return res.get_data(as_text=True)


def _point_resource(name: str) -> dict:
    dataset = helpers.call_action("package_show", id=name)
    return next(r for r in dataset["resources"] if r.get("role") == "point_file")


class TestDemoSite:
    def test_demo_site(self, demo_site, app):
        """Demo loaded, points ingested by the worker, every feature answering."""
        assert demo_site == {"organizations": 3, "groups": 3, "datasets": 5}
        for name in ("france-services-2024", "annuaire-administration-indre-2016",
                     "annuaire-education-ille-et-vilaine"):
            resource = _point_resource(name)
            assert resource["validation_status"] in ("valid", "partial"), name
            assert int(resource["point_count"]) > 100, name
        fs = _point_resource("france-services-2024")
        assert int(fs["point_count"]) > 2700  # 2,845 structures in the file

        # keyword search with facets, French stemming and accents
        found = helpers.call_action("package_search", q="gendarmeries", **{
            "facet.field": '["service_types", "organization"]'})
        names = {d["name"] for d in found["results"]}
        assert "annuaire-administration-indre-2016" in names
        assert "france-services-2024" not in names
        assert found["facets"]["service_types"].get("gendarmerie", 0) >= 3

        pages = {
            "/": "Les services publics dans les territoires",
            "/dataset/?q=ecole": "Annuaire de l&#39;éducation",
            "/service-points/france-services-2024": "Liste des structures France Services",
            f"/service-points/france-services-2024/resource/{fs['id']}":
                "view-item-servicespublics_map",
            "/organization/anct": "Liste des structures France Services",
            "/carte": "Carte nationale des services publics",
            "/dataset/france-services-2024/issues/new": "Signaler",
            "/vocabularies/service-types": "Gendarmerie",
        }
        for path, expected in pages.items():
            res = app.get(path)
            body = _text(res)
            assert res.status_code == 200, path
            assert expected in body, path
            assert '<html lang="fr"' in body, path

        view = helpers.call_action("resource_view_list", id=fs["id"])[0]
        assert view["view_type"] == "servicespublics_map"
        embedded = _text(app.get(
            f"/service-points/france-services-2024/resource/{fs['id']}/view/{view['id']}"))
        assert 'data-module="servicespublics-map"' in embedded

        # the publication forms of both dataset types, for a producer
        editor = factories.UserWithToken()
        helpers.call_action("organization_member_create", id="anct", username=editor["name"],
                            role="editor")
        for path, expected in (("/service-points/new", 'name="service_types"'),
                               ("/dataset/new", 'name="title"')):
            res = app.get(path, headers={"Authorization": editor["token"]})
            assert res.status_code == 200, path
            assert expected in _text(res), path

        ttl = _text(app.get("/catalog.ttl"))
        assert "france-services-2024" in ttl and "dcat:Dataset" in ttl
        # the demo catalogue is valid DCAT-AP 3 (tests/dcat/test_shacl.py)
        from rdflib import Graph

        from tests.dcat.test_shacl import DCAT_AP_3, violations
        assert violations(Graph().parse(data=ttl, format="turtle"), DCAT_AP_3) == {}

        # every point file of the demo opens in the map view, DILA's included
        for name in ("annuaire-administration-hautes-alpes-2016",
                     "annuaire-administration-corse-du-sud-2016"):
            views = helpers.call_action("resource_view_list", id=_point_resource(name)["id"])
            assert [v["view_type"] for v in views] == ["servicespublics_map"], name
        tile = app.get(f"/servicespublics/tiles/{fs['id']}/5/16/11.pbf")  # Paris
        assert tile.status_code == 200 and tile.data
        density = helpers.call_action("servicespublics_density",
                                      service_type="france-services", level="departement")
        assert density["count"] > 2700
        exported = app.get("/carte/export.csv?service_type=france-services")
        assert exported.status_code == 200
        assert len(_text(exported).splitlines()) > 2700

    def test_private_dataset_stays_hidden_everywhere(self, app):
        org = factories.Organization()
        helpers.call_action(
            "package_create", context={"user": factories.Sysadmin()["name"]},
            type="service-points", name="casernes-secretes", title="Casernes secrètes",
            owner_org=org["id"], private=True, domain="securite", territory_level="national",
            service_types=["gendarmerie"], notes="Ne doit apparaître nulle part.")
        for path in ("/dataset/?q=casernes", "/catalog.ttl", "/carte",
                     "/api/3/action/package_search?q=casernes",
                     "/api/3/action/package_autocomplete?q=casernes"):
            body = _text(app.get(path))
            assert "casernes-secretes" not in body and "Casernes secrètes" not in body, path
        res = app.get("/service-points/casernes-secretes")
        assert res.status_code == 404
        count = re.findall(r'"count": (\d+)', _text(app.get(
            "/api/3/action/package_search?q=*:*")))
        assert count and int(count[0]) == 0
        assert tk.get_action("package_search")(
            {"ignore_auth": True, "user": ""}, {"q": "casernes"})["count"] == 0
