"""Reports on restricted datasets (``servicespublics_access``), and the
report pages with every plugin of the site loaded (scheming service-point
datasets, points, access, map)."""
from __future__ import annotations

import importlib.util

import pytest
from bs4 import BeautifulSoup

import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from .conftest import PLUGINS
from .helpers import act


def _available(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


ACCESS_PLUGINS = PLUGINS + " servicespublics_access"


@pytest.mark.skipif(not _available("ckanext.servicespublics.access.plugin"),
                    reason="the access plugin is not there")
@pytest.mark.ckan_config("ckan.plugins", ACCESS_PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_redis")
class TestRestrictedDataset:
    @pytest.fixture
    def world(self):
        sysadmin = factories.SysadminWithToken()
        editor = factories.UserWithToken(email="editor@example.org")
        citizen = factories.UserWithToken()
        agent = factories.UserWithToken()  # member of another organisation
        org = helpers.call_action(
            "organization_create", {"user": sysadmin["name"]}, name="ministere-interieur",
            users=[{"name": editor["name"], "capacity": "editor"}])
        helpers.call_action("organization_create", {"user": sysadmin["name"]},
                            name="prefecture-35",
                            users=[{"name": agent["name"], "capacity": "member"}])
        dataset = helpers.call_action(
            "package_create", {"user": editor["name"]}, name="brigades-restreintes",
            title="Brigades (restreint)", owner_org=org["id"], access_level="restricted",
            resources=[{"url": "https://example.org/b.csv", "format": "CSV"}])
        report = act("servicespublics_issue_create", editor, package_id=dataset["id"],
                     category="wrong_information",
                     description="Mot de passe de la grille : 1234 (confidentiel).")
        act("servicespublics_issue_moderate", editor, id=report["id"], action="publish")
        return {"sysadmin": sysadmin, "editor": editor, "citizen": citizen,
                "agent": agent, "dataset": dataset, "report": report}

    def test_actions(self, world):
        report, dataset = world["report"], world["dataset"]
        for who in (None, world["citizen"]):
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_show", who, id=report["id"])
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_create", who, package_id=dataset["id"],
                    category="other", description="Je tente ma chance.")
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_list", who, package_id=dataset["id"])
            assert act("servicespublics_issue_list", who)["count"] == 0
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_correction_list", who,
                    resource_id=dataset["resources"][0]["id"])
        # a public agent sees restricted data, and its reports
        agent = world["agent"]
        assert act("servicespublics_issue_show", agent, id=report["id"])["id"] == report["id"]
        assert act("servicespublics_issue_list", agent)["count"] == 1
        with pytest.raises(tk.NotAuthorized):
            act("servicespublics_issue_update", agent, id=report["id"], status="resolved")

    def test_pages(self, app, world):
        number = world["report"]["number"]
        for headers in ({}, {"Authorization": world["citizen"]["token"]}):
            for url in ("/dataset/brigades-restreintes/issues",
                        f"/dataset/brigades-restreintes/issues/{number}",
                        "/dataset/brigades-restreintes/issues/new"):
                assert app.get(url, headers=headers).status_code == 404, url
            assert "confidentiel" not in app.get("/issues/moderation",
                                                 headers=headers).body
        page = app.get(f"/dataset/brigades-restreintes/issues/{number}",
                       headers={"Authorization": world["agent"]["token"]})
        assert page.status_code == 200 and "confidentiel" in page.body


SITE_PLUGINS = ("activity servicespublics servicespublics_search scheming_datasets "
                "servicespublics_dataset servicespublics_points servicespublics_access "
                "servicespublics_map servicespublics_issues")
SCHEMING = {
    "scheming.dataset_schemas": "ckanext.servicespublics.schemas:dataset.yaml "
                                "ckanext.servicespublics.schemas:service_points.yaml",
    "scheming.presets": "ckanext.scheming:presets.json "
                        "ckanext.servicespublics.schemas:presets.yaml",
}


@pytest.mark.skipif(not _available("ckanext.servicespublics.dataset.plugin",
                                   "ckanext.servicespublics.points.plugin",
                                   "ckanext.servicespublics.access.plugin",
                                   "ckanext.servicespublics.mapview.plugin"),
                    reason="not every plugin of the site is there")
@pytest.mark.ckan_config("ckan.plugins", SITE_PLUGINS)
@pytest.mark.ckan_config("scheming.dataset_schemas", SCHEMING["scheming.dataset_schemas"])
@pytest.mark.ckan_config("scheming.presets", SCHEMING["scheming.presets"])
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_redis", "clean_queues")
class TestWholeSite:
    def test_service_point_dataset_pages(self, app):
        sysadmin = factories.Sysadmin()
        org = factories.Organization(name="anct", title="ANCT")
        dataset = helpers.call_action(
            "package_create", {"user": sysadmin["name"]}, type="service-points",
            name="france-services", title="France Services", owner_org=org["id"],
            notes="Les structures labellisées.", domain="accueil-proximite",
            service_types=["france-services"], territory_level="national",
            url="https://www.data.gouv.fr/fr/datasets/france-services/",
            license_id="lov2", access_level="public",
            resources=[{"url": "https://example.org/liste-fs.csv", "name": "Liste",
                        "format": "CSV", "role": "documentation"}])
        resource = dataset["resources"][0]
        report = act("servicespublics_issue_create", None, package_id=dataset["id"],
                     resource_id=resource["id"], point_id="fs-12", category="service_closed",
                     description="Cette maison France services a fermé en juin.")
        act("servicespublics_issue_moderate", sysadmin, id=report["id"], action="publish")

        page = BeautifulSoup(app.get(tk.url_for("service-points.read",
                                                id="france-services")).body, "html.parser")
        assert page.select_one("a.servicespublics-issue-report")["href"] == \
            "/dataset/france-services/issues/new"
        assert "(1)" in page.find("a", href="/dataset/france-services/issues").text
        page = BeautifulSoup(app.get(tk.url_for("service-points_resource.read",
                                                id="france-services",
                                                resource_id=resource["id"])).body,
                             "html.parser")
        assert page.select_one("a.servicespublics-issue-report")["href"] == \
            f"/dataset/france-services/issues/new?resource_id={resource['id']}"
        for url in ("/dataset/france-services/issues",
                    f"/dataset/france-services/issues/{report['number']}",
                    f"/dataset/france-services/issues/new?resource_id={resource['id']}"
                    "&point_id=fs-12"):
            response = app.get(url)
            assert response.status_code == 200, url
        assert "Cette maison France services a fermé en juin." in app.get(
            "/dataset/france-services/issues").body
