"""``ckan servicespublics issues send-digest`` and ``purge-spam``."""
from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa

import ckan.model as model
from ckan.cli.cli import ckan

from .conftest import PLUGINS
from .helpers import act
from .smtp import SMTP_SERVER

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", PLUGINS),
    pytest.mark.ckan_config("smtp.server", SMTP_SERVER),
    pytest.mark.usefixtures("with_plugins", "clean_db", "clean_redis", "with_extended_cli"),
]


def _age(report_id: str, days: float) -> None:
    """Make a report (and its moderation) ``days`` old."""
    when = datetime.datetime.utcnow() - datetime.timedelta(days=days)
    model.Session.execute(sa.text(
        "UPDATE servicespublics_issues_report SET created = :w, modified = :w, "
        "moderated = CASE WHEN moderated IS NULL THEN NULL ELSE :w END WHERE id = :id"),
        {"w": when, "id": report_id})
    model.Session.commit()


def _report(roles, user=None, dataset="public", **data):
    values = {"package_id": roles[dataset]["id"], "category": "service_missing",
              "description": "Il manque la maison France services de la commune voisine."}
    values.update(data)
    return act("servicespublics_issue_create", user, **values)


@pytest.mark.ckan_config("ckanext.servicespublics.issues.notify_moderators", "digest")
class TestDigest:
    def test_moderators_get_one_summary_each(self, cli, roles, smtp_server):
        old = _report(roles, None)
        new = _report(roles, None, email="citoyen@example.net")
        elsewhere = _report(roles, None, dataset="other_dataset")
        _age(old["id"], 3)
        act("servicespublics_issue_moderate", roles["users"]["other_editor"],
            id=elsewhere["id"], action="reject", reason="spam")
        _age(elsewhere["id"], 3)
        assert smtp_server.messages == []

        result = cli.invoke(ckan, ["servicespublics", "issues", "send-digest"])
        assert result.exit_code == 0, result.output
        assert "2 digest" in result.output
        messages = smtp_server.wait(2)
        assert sorted(m["rcpt"][0] for m in messages) == [
            "admin@example.org", "editor@example.org"]
        for message in messages:
            assert len(message["rcpt"]) == 1
            assert "citoyen@example.net" not in message["raw"]
            assert "2" in message["subject"]
            body = message["body"]
            # both await moderation; only the new one is listed as received
            assert f"#{new['number']}" in body
            assert f"#{old['number']}" not in body
            assert "http://test.ckan.net/issues/moderation" in body

    def test_nothing_to_say_nothing_sent(self, cli, roles, smtp_server):
        created = _report(roles, None)
        act("servicespublics_issue_moderate", roles["users"]["editor"], id=created["id"],
            action="publish")
        _age(created["id"], 2)
        result = cli.invoke(ckan, ["servicespublics", "issues", "send-digest"])
        assert result.exit_code == 0, result.output
        assert "0 digest" in result.output
        assert smtp_server.wait(1, timeout=0.5) == []

    def test_since_option(self, cli, roles, smtp_server):
        created = _report(roles, None)
        act("servicespublics_issue_moderate", roles["users"]["editor"], id=created["id"],
            action="publish")
        _age(created["id"], 2)
        result = cli.invoke(ckan, ["servicespublics", "issues", "send-digest",
                                   "--since", "72"])
        assert result.exit_code == 0, result.output
        assert f"#{created['number']}" in smtp_server.wait(2)[0]["body"]


class TestDigestDisabled:
    def test_instant_mode_needs_force(self, cli, roles, smtp_server):
        _report(roles, None)
        smtp_server.wait(2)
        smtp_server.messages.clear()
        result = cli.invoke(ckan, ["servicespublics", "issues", "send-digest"])
        assert result.exit_code == 0
        assert "--force" in result.output
        assert smtp_server.wait(1, timeout=0.5) == []
        result = cli.invoke(ckan, ["servicespublics", "issues", "send-digest", "--force"])
        assert result.exit_code == 0, result.output
        assert len(smtp_server.wait(2)) == 2


class TestPurgeSpam:
    def test_only_old_spam_goes(self, cli, roles):
        from ckanext.servicespublics.issues.model import Event, Report

        editor = roles["users"]["editor"]
        old_spam = _report(roles, None)
        new_spam = _report(roles, None)
        old_abuse = _report(roles, None)
        kept = _report(roles, None)
        act("servicespublics_issue_comment", None, id=old_spam["id"],
            token=old_spam["token"], body="Achetez maintenant.")
        for report, reason in ((old_spam, "spam"), (new_spam, "spam"), (old_abuse, "abuse")):
            act("servicespublics_issue_moderate", editor, id=report["id"], action="reject",
                reason=reason)
        _age(old_spam["id"], 100)
        _age(old_abuse["id"], 100)
        _age(kept["id"], 100)

        result = cli.invoke(ckan, ["servicespublics", "issues", "purge-spam", "--dry-run"])
        assert result.exit_code == 0, result.output
        assert "1 spam report" in result.output
        assert model.Session.query(Report).count() == 4

        result = cli.invoke(ckan, ["servicespublics", "issues", "purge-spam"])
        assert result.exit_code == 0, result.output
        model.Session.expire_all()
        assert {r.id for r in model.Session.query(Report)} == {
            new_spam["id"], old_abuse["id"], kept["id"]}
        assert model.Session.query(Event).filter(Event.report_id == old_spam["id"]).count() == 0

        result = cli.invoke(ckan, ["servicespublics", "issues", "purge-spam",
                                   "--older-than", "0"])
        assert result.exit_code == 0, result.output
        assert "1 spam report" in result.output
        assert model.Session.query(Report).count() == 2

    def test_help(self, cli):
        result = cli.invoke(ckan, ["servicespublics", "issues", "--help"])
        assert result.exit_code == 0
        assert "send-digest" in result.output and "purge-spam" in result.output
