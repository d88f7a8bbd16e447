"""Authorisation of the issue-report actions, role by role: anonymous
visitor, reporter (account or secret link), another user, organisation
member, editor and admin, an editor of another organisation, sysadmin."""
from __future__ import annotations

import pytest

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import helpers

from ..conftest import PLUGINS

pytestmark = [pytest.mark.ckan_config("ckan.plugins", PLUGINS),
              pytest.mark.usefixtures("with_plugins", "clean_db")]

ROLES = ("anonymous", "reporter", "other", "member", "editor", "admin",
         "other_editor", "sysadmin")


def allowed(auth: str, role: str, roles, **data) -> bool:
    user = "" if role == "anonymous" else roles["users"][role]["name"]
    context = {"user": user, "model": model}
    try:
        return bool(helpers.call_auth(auth, context, **data))
    except tk.NotAuthorized:
        return False


def who(auth: str, roles, **data) -> set[str]:
    return {role for role in ROLES if allowed(auth, role, roles, **data)}


@pytest.fixture
def reports(roles, issue_factory):
    u = roles["users"]
    made = {
        "pending": issue_factory(user=u["reporter"], package_id=roles["public"]["id"]),
        "published": issue_factory(user=u["reporter"], package_id=roles["public"]["id"]),
        "private": issue_factory(user=u["reporter"], package_id=roles["private"]["id"]),
        "anonymous": issue_factory(package_id=roles["public"]["id"]),
    }
    helpers.call_action("servicespublics_issue_moderate",
                        id=[made["published"]["id"], made["private"]["id"]],
                        action="publish")
    return made


MODERATORS = {"editor", "admin", "sysadmin"}


class TestCreate:
    def test_public_dataset(self, roles):
        assert who("servicespublics_issue_create", roles,
                   package_id=roles["public"]["id"]) == set(ROLES)

    def test_private_dataset(self, roles):
        assert who("servicespublics_issue_create", roles,
                   package_id=roles["private"]["id"]) == {"member", "editor", "admin",
                                                          "sysadmin"}
        resource = roles["private"]["resources"][0]["id"]
        assert "anonymous" not in who("servicespublics_issue_create", roles,
                                      resource_id=resource)

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.allow_anonymous", "false")
    def test_anonymous_off(self, roles):
        assert "anonymous" not in who("servicespublics_issue_create", roles,
                                      package_id=roles["public"]["id"])

    def test_unknown_dataset(self, roles):
        with pytest.raises(tk.ObjectNotFound):
            helpers.call_auth("servicespublics_issue_create", {"user": "", "model": model},
                              package_id="nope")


class TestShow:
    def test_pending(self, roles, reports):
        assert who("servicespublics_issue_show", roles,
                   id=reports["pending"]["id"]) == MODERATORS | {"reporter"}

    def test_published(self, roles, reports):
        assert who("servicespublics_issue_show", roles,
                   id=reports["published"]["id"]) == set(ROLES)

    def test_published_on_private_dataset(self, roles, reports):
        assert who("servicespublics_issue_show", roles,
                   id=reports["private"]["id"]) == {"member", "editor", "admin",
                                                    "sysadmin"}

    def test_anonymous_reporter_token(self, roles, reports):
        report = reports["anonymous"]
        assert allowed("servicespublics_issue_show", "anonymous", roles,
                       id=report["id"], token=report["token"])
        assert not allowed("servicespublics_issue_show", "anonymous", roles,
                           id=report["id"], token=reports["pending"]["token"])
        # a token is bound to its report
        assert not allowed("servicespublics_issue_show", "anonymous", roles,
                           id=reports["pending"]["id"], token=report["token"])

    def test_list_is_open_but_checks_the_dataset(self, roles, reports):
        assert who("servicespublics_issue_list", roles) == set(ROLES)
        assert who("servicespublics_issue_list", roles,
                   package_id=roles["private"]["id"]) == {"member", "editor", "admin",
                                                          "sysadmin"}


class TestModeration:
    @pytest.mark.parametrize("auth", ["servicespublics_issue_moderate",
                                      "servicespublics_issue_update",
                                      "servicespublics_issue_accept_correction"])
    def test_moderators_only(self, roles, reports, auth):
        for key in ("pending", "published", "private"):
            assert who(auth, roles, id=reports[key]["id"]) == MODERATORS, key

    def test_bulk_needs_every_report(self, roles, reports, issue_factory):
        elsewhere = issue_factory(package_id=roles["other_dataset"]["id"])
        ids = [reports["pending"]["id"], elsewhere["id"]]
        assert who("servicespublics_issue_moderate", roles, id=ids) == {"sysadmin"}

    def test_unowned_dataset_is_moderated_by_sysadmins(self, roles, issue_factory):
        from ckan.tests import factories

        dataset = factories.Dataset(user=roles["users"]["other"])
        report = issue_factory(package_id=dataset["id"])
        assert who("servicespublics_issue_moderate", roles, id=report["id"]) == {"sysadmin"}

    def test_comment(self, roles, reports):
        assert who("servicespublics_issue_comment", roles,
                   id=reports["published"]["id"]) == MODERATORS | {"reporter"}
        assert who("servicespublics_issue_comment", roles,
                   id=reports["pending"]["id"]) == MODERATORS | {"reporter"}
        anonymous = reports["anonymous"]
        assert allowed("servicespublics_issue_comment", "anonymous", roles,
                       id=anonymous["id"], token=anonymous["token"])
        assert not allowed("servicespublics_issue_comment", "anonymous", roles,
                           id=anonymous["id"])

    def test_former_editor_loses_the_right(self, roles, reports):
        helpers.call_action("organization_member_delete",
                            {"user": roles["users"]["sysadmin"]["name"]},
                            id=roles["org"]["id"],
                            username=roles["users"]["editor"]["name"])
        assert not allowed("servicespublics_issue_moderate", "editor", roles,
                           id=reports["pending"]["id"])
        assert not allowed("servicespublics_issue_show", "editor", roles,
                           id=reports["pending"]["id"])


class TestCorrections:
    def test_correction_list_follows_the_dataset(self, roles):
        public = roles["public"]["resources"][0]["id"]
        private = roles["private"]["resources"][0]["id"]
        assert who("servicespublics_issue_correction_list", roles,
                   resource_id=public) == set(ROLES)
        assert who("servicespublics_issue_correction_list", roles,
                   resource_id=private) == {"member", "editor", "admin", "sysadmin"}
