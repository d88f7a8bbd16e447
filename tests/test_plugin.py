"""Smoke tests: the site starts, answers and speaks French."""
from __future__ import annotations

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestSite:
    def test_status(self, app):
        res = app.get(tk.url_for("api.action", ver=3, logic_function="status_show"))
        result = res.json["result"]
        assert result["ckan_version"] == "2.12.0"
        assert "servicespublics" in result["extensions"]
        assert "servicespublics_search" in result["extensions"]

    def test_home_page_in_french(self, app):
        factories.Dataset(title="Liste des mairies", owner_org=factories.Organization()["id"])
        res = app.get("/")
        assert res.status_code == 200
        body = res.get_data(as_text=True)
        assert '<html lang="fr"' in body
        assert "Les services publics dans les territoires" in body
        assert "Rechercher" in body
        assert 'name="q"' in body

    def test_home_page_in_english(self, app):
        res = app.get("/en/")
        body = res.get_data(as_text=True)
        assert "Public services in the territories" in body

    def test_create_organization_and_dataset_without_solr(self):
        context = {"user": factories.Sysadmin()["name"]}
        org = helpers.call_action("organization_create", context=dict(context),
                                  name="prefecture-35",
                                  title="Préfecture d'Ille-et-Vilaine")
        dataset = helpers.call_action("package_create", context=dict(context),
                                      name="gendarmeries-35",
                                      title="Gendarmeries d'Ille-et-Vilaine",
                                      owner_org=org["id"])
        found = helpers.call_action("package_search", q="gendarmeries")
        assert [d["id"] for d in found["results"]] == [dataset["id"]]
