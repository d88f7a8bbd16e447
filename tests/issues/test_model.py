"""The tables of the issue reports: created by the migration, mapped by the
model, nothing lost on rejection."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

import ckan.model as model
from ckan.tests import helpers

from .conftest import PLUGINS


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestTables:
    def test_migration_creates_the_tables(self):
        names = set(sa.inspect(model.Session.get_bind()).get_table_names())
        assert {"servicespublics_issues_report", "servicespublics_issues_comment",
                "servicespublics_issues_event", "servicespublics_issues_correction",
                "servicespublics_issues_alembic_version"} <= names
        columns = {c["name"] for c in sa.inspect(model.Session.get_bind()).get_columns(
            "servicespublics_issues_correction")}
        assert {"resource_id", "source_id", "fields", "report_id", "accepted_by",
                "created", "state"} <= columns

    def test_numbers_and_lookup(self, issue_factory):
        from ckanext.servicespublics.issues.model import Report

        first = issue_factory()
        second = issue_factory()
        assert second["number"] > first["number"]
        assert Report.get(first["id"]).number == first["number"]
        assert Report.get(str(second["number"])).id == second["id"]
        assert Report.get(second["number"]).id == second["id"]
        assert Report.get("no-such-report") is None
        assert Report.get("") is None

    def test_rejected_report_is_kept(self, issue):
        from ckanext.servicespublics.issues.model import Event, Report

        helpers.call_action("servicespublics_issue_moderate", id=issue["id"],
                            action="reject", reason="spam")
        model.Session.expire_all()
        report = Report.get(issue["id"])
        assert report.moderation_state == "rejected"
        assert report.description == issue["description"]
        actions = [e.action for e in model.Session.query(Event).filter(
            Event.report_id == issue["id"]).order_by(Event.seq)]
        assert actions == ["created", "rejected"]

    def test_state_constraints(self, issue):
        with pytest.raises(sa.exc.IntegrityError):
            model.Session.execute(sa.text(
                "UPDATE servicespublics_issues_report SET moderation_state = 'gone' "
                "WHERE id = :id"), {"id": issue["id"]})
        model.Session.rollback()
        with pytest.raises(sa.exc.IntegrityError):
            model.Session.execute(sa.text(
                "UPDATE servicespublics_issues_report SET status = 'lost' "
                "WHERE id = :id"), {"id": issue["id"]})
        model.Session.rollback()
