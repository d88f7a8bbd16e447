"""Pages: who can see a dataset (banner), forms, sysadmin pages."""
from __future__ import annotations

import re

import pytest

import ckan.model as model
from ckan.tests import factories, helpers

PLUGINS = "activity servicespublics servicespublics_search servicespublics_access"


def _as(user, action, **kwargs):
    context = {"user": user["name"] if user else "", "ignore_auth": False}
    return helpers.call_action(action, context=context, **kwargs)


def _auth(user):
    return {"Authorization": user["token"]} if user else {}


def _extra(pkg_dict, key):
    return {e["key"]: e["value"] for e in pkg_dict.get("extras") or []}.get(key)


@pytest.fixture
def people():
    sysadmin = factories.SysadminWithToken()
    member = factories.UserWithToken()
    agent = factories.UserWithToken()
    citizen = factories.UserWithToken()
    ministry = _as(sysadmin, "organization_create", name="ministere-sante",
                   title="Ministère de la Santé", org_type="ministere",
                   users=[{"name": member["name"], "capacity": "admin"}])
    _as(sysadmin, "organization_create", name="prefecture-36", org_type="prefecture",
        users=[{"name": agent["name"], "capacity": "member"}])
    return {"sysadmin": sysadmin, "member": member, "agent": agent, "citizen": citizen,
            "ministry": ministry}


def _dataset(people, level, name):
    return _as(people["member"], "package_create", name=name, title=f"Hôpitaux {name}",
               owner_org=people["ministry"]["id"], access_level=level,
               url="https://example.org/hopitaux",
               resources=[{"url": "https://example.org/h.csv", "name": "Liste"}])


def _banner(body):
    match = re.search(r'<div class="alert servicespublics-access-banner[^"]*"[^>]*'
                      r'data-access-level="(\w+)">(.*?)</div>', body, re.S)
    assert match, "no access banner"
    return match.group(1), " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestBanner:
    def test_levels(self, app, people):
        _dataset(people, "public", "hopitaux-public")
        _dataset(people, "restricted", "hopitaux-agents")
        _dataset(people, "private", "hopitaux-prive")
        cases = (
            ("hopitaux-public", "citizen", "public", "Visible to everyone"),
            ("hopitaux-agents", "agent", "restricted",
             "Restricted to signed-in public agents"),
            ("hopitaux-prive", "member", "private",
             "Private: members of Ministère de la Santé only"),
        )
        for name, who, level, text in cases:
            res = app.get(f"/en/dataset/{name}", headers=_auth(people[who]))
            assert res.status_code == 200
            assert _banner(res.get_data(as_text=True)) == (level, text)
            # the resource page says it too
            dataset = _as(people["sysadmin"], "package_show", id=name)
            res = app.get(f"/en/dataset/{name}/resource/{dataset['resources'][0]['id']}",
                          headers=_auth(people[who]))
            assert _banner(res.get_data(as_text=True))[0] == level

    def test_no_private_badge_on_restricted(self, app, people):
        _dataset(people, "restricted", "hopitaux-agents")
        body = app.get("/en/dataset/hopitaux-agents",
                       headers=_auth(people["agent"])).get_data(as_text=True)
        assert 'class="dataset-private badge' not in body.split("<h1")[1].split("</h1>")[0]

    def test_list_badges(self, app, people):
        _dataset(people, "restricted", "hopitaux-agents")
        _dataset(people, "private", "hopitaux-prive")
        body = app.get("/en/dataset/", headers=_auth(people["member"])).get_data(as_text=True)
        assert 'data-access-level="restricted"' in body
        assert "Public agents" in body
        assert 'data-access-level="private"' in body

    def test_viewers_link_for_sysadmins_only(self, app, people):
        _dataset(people, "restricted", "hopitaux-agents")
        link = "/dataset/hopitaux-agents/access"
        body = app.get("/en/dataset/hopitaux-agents",
                       headers=_auth(people["sysadmin"])).get_data(as_text=True)
        assert link in body
        body = app.get("/en/dataset/hopitaux-agents",
                       headers=_auth(people["member"])).get_data(as_text=True)
        assert link not in body


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestDatasetForm:
    def test_form_offers_the_three_levels(self, app, people):
        body = app.get("/en/dataset/new", headers=_auth(people["member"])).get_data(
            as_text=True)
        select = re.search(r'<select[^>]*name="access_level".*?</select>', body, re.S)
        assert select
        values = re.findall(r'<option value="([^"]*)"', select.group(0))
        assert values == ["", "public", "restricted", "private"]
        assert 'name="private"' not in body

    def test_create_and_change_level_through_the_form(self, app, people):
        res = app.post("/en/dataset/new", headers=_auth(people["member"]), data={
            "name": "ecoles-35", "title": "Écoles", "owner_org": people["ministry"]["id"],
            "access_level": "", "save": "", "_ckan_phase": "dataset_new_1"})
        assert res.status_code == 200
        dataset = _as(people["sysadmin"], "package_show", id="ecoles-35")
        # the ministry's default
        assert (dataset["private"], _extra(dataset, "access_level")) == (True, "restricted")

        body = app.get("/en/dataset/edit/ecoles-35",
                       headers=_auth(people["member"])).get_data(as_text=True)
        assert re.search(r'<option value="restricted"\s+selected', body)
        app.post("/en/dataset/edit/ecoles-35", headers=_auth(people["member"]), data={
            "name": "ecoles-35", "title": "Écoles", "owner_org": people["ministry"]["id"],
            "access_level": "public", "save": ""})
        dataset = _as(people["sysadmin"], "package_show", id="ecoles-35")
        assert (dataset["private"], _extra(dataset, "access_level")) == (False, "public")

    def test_invalid_level_shows_an_error(self, app, people):
        _dataset(people, "private", "ecoles-36")
        res = app.post("/en/dataset/edit/ecoles-36", headers=_auth(people["member"]), data={
            "name": "ecoles-36", "title": "Écoles", "owner_org": people["ministry"]["id"],
            "access_level": "secret", "save": ""})
        assert "Invalid access level" in res.get_data(as_text=True)
        dataset = _as(people["sysadmin"], "package_show", id="ecoles-36")
        assert _extra(dataset, "access_level") == "private"


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestOrganizationForm:
    def test_sysadmin_sets_type_and_default(self, app, people):
        body = app.get("/en/organization/edit/ministere-sante",
                       headers=_auth(people["sysadmin"])).get_data(as_text=True)
        assert 'name="org_type"' in body
        assert 'name="default_access_level"' in body
        app.post("/en/organization/edit/ministere-sante", headers=_auth(people["sysadmin"]),
                 data={"name": "ministere-sante", "title": "Ministère de la Santé",
                       "org_type": "operateur", "default_access_level": "private",
                       "save": ""})
        org = model.Group.get("ministere-sante")
        assert org.extras == {"org_type": "operateur", "default_access_level": "private"}
        body = app.get("/en/organization/about/ministere-sante").get_data(as_text=True)
        assert 'data-org-type="operateur"' in body
        assert 'data-default-access-level="private"' in body

    def test_organisation_admin_cannot_set_the_type(self, app, people):
        body = app.get("/en/organization/edit/ministere-sante",
                       headers=_auth(people["member"])).get_data(as_text=True)
        assert 'name="org_type"' not in body
        assert "Ministry" in body
        app.post("/en/organization/edit/ministere-sante", headers=_auth(people["member"]),
                 data={"name": "ministere-sante", "title": "Ministère de la Santé",
                       "default_access_level": "public", "save": ""})
        org = model.Group.get("ministere-sante")
        # the type is kept, the default changed
        assert org.extras == {"org_type": "ministere", "default_access_level": "public"}
        res = app.post("/en/organization/edit/ministere-sante",
                       headers=_auth(people["member"]),
                       data={"name": "ministere-sante", "title": "x", "org_type": "autre",
                             "save": ""})
        assert "Only sysadmins can set the type" in res.get_data(as_text=True)
        assert model.Group.get("ministere-sante").extras["org_type"] == "ministere"


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestSysadminPages:
    @pytest.mark.parametrize("who", ["citizen", "agent", "member", None])
    def test_refused(self, app, people, who):
        _dataset(people, "restricted", "hopitaux-agents")
        user = people[who] if who else None
        for url in ("/ckan-admin/access", "/dataset/hopitaux-agents/access",
                    f"/user/{people['citizen']['name']}/access"):
            res = app.get(url, headers=_auth(user), follow_redirects=False)
            assert res.status_code in (302, 403), url
            # the title is not there (the URL is, in the language selector)
            assert "Hôpitaux" not in res.get_data(as_text=True), url
        res = app.post(f"/user/{people['citizen']['name']}/access/agent",
                       headers=_auth(user), data={"agent": "true"}, follow_redirects=False)
        assert res.status_code in (302, 403)
        assert not model.User.get(people["citizen"]["id"]).plugin_extras

    def test_admin_page(self, app, people):
        body = app.get("/en/ckan-admin/access",
                       headers=_auth(people["sysadmin"])).get_data(as_text=True)
        assert f'data-user="{people["agent"]["name"]}"' in body
        assert f'data-user="{people["member"]["name"]}"' in body
        assert f'data-user="{people["citizen"]["name"]}"' not in body
        # look-ups redirect to the reports
        res = app.get("/en/ckan-admin/access", headers=_auth(people["sysadmin"]),
                      query_string={"user": people["citizen"]["name"]},
                      follow_redirects=False)
        assert res.status_code == 302
        assert res.headers["Location"].endswith(f"/user/{people['citizen']['name']}/access")
        res = app.get("/en/ckan-admin/access", headers=_auth(people["sysadmin"]),
                      query_string={"dataset": "nope"})
        assert "Dataset not found" in res.get_data(as_text=True)

    def test_viewers_page(self, app, people):
        _dataset(people, "restricted", "hopitaux-agents")
        body = app.get("/en/dataset/hopitaux-agents/access",
                       headers=_auth(people["sysadmin"])).get_data(as_text=True)
        assert f'data-user="{people["agent"]["name"]}"' in body
        assert f'data-user="{people["citizen"]["name"]}"' not in body
        assert 'data-reason="agent"' in body

    def test_user_page_and_flag(self, app, people):
        _dataset(people, "restricted", "hopitaux-agents")
        citizen = people["citizen"]
        body = app.get(f"/en/user/{citizen['name']}",
                       headers=_auth(people["sysadmin"])).get_data(as_text=True)
        assert 'data-agent="false"' in body
        # others do not see the box
        body = app.get(f"/en/user/{citizen['name']}",
                       headers=_auth(people["member"])).get_data(as_text=True)
        assert "data-agent=" not in body

        res = app.post(f"/en/user/{citizen['name']}/access/agent",
                       headers=_auth(people["sysadmin"]), data={"agent": "true"})
        assert res.status_code == 200
        assert 'data-agent="true"' in res.get_data(as_text=True)
        body = app.get(f"/en/user/{citizen['name']}/access",
                       headers=_auth(people["sysadmin"])).get_data(as_text=True)
        assert 'data-dataset="hopitaux-agents"' in body
        # and the flagged citizen now reads the restricted dataset
        res = app.get("/en/dataset/hopitaux-agents", headers=_auth(citizen))
        assert res.status_code == 200
