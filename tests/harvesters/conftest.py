"""Fixtures of the harvester tests: harvest sources, jobs run through the real
Redis queues (as ckanext-dcat's tests do), and the remote portals on
loopback (tests/harvesters/portals.py)."""
from __future__ import annotations

import collections

import pytest

import ckan.model as model
from ckan.tests import factories, helpers

# the COG, to check territory codes (the schemas' validators need it)

PLUGINS = "harvest datagouv_harvester opendatasoft_harvester servicespublics servicespublics_search"
# with the catalogue's schemas: service-point datasets get the type
# service-points and its fields; without them, the default type and extras
SCHEMING_PLUGINS = PLUGINS + " scheming_datasets servicespublics_dataset"
SCHEMAS = ("ckanext.servicespublics.schemas:dataset.yaml "
           "ckanext.servicespublics.schemas:service_points.yaml")
PRESETS = "ckanext.scheming:presets.json ckanext.servicespublics.schemas:presets.yaml"


def with_schema(cls):
    """The scenarios of ``cls`` with the catalogue's scheming schemas."""
    for mark in (pytest.mark.ckan_config("ckan.plugins", SCHEMING_PLUGINS),
                 pytest.mark.ckan_config("scheming.dataset_schemas", SCHEMAS),
                 pytest.mark.ckan_config("scheming.presets", PRESETS),
                 pytest.mark.usefixtures("with_plugins", "clean_db", "territories_loaded",
                                         "clean_index", "clean_queues")):
        cls = mark(cls)
    return cls


def without_schema(cls):
    for mark in (pytest.mark.ckan_config("ckan.plugins", PLUGINS),
                 pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index",
                                         "clean_queues")):
        cls = mark(cls)
    return cls


def schema_loaded() -> bool:
    import ckan.plugins as p

    return p.plugin_loaded("scheming_datasets")


@pytest.fixture
def clean_queues():
    from ckanext.harvest import queue

    queue.purge_queues()
    yield
    queue.purge_queues()


@pytest.fixture
def sysadmin():
    return factories.Sysadmin()


@pytest.fixture
def udata(httpserver):
    from .portals import UdataPortal

    return UdataPortal(httpserver)


@pytest.fixture
def ods(httpserver):
    from .portals import OdsPortal

    return OdsPortal(httpserver)


class Harvest:
    """Creates sources and runs jobs: gather and fetch/import through the
    queues' callbacks, then ``harvest_jobs_run`` closes the job."""

    def __init__(self, sysadmin):
        self.user = sysadmin

    def context(self):
        return {"user": self.user["name"]}

    def source(self, url, source_type, config=None, organization=None, name=None):
        import json

        org = organization or factories.Organization()
        return helpers.call_action(
            "harvest_source_create", self.context(),
            name=name or f"source-{source_type}", title=f"Source {source_type}",
            url=url, source_type=source_type, owner_org=org["id"],
            config=json.dumps(config or {}))

    def run(self, source_id) -> dict:
        from ckanext.harvest import queue
        from ckanext.harvest.model import (
            HarvestGatherError,
            HarvestObject,
            HarvestObjectError,
        )

        job = helpers.call_action("harvest_job_create", self.context(), source_id=source_id)
        gather = queue.get_gather_consumer()
        reply = gather.basic_get(queue="ckan.harvest.gather")
        assert reply[2], "empty gather queue"
        queue.gather_callback(gather, *reply)
        fetch = queue.get_fetch_consumer()
        while True:
            reply = fetch.basic_get(queue="ckan.harvest.fetch")
            if not reply[2]:
                break
            queue.fetch_callback(fetch, *reply)
        helpers.call_action("harvest_jobs_run", self.context(), source_id=source_id)
        model.Session.remove()
        objects = model.Session.query(HarvestObject).filter(
            HarvestObject.harvest_job_id == job["id"]).all()
        job_dict = helpers.call_action("harvest_job_show", self.context(), id=job["id"])
        return {
            "job": job_dict,
            "objects": len(objects),
            "status": collections.Counter(o.report_status for o in objects),
            "gather_errors": [e.message for e in model.Session.query(HarvestGatherError)
                              .filter(HarvestGatherError.harvest_job_id == job["id"])],
            "object_errors": [e.message for e in model.Session.query(HarvestObjectError)
                              .join(HarvestObject).filter(
                                  HarvestObject.harvest_job_id == job["id"])],
        }


@pytest.fixture
def harvest(sysadmin):
    return Harvest(sysadmin)


def harvested(source_id, state=None) -> dict[str, model.Package]:
    """The datasets of a source by remote id, from its harvest objects."""
    from ckanext.harvest.model import HarvestObject

    rows = model.Session.query(HarvestObject.guid, HarvestObject.package_id).filter(
        HarvestObject.harvest_source_id == source_id,
        HarvestObject.package_id.isnot(None),
    ).order_by(HarvestObject.gathered)
    out = {}
    for guid, package_id in rows:
        package = model.Package.get(package_id)
        if state and package.state != state:
            out.pop(guid, None)
            continue
        out[guid] = package
    return out
