"""CSRF protection survives CKAN 2.12's per-view exemptions.

One anonymous POST to ``/dataset/edit/<id>`` makes CKAN exempt that view from
CSRF checks for the rest of the process; the base plugin checks the token
again for visitors signed in by their session cookie.
"""
from __future__ import annotations

import re

import pytest

from ckan.tests import factories, helpers

CORE_ONLY = "activity servicespublics_search"


def _token(body: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', body)
    assert found, "no CSRF token in the form"
    return found.group(1)


PASSWORD = "cheval correct agrafe batterie"


def _sign_in(app, user) -> None:
    """Through the login form, as a browser: the session cookie is kept."""
    form = app.get("/user/login").get_data(as_text=True)
    res = app.post("/user/login", data={"login": user["name"], "password": PASSWORD,
                                        "_csrf_token": _token(form)},
                   follow_redirects=False)
    assert res.status_code == 302


@pytest.fixture
def edited(app):
    user = factories.User(password=PASSWORD)
    org = factories.Organization(users=[{"name": user["name"], "capacity": "editor"}])
    dataset = factories.Dataset(owner_org=org["id"], title="Avant")
    # an anonymous visitor (or a script with a token) posts to the edit view once
    app.test_client().post(f"/dataset/edit/{dataset['name']}",
                           data={"title": "Anonyme", "save": ""})
    return user, dataset


def _forged_edit(app, user, dataset):
    """What a page of another site makes the signed-in editor's browser send."""
    _sign_in(app, user)
    return app.post(f"/dataset/edit/{dataset['name']}",
                    data={"name": dataset["name"], "title": "Falsifié",
                          "owner_org": dataset["owner_org"], "save": ""},
                    follow_redirects=False)


@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestExemptionsDoNotOutliveTheirRequest:
    def test_forged_post_from_a_signed_in_browser_is_refused(self, app, edited):
        user, dataset = edited
        res = _forged_edit(app, user, dataset)
        assert res.status_code == 400
        assert helpers.call_action("package_show", id=dataset["id"])["title"] == "Avant"

    def test_the_real_form_still_works(self, app, edited):
        user, dataset = edited
        _sign_in(app, user)
        form = app.get(f"/dataset/edit/{dataset['name']}").get_data(as_text=True)
        res = app.post(f"/dataset/edit/{dataset['name']}",
                       data={"name": dataset["name"], "title": "Après",
                             "owner_org": dataset["owner_org"], "save": "",
                             "_csrf_token": _token(form)},
                       follow_redirects=False)
        assert res.status_code == 302
        assert helpers.call_action("package_show", id=dataset["id"])["title"] == "Après"

    def test_api_tokens_are_not_asked_for_a_csrf_token(self, app):
        user = factories.UserWithToken()
        res = app.post("/api/3/action/package_create",
                       headers={"Authorization": user["token"]},
                       json={"name": "jeton-api", "title": "Créé avec un jeton"})
        assert res.status_code == 200, res.get_data(as_text=True)


@pytest.mark.ckan_config("ckan.plugins", CORE_ONLY)
@pytest.mark.usefixtures("with_plugins", "clean_db")
def test_without_the_base_plugin_ckan_lets_the_forgery_through(app, edited):
    """The flaw this guards against, in CKAN 2.12 as shipped: if CKAN fixes
    it, this test fails and ``ckanext/servicespublics/csrf.py`` can go."""
    user, dataset = edited
    res = _forged_edit(app, user, dataset)
    assert res.status_code == 302
    assert helpers.call_action("package_show", id=dataset["id"])["title"] == "Falsifié"
