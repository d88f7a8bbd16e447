"""Hooks, jobs, computed fields, actions and access of servicespublics_points."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import ckan.lib.jobs as jobs_lib
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import DefaultDatasetForm
from ckan.tests import factories, helpers

from .conftest import FRANCE_SERVICES, FS_MAPPING, PLUGINS, read_csv

JOB = "ckanext.servicespublics.points.jobs.ingest_job"


class ServicePointsType(p.SingletonPlugin, DefaultDatasetForm):
    """The service-points dataset type, as the dataset plugin declares it (no schema)."""

    p.implements(p.IDatasetForm)

    def package_types(self):
        return ["service-points"]

    def is_fallback(self):
        return False


def _fs_csv(n: int = 40, start: int = 0) -> str:
    import csv
    import io

    header, rows = read_csv(FRANCE_SERVICES)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows[start:start + n])
    return out.getvalue()


def _queued() -> list:
    return [j for j in jobs_lib.get_queue().jobs if j.func_name == JOB]


def _run_queued() -> list:
    """Run the queued ingestion jobs here, synchronously, as the worker would."""
    from ckanext.servicespublics.points import jobs

    results = []
    for job in _queued():
        results.append(jobs.ingest_job(*job.args, **job.kwargs))
        job.delete()
    return results


@pytest.fixture
def point_resource(create_with_upload):
    """A dataset of an organisation with an uploaded France Services file."""
    def make(private: bool = False, n: int = 40, **extra):
        org = factories.Organization()
        dataset = factories.Dataset(owner_org=org["id"], private=private)
        resource = create_with_upload(
            _fs_csv(n), "france-services.csv", package_id=dataset["id"], format="CSV",
            role="point_file", column_mapping=json.dumps(FS_MAPPING), **extra)
        return org, dataset, resource
    return make


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues", "with_request_context")
class TestHooksAndJobs:
    def test_upload_enqueues_and_job_ingests(self, point_resource):
        org, dataset, resource = point_resource()
        (job,) = _queued()
        assert job.args == [resource["id"]]
        assert job.kwargs["fingerprint"] and job.kwargs["trigger"] == "hook"
        shown = helpers.call_action("resource_show", id=resource["id"])
        assert shown["validation_status"] == "pending" and shown["point_count"] == 0
        assert _run_queued() == ["valid"]
        shown = helpers.call_action("resource_show", id=resource["id"])
        assert shown["validation_status"] == "valid" and shown["point_count"] == 40
        # the job reindexed the dataset: the search results carry the counts
        found = helpers.call_action("package_search", q=f"id:{dataset['id']}")
        (res,) = found["results"][0]["resources"]
        assert res["point_count"] == 40 and res["validation_status"] == "valid"
        # the extent went to the dataset (an extra of the default schema here)
        package = helpers.call_action("package_show", id=dataset["id"])
        spatial = {e["key"]: e["value"] for e in package["extras"]}["spatial"]
        assert json.loads(spatial)["type"] in ("Polygon", "MultiPolygon")
        # ...without enqueueing anything (no loop)
        assert _queued() == []

    def test_no_new_job_unless_the_file_or_reading_changes(self, point_resource):
        org, dataset, resource = point_resource()
        _run_queued()
        helpers.call_action("resource_patch", id=resource["id"], description="Mise à jour")
        helpers.call_action("package_patch", id=dataset["id"], notes="Autre description")
        assert _queued() == []
        # an ingestion already done is not redone by a stale job either
        from ckanext.servicespublics.points import jobs
        assert jobs.ingest_job(resource["id"]) is None
        # the mapping changed: a new ingestion
        mapping = dict(FS_MAPPING, name="lib_com")
        helpers.call_action("resource_patch", id=resource["id"],
                            column_mapping=json.dumps(mapping))
        assert len(_queued()) == 1
        assert _run_queued() == ["valid"]
        points = helpers.call_action("servicespublics_points_list", resource_id=resource["id"],
                                     format="list")
        assert points["results"][0]["name"] == "Valserhône"

    def test_url_resource_downloaded(self, httpserver):
        httpserver.expect_request("/fs.csv").respond_with_data(
            _fs_csv(12), content_type="text/csv")
        dataset = factories.Dataset(owner_org=factories.Organization()["id"])
        resource = helpers.call_action(
            "resource_create", package_id=dataset["id"], url=httpserver.url_for("/fs.csv"),
            format="CSV", role="point_file", column_mapping=json.dumps(FS_MAPPING))
        assert _run_queued() == ["valid"]
        assert helpers.call_action("resource_show", id=resource["id"])["point_count"] == 12

    def test_download_failure_is_reported(self, httpserver):
        httpserver.expect_request("/gone.csv").respond_with_data("", status=404)
        dataset = factories.Dataset(owner_org=factories.Organization()["id"])
        resource = helpers.call_action(
            "resource_create", package_id=dataset["id"], url=httpserver.url_for("/gone.csv"),
            format="CSV", role="point_file")
        assert _run_queued() == ["error"]
        report = helpers.call_action("servicespublics_points_report", id=resource["id"])
        assert report["validation_status"] == "error"
        assert "le serveur a répondu 404" in report["ingestion"]["messages"][0]["message"]

    def test_bad_file_keeps_previous_points(self, point_resource, create_with_upload):
        org, dataset, resource = point_resource(n=30)
        _run_queued()
        helpers.call_action("resource_patch", id=resource["id"], delimiter=";")
        assert _run_queued() == ["error"]
        shown = helpers.call_action("resource_show", id=resource["id"])
        assert shown["validation_status"] == "error" and shown["point_count"] == 30
        listed = helpers.call_action("servicespublics_points_list", resource_id=resource["id"])
        assert listed["total"] == 30
        report = helpers.call_action("servicespublics_points_report", id=resource["id"])
        assert "Une seule colonne" in report["ingestion"]["messages"][0]["message"]

    def test_deleting_the_resource_deletes_its_points(self, point_resource):
        org, dataset, resource = point_resource()
        _run_queued()
        helpers.call_action("resource_delete", id=resource["id"])
        from ckan import model
        for table in ("point", "resource", "ingestion"):
            count = model.Session.execute(
                sa.text(f"SELECT count(*) FROM servicespublics_points_{table}")).scalar()
            assert count == 0, table

    def test_worker_burst_runs_the_job(self, point_resource):
        """What ``ckan jobs worker --burst`` does: a real RQ worker, forking."""
        org, dataset, resource = point_resource(n=8)
        assert len(_queued()) == 1
        jobs_lib.Worker().work(burst=True)
        assert _queued() == []
        shown = helpers.call_action("resource_show", id=resource["id"])
        assert shown["validation_status"] == "valid" and shown["point_count"] == 8


@pytest.mark.provide_plugin("test_service_points_type", ServicePointsType)
@pytest.mark.ckan_config("ckan.plugins", PLUGINS + " test_service_points_type")
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues", "with_request_context")
class TestServicePointsDatasets:
    def test_service_points_dataset_without_role(self, create_with_upload):
        dataset = factories.Dataset(type="service-points", owner_org=factories.Organization()["id"])
        create_with_upload(_fs_csv(5), "liste.csv", package_id=dataset["id"], format="CSV")
        create_with_upload("Notice", "notice.pdf", package_id=dataset["id"], format="PDF")
        (job,) = _queued()
        assert _run_queued() == ["valid"]
        other = factories.Dataset(owner_org=factories.Organization()["id"])
        create_with_upload(_fs_csv(5), "liste.csv", package_id=other["id"], format="CSV")
        assert _queued() == []  # a plain dataset's CSV is not a point file



@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues", "with_request_context")
class TestActionsAndAccess:
    def test_report_pagination_and_severity(self, point_resource, create_with_upload):
        import csv
        import io

        header, rows = read_csv(FRANCE_SERVICES)
        rows = [list(r) for r in rows[:30]]
        for row in rows[:25]:
            row[8] = "?"
        out = io.StringIO()
        csv.writer(out).writerows([header] + rows)
        dataset = factories.Dataset(owner_org=factories.Organization()["id"])
        resource = create_with_upload(out.getvalue(), "fs.csv", package_id=dataset["id"],
                                      role="point_file",
                                      column_mapping=json.dumps(FS_MAPPING))
        assert _run_queued() == ["partial"]
        report = helpers.call_action("servicespublics_points_report", id=resource["id"],
                                     limit=10, offset=20, severity="error")
        assert report["entries_count"] == 25 and len(report["entries"]) == 5
        assert report["entries"][0] == {
            "line": 22, "column": "latitude", "value": "?", "severity": "error",
            "code": "coordinates_invalid",
            "message": "Coordonnée illisible : « ? » n'est pas un nombre"}
        assert report["ingestion"]["rows_read"] == 30
        assert report["ingestion"]["rows_ingested"] == 5
        assert report["ingestion"]["rows_rejected"] == 25
        with pytest.raises(tk.ValidationError):
            helpers.call_action("servicespublics_points_report", id=resource["id"],
                                severity="fatal")

    def test_list_geojson_bbox_and_filters(self, point_resource):
        org, dataset, resource = point_resource(n=60)
        _run_queued()
        collection = helpers.call_action("servicespublics_points_list",
                                         package_id=dataset["name"], limit=5)
        assert collection["type"] == "FeatureCollection" and collection["total"] == 60
        feature = collection["features"][0]
        assert feature["geometry"]["type"] == "Point"
        assert feature["properties"]["name"] == "France services de Valserhône"
        lon, lat = feature["geometry"]["coordinates"]
        box = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
        near = helpers.call_action("servicespublics_points_list",
                                   resource_id=resource["id"], bbox=box)
        assert near["total"] >= 1
        assert all(abs(f["geometry"]["coordinates"][0] - lon) <= 0.01
                   for f in near["features"])
        assert helpers.call_action("servicespublics_points_list", resource_id=resource["id"],
                                   service_type="gendarmerie")["total"] == 0
        with pytest.raises(tk.ValidationError):
            helpers.call_action("servicespublics_points_list", resource_id=resource["id"],
                                bbox="1,2,3")
        with pytest.raises(tk.ValidationError):
            helpers.call_action("servicespublics_points_list")

    def test_private_dataset_points_are_refused(self, point_resource):
        org, dataset, resource = point_resource(private=True)
        _run_queued()
        anonymous = {"user": "", "ignore_auth": False}
        stranger = factories.User()
        member = factories.User()
        helpers.call_action("organization_member_create", id=org["id"],
                            username=member["name"], role="member")
        for user in (anonymous, {"user": stranger["name"], "ignore_auth": False}):
            with pytest.raises(tk.NotAuthorized):
                helpers.call_action("servicespublics_points_list", context=dict(user),
                                    resource_id=resource["id"])
            with pytest.raises(tk.NotAuthorized):
                helpers.call_action("servicespublics_points_list", context=dict(user),
                                    package_id=dataset["id"])
            with pytest.raises(tk.NotAuthorized):
                helpers.call_action("servicespublics_points_report", context=dict(user),
                                    id=resource["id"])
        ok = helpers.call_action("servicespublics_points_list",
                                 context={"user": member["name"], "ignore_auth": False},
                                 resource_id=resource["id"])
        assert ok["total"] == 40

    def test_private_dataset_points_refused_over_http(self, point_resource, app):
        org, dataset, resource = point_resource(private=True)
        _run_queued()
        url = tk.url_for("api.action", ver=3, logic_function="servicespublics_points_list",
                         resource_id=resource["id"])
        response = app.get(url, status=403)
        assert "Valserhône" not in response.body
        report_url = tk.url_for("api.action", ver=3,
                                logic_function="servicespublics_points_report",
                                id=resource["id"])
        app.get(report_url, status=403)

    def test_ingest_action_is_for_editors(self, point_resource):
        org, dataset, resource = point_resource(n=10)
        _run_queued()
        member, editor = factories.User(), factories.User()
        helpers.call_action("organization_member_create", id=org["id"],
                            username=member["name"], role="member")
        helpers.call_action("organization_member_create", id=org["id"],
                            username=editor["name"], role="editor")
        with pytest.raises(tk.NotAuthorized):
            helpers.call_action("servicespublics_points_ingest",
                                context={"user": member["name"], "ignore_auth": False},
                                id=resource["id"])
        queued = helpers.call_action("servicespublics_points_ingest",
                                     context={"user": editor["name"], "ignore_auth": False},
                                     id=resource["id"])
        assert queued["job_id"] and len(_queued()) == 1
        assert _queued()[0].kwargs["force"] is True
        assert _run_queued() == ["valid"]
        report = helpers.call_action("servicespublics_points_ingest",
                                     context={"user": editor["name"], "ignore_auth": False},
                                     id=resource["id"], sync=True)
        assert report["validation_status"] == "valid" and len(report["ingestions"]) == 3
