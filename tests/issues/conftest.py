"""Fixtures of the issue-report tests: factories, roles, a real SMTP server."""
from __future__ import annotations

import pytest

from ckan.tests import factories

from .factories import *  # noqa: F401,F403 (the issue, issue_factory... fixtures)
from .smtp import SMTP_PORT, Collector  # noqa: F401

PLUGINS = "activity servicespublics servicespublics_search servicespublics_issues"


@pytest.fixture
def roles(app):
    """An organisation with an admin, an editor and a plain member, a public
    and a private dataset, a reporter, another user and a sysadmin (all with
    API tokens), and a second organisation with its own editor.

    It asks for ``app`` so that the links that actions put in reports and mails
    are built by a web application with this test's plugins (outside a
    request, CKAN's ``url_for`` uses the last application created).
    """
    users = {name: factories.UserWithToken(name=f"{name}-user", fullname=name.title(),
                                           email=f"{name}@example.org")
             for name in ("admin", "editor", "member", "reporter", "other",
                          "other_editor")}
    users["sysadmin"] = factories.SysadminWithToken(
        name="sysadmin-user", email="sysadmin@example.org")
    org = factories.Organization(
        name="ministere", title="Ministère",
        users=[{"name": users["admin"]["name"], "capacity": "admin"},
               {"name": users["editor"]["name"], "capacity": "editor"},
               {"name": users["member"]["name"], "capacity": "member"}])
    other_org = factories.Organization(
        name="autre-ministere", title="Autre ministère",
        users=[{"name": users["other_editor"]["name"], "capacity": "editor"}])
    public = factories.Dataset(
        name="gendarmeries", title="Gendarmeries", owner_org=org["id"],
        resources=[{"url": "http://example.org/g.csv", "format": "CSV",
                    "name": "Brigades"}])
    private = factories.Dataset(name="plan-secret", title="Plan secret",
                                owner_org=org["id"], private=True,
                                resources=[{"url": "http://example.org/p.csv",
                                            "format": "CSV"}])
    other = factories.Dataset(name="ecoles", title="Écoles", owner_org=other_org["id"])
    return {"users": users, "org": org, "other_org": other_org, "public": public,
            "private": private, "other_dataset": other}


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1:SMTP_PORT (mark the test with
    ``ckan_config("smtp.server", SMTP_SERVER)``)."""
    from aiosmtpd.controller import Controller

    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield collector
    finally:
        controller.stop()
