"""Access levels: permission labels, levels kept consistent with ``private``,
organisation defaults, public agents."""
from __future__ import annotations

import pytest

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import get_permission_labels
from ckan.tests import factories, helpers

PLUGINS = "activity servicespublics servicespublics_search servicespublics_access image_view"


def _extra(pkg_dict, key):
    for extra in pkg_dict.get("extras") or []:
        if extra["key"] == key:
            return extra["value"]
    return None


def _sysadmin_ctx():
    return {"user": factories.Sysadmin()["name"]}


def _ministry(**kwargs):
    """An organisation of type ministère (only sysadmins set a type)."""
    return helpers.call_action(
        "organization_create", context=_sysadmin_ctx(),
        name=kwargs.pop("name", None) or factories.Organization.stub().name,
        extras=[{"key": "org_type", "value": "ministere"}], **kwargs)


def _call(action, **kwargs):
    """Call an action as a sysadmin (the activity plugin needs a user)."""
    return helpers.call_action(action, context=_sysadmin_ctx(), **kwargs)


def _as(user, action, **kwargs):
    """Call an action as a user, with the auth checks (``helpers.call_action``
    skips them unless told)."""
    context = {"user": user["name"] if user else "", "ignore_auth": False}
    return helpers.call_action(action, context=context, **kwargs)


def _labels(dataset_id):
    return sorted(get_permission_labels().get_dataset_labels(model.Package.get(dataset_id)))


def _user_labels(user_id):
    return get_permission_labels().get_user_dataset_labels(model.User.get(user_id))


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestDatasetLabels:
    def test_three_levels(self):
        org = factories.Organization()
        creator = factories.User()
        ctx = {"user": creator["name"], "ignore_auth": True}
        pub = factories.Dataset(owner_org=org["id"], access_level="public", context=ctx)
        res = factories.Dataset(owner_org=org["id"], access_level="restricted", context=ctx)
        priv = factories.Dataset(owner_org=org["id"], access_level="private", context=ctx)

        assert _labels(pub["id"]) == ["public"]
        assert _labels(res["id"]) == sorted(
            ["agent", f"member-{org['id']}", f"creator-{creator['id']}"])
        assert _labels(priv["id"]) == sorted(
            [f"member-{org['id']}", f"creator-{creator['id']}"])
        # the level is stored as a plain extra (no scheming field here) and
        # private follows it
        assert (pub["private"], _extra(pub, "access_level")) == (False, "public")
        assert (res["private"], _extra(res, "access_level")) == (True, "restricted")
        assert (priv["private"], _extra(priv, "access_level")) == (True, "private")

    def test_draft_is_never_open_to_agents(self):
        org = factories.Organization()
        draft = factories.Dataset(owner_org=org["id"], access_level="restricted",
                                  state="draft")
        assert "agent" not in _labels(draft["id"])
        assert "public" not in _labels(draft["id"])
        public_draft = factories.Dataset(owner_org=org["id"], state="draft")
        assert "public" not in _labels(public_draft["id"])

    def test_level_given_as_extra(self):
        org = factories.Organization()
        dataset = factories.Dataset(
            owner_org=org["id"], extras=[{"key": "access_level", "value": "restricted"},
                                         {"key": "source", "value": "DILA"}])
        assert dataset["private"] is True
        assert _extra(dataset, "access_level") == "restricted"
        assert _extra(dataset, "source") == "DILA"

    def test_invalid_level_is_refused_with_nothing_saved(self):
        org = factories.Organization()
        with pytest.raises(tk.ValidationError) as e:
            factories.Dataset(name="mauvais-niveau", owner_org=org["id"],
                              access_level="secret")
        assert "access_level" in e.value.error_dict
        assert model.Package.get("mauvais-niveau") is None

    def test_restricted_needs_an_organisation(self):
        with pytest.raises(tk.ValidationError) as e:
            factories.Dataset(access_level="restricted")
        assert "access_level" in e.value.error_dict

    def test_clients_that_only_know_private(self):
        org = _ministry()
        # a ministry defaults to restricted, but an explicit `private` wins
        assert factories.Dataset(owner_org=org["id"], private=False)["private"] is False
        priv = factories.Dataset(owner_org=org["id"], private=True)
        assert _extra(priv, "access_level") == "private"


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestLevelChanges:
    def test_update_keeps_the_level_when_nothing_is_said(self):
        org = factories.Organization()
        dataset = factories.Dataset(owner_org=org["id"], access_level="restricted")
        # a full update that forgets extras and private must not open the data
        updated = _call("package_update", id=dataset["id"],
                                      name=dataset["name"], title="Nouveau titre",
                                      owner_org=org["id"])
        assert updated["private"] is True
        assert _extra(updated, "access_level") == "restricted"

    def test_patch_private_false_publishes(self):
        org = factories.Organization()
        dataset = factories.Dataset(owner_org=org["id"], access_level="restricted")
        patched = _call("package_patch", id=dataset["id"], private=False)
        assert patched["private"] is False
        assert _extra(patched, "access_level") == "public"
        assert _labels(dataset["id"]) == ["public"]

    def test_patch_private_true_on_a_public_dataset_makes_it_private(self):
        org = factories.Organization()
        dataset = factories.Dataset(owner_org=org["id"])
        patched = _call("package_patch", id=dataset["id"], private=True)
        assert _extra(patched, "access_level") == "private"

    def test_patch_level_wins(self):
        org = factories.Organization()
        dataset = factories.Dataset(owner_org=org["id"], access_level="private")
        patched = _call("package_patch", id=dataset["id"],
                                      access_level="restricted")
        assert (patched["private"], _extra(patched, "access_level")) == (True, "restricted")
        # both sent, inconsistent: the level wins
        patched = _call("package_patch", id=dataset["id"],
                                      access_level="public", private=True)
        assert (patched["private"], _extra(patched, "access_level")) == (False, "public")

    def test_resource_changes_keep_the_level(self):
        org = factories.Organization()
        dataset = factories.Dataset(owner_org=org["id"], access_level="restricted")
        factories.Resource(package_id=dataset["id"], url="http://example.org/a.csv")
        shown = _call("package_show", id=dataset["id"])
        assert (shown["private"], _extra(shown, "access_level")) == (True, "restricted")

    def test_bulk_actions(self):
        org = factories.Organization()
        restricted = factories.Dataset(owner_org=org["id"], access_level="restricted")
        public = factories.Dataset(owner_org=org["id"])
        ids = [restricted["id"], public["id"]]
        _call("bulk_update_private", datasets=ids, org_id=org["id"])
        # "make private" keeps restricted datasets restricted (already private
        # in CKAN's terms) and closes public ones entirely
        assert _extra(_call("package_show", id=restricted["id"]),
                      "access_level") == "restricted"
        assert _extra(_call("package_show", id=public["id"]),
                      "access_level") == "private"
        _call("bulk_update_public", datasets=ids, org_id=org["id"])
        for id_ in ids:
            shown = _call("package_show", id=id_)
            assert (shown["private"], _extra(shown, "access_level")) == (False, "public")

    def test_moving_to_another_organisation_reindexes(self):
        org_a, org_b = factories.Organization(), factories.Organization()
        member_a = factories.User()
        _call("organization_member_create", id=org_a["id"],
                            username=member_a["name"], role="member")
        dataset = factories.Dataset(owner_org=org_a["id"], access_level="private")
        assert _as(member_a, "package_search", include_private=True)["count"] == 1
        _call("package_owner_org_update", id=dataset["id"],
                            organization_id=org_b["id"])
        # the search index follows the new organisation, like package_show
        assert _as(member_a, "package_search", include_private=True)["count"] == 0
        with pytest.raises(tk.NotAuthorized):
            _as(member_a, "package_show", id=dataset["id"])


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestOrganisationDefaults:
    def test_ministry_defaults_to_restricted(self):
        org = _ministry()
        dataset = factories.Dataset(owner_org=org["id"])
        assert (dataset["private"], _extra(dataset, "access_level")) == (True, "restricted")

    def test_untyped_organisation_defaults_to_public(self):
        dataset = factories.Dataset(owner_org=factories.Organization()["id"])
        assert (dataset["private"], _extra(dataset, "access_level")) == (False, "public")

    def test_organisation_own_default_wins(self):
        org = _ministry()
        _call("organization_patch", id=org["id"], default_access_level="private")
        dataset = factories.Dataset(owner_org=org["id"])
        assert _extra(dataset, "access_level") == "private"
        # an explicit level still wins
        assert _extra(factories.Dataset(owner_org=org["id"], access_level="public"),
                      "access_level") == "public"

    @pytest.mark.ckan_config(
        "ckanext.servicespublics.access.default_level_by_org_type",
        "prefecture:private association:restricted")
    def test_configured_defaults(self):
        ctx = _sysadmin_ctx()
        prefecture = helpers.call_action(
            "organization_create", context=dict(ctx), name="prefecture-35",
            org_type="prefecture")
        ministry = _ministry()
        assert _extra(factories.Dataset(owner_org=prefecture["id"]),
                      "access_level") == "private"
        # ministries are no longer listed: public
        assert _extra(factories.Dataset(owner_org=ministry["id"]),
                      "access_level") == "public"

    def test_only_sysadmins_set_the_type(self):
        admin = factories.User()
        org = factories.Organization(user=admin)
        with pytest.raises(tk.ValidationError) as e:
            _as(admin, "organization_patch", id=org["id"], org_type="ministere")
        assert "org_type" in e.value.error_dict
        # the organisation admin may choose the default level
        patched = _as(admin, "organization_patch", id=org["id"],
                      default_access_level="restricted")
        assert _extra(patched, "default_access_level") == "restricted"

    def test_type_is_kept_on_updates_that_omit_it(self):
        admin = factories.User()
        org = _ministry(users=[{"name": admin["name"], "capacity": "admin"}])
        updated = _as(admin, "organization_update", id=org["id"], name=org["name"],
                      title="Ministère renommé")
        assert _extra(updated, "org_type") == "ministere"

    def test_invalid_values(self):
        ctx = _sysadmin_ctx()
        with pytest.raises(tk.ValidationError) as e:
            helpers.call_action("organization_create", context=dict(ctx), name="x-org",
                                org_type="ministry", default_access_level="secret")
        assert set(e.value.error_dict) == {"org_type", "default_access_level"}
        assert model.Group.get("x-org") is None


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestAgents:
    def test_members_are_agents(self):
        user = factories.User()
        assert "agent" not in _user_labels(user["id"])
        factories.Organization(users=[{"name": user["name"], "capacity": "member"}])
        assert "agent" in _user_labels(user["id"])

    def test_anonymous_and_citizens_are_not(self):
        assert get_permission_labels().get_user_dataset_labels(None) == ["public"]
        assert "agent" not in _user_labels(factories.User()["id"])

    def test_flagged_users_are_agents(self):
        user = factories.User()
        helpers.call_action("servicespublics_access_agent_set", context=_sysadmin_ctx(),
                            id=user["name"], agent=True)
        assert "agent" in _user_labels(user["id"])
        helpers.call_action("servicespublics_access_agent_set", context=_sysadmin_ctx(),
                            id=user["name"], agent="false")
        assert "agent" not in _user_labels(user["id"])

    def test_deleted_organisation_no_longer_counts(self):
        user = factories.User()
        org = factories.Organization(users=[{"name": user["name"], "capacity": "editor"}])
        _call("organization_delete", id=org["id"])
        assert "agent" not in _user_labels(user["id"])

    @pytest.mark.ckan_config("ckanext.servicespublics.access.agent_membership", "typed")
    def test_typed_mode_ignores_self_made_organisations(self):
        citizen = factories.User()
        # anybody may create an organisation when user_create_organizations is on
        _as(citizen, "organization_create", name="mon-asso-a-moi")
        assert "agent" not in _user_labels(citizen["id"])
        official = factories.User()
        _ministry(users=[{"name": official["name"], "capacity": "member"}])
        assert "agent" in _user_labels(official["id"])

    @pytest.mark.ckan_config("ckanext.servicespublics.access.agent_membership", "none")
    def test_none_mode(self):
        user = factories.User()
        factories.Organization(users=[{"name": user["name"], "capacity": "admin"}])
        assert "agent" not in _user_labels(user["id"])

    def test_agents_read_restricted_across_ministries(self):
        org_a = _ministry()
        agent = factories.User()
        _ministry(users=[{"name": agent["name"], "capacity": "member"}])
        citizen = factories.User()
        restricted = factories.Dataset(owner_org=org_a["id"], title="Brigades")
        private = factories.Dataset(owner_org=org_a["id"], access_level="private")
        assert _as(agent, "package_show", id=restricted["id"])["title"] == "Brigades"
        for user, dataset in ((citizen, restricted), (agent, private), (None, restricted)):
            with pytest.raises(tk.NotAuthorized):
                _as(user, "package_show", id=dataset["id"])
        found = _as(agent, "package_search", include_private=True)
        assert [d["id"] for d in found["results"]] == [restricted["id"]]


def _activity_titles(user, action, **kwargs):
    return [a["data"].get("package", {}).get("title")
            for a in _as(user, action, limit=100, **kwargs)]


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestActivities:
    """Activities keep the labels of the moment they were recorded: once a
    dataset closes, what was recorded while it was open must close too."""

    def test_closing_a_dataset_closes_its_history(self):
        org = _ministry()
        agent = factories.User()
        _ministry(users=[{"name": agent["name"], "capacity": "member"}])
        dataset = factories.Dataset(owner_org=org["id"], access_level="public",
                                    title="Plan public")
        _call("package_patch", id=dataset["id"], title="Plan révisé")
        assert "Plan révisé" in _activity_titles(None, "recently_changed_packages_activity_list")

        _call("package_patch", id=dataset["id"], access_level="restricted",
              title="Plan réservé")
        for action in ("recently_changed_packages_activity_list",):
            assert not {"Plan public", "Plan révisé", "Plan réservé"} & set(
                _activity_titles(None, action))
            # (the creation, by the site user, is hidden from every stream)
            assert {"Plan révisé", "Plan réservé"} <= set(_activity_titles(agent, action))
        assert not {"Plan public", "Plan révisé"} & set(_activity_titles(
            None, "user_activity_list", id=dataset["creator_user_id"]))

        # the labels recorded with the activities narrowed (so the streams'
        # own SQL filter drops them, before their LIMIT)
        from ckanext.activity.model import Activity

        recorded = [a.permission_labels for a in model.Session.query(Activity).filter(
            Activity.object_id == dataset["id"])]
        assert recorded and all("public" not in labels and "agent" in labels
                                for labels in recorded)

        _call("package_patch", id=dataset["id"], access_level="private")
        assert not {"Plan public", "Plan réservé"} & set(
            _activity_titles(agent, "recently_changed_packages_activity_list"))
        recorded = [a.permission_labels for a in model.Session.query(Activity).filter(
            Activity.object_id == dataset["id"])]
        assert all("agent" not in labels for labels in recorded)

    def test_opening_a_dataset_keeps_its_closed_history_closed(self):
        org = _ministry()
        dataset = factories.Dataset(owner_org=org["id"], access_level="private",
                                    title="Brouillon interne")
        _call("package_patch", id=dataset["id"], access_level="public", title="Publié")
        titles = _activity_titles(None, "recently_changed_packages_activity_list")
        assert "Publié" in titles
        assert "Brouillon interne" not in titles

    def test_resource_view_activities_follow_the_dataset(self):
        """ckanext-activity shows "new resource view" activities (with the
        whole dataset) to everybody: only readers get them."""
        creator = factories.User()
        org = factories.Organization(users=[{"name": creator["name"], "capacity": "editor"}])
        dataset = _as(creator, "package_create", name="vue-privee", owner_org=org["id"],
                      access_level="private", title="Données internes",
                      resources=[{"url": "https://example.org/a.png", "name": "img"}])
        _as(creator, "resource_view_create", resource_id=dataset["resources"][0]["id"],
            view_type="image_view", title="Aperçu")
        for who in (None, factories.User()):
            assert not _as(who, "user_activity_list", id=creator["id"], limit=100) or all(
                a["object_id"] != dataset["id"]
                for a in _as(who, "user_activity_list", id=creator["id"], limit=100))
        assert any(a["object_id"] == dataset["id"]
                   for a in _as(creator, "user_activity_list", id=creator["id"], limit=100))
