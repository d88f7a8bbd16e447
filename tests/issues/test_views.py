"""The pages: the « report a problem » buttons, the form (CSRF, honeypot,
rate limit), the reports tab, a report's page, the moderation queues; every
text a user typed is rendered escaped."""
from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup

import ckan.model as model
import ckan.plugins.toolkit as tk

from .conftest import PLUGINS
from .helpers import act

pytestmark = [pytest.mark.ckan_config("ckan.plugins", PLUGINS),
              pytest.mark.usefixtures("with_plugins", "clean_db", "clean_redis")]

XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>"\'&'
XSS_ESCAPED = "&lt;script&gt;alert("


def _reports():
    from ckanext.servicespublics.issues.model import Report

    model.Session.expire_all()
    return model.Session.query(Report).order_by(Report.number).all()


def _csrf(response) -> str:
    field = BeautifulSoup(response.body, "html.parser").select_one(
        "form.servicespublics-issue-form input[name=_csrf_token], "
        "form input[name=_csrf_token]")
    assert field is not None, "no CSRF field in the form"
    return field["value"]


def _login(app, user):
    """Sign in through the login form (a session cookie, as in a browser)."""
    page = app.get("/user/login")
    token = BeautifulSoup(page.body, "html.parser").select_one(
        "input[name=_csrf_token]")["value"]
    response = app.post("/user/login", data={
        "login": user["name"], "password": "correct123", "_csrf_token": token},
        follow_redirects=False)
    assert response.status_code == 302, response.body
    assert app.get("/dashboard/datasets").status_code == 200


def _auth(user):
    return {"Authorization": user["token"]}


def _form_url(pkg="gendarmeries", **params):
    return tk.url_for("servicespublics_issues.new", id=pkg, **params)


def _submit(app, url=None, status=None, **fields):
    url = url or _form_url()
    form_page = app.get(url)
    data = {"_csrf_token": _csrf(form_page), "category": "wrong_information",
            "description": "Les horaires de la brigade ont changé : fermée le samedi."}
    data.update(fields)
    return app.post(url, data=data, follow_redirects=False, status=status)


class TestButtons:
    def test_dataset_page_button_and_tab(self, app, roles):
        created = act("servicespublics_issue_create", None, package_id="gendarmeries",
                      category="other", description="Le fichier est vide depuis mars.")
        page = BeautifulSoup(app.get("/dataset/gendarmeries").body, "html.parser")
        button = page.select_one("a.servicespublics-issue-report")
        assert button["href"] == "/dataset/gendarmeries/issues/new"
        tab = page.find("a", href="/dataset/gendarmeries/issues")
        assert tab is not None and "(0)" in tab.text  # pending reports are not counted
        act("servicespublics_issue_moderate", roles["users"]["editor"], id=created["id"],
            action="publish")
        page = BeautifulSoup(app.get("/dataset/gendarmeries").body, "html.parser")
        assert "(1)" in page.find("a", href="/dataset/gendarmeries/issues").text

    def test_resource_page_button(self, app, roles):
        resource = roles["public"]["resources"][0]
        page = BeautifulSoup(app.get(
            f"/dataset/gendarmeries/resource/{resource['id']}").body, "html.parser")
        button = page.select_one("a.servicespublics-issue-report")
        assert button["href"] == f"/dataset/gendarmeries/issues/new?resource_id={resource['id']}"

    def test_point_link_from_a_resource_id(self, app, roles):
        resource = roles["public"]["resources"][0]
        response = app.get("/issues/new", query_string={
            "resource_id": resource["id"], "point_id": "fs-7"}, follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(
            f"/dataset/gendarmeries/issues/new?resource_id={resource['id']}&point_id=fs-7")
        app.get("/issues/new", query_string={"resource_id": "nope"}, status=404)
        # the redirection names the dataset: not for those who may not see it
        secret = roles["private"]["resources"][0]
        for headers in ({}, {"Authorization": roles["users"]["other"]["token"]}):
            response = app.get("/issues/new", query_string={"resource_id": secret["id"]},
                               headers=headers, follow_redirects=False)
            assert response.status_code == 404
            assert "plan-secret" not in response.headers.get("Location", "")
            assert "plan-secret" not in response.body
        response = app.get("/issues/new", query_string={"resource_id": secret["id"]},
                           headers={"Authorization": roles["users"]["editor"]["token"]},
                           follow_redirects=False)
        assert response.headers["Location"].endswith(
            f"/dataset/plan-secret/issues/new?resource_id={secret['id']}")
        # the helper the map calls
        with app.flask_app.test_request_context():
            url = tk.h.servicespublics_issue_form_url(
                roles["public"], resource_id=resource["id"], point_id="fs 7")
        assert url == (f"/dataset/gendarmeries/issues/new?resource_id={resource['id']}"
                       "&point_id=fs+7")


class TestForm:
    def test_form_fields(self, app, roles):
        resource = roles["public"]["resources"][0]
        page = BeautifulSoup(app.get(_form_url(resource_id=resource["id"],
                                               point_id="fs-7")).body, "html.parser")
        form = page.select_one("form.servicespublics-issue-form")
        assert {i["value"] for i in form.select("input[name=category]")} == {
            "service_missing", "wrong_location", "wrong_information", "service_closed",
            "duplicate", "other"}
        assert form.select_one("textarea[name=description]") is not None
        assert form.select_one("input[name=email][type=email]") is not None
        for field in ("name", "address", "postcode", "latitude", "longitude",
                      "opening_hours", "opening_date", "closing_date"):
            assert form.select_one(f"input[name=correction-{field}]") is not None, field
        assert form.select_one("select[name=correction-status]") is not None
        assert form.select_one("input[name=resource_id]")["value"] == resource["id"]
        assert form.select_one("input[name=point_id]")["value"] == "fs-7"
        assert form.select_one("input[name=website]")["tabindex"] == "-1"
        assert form.select_one("input[name=_csrf_token]")["value"]

    def test_bad_targets(self, app, roles):
        app.get(_form_url(point_id="fs-7"), status=400)
        app.get(_form_url(resource_id=roles["private"]["resources"][0]["id"]), status=404)
        app.get(_form_url(pkg="no-such-dataset"), status=404)
        # a private dataset does not exist for whoever may not see it
        app.get(_form_url(pkg="plan-secret"), status=404)
        app.get(_form_url(pkg="plan-secret"), headers=_auth(roles["users"]["member"]),
                status=200)

    def test_post_without_csrf_token_is_refused(self, app, roles):
        response = app.post(_form_url(), data={
            "category": "other", "description": "Sans jeton CSRF."}, follow_redirects=False)
        assert response.status_code == 400
        response = app.post(_form_url(), data={
            "_csrf_token": "forged", "category": "other", "description": "Jeton faux."},
            follow_redirects=False)
        assert response.status_code == 400
        assert _reports() == []

    def test_anonymous_report_with_correction(self, app, roles):
        resource = roles["public"]["resources"][0]
        response = _submit(app, _form_url(resource_id=resource["id"], point_id="fs-7"),
                           **{"email": "citoyen@example.net",
                              "correction-address": "3 rue Pasteur",
                              "correction-latitude": "48,117", "correction-longitude": "-1.6778",
                              "correction-status": "closed", "correction-name": ""})
        assert response.status_code == 302
        [report] = _reports()
        assert report.moderation_state == "pending"
        assert report.point_id == "fs-7" and report.resource_id == resource["id"]
        assert report.correction == {"address": "3 rue Pasteur", "latitude": 48.117,
                                     "longitude": -1.6778, "status": "closed"}
        assert report.reporter_email == "citoyen@example.net"
        location = response.headers["Location"]
        assert re.search(rf"/dataset/gendarmeries/issues/{report.number}\?token=\w{{40}}$",
                         location)
        # the secret link shows the pending report to its reporter
        page = app.get(location)
        assert page.status_code == 200
        assert "3 rue Pasteur" in page.body
        assert 'data-moderation-state="pending"' in page.body
        assert "citoyen@example.net" not in page.body
        # without the token it does not exist
        app.get(f"/dataset/gendarmeries/issues/{report.number}", status=404)

    def test_signed_in_report(self, app, roles):
        reporter = roles["users"]["reporter"]
        _login(app, reporter)
        response = _submit(app)
        assert response.status_code == 302
        assert "token=" not in response.headers["Location"]
        [report] = _reports()
        assert report.user_id == reporter["id"]
        assert app.get(response.headers["Location"]).status_code == 200

    def test_honeypot_keeps_nothing(self, app, roles):
        response = _submit(app, website="http://spam.example")
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/dataset/gendarmeries")
        assert _reports() == []

    def test_errors_keep_the_input(self, app, roles):
        response = _submit(app, status=400, category="", description="x" * 6000,
                           **{"correction-latitude": "91", "correction-longitude": "2"})
        page = BeautifulSoup(response.body, "html.parser")
        errors = {li["data-field"] for li in page.select(".error-explanation li")}
        assert errors == {"category", "description", "correction"}
        assert page.select_one("textarea[name=description]").text == "x" * 6000
        assert page.select_one("input[name=correction-latitude]")["value"] == "91"
        assert _reports() == []

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.rate_limit.ip", "2")
    def test_rate_limit(self, app, roles):
        _submit(app, status=302)
        _submit(app, status=302)
        response = _submit(app)
        assert response.status_code == 429
        assert len(_reports()) == 2
        # another address may still report
        form = app.get(_form_url(), environ_base={"REMOTE_ADDR": "198.51.100.4"})
        app.post(_form_url(), data={"_csrf_token": _csrf(form), "category": "other",
                                    "description": "Autre adresse."},
                 environ_base={"REMOTE_ADDR": "198.51.100.4"}, follow_redirects=False,
                 status=302)

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.allow_anonymous", "false")
    def test_sign_in_required_when_configured(self, app, roles):
        response = app.get(_form_url(), follow_redirects=False)
        assert response.status_code == 302
        assert "/user/login" in response.headers["Location"]


class TestXSS:
    def test_every_text_field_is_escaped(self, app, roles):
        u = roles["users"]
        resource = roles["public"]["resources"][0]
        created = act("servicespublics_issue_create", u["reporter"],
                      package_id="gendarmeries", resource_id=resource["id"],
                      point_id=XSS, category="wrong_information", description=XSS,
                      correction={"name": XSS, "address": XSS, "opening_hours": XSS})
        act("servicespublics_issue_moderate", u["editor"], id=created["id"], action="publish")
        act("servicespublics_issue_comment", u["reporter"], id=created["id"], body=XSS)
        act("servicespublics_issue_update", u["editor"], id=created["id"],
            status="in_progress", comment=XSS)
        pages = [
            app.get(f"/dataset/gendarmeries/issues/{created['number']}"),
            app.get(f"/dataset/gendarmeries/issues/{created['number']}",
                    headers=_auth(u["editor"])),
            app.get("/dataset/gendarmeries/issues"),
            app.get("/issues/moderation?moderation_state=published",
                    headers=_auth(u["editor"])),
            app.get("/organization/ministere/issues?moderation_state=published",
                    headers=_auth(u["admin"])),
            app.get(_form_url(resource_id=resource["id"], point_id=XSS)),
        ]
        for page in pages:
            assert page.status_code == 200
            assert "<script>alert(" not in page.body
            assert "onerror=alert(1)>" not in page.body
            assert XSS_ESCAPED in page.body
        detail = pages[0].body
        assert detail.count(XSS_ESCAPED) >= 5  # description, 3 fields, 2 comments

    def test_form_errors_are_escaped(self, app, roles):
        response = _submit(app, status=400, category=XSS, description=XSS,
                           email=XSS, **{"correction-status": XSS})
        assert "<script>alert(" not in response.body
        assert XSS_ESCAPED in response.body


class TestReportPage:
    @pytest.fixture
    def published(self, roles):
        created = act("servicespublics_issue_create", roles["users"]["reporter"],
                      package_id="gendarmeries", category="service_closed",
                      description="La brigade est fermée depuis le 1er mars.",
                      email="private-reporter@example.net")
        act("servicespublics_issue_moderate", roles["users"]["editor"], id=created["id"],
            action="publish")
        return created

    def test_public_view(self, app, roles, published):
        page = BeautifulSoup(app.get(
            f"/dataset/gendarmeries/issues/{published['number']}").body, "html.parser")
        article = page.select_one("article.servicespublics-issue")
        assert article["data-status"] == "open"
        assert page.select_one(".servicespublics-issue-moderation-panel") is None
        assert page.select_one("form.servicespublics-issue-comment-form") is None
        assert "private-reporter@example.net" not in str(page)
        assert roles["users"]["reporter"]["name"] not in str(page)
        assert [li["data-action"] for li in page.select(".servicespublics-issue-history li")
                ] == ["created", "published"]

    def test_moderator_updates_through_the_page(self, app, roles, published):
        editor = roles["users"]["editor"]
        _login(app, editor)
        url = f"/dataset/gendarmeries/issues/{published['number']}"
        page = app.get(url)
        soup = BeautifulSoup(page.body, "html.parser")
        assert soup.select_one(".servicespublics-issue-moderation-panel") is not None
        assert "private-reporter@example.net" not in page.body
        token = _csrf(page)
        response = app.post(url + "/update", data={
            "_csrf_token": token, "status": "resolved",
            "comment": "La brigade a rouvert, le fichier est corrigé."},
            follow_redirects=False)
        assert response.status_code == 302
        # without the token, nothing changes
        app.post(url + "/update", data={"status": "wont_fix"}, status=400)
        page = app.get(url)
        soup = BeautifulSoup(page.body, "html.parser")
        assert soup.select_one("article.servicespublics-issue")["data-status"] == "resolved"
        assert "La brigade a rouvert" in page.body
        assert "status" in [li["data-action"] for li in
                            soup.select(".servicespublics-issue-history li")]

    def test_reporter_comments_with_the_secret_link(self, app, roles):
        created = act("servicespublics_issue_create", None, package_id="gendarmeries",
                      category="other", description="Le téléphone ne répond jamais.")
        url = f"/dataset/gendarmeries/issues/{created['number']}"
        page = app.get(url, query_string={"token": created["token"]})
        form = BeautifulSoup(page.body, "html.parser").select_one(
            "form.servicespublics-issue-comment-form")
        assert form.select_one("input[name=token]")["value"] == created["token"]
        response = app.post(url + "/comment", data={
            "_csrf_token": _csrf(page), "token": created["token"],
            "body": "J'ai réessayé ce matin, toujours rien."}, follow_redirects=False)
        assert response.status_code == 302
        assert created["token"] in response.headers["Location"]
        shown = act("servicespublics_issue_show", None, id=created["id"],
                    token=created["token"])
        assert [c["body"] for c in shown["comments"]] == [
            "J'ai réessayé ce matin, toujours rien."]
        # someone else cannot
        page = app.get(_form_url())
        app.post(url + "/comment", data={"_csrf_token": _csrf(page), "body": "Intrus"},
                 status=403)

    def test_moderation_buttons(self, app, roles):
        editor = roles["users"]["editor"]
        a = act("servicespublics_issue_create", None, package_id="gendarmeries",
                category="duplicate", description="Doublon de la brigade de Rennes.")
        b = act("servicespublics_issue_create", None, package_id="gendarmeries",
                category="duplicate", description="Doublon, encore.")
        _login(app, editor)
        url = f"/dataset/gendarmeries/issues/{a['number']}"
        token = _csrf(app.get(url))
        app.post(url + "/moderate", data={"_csrf_token": token, "action": "publish"},
                 follow_redirects=False, status=302)
        url_b = f"/dataset/gendarmeries/issues/{b['number']}"
        app.post(url_b + "/moderate", data={"_csrf_token": token, "action": "merge",
                                            "merge_into": str(a["number"])},
                 follow_redirects=False, status=302)
        assert [r.moderation_state for r in _reports()] == ["published", "merged"]
        # a bad merge is explained, not a crash
        c = act("servicespublics_issue_create", None, package_id="gendarmeries",
                category="other", description="Troisième signalement.")
        url_c = f"/dataset/gendarmeries/issues/{c['number']}"
        page = app.post(url_c + "/moderate", data={
            "_csrf_token": token, "action": "merge", "merge_into": str(c["number"])})
        assert page.status_code == 200
        assert "alert-danger" in page.body or "alert-error" in page.body

    def test_pending_report_is_hidden(self, app, roles):
        created = act("servicespublics_issue_create", None, package_id="gendarmeries",
                      category="other", description="En attente.")
        url = f"/dataset/gendarmeries/issues/{created['number']}"
        app.get(url, status=404)
        app.get(url, headers=_auth(roles["users"]["other"]), status=404)
        app.get(url, headers=_auth(roles["users"]["member"]), status=404)
        app.get(url, headers=_auth(roles["users"]["editor"]), status=200)
        # the reports of one dataset are not reachable through another
        app.get(f"/dataset/ecoles/issues/{created['number']}",
                headers=_auth(roles["users"]["sysadmin"]), status=404)

    def test_private_dataset_reports(self, app, roles):
        created = act("servicespublics_issue_create", roles["users"]["member"],
                      package_id="plan-secret", category="other",
                      description="Confidentiel : la caserne ferme en juin.")
        act("servicespublics_issue_moderate", roles["users"]["admin"], id=created["id"],
            action="publish")
        for headers in ({}, _auth(roles["users"]["other"])):
            app.get("/dataset/plan-secret/issues", headers=headers, status=404)
            app.get(f"/dataset/plan-secret/issues/{created['number']}", headers=headers,
                    status=404)
            listing = app.get("/dataset/gendarmeries/issues", headers=headers)
            assert "Confidentiel" not in listing.body
        page = app.get("/dataset/plan-secret/issues", headers=_auth(roles["users"]["member"]))
        assert "Confidentiel" in page.body


class TestTab:
    def test_counts_and_filters(self, app, roles):
        editor = roles["users"]["editor"]
        made = [act("servicespublics_issue_create", None, package_id="gendarmeries",
                    category=category, description=f"Signalement {i}.")
                for i, category in enumerate(["other", "wrong_location", "service_closed"])]
        waiting = act("servicespublics_issue_create", None, package_id="gendarmeries",
                      category="other", description="Pas encore modéré.")
        act("servicespublics_issue_moderate", editor, id=[m["id"] for m in made],
            action="publish")
        act("servicespublics_issue_update", editor, id=made[0]["id"], status="resolved")
        page = BeautifulSoup(app.get("/dataset/gendarmeries/issues").body, "html.parser")
        items = page.select(".servicespublics-issue-list li.servicespublics-issue-item")
        assert len(items) == 3
        assert "Pas encore modéré" not in str(page)
        counts = {a.get("data-status"): a.text for a in
                  page.select(".servicespublics-issue-counts a[data-status]")}
        assert "(2)" in counts["open"] and "(1)" in counts["resolved"]
        filtered = BeautifulSoup(app.get("/dataset/gendarmeries/issues?status=resolved").body,
                                 "html.parser")
        assert [li["data-report"] for li in filtered.select("li.servicespublics-issue-item")
                ] == [str(made[0]["number"])]
        # moderators are pointed to what waits
        page = app.get("/dataset/gendarmeries/issues", headers=_auth(editor))
        assert "/issues/moderation?package_id=" in page.body
        assert waiting["description"] not in page.body


class TestQueue:
    def test_access(self, app, roles):
        app.get("/issues/moderation", status=403)
        app.get("/issues/moderation", headers=_auth(roles["users"]["other"]), status=403)
        app.get("/issues/moderation", headers=_auth(roles["users"]["member"]), status=403)
        app.get("/issues/moderation", headers=_auth(roles["users"]["editor"]), status=200)
        app.get("/organization/ministere/issues", headers=_auth(roles["users"]["member"]),
                status=403)
        app.get("/organization/ministere/issues",
                headers=_auth(roles["users"]["other_editor"]), status=403)
        app.get("/organization/ministere/issues", headers=_auth(roles["users"]["admin"]),
                status=200)
        app.get("/organization/ministere/issues", headers=_auth(roles["users"]["sysadmin"]),
                status=200)
        # the organisation tab is shown to its moderators only
        org_page = app.get("/organization/ministere", headers=_auth(roles["users"]["editor"]))
        assert 'href="/organization/ministere/issues"' in org_page.body
        org_page = app.get("/organization/ministere", headers=_auth(roles["users"]["member"]))
        assert 'href="/organization/ministere/issues"' not in org_page.body

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.blocked_words", "casino")
    def test_bulk_moderation_with_csrf(self, app, roles):
        editor = roles["users"]["editor"]
        ours = [act("servicespublics_issue_create", None, package_id="gendarmeries",
                    category="other", description=text)
                for text in ("Premier signalement.", "Deuxième signalement.",
                             "Casino en ligne gratuit !")]
        theirs = act("servicespublics_issue_create", None, package_id="ecoles",
                     category="other", description="Pour l'autre ministère.")
        _login(app, editor)
        page = app.get("/issues/moderation")
        soup = BeautifulSoup(page.body, "html.parser")
        listed = {li["data-report"] for li in soup.select("li.servicespublics-issue-item")}
        assert listed == {str(r["number"]) for r in ours}
        assert str(theirs["number"]) not in listed
        held = app.get("/issues/moderation?moderation_state=held")
        assert [li["data-report"] for li in BeautifulSoup(held.body, "html.parser").select(
            "li.servicespublics-issue-item")] == [str(ours[2]["number"])]
        token = _csrf(page)
        # no token: refused
        app.post("/issues/moderation", data={"report": [ours[0]["id"]],
                                             "bulk_action": "publish"}, status=400)
        response = app.post("/issues/moderation", data={
            "_csrf_token": token, "report": [ours[0]["id"], ours[1]["id"]],
            "bulk_action": "publish"}, follow_redirects=False)
        assert response.status_code == 302
        app.post("/issues/moderation", data={
            "_csrf_token": token, "report": [ours[2]["id"]], "bulk_action": "reject_spam"},
            follow_redirects=False, status=302)
        states = {r.number: (r.moderation_state, r.rejection_reason) for r in _reports()}
        assert states == {ours[0]["number"]: ("published", None),
                          ours[1]["number"]: ("published", None),
                          ours[2]["number"]: ("rejected", "spam"),
                          theirs["number"]: ("pending", None)}
        # another organisation's report cannot be slipped in
        response = app.post("/issues/moderation", data={
            "_csrf_token": token, "report": [theirs["id"]], "bulk_action": "publish"})
        assert response.status_code == 403
        assert _reports()[-1].moderation_state == "pending"

    def test_org_queue_filters(self, app, roles):
        admin = roles["users"]["admin"]
        act("servicespublics_issue_create", None, package_id="gendarmeries",
            category="service_missing", description="Il manque la brigade de Vitré.")
        act("servicespublics_issue_create", None, package_id="gendarmeries",
            category="other", description="Autre chose.")
        page = app.get("/organization/ministere/issues?category=service_missing",
                       headers=_auth(admin))
        soup = BeautifulSoup(page.body, "html.parser")
        assert len(soup.select("li.servicespublics-issue-item")) == 1
        assert "Il manque la brigade de Vitré." in page.body
