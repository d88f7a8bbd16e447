"""The OpenDataSoft harvester, end to end: an Explore API v2.1 on loopback
serving recorded responses, gather/fetch/import through the Redis queues,
datasets in the database and the search index."""
from __future__ import annotations

import datetime
import json

import pytest
from freezegun import freeze_time

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from .conftest import PLUGINS, harvested, schema_loaded, with_schema, without_schema
from .test_datagouv import _field, _json, _modified, _show

EDUCATION = "da_xmrfc7"
WORLD = "da_6kvv9v"
GEONAMES = "da_5m8ykr"
TEST_A = "da_testa"
ATTACHMENTS = "da_withat"
API = "/api/explore/v2.1"

RULES = [{"match": {"themes": ["Education"]}, "service_types": ["ecole", "college", "lycee"],
          "domain": "education-culture-sport"}]


def _config(**extra):
    config = {"mapping_rules": RULES, "page_size": 3}
    config.update(extra)
    return config


class OpenDataSoftScenarios:
    def test_first_run_maps_everything(self, ods, harvest):
        source = harvest.source(ods.base, "opendatasoft", _config())
        result = harvest.run(source["id"])
        assert result["gather_errors"] == []
        assert result["object_errors"] == []
        assert result["status"] == {"added": 8}
        datasets = harvested(source["id"])
        assert len(datasets) == 8
        # the catalogue was paged with limit/offset on a stable order
        assert ods.requests_to(r"order_by=dataset_id") == 3

        edu = _show(datasets[EDUCATION].id)
        assert edu["name"] == "fr-en-annuaire-education"
        assert edu["type"] == ("service-points" if schema_loaded() else "dataset")
        assert edu["title"] == "Annuaire de l'éducation"
        assert edu["license_id"] == "lov2"
        assert edu["url"] == f"{ods.base}/explore/dataset/fr-en-annuaire-education/"
        # HTML description turned into Markdown
        assert edu["notes"].startswith(
            "Ce jeu de données recense les **écoles, collèges et lycées** publics")
        assert "- source : ministère de l'Éducation nationale" in edu["notes"]
        assert "<p>" not in edu["notes"]
        assert {t["name"] for t in edu["tags"]} == {
            "école", "collège", "lycée", "établissement scolaire", "Education"}
        assert _field(edu, "frequency") == "daily"
        assert _field(edu, "territory_level") == "national"
        assert _field(edu, "service_types") == ["ecole", "college", "lycee"]
        assert _field(edu, "domain") == "education-culture-sport"
        assert _field(edu, "contact_email") == "depp.dem@education.gouv.fr"
        assert _field(edu, "harvest_remote_id") == EDUCATION
        exports = {r["format"]: r for r in edu["resources"]}
        assert set(exports) == {"CSV", "GeoJSON", "JSON"}
        assert exports["GeoJSON"]["url"] == (
            f"{ods.base}{API}/catalog/datasets/fr-en-annuaire-education/exports/geojson")
        assert exports["GeoJSON"]["role"] == "point_file"
        assert exports["CSV"]["role"] == "other"
        assert exports["CSV"]["last_modified"].startswith("2023-06-16T03:12:00")

        world = _show(datasets[WORLD].id)
        assert world["license_id"] == "other-open"  # Open Government Licence v3.0
        assert world["type"] == "dataset"
        assert "role" not in world["resources"][0]
        test_a = _show(datasets[TEST_A].id)
        assert test_a["license_id"] == "lov2"  # Licence Ouverte (Etalab)
        assert [r["format"] for r in test_a["resources"]] == ["CSV", "JSON"]  # no geo
        geonames = _show(datasets[GEONAMES].id)
        attachment = geonames["resources"][-1]
        assert attachment["name"] == "cities1000.zip"
        assert attachment["format"] == "ZIP"
        assert attachment["url"].endswith(
            "/catalog/datasets/geonames-all-cities-with-a-population-1000/attachments/"
            "cities1000_zip")
        docs = _show(datasets[ATTACHMENTS].id)
        assert [r["format"] for r in docs["resources"]] == ["PDF"]  # no records, no export

        found = helpers.call_action("package_search", q="éducation écoles")
        assert edu["id"] in [d["id"] for d in found["results"]]

    def test_rerun_without_change_imports_nothing(self, ods, harvest):
        source = harvest.source(ods.base, "opendatasoft", _config())
        harvest.run(source["id"])
        before = _modified(source["id"])
        result = harvest.run(source["id"])
        assert result["objects"] == 0
        assert result["gather_errors"] == []
        assert _modified(source["id"]) == before

    def test_changes_and_slug_rename(self, ods, harvest):
        source = harvest.source(ods.base, "opendatasoft", _config())
        harvest.run(source["id"])
        before = harvested(source["id"])
        edu_id = before[EDUCATION].id
        edu = _show(edu_id)
        point = next(r for r in edu["resources"] if r["format"] == "GeoJSON")
        point["column_mapping"] = json.dumps({"name": "nom_etablissement"})
        helpers.call_action("package_update", {"user": harvest.user["name"]}, **edu)
        modified = _modified(source["id"])

        # the portal renames the dataset (same dataset_uid) and updates it
        remote = ods.by_id(EDUCATION)
        remote["dataset_id"] = "fr-en-annuaire-education-v2"
        remote["metas"]["default"]["modified"] = "2024-01-10T00:00:00+00:00"
        remote["metas"]["default"]["title"] = "Annuaire de l'éducation nationale"
        # data only: data_processed moves
        ods.by_id(TEST_A)["metas"]["default"]["data_processed"] = "2024-02-01T00:00:00+00:00"
        result = harvest.run(source["id"])
        assert result["status"] == {"updated": 2}
        after = harvested(source["id"])
        assert len(after) == 8  # no duplicate for the renamed dataset
        assert after[EDUCATION].id == edu_id
        edu = _show(edu_id)
        assert edu["name"] == "fr-en-annuaire-education"
        assert edu["title"] == "Annuaire de l'éducation nationale"
        assert _field(edu, "harvest_remote_name") == "fr-en-annuaire-education-v2"
        point = next(r for r in edu["resources"] if r["format"] == "GeoJSON")
        assert point["url"].endswith("/fr-en-annuaire-education-v2/exports/geojson")
        assert point["id"] == next(r for r in _show(edu_id)["resources"]
                                   if r["format"] == "GeoJSON")["id"]
        assert _json(point["column_mapping"]) == {"name": "nom_etablissement"}
        assert _show(after[TEST_A].id)["resources"][0]["last_modified"].startswith(
            "2024-02-01")
        for guid in set(modified) - {EDUCATION, TEST_A}:
            assert after[guid].metadata_modified == modified[guid]

    def test_removed_dataset_withdrawn_after_grace_period(self, ods, harvest):
        start = datetime.datetime(2026, 5, 1, 6, 0)
        with freeze_time(start):
            source = harvest.source(ods.base, "opendatasoft", _config(grace_period_days=3))
            harvest.run(source["id"])
        gone = ods.by_id(WORLD)
        ods.datasets.remove(gone)
        world_id = harvested(source["id"])[WORLD].id
        with freeze_time(start + datetime.timedelta(days=1)):
            assert harvest.run(source["id"])["objects"] == 0
        assert model.Package.get(world_id).state == "active"
        ods.fault(rf"^{API}/catalog/datasets$", "truncate", query="offset=3")
        with freeze_time(start + datetime.timedelta(days=5)):
            result = harvest.run(source["id"])
        assert any("Truncated JSON" in e for e in result["gather_errors"])
        assert model.Package.get(world_id).state == "active"
        ods.clear_faults()
        with freeze_time(start + datetime.timedelta(days=5)):
            result = harvest.run(source["id"])
        assert result["status"] == {"deleted": 1}
        assert model.Package.get(world_id).state == "deleted"
        assert len(harvested(source["id"], state="active")) == 7

    def test_large_catalogue_beats_the_offset_cap(self, ods, harvest, monkeypatch):
        from ckanext.servicespublics.harvesters import opendatasoft

        from .portals import clone

        templates = list(ods.datasets)
        for i in range(40):
            d = clone(templates[i % len(templates)], i, "ods")
            # some share a modification date, some have none
            d["metas"]["default"]["modified"] = f"2024-01-{1 + i % 9:02d}T00:00:00+00:00"
            if i % 13 == 0:
                d["metas"]["default"]["modified"] = None
            ods.datasets.append(d)
        ods.cap = 30
        monkeypatch.setattr(opendatasoft, "OFFSET_CAP", 30)
        source = harvest.source(ods.base, "opendatasoft", _config(page_size=10))
        result = harvest.run(source["id"])
        assert result["gather_errors"] == []
        assert result["status"] == {"added": 48}
        assert ods.requests_to(r"modified\+%3E%3D\+date") > 0
        assert ods.requests_to(r"modified\+is\+null") == 1

    def test_catalogue_export(self, ods, harvest):
        source = harvest.source(ods.base, "opendatasoft", _config(pagination="export"))
        result = harvest.run(source["id"])
        assert result["status"] == {"added": 8}
        assert ods.requests_to(rf"^{API}/catalog/exports/json") == 1
        assert ods.requests_to(rf"^{API}/catalog/datasets\?") == 0

    def test_filters(self, ods, harvest):
        source = harvest.source(ods.base, "opendatasoft",
                                _config(themes=["Education", "Culture, Heritage"]))
        result = harvest.run(source["id"])
        assert result["status"] == {"added": 2}
        assert set(harvested(source["id"])) == {EDUCATION, TEST_A}
        other = harvest.source(ods.base + "/", "opendatasoft",
                               _config(where='dataset_id = "test-b"', keywords=["keyword1"],
                                       default_organization=factories.Organization(
                                           name="producteur")["name"]),
                               name="other")
        result = harvest.run(other["id"])
        assert result["status"] == {"added": 1}
        (package,) = harvested(other["id"]).values()
        assert package.owner_org == model.Group.get("producteur").id

    def test_remote_organisations_from_publishers(self, ods, harvest):
        source = harvest.source(ods.base, "opendatasoft",
                                _config(remote_organizations=True))
        harvest.run(source["id"])
        edu = _show(harvested(source["id"])[EDUCATION].id)
        org = helpers.call_action("organization_show", id=edu["owner_org"])
        assert org["name"] == "ministere-de-leducation-nationale"
        assert org["title"] == "Ministère de l'Éducation nationale"
        # no publisher: the harvest source's organisation
        assert _show(harvested(source["id"])[GEONAMES].id)["owner_org"] == source["owner_org"]


@without_schema
class TestOpenDataSoftHarvest(OpenDataSoftScenarios):
    pass


@with_schema
class TestOpenDataSoftHarvestWithSchema(OpenDataSoftScenarios):
    pass


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.ckan_config("ckanext.servicespublics.harvest.retries", 2)
@pytest.mark.ckan_config("ckanext.servicespublics.harvest.backoff", 0.01)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index", "clean_queues")
class TestOpenDataSoftFailures:
    def _harvested_once(self, ods, harvest, **config):
        source = harvest.source(ods.base, "opendatasoft", _config(**config))
        assert harvest.run(source["id"])["status"] == {"added": 8}
        return source, _modified(source["id"])

    def _touch_all(self, ods):
        for d in ods.datasets:
            d["metas"]["default"]["modified"] = "2026-01-01T00:00:00+00:00"
            d["metas"]["default"]["title"] = "Modifié"

    def test_failing_server_loses_nothing(self, ods, harvest):
        source, before = self._harvested_once(ods, harvest, grace_period_days=0)
        self._touch_all(ods)
        ods.datasets.pop()
        ods.fault(r".*", "status", arg=503)
        result = harvest.run(source["id"])
        assert result["objects"] == 0
        assert any("HTTP 503" in e for e in result["gather_errors"])
        assert _modified(source["id"]) == before
        assert len(harvested(source["id"], state="active")) == 8

    def test_transient_errors_are_retried(self, ods, harvest):
        source, before = self._harvested_once(ods, harvest)
        self._touch_all(ods)
        ods.fault(rf"^{API}/catalog/datasets$", "status", times=2, arg=500)
        ods.fault(rf"^{API}/catalog/datasets$", "html", times=1, query="offset=3")
        ods.fault(rf"^{API}/catalog/datasets$", "garbage", times=1, query="offset=6")
        result = harvest.run(source["id"])
        assert result["gather_errors"] == []
        assert result["status"] == {"updated": 8}

    def test_repeated_page_and_duplicates(self, ods, harvest):
        source, before = self._harvested_once(ods, harvest, grace_period_days=0)
        ods.datasets.remove(ods.by_id(WORLD))
        ods.fault(rf"^{API}/catalog/datasets$", "repeat", query="offset=6")
        result = harvest.run(source["id"])
        assert any("repeats an earlier page" in e for e in result["gather_errors"])
        assert harvested(source["id"])[WORLD].state == "active"
        ods.clear_faults()
        ods.fault(rf"^{API}/catalog/datasets$", "duplicate", query="offset=3")
        result = harvest.run(source["id"])
        assert any("listed more than once" in e for e in result["gather_errors"])
        # the duplicate does not make the listing incomplete: the removal counts
        assert result["status"] == {"deleted": 1}

    @pytest.mark.ckan_config("ckanext.servicespublics.harvest.timeout", 0.3)
    def test_timeout(self, ods, harvest):
        source, before = self._harvested_once(ods, harvest)
        ods.fault(rf"^{API}/catalog/datasets$", "sleep", arg=0.5, query="offset=3")
        result = harvest.run(source["id"])
        assert any("Timeout after 0.3s" in e for e in result["gather_errors"])
        assert _modified(source["id"]) == before

    @pytest.mark.ckan_config("ckanext.servicespublics.harvest.max_response_mb", 0.05)
    def test_oversized_page(self, ods, harvest):
        source = harvest.source(ods.base, "opendatasoft", _config())
        ods.fault(rf"^{API}/catalog/datasets$", "huge", arg=80_000, query="offset=3")
        result = harvest.run(source["id"])
        assert any("Response too large" in e for e in result["gather_errors"])
        assert result["objects"] == 3  # the first page was fine

    def test_api_key_is_sent(self, ods, harvest):
        source = harvest.source(ods.base, "opendatasoft", _config(api_key="cle"))
        harvest.run(source["id"])
        assert ods.headers and all(h.get("Authorization") == "Apikey cle"
                                   for h in ods.headers)

    def test_unexpected_field_types(self, ods, harvest):
        source = harvest.source(ods.base, "opendatasoft", _config())
        ods.fault(rf"^{API}/catalog/datasets$", "badtypes", query="offset=0")
        result = harvest.run(source["id"])
        assert result["status"] == {"added": 8}
        warnings = " | ".join(result["object_errors"])
        assert "ignored field metas.default.keyword" in warnings
        assert "ignored field attachments" in warnings


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestOpenDataSoftConfig:
    @pytest.mark.parametrize("config, template, values", [
        ('{"pagination": "cursor"}', "{name} must be one of: {choices} (got {value})",
         {"name": "pagination", "choices": "auto, export", "value": "'cursor'"}),
        ('{"page_size": 500}', "{name} must be a whole number from {low} to {high} "
         "(got {value})", {"name": "page_size", "low": 1, "high": 100, "value": "500"}),
        ('{"themes": [1]}', "{name} must be a list of strings (got {value})",
         {"name": "themes", "value": "[1]"}),
        ('{"mapping_rules": {"a": 1}}', "mapping_rules must be a list of rules", {}),
        ('{"mapping_rules": [{"match": {"color": ["x"]}, "domain": "justice"}]}',
         "{where}: unknown key(s) {names} (allowed: {allowed})",
         {"where": "mapping_rules[1].match", "names": "color",
          "allowed": "any, ids, keywords, organizations, tags, themes, title"}),
        ('{"force_all": "yes"}', "{name} must be true or false (got {value})",
         {"name": "force_all", "value": "'yes'"}),
    ])
    def test_validate_config(self, config, template, values):
        user = factories.Sysadmin()
        with pytest.raises(tk.ValidationError) as e:
            helpers.call_action(
                "harvest_source_create", {"user": user["name"]}, name="ods",
                title="ODS", url="http://127.0.0.1:9/", source_type="opendatasoft",
                owner_org=factories.Organization()["id"], config=config)
        assert tk._(template).format(**values) in e.value.error_dict["config"][0]

    def test_valid_config_is_saved(self):
        user = factories.Sysadmin()
        config = json.dumps({"where": "records_count > 0", "themes": ["Education"],
                             "grace_period_days": 14, "mapping_rules": RULES})
        source = helpers.call_action(
            "harvest_source_create", {"user": user["name"]}, name="ods", title="ODS",
            url="http://127.0.0.1:9/", source_type="opendatasoft",
            owner_org=factories.Organization()["id"], config=config)
        assert json.loads(source["config"])["grace_period_days"] == 14
