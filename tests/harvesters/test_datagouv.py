"""The data.gouv.fr harvester, end to end: a udata API on loopback serving
recorded responses, gather/fetch/import through the Redis queues, datasets in
the database and the search index."""
from __future__ import annotations

import datetime
import json

import pytest
from freezegun import freeze_time

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from .conftest import (
    PLUGINS,
    PRESETS,
    SCHEMAS,
    SCHEMING_PLUGINS,
    harvested,
    schema_loaded,
    with_schema,
    without_schema,
)

SIRENE = "5b7ffc618b4c4169d30727e0"
DEFIB = "5c1bab838b4c415d323a5741"
FRANCE_SERVICES = "5f6b1b9e8c3c1b2a7d9e0a02"
CATALOGUE = "5d13a8b6634f41070a43dff3"
LYON = "65271c20a80b3f04010e71ff"
ANCT_ORG = "5f6b1b9e8c3c1b2a7d9e0a01"

RULES = [
    {"match": {"tags": ["france-services"]}, "service_types": ["france-services"],
     "domain": "accueil-proximite"},
    {"match": {"title": "d[ée]fibrillateur"}, "service_types": ["centre-secours"],
     "domain": "securite"},
]


def _config(udata, **extra):
    config = {"mapping_rules": RULES, "page_size": 5,
              "tabular_api_url": udata.base + "/tabular"}
    config.update(extra)
    return config


def _show(package_id):
    return helpers.call_action("package_show", {"ignore_auth": True}, id=package_id)


def _extras(dataset):
    return {e["key"]: e["value"] for e in dataset.get("extras", [])}


def _field(dataset, name):
    """A custom field, as a schema field (scheming) or an extra."""
    if name in dataset:
        return dataset[name]
    value = _extras(dataset).get(name)
    if value is not None and value.startswith("["):
        return json.loads(value)
    return value


def _json(value):
    """A JSON field: text without the schema, decoded with it."""
    return json.loads(value) if isinstance(value, str) else value


def _modified(source_id):
    return {g: p.metadata_modified for g, p in harvested(source_id).items()}


class DataGouvScenarios:
    def test_first_run_maps_everything(self, udata, harvest):
        source = harvest.source(udata.base, "datagouv", _config(udata))
        result = harvest.run(source["id"])

        assert result["gather_errors"] == []
        assert result["object_errors"] == []
        assert result["status"] == {"added": 17}
        assert result["job"]["status"] == "Finished"
        datasets = harvested(source["id"])
        assert len(datasets) == 17

        # a real data.gouv.fr record (datagouv_client's dataset_metadata.json)
        catalogue = _show(datasets[CATALOGUE].id)
        assert catalogue["name"] == "catalogue-des-donnees-de-data-gouv-fr"
        assert catalogue["title"] == "Catalogue des données de data.gouv.fr"
        assert catalogue["license_id"] == "lov2"
        assert catalogue["url"] == (
            f"{udata.base}/fr/datasets/catalogue-des-donnees-de-data-gouv-fr/")
        assert _field(catalogue, "frequency") == "weekly"
        assert _field(catalogue, "harvest_remote_id") == CATALOGUE
        assert catalogue["type"] == "dataset"
        assert fs_type(datasets) == ("service-points" if schema_loaded() else "dataset")
        assert catalogue["owner_org"] == source["owner_org"]
        assert "**La liste des jeux de données publiés sur data.gouv.fr**" in catalogue["notes"]
        csv = catalogue["resources"][0]
        assert csv["format"] == "CSV"
        assert csv["size"] == 176653507
        assert csv["hash"] == "sha1:ac6f302f0f3fe34604fc65c6e24259f6a1874cb7"
        assert csv["last_modified"].startswith("2025-04-07T07:49:37")
        assert csv["harvest_remote_id"] == "f868cca6-8da1-4369-a78d-47463f19a9a3"
        assert "role" not in csv  # not a service-point dataset

        sirene = _show(datasets[SIRENE].id)
        assert _field(sirene, "temporal_start") == "1973-01-01"
        assert _field(sirene, "temporal_end") == "2023-12-31"
        assert _field(sirene, "frequency") == "monthly"
        assert {t["name"] for t in sirene["tags"]} >= {"entreprises", "etablissements"}

        lyon = _show(datasets[LYON].id)
        assert lyon["license_id"] == "odc-odbl"
        assert _field(lyon, "territory_level") == "epci"
        assert _field(lyon, "territory_codes") == ["200046977"]

        # service points: matched by the rules, point file recognised from the
        # tabular API's column profile, documentation kept as such
        fs = _show(datasets[FRANCE_SERVICES].id)
        assert _field(fs, "service_types") == ["france-services"]
        assert _field(fs, "domain") == "accueil-proximite"
        assert _field(fs, "territory_level") == "national"
        assert _field(fs, "contact_email") == "franceservices@anct.gouv.fr"
        roles = {r["name"]: r["role"] for r in fs["resources"]}
        assert roles == {"liste-fs-20240801.csv": "point_file", "Notice": "documentation"}
        defib = _show(datasets[DEFIB].id)
        assert _field(defib, "service_types") == ["centre-secours"]
        assert _field(defib, "territory_level") == "commune"
        assert _field(defib, "territory_codes") == ["35328"]
        # a CSV whose columns are unknown is not taken for a point file
        assert [r["role"] for r in defib["resources"]] == ["other"]

        # in the search index
        found = helpers.call_action("package_search", q="France services")
        assert fs["id"] in [d["id"] for d in found["results"]]

    def test_rerun_without_change_imports_nothing(self, udata, harvest):
        source = harvest.source(udata.base, "datagouv", _config(udata))
        harvest.run(source["id"])
        before = _modified(source["id"])
        requests_before = udata.requests_to(r"^/api/1/datasets/[^/?]+/")

        result = harvest.run(source["id"])
        assert result["objects"] == 0
        assert result["gather_errors"] == []
        assert result["job"]["status"] == "Finished"
        assert _modified(source["id"]) == before
        # no dataset was read again
        assert udata.requests_to(r"^/api/1/datasets/[^/?]+/") == requests_before

    def test_changes_are_imported_and_local_additions_kept(self, udata, harvest):
        source = harvest.source(udata.base, "datagouv", _config(udata))
        harvest.run(source["id"])
        datasets = harvested(source["id"])
        fs_id = datasets[FRANCE_SERVICES].id
        # local work on the harvested dataset: a resource added by hand, a
        # column mapping on the point file, an extra of our own
        fs = _show(fs_id)
        fs["resources"][0]["column_mapping"] = json.dumps({"latitude": "latitude"})
        fs["resources"].append({"name": "Carte locale", "url": "http://example.org/c.png",
                                "format": "PNG"})
        fs["extras"] = fs.get("extras", []) + [{"key": "note_locale", "value": "vérifié"}]
        helpers.call_action("package_update", {"user": harvest.user["name"]}, **fs)
        before = _modified(source["id"])

        changed = udata.by_id(FRANCE_SERVICES)
        changed["title"] = "Liste des structures France services (septembre)"
        changed["last_modified"] = "2024-09-01T09:00:00+00:00"
        changed["resources"][0]["title"] = "liste-fs-20240901.csv"
        renamed = udata.by_id(SIRENE)
        renamed["slug"] = "sirene-nouveau-nom"
        renamed["last_modified"] = "2025-06-01T00:00:00+00:00"
        new = json.loads(json.dumps(udata.by_id(DEFIB)))
        new.update(id="5c1bab838b4c415d323a5799", slug="defibrillateurs-de-rennes",
                   title="Défibrillateurs de Rennes")
        udata.datasets.append(new)

        result = harvest.run(source["id"])
        assert result["status"] == {"updated": 2, "added": 1}
        assert result["object_errors"] == []
        after = harvested(source["id"])
        assert len(after) == 18
        unchanged = [g for g in before if g not in (FRANCE_SERVICES, SIRENE)]
        assert all(after[g].metadata_modified == before[g] for g in unchanged)

        fs = _show(fs_id)
        assert fs["title"] == "Liste des structures France services (septembre)"
        assert fs["name"] == "liste-des-structures-france-services"
        point = next(r for r in fs["resources"] if r.get("harvest_remote_id"))
        assert point["name"] == "liste-fs-20240901.csv"
        assert point["role"] == "point_file"
        assert _json(point["column_mapping"]) == {"latitude": "latitude"}
        assert "Carte locale" in [r["name"] for r in fs["resources"]]
        assert _extras(fs)["note_locale"] == "vérifié"
        # a remote rename keeps the local name
        sirene = _show(after[SIRENE].id)
        assert sirene["name"] == (
            "base-sirene-des-entreprises-et-de-leurs-etablissements-siren-siret")
        assert _field(sirene, "harvest_remote_name") == "sirene-nouveau-nom"

    def test_removed_dataset_withdrawn_after_grace_period(self, udata, harvest):
        start = datetime.datetime(2026, 3, 1, 8, 0)
        with freeze_time(start):
            source = harvest.source(udata.base, "datagouv",
                                    _config(udata, grace_period_days=7))
            harvest.run(source["id"])
        removed = udata.by_id(LYON)
        udata.datasets.remove(removed)
        lyon_id = harvested(source["id"])[LYON].id

        with freeze_time(start + datetime.timedelta(days=1)):
            result = harvest.run(source["id"])
        assert result["objects"] == 0
        assert model.Package.get(lyon_id).state == "active"
        with freeze_time(start + datetime.timedelta(days=6)):
            harvest.run(source["id"])
        assert model.Package.get(lyon_id).state == "active"
        # past the grace period, but the gather fails: nothing withdrawn
        udata.fault(r"^/api/1/datasets/$", "status", arg=503)
        with freeze_time(start + datetime.timedelta(days=9)):
            result = harvest.run(source["id"])
        assert any("Incomplete listing" in e for e in result["gather_errors"])
        assert model.Package.get(lyon_id).state == "active"
        udata.clear_faults()
        with freeze_time(start + datetime.timedelta(days=9)):
            result = harvest.run(source["id"])
        assert result["status"] == {"deleted": 1}
        assert model.Package.get(lyon_id).state == "deleted"
        assert len(harvested(source["id"], state="active")) == 16

        # it comes back: the same dataset is restored
        udata.datasets.append(removed)
        with freeze_time(start + datetime.timedelta(days=10)):
            result = harvest.run(source["id"])
        assert result["status"] == {"updated": 1}
        assert model.Package.get(lyon_id).state == "active"
        assert len(harvested(source["id"])) == 17

    def test_dataset_back_within_grace_period_is_kept(self, udata, harvest):
        start = datetime.datetime(2026, 3, 1, 8, 0)
        with freeze_time(start):
            source = harvest.source(udata.base, "datagouv", _config(udata))
            harvest.run(source["id"])
        removed = udata.by_id(LYON)
        udata.datasets.remove(removed)
        with freeze_time(start + datetime.timedelta(days=5)):
            harvest.run(source["id"])
        udata.datasets.append(removed)
        with freeze_time(start + datetime.timedelta(days=6)):
            harvest.run(source["id"])
        udata.datasets.remove(removed)
        # missing again: the grace period starts over
        with freeze_time(start + datetime.timedelta(days=10)):
            result = harvest.run(source["id"])
        assert result["objects"] == 0
        assert harvested(source["id"])[LYON].state == "active"

    def test_empty_catalogue_withdraws_nothing(self, udata, harvest):
        start = datetime.datetime(2026, 3, 1, 8, 0)
        with freeze_time(start):
            source = harvest.source(udata.base, "datagouv", _config(udata,
                                                                    grace_period_days=0))
            harvest.run(source["id"])
        udata.datasets.clear()
        with freeze_time(start + datetime.timedelta(days=30)):
            result = harvest.run(source["id"])
        assert any("listed no dataset" in e for e in result["gather_errors"])
        assert len(harvested(source["id"], state="active")) == 17

    def test_force_all_reimports(self, udata, harvest):
        source = harvest.source(udata.base, "datagouv", _config(udata))
        harvest.run(source["id"])
        helpers.call_action("harvest_source_patch", harvest.context(), id=source["id"],
                            config=json.dumps(_config(udata, force_all=True)))
        result = harvest.run(source["id"])
        assert result["status"] == {"updated": 17}

    def test_filters_and_remote_organisations(self, udata, harvest):
        config = _config(udata, organizations=["agence-nationale-de-la-cohesion-des-territoires"],
                         remote_organizations=True, organization_prefix="dg-")
        source = harvest.source(udata.base, "datagouv", config)
        result = harvest.run(source["id"])
        assert result["status"] == {"added": 1}
        fs = _show(harvested(source["id"])[FRANCE_SERVICES].id)
        org = helpers.call_action("organization_show", id=fs["owner_org"])
        assert org["name"] == "dg-agence-nationale-de-la-cohesion-des-territoires"
        assert org["title"] == "Agence nationale de la cohésion des territoires"
        # the organisation was resolved from its slug to its id
        assert udata.requests_to(f"organization={ANCT_ORG}") >= 1

        tagged = harvest.source(udata.base + "/", "datagouv",
                                _config(udata, tags=["escargots"]), name="tagged")
        result = harvest.run(tagged["id"])
        assert result["status"] == {"added": 1}


@without_schema
class TestDataGouvHarvest(DataGouvScenarios):
    pass


@with_schema
class TestDataGouvHarvestWithSchema(DataGouvScenarios):
    pass


def fs_type(datasets):
    return model.Package.get(datasets[FRANCE_SERVICES].id).type


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.ckan_config("ckanext.servicespublics.harvest.retries", 2)
@pytest.mark.ckan_config("ckanext.servicespublics.harvest.backoff", 0.01)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index", "clean_queues")
class TestDataGouvFailures:
    """Each remote problem becomes a gather or object error; the run ends;
    the datasets that were fine stay as they were."""

    def _harvested_once(self, udata, harvest, **config):
        source = harvest.source(udata.base, "datagouv", _config(udata, **config))
        first = harvest.run(source["id"])
        assert first["status"] == {"added": 17}
        return source, _modified(source["id"])

    def _touch_all(self, udata):
        for d in udata.datasets:
            d["last_modified"] = "2026-01-01T00:00:00+00:00"
            d["title"] = d["title"] + " (modifié)"

    def test_server_down_loses_nothing(self, udata, harvest):
        source, before = self._harvested_once(udata, harvest, grace_period_days=0)
        self._touch_all(udata)
        udata.fault(r".*", "status", arg=500)
        result = harvest.run(source["id"])
        assert result["objects"] == 0
        assert any("HTTP 500" in e and "gave up after 3 attempt(s)" in e
                   for e in result["gather_errors"])
        assert result["job"]["status"] == "Finished"
        assert _modified(source["id"]) == before
        assert len(harvested(source["id"], state="active")) == 17

    def test_transient_errors_are_retried(self, udata, harvest):
        source, before = self._harvested_once(udata, harvest)
        self._touch_all(udata)
        udata.fault(r"^/api/1/datasets/$", "status", times=1, arg=502)
        udata.fault(r"^/api/1/datasets/$", "truncate", times=1, query="page=2")
        udata.fault(r"^/api/1/datasets/$", "html", times=1, query="page=3")
        udata.fault(rf"^/api/1/datasets/{SIRENE}/$", "status", times=2, arg=503)
        result = harvest.run(source["id"])
        assert result["gather_errors"] == []
        assert result["object_errors"] == []
        assert result["status"] == {"updated": 17}

    def test_persistent_failures_become_errors(self, udata, harvest):
        source, before = self._harvested_once(udata, harvest, grace_period_days=0)
        self._touch_all(udata)
        # the detail of one dataset fails for good, another one is cut short
        udata.fault(rf"^/api/1/datasets/{SIRENE}/$", "status", arg=500)
        udata.fault(rf"^/api/1/datasets/{LYON}/$", "truncate")
        udata.fault(rf"^/api/1/datasets/{DEFIB}/$", "html")
        result = harvest.run(source["id"])
        assert result["status"] == {"updated": 14, "errored": 3}
        errors = " | ".join(result["object_errors"])
        assert f"Could not fetch remote dataset {SIRENE}: HTTP 500" in errors
        assert "Truncated JSON" in errors
        assert "HTML page instead of JSON" in errors
        after = harvested(source["id"])
        for guid in (SIRENE, LYON, DEFIB):
            assert after[guid].metadata_modified == before[guid]
            assert after[guid].state == "active"
            assert not after[guid].title.endswith("(modifié)")

    def test_truncated_listing_is_incomplete(self, udata, harvest):
        source, before = self._harvested_once(udata, harvest, grace_period_days=0)
        udata.datasets.remove(udata.by_id(LYON))
        udata.fault(r"^/api/1/datasets/$", "truncate", query="page=3")
        result = harvest.run(source["id"])
        errors = " | ".join(result["gather_errors"])
        assert "Truncated JSON" in errors and "Incomplete listing" in errors
        assert harvested(source["id"])[LYON].state == "active"

    @pytest.mark.ckan_config("ckanext.servicespublics.harvest.timeout", 0.3)
    def test_timeouts(self, udata, harvest):
        source, before = self._harvested_once(udata, harvest)
        self._touch_all(udata)
        udata.fault(rf"^/api/1/datasets/{SIRENE}/$", "sleep", arg=0.5)
        result = harvest.run(source["id"])
        assert result["status"] == {"updated": 16, "errored": 1}
        assert any("Timeout after 0.3s" in e for e in result["object_errors"])
        assert harvested(source["id"])[SIRENE].metadata_modified == before[SIRENE]

    def test_looping_and_repeated_pages(self, udata, harvest):
        source, before = self._harvested_once(udata, harvest, grace_period_days=0)
        udata.datasets.remove(udata.by_id(LYON))
        udata.fault(r"^/api/1/datasets/$", "loop", query="page=2")
        result = harvest.run(source["id"])
        assert any("Pagination loop" in e for e in result["gather_errors"])
        assert harvested(source["id"])[LYON].state == "active"
        udata.clear_faults()
        udata.fault(r"^/api/1/datasets/$", "repeat", query="page=3")
        result = harvest.run(source["id"])
        assert any("repeats an earlier page" in e for e in result["gather_errors"])
        assert harvested(source["id"])[LYON].state == "active"
        assert _modified(source["id"]) == before

    def test_local_deletion_is_respected(self, udata, harvest):
        source, before = self._harvested_once(udata, harvest)
        lyon = harvested(source["id"])[LYON]
        helpers.call_action("package_delete", {"user": harvest.user["name"]}, id=lyon.id)
        self._touch_all(udata)
        result = harvest.run(source["id"])
        assert result["status"] == {"updated": 16}
        assert model.Package.get(lyon.id).state == "deleted"

    def test_api_key_and_user_agent_are_sent(self, udata, harvest):
        source = harvest.source(udata.base, "datagouv", _config(udata, api_key="secret"))
        harvest.run(source["id"])
        assert udata.headers and all(h.get("X-Api-Key") == "secret" for h in udata.headers)
        assert all(h.get("User-Agent") == "ckanext-servicespublics harvester"
                   for h in udata.headers)
        # the listing asks only for ids and dates; each dataset is read on its own
        assert udata.headers[0]["X-Fields"].startswith("data{id,slug,last_modified")

    def test_history_cleared_datasets_are_adopted(self, udata, harvest):
        """After ``ckan harvester source clear-history`` (harvest objects gone,
        datasets kept), the next run finds the datasets by their remote id
        instead of creating duplicates."""
        source, before = self._harvested_once(udata, harvest)
        ids = {g: p.id for g, p in harvested(source["id"]).items()}
        helpers.call_action("harvest_source_job_history_clear", harvest.context(),
                            id=source["id"])
        assert harvested(source["id"]) == {}
        result = harvest.run(source["id"])
        assert result["object_errors"] == []
        assert {g: p.id for g, p in harvested(source["id"]).items()} == ids
        assert model.Session.query(model.Package).filter(
            model.Package.type == "dataset").count() == 17

    def test_duplicate_remote_ids(self, udata, harvest):
        source = harvest.source(udata.base, "datagouv", _config(udata))
        udata.fault(r"^/api/1/datasets/$", "duplicate", query="page=2")
        result = harvest.run(source["id"])
        assert any("is listed more than once" in e for e in result["gather_errors"])
        assert result["status"] == {"added": 17}
        assert len(harvested(source["id"])) == 17

    @pytest.mark.ckan_config("ckanext.servicespublics.harvest.max_response_mb", 0.2)
    def test_oversized_response(self, udata, harvest):
        source, before = self._harvested_once(udata, harvest, page_size=2)
        self._touch_all(udata)
        udata.fault(rf"^/api/1/datasets/{SIRENE}/$", "huge", arg=300_000)
        result = harvest.run(source["id"])
        assert any("Response too large" in e for e in result["object_errors"])
        assert result["status"]["errored"] == 1
        assert harvested(source["id"])[SIRENE].metadata_modified == before[SIRENE]

    def test_unexpected_field_types(self, udata, harvest):
        source = harvest.source(udata.base, "datagouv", _config(udata))
        udata.fault(rf"^/api/1/datasets/{SIRENE}/$", "badtypes")
        result = harvest.run(source["id"])
        assert result["status"] == {"added": 17}
        warnings = [e for e in result["object_errors"] if e.startswith("Warning")]
        assert any("ignored field temporal_coverage" in w for w in warnings)
        assert any("skipped resource" in w for w in warnings)
        sirene = _show(harvested(source["id"])[SIRENE].id)
        assert sirene["resources"][0].get("size") is None
        assert {t["name"] for t in sirene["tags"]} == {"pas-une-liste"}


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestDataGouvConfig:
    """Clear errors when a source is saved (in the site's language: the
    messages go through the translation catalogue)."""

    @pytest.mark.parametrize("config, template, values", [
        ("{", "the configuration is not valid JSON ({error})",
         {"error": "Expecting property name enclosed in double quotes: line 1 column 2 "
                   "(char 1)"}),
        ("[]", "the configuration must be a JSON object, e.g. {example}",
         {"example": '{"grace_period_days": 7}'}),
        ('{"grace_period": 3}', "unknown option(s): {names} (allowed: {allowed})",
         {"names": "grace_period", "allowed": "allow_empty, api_key, default_organization, "
          "fetch_details, force_all, grace_period_days, keep_local_fields, mapping_rules, "
          "organization_prefix, organizations, page_size, query, remote_organizations, "
          "tabular_api_url, tags"}),
        ('{"grace_period_days": -1}', "{name} must be a number of days, 0 or more "
         "(got {value})", {"name": "grace_period_days", "value": "-1"}),
        ('{"page_size": 5000}', "{name} must be a whole number from {low} to {high} "
         "(got {value})", {"name": "page_size", "low": 1, "high": 1000, "value": "5000"}),
        ('{"mapping_rules": [{"match": {"tags": ["a"]}, "domain": "securite"}]}',
         "{where}.service_types must be a non-empty list of service-type codes such as "
         "{example}", {"where": "mapping_rules[1]",
                       "example": '["gendarmerie", "france-services"]'}),
        ('{"mapping_rules": [{"match": {"tags": ["a"]}, "domain": "police", '
         '"service_types": ["gendarmerie"]}]}',
         "{name} must be one of: {choices} (got {value})",
         {"name": "mapping_rules[1].domain", "value": "'police'",
          "choices": "securite, justice, sante-social, education-culture-sport, "
                     "emploi-travail, finances-publiques, services-deconcentres, "
                     "accueil-proximite, interet-general"}),
        ('{"mapping_rules": [{"match": {"title": "("}, "service_types": ["ecole"], '
         '"domain": "education-culture-sport"}]}',
         "{name} is not a valid regular expression: {error}",
         {"name": "mapping_rules[1].match.title",
          "error": "missing ), unterminated subpattern at position 0"}),
        ('{"default_organization": "nowhere"}', "default_organization {name} does not exist: "
         "create the organisation first, or use remote_organizations", {"name": "'nowhere'"}),
    ])
    def test_validate_config(self, config, template, values):
        org = factories.Organization()
        user = factories.Sysadmin()
        with pytest.raises(tk.ValidationError) as e:
            helpers.call_action(
                "harvest_source_create", {"user": user["name"]}, name="src",
                title="Source", url="http://127.0.0.1:9/", source_type="datagouv",
                owner_org=org["id"], config=config)
        assert tk._(template).format(**values) in e.value.error_dict["config"][0]

    def test_a_single_string_is_a_list(self):
        user = factories.Sysadmin()
        source = helpers.call_action(
            "harvest_source_create", {"user": user["name"]}, name="src", title="Source",
            url="http://127.0.0.1:9/", source_type="datagouv",
            owner_org=factories.Organization()["id"],
            config='{"organizations": "anct", "grace_period_days": 0.5}')
        assert json.loads(source["config"])["organizations"] == "anct"


@pytest.mark.ckan_config("ckan.plugins", SCHEMING_PLUGINS)
@pytest.mark.ckan_config("scheming.dataset_schemas", SCHEMAS)
@pytest.mark.ckan_config("scheming.presets", PRESETS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestConfigWithSchema:
    def test_service_types_checked_against_the_vocabulary(self):
        user = factories.Sysadmin()
        rules = [{"match": {"tags": ["dae"]}, "service_types": ["defibrillateur"],
                  "domain": "sante-social"}]
        with pytest.raises(tk.ValidationError) as e:
            helpers.call_action(
                "harvest_source_create", {"user": user["name"]}, name="src",
                title="Source", url="http://127.0.0.1:9/", source_type="datagouv",
                owner_org=factories.Organization()["id"],
                config=json.dumps({"mapping_rules": rules}))
        from ckanext.servicespublics.dataset import vocabulary

        known = ", ".join(sorted(vocabulary.codes("service_types")))
        assert tk._("{where}.service_types: unknown code(s) {codes} (known: {known})").format(
            where="mapping_rules[1]", codes="defibrillateur", known=known) in (
            e.value.error_dict["config"][0])
