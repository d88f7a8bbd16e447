"""The synchronous runner (``run-once``, the benchmark): several processes,
the remote records read ahead, the harvest objects' progress saved as the
queue consumers save it; and the read-ahead itself, against a real server on
loopback."""
from __future__ import annotations

import json
import threading

import pytest

import ckan.model as model
import ckan.plugins as p
from ckan.tests import helpers

from .conftest import PLUGINS, harvested

SIRENE = "5b7ffc618b4c4169d30727e0"
DEFIB = "5c1bab838b4c415d323a5741"
LYON = "65271c20a80b3f04010e71ff"


def _read_ahead(**settings):
    from ckanext.servicespublics.harvesters.http import ReadAhead

    return ReadAhead(dict({"timeout": 5, "retries": 3, "backoff": 0.01}, **settings),
                     threads=2, window=2)


class TestReadAhead:
    def test_documents_are_read_before_their_turn(self, httpserver):
        for k in (1, 2, 3):
            httpserver.expect_request(f"/{k}").respond_with_json({"id": k})

        def requested():
            return [r.path for r, _ in httpserver.log]

        ahead = _read_ahead()
        try:
            ahead.schedule((k, httpserver.url_for(f"/{k}")) for k in (1, 2, 3))
            # nothing taken yet: the first two are read (window of 2), not
            # the third
            done = threading.Event()
            for _ in range(200):
                if len(requested()) >= 2 or done.wait(0.05):
                    break
            assert sorted(requested()) == ["/1", "/2"]
            assert ahead.take(1, httpserver.url_for("/1")) == {"id": 1}
            assert ahead.take(2, httpserver.url_for("/2")) == {"id": 2}
            assert ahead.take(3, httpserver.url_for("/3")) == {"id": 3}
        finally:
            ahead.close()
        assert sorted(requested()) == ["/1", "/2", "/3"]

    def test_failures_and_surprises_are_left_to_the_caller(self, httpserver):
        from ckanext.servicespublics.harvesters.http import ReadAhead

        httpserver.expect_request("/ok").respond_with_json({"ok": True})
        httpserver.expect_request("/down").respond_with_json({"message": "boom"},
                                                            status=500)
        ahead = _read_ahead()
        try:
            ahead.schedule([("down", httpserver.url_for("/down")),
                            ("other-url", httpserver.url_for("/ok")),
                            ("skipped", httpserver.url_for("/ok")),
                            ("ok", httpserver.url_for("/ok"))])
            # a failure is not retried here (the fetch stage retries it)
            assert ahead.take("down", httpserver.url_for("/down")) is ReadAhead.MISSING
            assert [r.path for r, _ in httpserver.log].count("/down") == 1
            # read at another address than the caller's: not used
            assert ahead.take("other-url", httpserver.url_for("/elsewhere")) \
                is ReadAhead.MISSING
            # "skipped" is never taken: dropped when a later one is
            assert ahead.take("ok", httpserver.url_for("/ok")) == {"ok": True}
            assert ahead.take("skipped", httpserver.url_for("/ok")) is ReadAhead.MISSING
            assert ahead.take("never-scheduled", httpserver.url_for("/ok")) \
                is ReadAhead.MISSING
        finally:
            ahead.close()


def _source(udata, **config):
    from ckan.tests import factories

    org = factories.Organization()
    return helpers.call_action(
        "harvest_source_create", {"user": factories.Sysadmin()["name"]},
        name="portail", title="Portail", url=udata.base, source_type="datagouv",
        owner_org=org["id"], config=json.dumps(dict({"tabular_api_url": ""}, **config)))


def _objects(job_id):
    from ckanext.harvest.model import HarvestObject

    model.Session.remove()
    return {o.guid: o for o in model.Session.query(HarvestObject).filter(
        HarvestObject.harvest_job_id == job_id)}


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index", "clean_queues")
class TestRunSource:
    @pytest.mark.parametrize("workers", [1, 2])
    def test_every_outcome_as_the_consumers_report_it(self, udata, workers):
        from ckanext.servicespublics.harvesters.runner import run_source

        source = _source(udata, grace_period_days=0)
        udata.fault(rf"^/api/1/datasets/{SIRENE}/$", "status", arg=500)
        result = run_source(source["id"], workers=workers)
        assert result["counts"] == {"added": 16, "errored": 1}
        # each record was read once (ahead), the failing one once ahead and
        # then by the fetch stage with its retries, whose error is the usual one
        assert udata.requests_to(rf"^/api/1/datasets/{DEFIB}/") == 1
        assert udata.requests_to(rf"^/api/1/datasets/{SIRENE}/") == 1 + 4
        objects = _objects(result["job_id"])
        failed = objects[SIRENE]
        assert (failed.state, failed.report_status, failed.current) == (
            "ERROR", "errored", False)
        assert [e.message for e in failed.errors] == [
            f"Could not fetch remote dataset {SIRENE}: HTTP 500 INTERNAL SERVER ERROR on "
            f"{udata.base}/api/1/datasets/{SIRENE}/ — gave up after 4 attempt(s)"]
        for obj in objects.values():
            assert obj.fetch_started <= obj.fetch_finished
            if obj.guid != SIRENE:
                assert (obj.state, obj.report_status, obj.current) == (
                    "COMPLETE", "added", True)
                assert obj.fetch_finished <= obj.import_started <= obj.import_finished
                assert obj.package_id
        job = helpers.call_action("harvest_job_show", id=result["job_id"])
        assert job["status"] == "Finished"

        # the failed one is added, one is changed, one only moved its date,
        # one is gone (no grace period)
        udata.clear_faults()
        defib = udata.by_id(DEFIB)
        defib["title"] += " (modifié)"
        defib["last_modified"] = "2030-01-01T00:00:00+00:00"
        # later the same day: the date of the data (vintage) is the same
        udata.by_id(LYON)["last_update"] = "2024-07-29T23:30:00+00:00"
        removed = next(d for d in udata.datasets if d["id"] not in (SIRENE, DEFIB, LYON))
        udata.datasets.remove(removed)
        before = {g: p.metadata_modified for g, p in harvested(source["id"]).items()}
        result = run_source(source["id"], workers=workers)
        assert result["counts"] == {"added": 1, "updated": 1, "not modified": 1,
                                    "deleted": 1}
        objects = _objects(result["job_id"])
        assert objects[LYON].report_status == "not modified"
        assert objects[LYON].state == "COMPLETE"
        assert objects[removed["id"]].report_status == "deleted"
        after = harvested(source["id"])
        assert after[DEFIB].title.endswith("(modifié)")
        assert after[LYON].metadata_modified == before[LYON]
        assert after[removed["id"]].state == "deleted"
        # the date moved: the next run reads nothing
        result = run_source(source["id"], workers=workers)
        assert result["objects"] == 0

    def test_histories_read_together_are_the_ones_read_one_by_one(self, udata):
        from ckanext.servicespublics.harvesters.base import _history, histories
        from ckanext.servicespublics.harvesters.runner import run_source

        source = _source(udata, grace_period_days=0)
        run_source(source["id"])
        model.Session.remove()
        # a changed dataset (two objects, one current), a withdrawn one (no
        # current object), then back (a new object for a deleted dataset)
        udata.by_id(DEFIB)["title"] += " (modifié)"
        udata.by_id(DEFIB)["last_modified"] = "2030-01-01T00:00:00+00:00"
        removed = udata.by_id(LYON)
        udata.datasets.remove(removed)
        run_source(source["id"])
        model.Session.remove()
        assert harvested(source["id"])[LYON].state == "deleted"
        udata.datasets.append(removed)
        guids = [d["id"] for d in udata.datasets] + ["never-harvested"]
        one_by_one = {g: _history(source["id"], g) for g in guids}
        assert histories(source["id"], guids) == one_by_one
        assert one_by_one[LYON].package_id and not one_by_one[LYON].current
        assert one_by_one[LYON].package_state == "deleted"
        assert len(one_by_one[DEFIB].current) == 1
        assert one_by_one["never-harvested"].package_id is None
        # and the import that reads them gives the dataset back
        model.Session.remove()
        result = run_source(source["id"])
        assert result["counts"] == {"updated": 1}
        assert harvested(source["id"])[LYON].state == "active"

    @pytest.mark.ckan_config("ckanext.servicespublics.harvest.read_ahead", 0)
    def test_without_read_ahead(self, udata):
        from ckanext.servicespublics.harvesters.runner import run_source

        source = _source(udata)
        result = run_source(source["id"])
        assert result["counts"] == {"added": 17}
        assert udata.requests_to(r"^/api/1/datasets/[^/?]+/") == 17

    def test_a_taken_name_gets_a_number(self, udata):
        from ckan.tests import factories

        from ckanext.servicespublics.harvesters.runner import run_source

        source = _source(udata)
        slug = udata.by_id(DEFIB)["slug"]
        local = factories.Dataset(name=slug)
        deleted = factories.Dataset(name=f"{slug}1")
        helpers.call_action("package_delete", id=deleted["id"])
        result = run_source(source["id"])
        assert result["counts"] == {"added": 17}
        assert harvested(source["id"])[DEFIB].name == f"{slug}2"
        assert model.Package.get(local["id"]).name == slug


class _RefusedDataset(p.SingletonPlugin):
    """Fails the creation of one dataset after CKAN saved it in the session
    (the harvest object with it), before its commit."""

    p.implements(p.IPackageController, inherit=True)

    title = "Défibrillateurs"

    def after_dataset_create(self, context, pkg_dict):
        if pkg_dict.get("title", "").startswith(self.title):
            raise RuntimeError("refused by a plugin")


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.with_plugins({"servicespublics_test_refused_dataset": _RefusedDataset})
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index", "clean_queues")
class TestImportFailure:
    def test_a_dataset_refused_at_creation_leaves_an_errored_object(self, udata):
        from ckanext.servicespublics.harvesters.runner import run_source

        _RefusedDataset.title = udata.by_id(DEFIB)["title"]
        source = _source(udata)
        result = run_source(source["id"])
        assert result["counts"] == {"added": 16, "errored": 1}
        objects = _objects(result["job_id"])
        refused = objects[DEFIB]
        # the end of the import saved with the dataset is rolled back with it
        assert (refused.state, refused.report_status, refused.current,
                refused.package_id) == ("ERROR", "errored", False, None)
        assert refused.import_started <= refused.import_finished
        assert any("refused by a plugin" in e.message for e in refused.errors)
        assert DEFIB not in harvested(source["id"])
