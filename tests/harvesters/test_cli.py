"""``ckan servicespublics harvest sources-sync|run-once``."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import ckan.model as model
from ckan.tests import helpers

from .conftest import PLUGINS, harvested
from .portals import ROOT


def ckan_servicespublics(*args):
    """``ckan servicespublics ARGS``: the base plugin's group, to which the
    harvesters attach ``harvest``. Run in this process, with the plugins of
    the test (the ``ckan`` entry point would reload those of the ini file)."""
    from ckanext.servicespublics.cli import servicespublics

    return CliRunner().invoke(servicespublics, list(args))


def _write(directory, name, data):
    (directory / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False))


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index", "clean_queues")
class TestHarvestCommands:
    def test_help(self):
        result = ckan_servicespublics("harvest", "--help")
        assert result.exit_code == 0, result.output
        assert "sources-sync" in result.output and "run-once" in result.output

    def test_shipped_definitions_are_valid(self):
        result = ckan_servicespublics("harvest", "sources-sync",
                                    str(ROOT / "harvesters" / "sources"))
        assert result.exit_code == 0, result.output
        assert "4 created, 0 updated, 0 unchanged, 0 failed" in result.output
        source = helpers.call_action("harvest_source_show", id="education-annuaire")
        assert source["source_type"] == "opendatasoft"
        assert source["url"] == "https://data.education.gouv.fr"
        assert json.loads(source["config"])["grace_period_days"] == 7
        org = helpers.call_action("organization_show", id=source["owner_org"])
        assert org["name"] == "education-nationale"
        # a second sync changes nothing
        result = ckan_servicespublics("harvest", "sources-sync",
                                    str(ROOT / "harvesters" / "sources"))
        assert "0 created, 0 updated, 4 unchanged, 0 failed" in result.output

    def test_sync_updates_and_reports_bad_files(self, tmp_path, udata):
        definition = {"name": "portail", "title": "Portail", "type": "datagouv",
                      "url": udata.base, "organization": "producteur",
                      "config": {"page_size": 10}}
        _write(tmp_path, "portail", definition)
        result = ckan_servicespublics("harvest", "sources-sync",
                                    str(tmp_path))
        assert result.exit_code == 0, result.output
        assert "created organisation producteur" in result.output
        definition["config"]["grace_period_days"] = 3
        definition["title"] = "Portail renommé"
        _write(tmp_path, "portail", definition)
        _write(tmp_path, "mauvais", dict(definition, name="mauvais",
                                         config={"grace_period_days": "trois"}))
        (tmp_path / "casse.json").write_text("{")
        result = ckan_servicespublics("harvest", "sources-sync",
                                    str(tmp_path))
        assert result.exit_code == 1
        assert "0 created, 1 updated, 0 unchanged, 2 failed" in result.output
        assert "casse.json: not valid JSON" in result.output
        assert "grace_period_days must be a number of days" in result.output
        source = helpers.call_action("harvest_source_show", id="portail")
        assert source["title"] == "Portail renommé"
        assert json.loads(source["config"]) == {"page_size": 10, "grace_period_days": 3}

    def test_run_once(self, tmp_path, udata):
        _write(tmp_path, "portail", {"name": "portail", "title": "Portail",
                                     "type": "datagouv", "url": udata.base,
                                     "organization": "producteur",
                                     "config": {"tabular_api_url": ""}})
        ckan_servicespublics("harvest", "sources-sync", str(tmp_path))
        result = ckan_servicespublics("harvest", "run-once", "portail")
        assert result.exit_code == 0, result.output
        assert "17 remote dataset(s) to import or withdraw" in result.output
        assert "17 added, 0 updated, 0 not modified, 0 deleted, 0 errored" in result.output
        source = helpers.call_action("harvest_source_show", id="portail")
        assert len(harvested(source["id"])) == 17
        model.Session.remove()
        job = helpers.call_action("harvest_job_list", source_id=source["id"])[0]
        assert job["status"] == "Finished"
        result = ckan_servicespublics("harvest", "run-once", "portail")
        assert "0 remote dataset(s) to import or withdraw" in result.output
        result = ckan_servicespublics("harvest", "run-once", "inconnu")
        assert result.exit_code != 0
        assert "harvest source 'inconnu' not found" in result.output
