"""Emails about reports, delivered to a real SMTP server on loopback, sent
inline or from the jobs queue: who gets what, and nobody sees anybody
else's address."""
from __future__ import annotations

import re

import pytest

import ckan.lib.jobs as jobs
import ckan.plugins.toolkit as tk

from .conftest import PLUGINS
from .helpers import act
from .smtp import SMTP_SERVER, free_port

DESCRIPTION = ("Ce bureau de poste est fermé le samedi depuis janvier, les horaires "
               "publiés sont faux.")

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", PLUGINS),
    pytest.mark.ckan_config("smtp.server", SMTP_SERVER),
    pytest.mark.ckan_config("smtp.mail_from", "catalogue@servicespublics.test"),
    pytest.mark.usefixtures("with_plugins", "clean_db", "clean_redis"),
]

ALL_ADDRESSES = {"admin@example.org", "editor@example.org", "member@example.org",
                 "reporter@example.org", "other@example.org", "other_editor@example.org",
                 "sysadmin@example.org", "citoyen@example.net"}


def _numbered(number: int, subject: str) -> bool:
    """The subject names the report: "n° 12" in French (the site's default
    language), "#12" in English."""
    return re.search(rf"(?:#|n°\s*){number}\b", subject) is not None


def _create(roles, user=None, **data):
    values = {"package_id": roles["public"]["id"], "category": "wrong_information",
              "description": DESCRIPTION}
    values.update(data)
    return act("servicespublics_issue_create", user, **values)


def _assert_private(message):
    """One recipient per message, and no other address anywhere in it."""
    assert len(message["rcpt"]) == 1
    recipient = message["rcpt"][0]
    assert recipient in message["to"]
    for address in ALL_ADDRESSES - {recipient}:
        assert address not in message["raw"], (address, message["subject"])
        assert address not in message["body"], (address, message["subject"])


class TestModerators:
    def test_new_report_goes_to_editors_and_admins(self, roles, smtp_server):
        created = _create(roles, None, email="citoyen@example.net")
        messages = smtp_server.wait(2)
        assert sorted(m["rcpt"][0] for m in messages) == [
            "admin@example.org", "editor@example.org"]
        for message in messages:
            _assert_private(message)
            assert _numbered(created["number"], message["subject"])
            assert "Gendarmeries" in message["subject"]
            assert DESCRIPTION in message["body"]
            assert (f"http://test.ckan.net/dataset/gendarmeries/issues/{created['number']}"
                    in message["body"])
            assert created["token"] not in message["raw"]
            assert message["from"] == "catalogue@servicespublics.test"

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.blocked_words", "casino")
    def test_held_reports_wait_for_the_queue(self, roles, smtp_server):
        _create(roles, None, description="Le meilleur casino en ligne de la région !")
        assert smtp_server.wait(1, timeout=1) == []

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.notify_moderators", "digest")
    def test_digest_mode_sends_nothing_at_once(self, roles, smtp_server):
        _create(roles, None)
        assert smtp_server.wait(1, timeout=1) == []

    def test_reporter_comment_goes_to_moderators(self, roles, smtp_server):
        created = _create(roles, roles["users"]["reporter"])
        smtp_server.wait(2)
        smtp_server.messages.clear()
        act("servicespublics_issue_comment", roles["users"]["reporter"], id=created["id"],
            body="Précision : le samedi matin seulement.")
        messages = smtp_server.wait(2)
        assert sorted(m["rcpt"][0] for m in messages) == [
            "admin@example.org", "editor@example.org"]
        for message in messages:
            _assert_private(message)
            assert "le samedi matin seulement" in message["body"]

    def test_dataset_without_organisation_notifies_sysadmins(self, roles, smtp_server):
        from ckan.tests import factories

        dataset = factories.Dataset(user=roles["users"]["other"])
        act("servicespublics_issue_create", None, package_id=dataset["id"],
            category="other", description=DESCRIPTION)
        messages = smtp_server.wait(1)
        assert [m["rcpt"] for m in messages] == [["sysadmin@example.org"]]


@pytest.mark.ckan_config("ckanext.servicespublics.issues.notify_moderators", "none")
class TestReporter:
    def test_each_change_is_told_to_the_reporter(self, roles, smtp_server):
        u = roles["users"]
        created = _create(roles, u["reporter"], email="citoyen@example.net",
                          resource_id=roles["public"]["resources"][0]["id"],
                          point_id="fs-1", correction={"opening_hours": "lundi : 9:00 - 12:00"})
        assert smtp_server.wait(1, timeout=1) == []
        act("servicespublics_issue_moderate", u["editor"], id=created["id"], action="publish")
        act("servicespublics_issue_update", u["editor"], id=created["id"],
            status="in_progress", comment="Nous vérifions auprès du bureau.")
        act("servicespublics_issue_comment", u["admin"], id=created["id"],
            body="Confirmé par téléphone.")
        act("servicespublics_issue_accept_correction", u["admin"], id=created["id"])
        messages = smtp_server.wait(4)
        assert len(messages) == 4
        for message in messages:
            # the address given in the form wins over the account's
            assert message["rcpt"] == ["citoyen@example.net"]
            _assert_private(message)
            assert _numbered(created["number"], message["subject"])
            # a signed-in reporter follows the report with their account
            assert "token=" not in message["body"]
            assert (f"http://test.ckan.net/dataset/gendarmeries/issues/{created['number']}"
                    in message["body"])
        assert "Nous vérifions auprès du bureau." in messages[1]["body"]
        assert "Confirmé par téléphone." in messages[2]["body"]

    def test_nothing_about_a_dataset_the_reporter_may_no_longer_see(
            self, roles, smtp_server):
        """A dataset closed after the report: its producer's comments, status
        and title no longer go to the reporter who may not read it."""
        u = roles["users"]
        signed_in = _create(roles, u["reporter"], email="citoyen@example.net")
        visitor = _create(roles, None, email="visiteur@example.net")
        for created in (signed_in, visitor):
            act("servicespublics_issue_moderate", u["editor"], id=created["id"],
                action="publish")
        assert len(smtp_server.wait(2)) == 2
        act("package_patch", u["editor"], id=roles["public"]["id"], private=True,
            title="Gendarmeries fermées")
        for created in (signed_in, visitor):
            act("servicespublics_issue_update", u["editor"], id=created["id"],
                status="wont_fix", comment="Ces données ne sont plus publiques.")
            act("servicespublics_issue_comment", u["admin"], id=created["id"],
                body="Nous retirons le jeu de données.")
        messages = smtp_server.wait(3, timeout=2)
        assert len(messages) == 2, [(m["rcpt"], m["subject"]) for m in messages]
        assert not any("fermées" in m["raw"] for m in messages)

    def test_anonymous_reporter_gets_the_secret_link(self, roles, smtp_server):
        created = _create(roles, None, email="citoyen@example.net")
        act("servicespublics_issue_moderate", roles["users"]["editor"], id=created["id"],
            action="publish")
        message = smtp_server.wait(1)[0]
        assert message["rcpt"] == ["citoyen@example.net"]
        assert f"token={created['token']}" in message["body"]

    def test_account_address_by_default_and_no_mail_without_address(
            self, roles, smtp_server):
        u = roles["users"]
        with_account = _create(roles, u["reporter"])
        without = _create(roles, None)
        act("servicespublics_issue_moderate", u["editor"],
            id=[with_account["id"], without["id"]], action="publish")
        messages = smtp_server.wait(1)
        assert smtp_server.wait(2, timeout=1) == messages
        assert [m["rcpt"] for m in messages] == [["reporter@example.org"]]

    def test_spam_and_abuse_rejections_are_silent(self, roles, smtp_server):
        u = roles["users"]
        spam = _create(roles, None, email="citoyen@example.net")
        other = _create(roles, u["reporter"])
        act("servicespublics_issue_moderate", u["editor"], id=spam["id"], action="reject",
            reason="spam")
        assert smtp_server.wait(1, timeout=1) == []
        act("servicespublics_issue_moderate", u["editor"], id=other["id"], action="reject",
            reason="other", note="Ce n'est pas une erreur de données.")
        message = smtp_server.wait(1)[0]
        assert message["rcpt"] == ["reporter@example.org"]
        # the moderators' note is theirs
        assert "pas une erreur" not in message["body"]

    def test_own_changes_are_not_mailed(self, roles, smtp_server):
        editor = roles["users"]["editor"]
        created = _create(roles, editor)
        act("servicespublics_issue_moderate", editor, id=created["id"], action="publish")
        act("servicespublics_issue_update", editor, id=created["id"], status="resolved")
        act("servicespublics_issue_comment", editor, id=created["id"], body="Fait.")
        assert smtp_server.wait(1, timeout=1) == []

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.notify_reporter", "false")
    def test_reporter_notifications_can_be_disabled(self, roles, smtp_server):
        created = _create(roles, roles["users"]["reporter"])
        act("servicespublics_issue_moderate", roles["users"]["editor"], id=created["id"],
            action="publish")
        assert smtp_server.wait(1, timeout=1) == []


class TestDelivery:
    @pytest.mark.ckan_config("ckanext.servicespublics.issues.background_mail", "true")
    @pytest.mark.usefixtures("clean_queues", "with_test_worker")
    def test_background_jobs(self, roles, smtp_server):
        queue = tk.config.get("ckanext.servicespublics.issues.mail_queue")
        created = _create(roles, None, email="citoyen@example.net")
        assert smtp_server.wait(1, timeout=1) == []
        queued = jobs.get_queue(queue).jobs
        assert len(queued) == 1
        assert queued[0].meta["title"].endswith(f"#{created['number']}: new_report")
        jobs.Worker([queue]).work(burst=True)
        messages = smtp_server.wait(2)
        assert sorted(m["rcpt"][0] for m in messages) == [
            "admin@example.org", "editor@example.org"]
        for message in messages:
            _assert_private(message)
            assert _numbered(created["number"], message["subject"])

    @pytest.mark.ckan_config("smtp.server", f"127.0.0.1:{free_port()}")
    def test_smtp_failure_does_not_lose_the_report(self, roles):
        created = _create(roles, None, email="citoyen@example.net")
        shown = act("servicespublics_issue_show", roles["users"]["editor"], id=created["id"])
        assert shown["moderation_state"] == "pending"
        act("servicespublics_issue_moderate", roles["users"]["editor"], id=created["id"],
            action="publish")
