"""With ckanext-scheming: access_level as a dataset field."""
from __future__ import annotations

import pathlib
import re

import pytest

import ckan.model as model
from ckan.lib.plugins import get_permission_labels
from ckan.tests import factories, helpers

# servicespublics_access comes before scheming_datasets: templates of the
# plugins listed first win (its scheming form snippets override scheming's)
PLUGINS = ("activity servicespublics_access scheming_datasets servicespublics "
           "servicespublics_search")
SCHEMA = (pathlib.Path(__file__).parent / "data" / "scheming_dataset.yaml").resolve()


def _as(user, action, **kwargs):
    context = {"user": user["name"] if user else "", "ignore_auth": False}
    return helpers.call_action(action, context=context, **kwargs)


@pytest.fixture
def people():
    sysadmin = factories.SysadminWithToken()
    member = factories.UserWithToken()
    ministry = _as(sysadmin, "organization_create", name="ministere-armees",
                   org_type="ministere", users=[{"name": member["name"], "capacity": "editor"}])
    return {"sysadmin": sysadmin, "member": member, "ministry": ministry}


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.ckan_config("scheming.dataset_schemas", f"file://{SCHEMA}")
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestSchemingField:
    def test_default_and_storage(self, people):
        dataset = _as(people["member"], "package_create", name="casernes",
                      owner_org=people["ministry"]["id"])
        assert (dataset["access_level"], dataset["private"]) == ("restricted", True)
        assert "access_level" not in {e["key"] for e in dataset.get("extras", [])}
        pkg = model.Package.get("casernes")
        assert "agent" in get_permission_labels().get_dataset_labels(pkg)

    def test_level_sent_as_an_extra_is_moved_to_the_field(self, people):
        dataset = _as(people["member"], "package_create", name="casernes",
                      owner_org=people["ministry"]["id"],
                      extras=[{"key": "access_level", "value": "private"}])
        assert (dataset["access_level"], dataset["private"]) == ("private", True)

    def test_update_and_patch(self, people):
        _as(people["member"], "package_create", name="casernes",
            owner_org=people["ministry"]["id"], access_level="public")
        patched = _as(people["member"], "package_patch", id="casernes", private=True)
        assert (patched["access_level"], patched["private"]) == ("private", True)
        patched = _as(people["member"], "package_patch", id="casernes",
                      access_level="restricted")
        assert (patched["access_level"], patched["private"]) == ("restricted", True)

    def test_form(self, app, people):
        auth = {"Authorization": people["member"]["token"]}
        body = app.get("/en/dataset/new", headers=auth).get_data(as_text=True)
        select = re.search(r'<select[^>]*name="access_level".*?</select>', body, re.S)
        assert select
        assert re.findall(r'<option value="([^"]*)"', select.group(0)) == [
            "", "public", "restricted", "private"]
        # one place to choose: no CKAN visibility select
        assert 'name="private"' not in body
        app.post("/en/dataset/new", headers=auth, data={
            "name": "casernes", "title": "Casernes", "owner_org": people["ministry"]["id"],
            "access_level": "", "save": "", "_ckan_phase": "dataset_new_1"})
        dataset = _as(people["sysadmin"], "package_show", id="casernes")
        assert (dataset["access_level"], dataset["private"]) == ("restricted", True)
