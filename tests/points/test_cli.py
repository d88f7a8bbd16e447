"""``ckan servicespublics points ...`` and the resource page's report."""
from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

import ckan.lib.jobs as jobs_lib
import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from .conftest import FS_MAPPING, PLUGINS
from .test_plugin import JOB, _fs_csv, _run_queued


def _invoke(args: list[str]):
    """Run a ``ckan servicespublics points`` command in this process (and its plugins)."""
    from click.testing import CliRunner

    from ckanext.servicespublics.points.cli import points

    return CliRunner().invoke(points, args, catch_exceptions=False)


@pytest.fixture
def resource(create_with_upload):
    dataset = factories.Dataset(owner_org=factories.Organization()["id"],
                                title="France Services 2024")
    rows = list(csv.reader(io.StringIO(_fs_csv(20))))
    rows[3][8] = "x" + rows[3][8]  # line 4: a latitude that is not a number
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    created = create_with_upload(out.getvalue(), "fs.csv",
                                 package_id=dataset["id"], role="point_file",
                                 column_mapping=json.dumps(FS_MAPPING))
    jobs_lib.get_queue().empty()
    return created


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues", "with_request_context")
class TestCli:
    def test_help(self, cli):
        from ckan.cli.cli import ckan

        result = cli.invoke(ckan, ["servicespublics", "points", "--help"])
        assert result.exit_code == 0, result.output
        for command in ("import", "reindex", "report"):
            assert command in result.output

    def test_import_sync_then_report(self, resource):
        result = _invoke(["import", resource["id"], "--sync"])
        assert result.exit_code == 0, result.output
        assert f"{resource['id']} : partial, 19 point(s) sur 20 ligne(s), 1 rejetée(s)" \
            in result.output
        assert helpers.call_action("resource_show", id=resource["id"])["point_count"] == 19
        result = _invoke(["report", resource["id"]])
        assert result.exit_code == 0, result.output
        assert "statut partial, 19 point(s) en base" in result.output
        assert "ligne 4, latitude [error] Coordonnée illisible" in result.output

    def test_import_all_enqueues(self, resource):
        result = _invoke(["import", "--all"])
        assert result.exit_code == 0, result.output
        (job,) = [j for j in jobs_lib.get_queue().jobs if j.func_name == JOB]
        assert job.args == [resource["id"]] and job.kwargs["trigger"] == "cli"
        assert _run_queued() == ["partial"]

    def test_import_needs_a_target(self):
        result = _invoke(["import"])
        assert result.exit_code != 0
        assert "Donnez un RESOURCE_ID ou --all" in result.output

    def test_reindex_forgets_vanished_resources(self, resource):
        _invoke(["import", resource["id"], "--sync"])
        # a resource deleted behind CKAN's back (no signal): its points go at reindex
        from ckan import model
        model.Session.execute(sa.text("UPDATE resource SET state = 'deleted' WHERE id = :id"),
                              {"id": resource["id"]})
        model.Session.commit()
        result = _invoke(["reindex"])
        assert result.exit_code == 0, result.output
        assert "points de 1 ressource(s) disparue(s) supprimés" in result.output


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues")
class TestResourcePage:
    def test_report_on_the_resource_page(self, app, resource):
        from ckanext.servicespublics.points import jobs

        jobs.ingest_job(resource["id"])
        url = tk.url_for("dataset_resource.read", id=resource["package_id"],
                         resource_id=resource["id"])
        page = app.get(url, headers={"Accept-Language": "fr"}).body
        assert 'id="servicespublics-points-report"' in page
        assert 'data-count="rows_read">20<' in page
        assert 'data-count="rows_ingested">19<' in page
        assert 'data-count="rows_rejected">1<' in page
        # the row-level entries, in French, with line and column
        assert "Coordonnée illisible : « x4" in page
        assert "<td>4</td>" in page and "<td>latitude</td>" in page
        with app.flask_app.test_request_context():
            expected = tk._("Validation report")
        assert expected in page

    def test_no_report_for_other_resources(self, app):
        dataset = factories.Dataset()
        resource = factories.Resource(package_id=dataset["id"], url="http://example.org/a.pdf",
                                      format="PDF")
        url = tk.url_for("dataset_resource.read", id=dataset["id"], resource_id=resource["id"])
        page = app.get(url).body
        assert "servicespublics-points-report" not in page
