"""Fixtures of the DCAT tests: a catalogue built from the real files."""
from __future__ import annotations

from typing import Any

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers


from . import realdata

PLUGINS = ("dcat harvest dcat_rdf_harvester structured_data scheming_datasets "
           "servicespublics servicespublics_search servicespublics_dataset "
           "servicespublics_dcat")
SCHEMAS = ("ckanext.servicespublics.schemas:dataset.yaml "
           "ckanext.servicespublics.schemas:service_points.yaml")
PRESETS = "ckanext.scheming:presets.json ckanext.servicespublics.schemas:presets.yaml"
PROFILES = "euro_dcat_ap_3 euro_dcat_ap_scheming servicespublics_dcat_ap"


def configure(cls=None, *, plugins: str = "", **settings: Any):
    """Plugins and settings of the DCAT test classes (``plugins``: more
    plugins; ``settings``: other values, dots written as double underscores)."""
    if cls is None:
        return lambda cls: configure(cls, plugins=plugins, **settings)
    values = {
        "ckan.plugins": f"{PLUGINS} {plugins}".strip(),
        "scheming.dataset_schemas": SCHEMAS,
        "scheming.presets": PRESETS,
        "ckanext.dcat.rdf.profiles": PROFILES,
    }
    values.update({key.replace("__", "."): value for key, value in settings.items()})
    for key, value in values.items():
        cls = pytest.mark.ckan_config(key, value)(cls)
    return pytest.mark.usefixtures("with_plugins", "clean_db")(cls)


@pytest.fixture
def sysadmin() -> dict[str, Any]:
    return factories.Sysadmin()


@pytest.fixture
def organizations(sysadmin, territories_loaded) -> dict[str, dict[str, Any]]:  # noqa: F811
    """The producers (the territorial reference is loaded: the schema checks
    territory codes against it)."""
    orgs = {}
    for org in realdata.ORGANIZATIONS:
        orgs[org["name"]] = helpers.call_action(
            "organization_create", {"user": sysadmin["name"]}, **org)
    return orgs


def create(sysadmin: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    return tk.get_action("package_create")({"user": sysadmin["name"]}, dict(dataset))


@pytest.fixture
def catalogue(sysadmin, organizations) -> dict[str, dict[str, Any]]:
    """The public service-point datasets and a private one, by name."""
    datasets = {}
    for dataset in realdata.public_datasets() + [realdata.private_gendarmeries()]:
        created = create(sysadmin, dataset)
        datasets[created["name"]] = created
    return datasets
