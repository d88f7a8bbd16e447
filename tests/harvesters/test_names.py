"""The local name of a newly harvested dataset: the remote slug when no
dataset has it, else the names ckanext-harvest would give, found on the
name's index."""
from __future__ import annotations

import pytest

import ckan.model as model
from ckan.tests import factories

from .conftest import PLUGINS


def _take(*names: str) -> None:
    """Datasets with these names, written straight to the table (a thousand
    ``package_create`` calls would only slow the test down)."""
    for name in names:
        model.Session.add(model.Package(name=name, title=name, type="dataset"))
    model.Session.commit()


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestFreeName:
    def _free(self, ideal: str) -> str:
        from ckanext.servicespublics.harvesters.base import free_name

        return free_name(ideal)

    def test_a_free_name_is_kept(self):
        _take("mairies-du-finistere-1")
        assert self._free("mairies-du-finistere") == "mairies-du-finistere"

    def test_the_first_free_number_is_added(self):
        factories.Dataset(name="france-services")
        _take("france-services1", "france-services3")
        assert self._free("france-services") == "france-services2"

    def test_deleted_datasets_keep_their_names(self):
        dataset = factories.Dataset(name="gendarmeries")
        model.Package.get(dataset["id"]).delete()
        model.Session.commit()
        assert self._free("gendarmeries") == "gendarmeries1"

    def test_a_long_name_is_cut_before_its_number(self):
        ideal = "x" * 100
        _take(ideal, "x" * 99 + "1")
        assert self._free(ideal) == "x" * 99 + "2"

    def test_past_999_random_digits(self):
        _take("caf", *(f"caf{n}" for n in range(1, 1000)))
        name = self._free("caf")
        assert name.startswith("caf") and len(name) == 8
        assert model.Package.by_name(name) is None
        int(name[3:], 16)  # five hexadecimal digits
