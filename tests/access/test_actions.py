"""Sysadmin actions: who can see a dataset, what a user can see, agent flag."""
from __future__ import annotations

import pytest

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

PLUGINS = "activity servicespublics servicespublics_search servicespublics_access"
ACTIONS = (
    "servicespublics_access_dataset_viewers",
    "servicespublics_access_user_datasets",
    "servicespublics_access_agent_set",
    "servicespublics_access_agent_show",
    "servicespublics_access_agent_list",
)


def _as(user, action, **kwargs):
    context = {"user": user["name"] if user else "", "ignore_auth": False}
    return helpers.call_action(action, context=context, **kwargs)


@pytest.fixture
def people():
    """A ministry with a member, an agent of another organisation, a flagged
    user, a citizen and a sysadmin."""
    sysadmin = factories.Sysadmin()
    member, agent, flagged, citizen = (factories.User() for _ in range(4))
    ministry = _as(sysadmin, "organization_create", name="ministere-justice",
                   org_type="ministere",
                   users=[{"name": member["name"], "capacity": "editor"}])
    _as(sysadmin, "organization_create", name="prefecture-05", org_type="prefecture",
        users=[{"name": agent["name"], "capacity": "member"}])
    _as(sysadmin, "servicespublics_access_agent_set", id=flagged["id"], agent=True)
    return {"sysadmin": sysadmin, "member": member, "agent": agent, "flagged": flagged,
            "citizen": citizen, "ministry": ministry}


def _dataset(people, level, **kwargs):
    return _as(people["member"], "package_create", name=kwargs.pop("name", None)
               or factories.Dataset.stub().name, owner_org=people["ministry"]["id"],
               access_level=level, **kwargs)


def _names(viewers):
    return {u["name"]: u["reasons"] for u in viewers["users"]}


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestDatasetViewers:
    def test_restricted(self, people):
        dataset = _dataset(people, "restricted")
        viewers = _as(people["sysadmin"], "servicespublics_access_dataset_viewers",
                      id=dataset["name"])
        assert viewers["access_level"] == "restricted"
        assert viewers["everyone"] is False
        names = _names(viewers)
        assert names[people["member"]["name"]] == ["member", "creator", "agent"]
        assert names[people["agent"]["name"]] == ["agent"]
        assert names[people["flagged"]["name"]] == ["agent"]
        # the sysadmin created the ministry: also its admin
        assert names[people["sysadmin"]["name"]] == ["sysadmin", "member", "agent"]
        assert people["citizen"]["name"] not in names
        assert viewers["count"] == len(names)

    def test_private(self, people):
        dataset = _dataset(people, "private")
        names = _names(_as(people["sysadmin"], "servicespublics_access_dataset_viewers",
                           id=dataset["id"]))
        assert set(names) == {people["member"]["name"], people["sysadmin"]["name"]}

    def test_public(self, people):
        dataset = _dataset(people, "public")
        viewers = _as(people["sysadmin"], "servicespublics_access_dataset_viewers",
                      id=dataset["id"])
        assert viewers["everyone"] is True
        assert viewers["users"] == []

    def test_the_list_is_what_package_show_allows(self, people):
        """The report and the permission system never disagree."""
        users = [people[k] for k in ("member", "agent", "flagged", "citizen", "sysadmin")]
        for level in ("restricted", "private"):
            dataset = _dataset(people, level)
            listed = set(_names(_as(people["sysadmin"],
                                    "servicespublics_access_dataset_viewers",
                                    id=dataset["id"])))
            for user in users:
                try:
                    _as(user, "package_show", id=dataset["id"])
                    allowed = True
                except tk.NotAuthorized:
                    allowed = False
                assert allowed == (user["name"] in listed), (level, user["name"])

    def test_unknown_dataset(self, people):
        with pytest.raises(tk.ObjectNotFound):
            _as(people["sysadmin"], "servicespublics_access_dataset_viewers", id="nope")
        with pytest.raises(tk.ValidationError):
            _as(people["sysadmin"], "servicespublics_access_dataset_viewers")


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestUserDatasets:
    def test_agent_sees_restricted_of_other_ministries(self, people):
        restricted = _dataset(people, "restricted", title="Brigades")
        _dataset(people, "private")
        _dataset(people, "public")
        result = _as(people["sysadmin"], "servicespublics_access_user_datasets",
                     id=people["agent"]["name"])
        assert result["user"]["agent"] is True
        assert result["user"]["agent_reasons"] == ["member"]
        assert result["count"] == 1
        assert [(d["id"], d["access_level"]) for d in result["results"]] == [
            (restricted["id"], "restricted")]

    def test_member_and_public(self, people):
        _dataset(people, "restricted")
        _dataset(people, "private")
        _dataset(people, "public")
        result = _as(people["sysadmin"], "servicespublics_access_user_datasets",
                     id=people["member"]["id"])
        assert sorted(d["access_level"] for d in result["results"]) == [
            "private", "restricted"]
        result = _as(people["sysadmin"], "servicespublics_access_user_datasets",
                     id=people["member"]["id"], include_public=True, rows=2)
        assert result["count"] == 3
        assert len(result["results"]) == 2

    def test_citizen(self, people):
        _dataset(people, "restricted")
        result = _as(people["sysadmin"], "servicespublics_access_user_datasets",
                     id=people["citizen"]["id"])
        assert (result["count"], result["user"]["agent"]) == (0, False)

    def test_invalid_paging(self, people):
        with pytest.raises(tk.ValidationError) as e:
            _as(people["sysadmin"], "servicespublics_access_user_datasets",
                id=people["citizen"]["id"], rows=-1, start="x")
        assert set(e.value.error_dict) == {"rows", "start"}


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestAgentFlag:
    def test_set_and_show(self, people):
        citizen = people["citizen"]
        status = _as(people["sysadmin"], "servicespublics_access_agent_show",
                     id=citizen["name"])
        assert (status["agent"], status["flagged"], status["reasons"]) == (False, False, [])
        status = _as(people["sysadmin"], "servicespublics_access_agent_set",
                     id=citizen["name"], agent="true")
        assert (status["agent"], status["flagged"], status["reasons"]) == (True, True, ["flag"])
        # stored in the user's plugin_extras, other plugins' data untouched
        user = model.User.get(citizen["id"])
        assert user.plugin_extras["servicespublics_access"] == {"agent": True}
        status = _as(people["sysadmin"], "servicespublics_access_agent_set",
                     id=citizen["name"], agent=False)
        assert status["agent"] is False
        assert not (model.User.get(citizen["id"]).plugin_extras or {}).get(
            "servicespublics_access")

    def test_keeps_other_plugin_extras(self, people):
        user = model.User.get(people["citizen"]["id"])
        user.plugin_extras = {"other_plugin": {"x": 1}}
        model.repo.commit()
        _as(people["sysadmin"], "servicespublics_access_agent_set", id=user.id, agent=True)
        _as(people["sysadmin"], "servicespublics_access_agent_set", id=user.id, agent=False)
        assert model.User.get(user.id).plugin_extras == {"other_plugin": {"x": 1}}

    def test_members_stay_agents_when_unflagged(self, people):
        status = _as(people["sysadmin"], "servicespublics_access_agent_set",
                     id=people["agent"]["name"], agent=False)
        assert (status["agent"], status["reasons"]) == (True, ["member"])

    def test_bad_input(self, people):
        for data in ({"id": people["citizen"]["id"], "agent": "maybe"},
                     {"id": people["citizen"]["id"]}, {"agent": True}):
            with pytest.raises(tk.ValidationError):
                _as(people["sysadmin"], "servicespublics_access_agent_set", **data)
        with pytest.raises(tk.ObjectNotFound):
            _as(people["sysadmin"], "servicespublics_access_agent_set", id="nobody",
                agent=True)
        assert not model.User.get(people["citizen"]["id"]).plugin_extras

    def test_list(self, people):
        result = _as(people["sysadmin"], "servicespublics_access_agent_list")
        names = {u["name"]: u["reasons"] for u in result["results"]}
        assert names == {people["member"]["name"]: ["member"],
                         people["agent"]["name"]: ["member"],
                         people["flagged"]["name"]: ["flag"]}
        assert result["count"] == 3
        result = _as(people["sysadmin"], "servicespublics_access_agent_list",
                     q=people["flagged"]["name"][:6])
        assert people["flagged"]["name"] in [u["name"] for u in result["results"]]


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestAuth:
    @pytest.mark.parametrize("action", ACTIONS)
    def test_sysadmins_only(self, people, action):
        dataset = _dataset(people, "restricted")
        data = {"id": dataset["id"]} if action.endswith("dataset_viewers") else {
            "id": people["citizen"]["id"], "agent": True}
        for who in ("member", "agent", "flagged", "citizen"):
            with pytest.raises(tk.NotAuthorized):
                helpers.call_auth(action, {"user": people[who]["name"]}, **data)
            with pytest.raises(tk.NotAuthorized):
                _as(people[who], action, **data)
        with pytest.raises(tk.NotAuthorized):
            _as(None, action, **data)
        assert helpers.call_auth(action, {"user": people["sysadmin"]["name"]}, **data)
