"""Pages of the issue reports: the report form, a dataset's reports tab, a
report's page (comments, history, moderation, status, corrections) and the
moderation queues (site-wide and per organisation)."""
from __future__ import annotations

import logging
from typing import Any, Optional
from urllib.parse import urlencode

from flask import Blueprint

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib.pagination import Page
from ckan.types import Context, Response

from . import corrections as corr
from . import permissions as perm
from .logic.action import RateLimited
from .model import CATEGORIES, CORRECTION_FIELDS, MODERATION_STATES, STATUSES

log = logging.getLogger(__name__)

__all__ = ["servicespublics_issues"]

servicespublics_issues = Blueprint("servicespublics_issues", __name__)

# the honeypot: a field hidden from people, that bots fill in
HONEYPOT = "website"
PER_PAGE = 20


def _context() -> Context:
    user = tk.current_user
    return {"user": user.name if user.is_authenticated else "",
            "auth_user_obj": user if user.is_authenticated else None}


def _package(id: str) -> dict[str, Any]:
    try:
        return tk.get_action("package_show")(_context(), {"id": id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        # as core's dataset pages: a dataset one may not see does not exist
        return tk.abort(404, tk._("Dataset not found"))


def _error_summary(errors: dict[str, Any]) -> dict[str, str]:
    summary = {}
    for key, value in errors.items():
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = "; ".join(f"{k}: {v}" for k, v in value.items())
        summary[key] = str(value)
    return summary


def _form_correction(form: Any) -> dict[str, str]:
    return {f: form.get(f"correction-{f}", "").strip() for f in CORRECTION_FIELDS
            if form.get(f"correction-{f}", "").strip()}


def _resource(pkg_dict: dict[str, Any], resource_id: Optional[str]) -> Optional[dict[str, Any]]:
    if not resource_id:
        return None
    for resource in pkg_dict.get("resources", []):
        if resource["id"] == resource_id:
            return resource
    return tk.abort(404, tk._("Resource not found"))


def _report_url(pkg_name: str, number: Any, token: Optional[str] = None) -> str:
    return tk.url_for("servicespublics_issues.read", id=pkg_name, report_id=number,
                      token=token or None)


def _check_csrf() -> None:
    """Check the form's CSRF token ourselves, for every visitor.

    CKAN 2.12 exempts from CSRF protection the requests it identifies by an
    ``Authorization`` header, and also those of visitors who are not signed
    in (``g.login_via_auth_header``), and its ``csrf.exempt`` is
    process-wide: after one such request to a view, no later request to it
    is checked. Only requests that really sign in with an API token (which a
    browser cannot forge) go without a token here.
    """
    if tk.g.get("login_via_auth_header") and tk.current_user.is_authenticated:
        return
    from flask_wtf.csrf import ValidationError, validate_csrf

    field = tk.config.get("WTF_CSRF_FIELD_NAME")
    try:
        validate_csrf(tk.request.form.get(field))
    except ValidationError:
        tk.abort(400, tk._("The form has expired or was not sent from this site: "
                           "please reload the page and try again."))


@servicespublics_issues.before_request
def _before_request() -> None:
    if tk.request.method == "POST" and tk.config.get("WTF_CSRF_ENABLED"):
        _check_csrf()


# ------------------------------------------------------------- report form

def new(id: str) -> Any:
    pkg_dict = _package(id)
    args = tk.request.values
    resource_id = args.get("resource_id") or None
    point_id = args.get("point_id") or None
    resource = _resource(pkg_dict, resource_id)
    if point_id and resource is None:
        return tk.abort(400, tk._("A service point is identified within a resource"))
    point = corr.point_values(resource_id, point_id) if point_id and resource_id else None
    user = tk.current_user
    if not user.is_authenticated and not tk.config.get(
            "ckanext.servicespublics.issues.allow_anonymous"):
        tk.h.flash_notice(tk._("Please sign in to report a problem."))
        return tk.redirect_to("user.login", came_from=tk.request.full_path)

    data: dict[str, Any] = {"category": args.get("category") or
                            ("wrong_information" if point_id else "")}
    errors: dict[str, Any] = {}
    status = 200
    if tk.request.method == "POST":
        form = tk.request.form
        if form.get(HONEYPOT):
            # a bot: thank it and keep nothing
            log.info("Issue report dropped by the honeypot (dataset %s)", pkg_dict["id"])
            tk.h.flash_success(tk._("Thank you, your report was sent. It will be "
                                    "published after moderation."))
            return tk.redirect_to(pkg_dict["type"] + ".read", id=pkg_dict["name"])
        data = {
            "package_id": pkg_dict["id"],
            "resource_id": resource_id,
            "point_id": point_id,
            "category": form.get("category", ""),
            "description": form.get("description", ""),
            "email": form.get("email", "").strip(),
            "correction": _form_correction(form) or None,
        }
        try:
            result = tk.get_action("servicespublics_issue_create")(
                _context(), {k: v for k, v in data.items() if v not in (None, "")})
        except RateLimited as e:
            errors = e.error_dict
            status = 429
        except tk.ValidationError as e:
            errors = e.error_dict
            status = 400
        except tk.NotAuthorized:
            return tk.abort(403, tk._("Not authorised to report a problem on this dataset"))
        else:
            if result["is_reporter"] and user.is_authenticated:
                tk.h.flash_success(tk._(
                    "Thank you, your report was sent. It will be published after "
                    "moderation; you can follow it on this page."))
            else:
                tk.h.flash_success(tk._(
                    "Thank you, your report was sent. It will be published after "
                    "moderation. Keep the address of this page to follow it."))
            return tk.redirect_to(_report_url(pkg_dict["name"], result["number"],
                                              None if user.is_authenticated
                                              else result["token"]))
    extra_vars = {
        "pkg_dict": pkg_dict,
        "dataset_type": pkg_dict["type"],
        "resource": resource,
        "point_id": point_id,
        "point": point,
        "data": data,
        "correction": data.get("correction") or {},
        "errors": errors,
        "error_summary": _error_summary(errors),
        "honeypot": HONEYPOT,
    }
    return tk.render("servicespublics/issues/new.html", extra_vars), status


def new_for_resource() -> Any:
    """``/issues/new?resource_id=…&point_id=…``: the form of the resource's
    dataset (for links that only know the resource, like the map's)."""
    resource_id = tk.request.args.get("resource_id")
    resource = model.Resource.get(resource_id) if resource_id else None
    if resource is None or resource.state != "active":
        return tk.abort(404, tk._("Resource not found"))
    package = model.Package.get(resource.package_id)
    if package is None or not perm.can_see_package(_context(), package):
        # the redirection names the dataset: a dataset one may not see does
        # not exist, as on core's pages
        return tk.abort(404, tk._("Resource not found"))
    return tk.redirect_to("servicespublics_issues.new", id=package.name,
                          resource_id=resource.id,
                          point_id=tk.request.args.get("point_id") or None)


# -------------------------------------------------------- a dataset's reports

def _page_number() -> int:
    try:
        return max(int(tk.request.args.get("page", 1)), 1)
    except ValueError:
        return 1


def index(id: str) -> Any:
    pkg_dict = _package(id)
    status = [s for s in tk.request.args.getlist("status") if s in STATUSES]
    category = [c for c in tk.request.args.getlist("category") if c in CATEGORIES]
    page = _page_number()
    data_dict = {"package_id": pkg_dict["id"], "moderation_state": ["published"],
                 "status": status, "category": category,
                 "limit": PER_PAGE, "offset": (page - 1) * PER_PAGE}
    result = tk.get_action("servicespublics_issue_list")(_context(), data_dict)
    params = [(k, v) for k, v in tk.request.args.items(multi=True) if k != "page"]
    can_moderate = perm.can_moderate(perm.context_user(_context()),
                                     model.Package.get(pkg_dict["id"]))
    waiting = 0
    if can_moderate:
        waiting = tk.get_action("servicespublics_issue_list")(_context(), {
            "package_id": pkg_dict["id"], "moderation_state": ["pending", "held"],
            "limit": 1})["count"]
    extra_vars = {
        "pkg_dict": pkg_dict,
        "dataset_type": pkg_dict["type"],
        "reports": result["results"],
        "count": result["count"],
        "facets": result["facets"],
        "selected_status": status,
        "selected_category": category,
        "can_moderate": can_moderate,
        "waiting": waiting,
        "page": Page(collection=result["results"], page=page, item_count=result["count"],
                     items_per_page=PER_PAGE, presliced_list=True,
                     url=lambda q=None, page=None: "?" + urlencode(params + [("page", page)])),
    }
    return tk.render("servicespublics/issues/index.html", extra_vars)


def read(id: str, report_id: str) -> Any:
    pkg_dict = _package(id)
    token = tk.request.args.get("token") or None
    try:
        report = tk.get_action("servicespublics_issue_show")(
            _context(), {"id": report_id, "token": token})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Report not found"))
    except tk.NotAuthorized:
        return tk.abort(404, tk._("Report not found"))
    if report["package_id"] != pkg_dict["id"]:
        return tk.abort(404, tk._("Report not found"))
    point = None
    if report["resource_id"] and report["point_id"] and report["can_moderate"]:
        point = corr.point_values(report["resource_id"], report["point_id"])
    resource = None
    if report["resource_id"]:
        resource = next((r for r in pkg_dict.get("resources", [])
                         if r["id"] == report["resource_id"]), None)
    extra_vars = {
        "pkg_dict": pkg_dict,
        "dataset_type": pkg_dict["type"],
        "report": report,
        "resource": resource,
        "point": point,
        "token": token if report["is_reporter"] else None,
        "can_comment": (report["can_moderate"] or report["is_reporter"])
        and report["moderation_state"] not in ("rejected", "merged"),
    }
    return tk.render("servicespublics/issues/read.html", extra_vars)


def _post_action(id: str, report_id: str, action: str, data_dict: dict[str, Any],
                 success: str, token: Optional[str] = None) -> Response:
    pkg_dict = _package(id)
    data_dict = dict(data_dict, id=report_id)
    try:
        tk.get_action(action)(_context(), data_dict)
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Report not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Not authorised"))
    except RateLimited as e:
        return tk.render("servicespublics/issues/error.html", {
            "pkg_dict": pkg_dict, "dataset_type": pkg_dict["type"],
            "messages": _error_summary(e.error_dict),
            "back": _report_url(pkg_dict["name"], report_id, token)}), 429
    except tk.ValidationError as e:
        for key, message in _error_summary(e.error_dict).items():
            label = tk.h.servicespublics_issue_form_label(key)
            tk.h.flash_error(f"{label} : {message}")
        return tk.redirect_to(_report_url(pkg_dict["name"], report_id, token))
    tk.h.flash_success(success)
    return tk.redirect_to(_report_url(pkg_dict["name"], report_id, token))


def comment(id: str, report_id: str) -> Response:
    token = tk.request.form.get("token") or None
    return _post_action(id, report_id, "servicespublics_issue_comment",
                        {"body": tk.request.form.get("body", ""), "token": token},
                        tk._("Your comment was added."), token)


def update(id: str, report_id: str) -> Response:
    form = tk.request.form
    data = {k: form.get(k) for k in ("status", "category", "comment") if form.get(k)}
    return _post_action(id, report_id, "servicespublics_issue_update", data,
                        tk._("The report was updated."))


def moderate(id: str, report_id: str) -> Response:
    form = tk.request.form
    data = {k: form.get(k) for k in ("action", "reason", "merge_into", "note")
            if form.get(k)}
    return _post_action(id, report_id, "servicespublics_issue_moderate", data,
                        tk._("Moderation recorded."))


def accept(id: str, report_id: str) -> Response:
    form = tk.request.form
    data: dict[str, Any] = {"status": form.get("status") or "resolved"}
    fields = _form_correction(form)
    if fields:
        data["fields"] = fields
    return _post_action(id, report_id, "servicespublics_issue_accept_correction", data,
                        tk._("The correction was accepted and applied to the point."))


def remove_correction(id: str, report_id: str, correction_id: str) -> Response:
    pkg_dict = _package(id)
    try:
        tk.get_action("servicespublics_issue_correction_remove")(
            _context(), {"id": correction_id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Correction not found"))
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Not authorised"))
    except tk.ValidationError as e:
        for message in _error_summary(e.error_dict).values():
            tk.h.flash_error(message)
    else:
        tk.h.flash_success(tk._("The correction was removed."))
    return tk.redirect_to(_report_url(pkg_dict["name"], report_id))


# ------------------------------------------------------------ moderation queue

_BULK_ACTIONS = {
    "publish": {"action": "publish"},
    "reject_spam": {"action": "reject", "reason": "spam"},
    "reject_abuse": {"action": "reject", "reason": "abuse"},
}


def _queue(group_dict: Optional[dict[str, Any]]) -> Any:
    context = _context()
    user = perm.context_user(context)
    orgs = perm.moderator_org_ids(user)
    if not perm.is_sysadmin(user) and (
            not orgs or (group_dict is not None and group_dict["id"] not in orgs)):
        return tk.abort(403, tk._("Only moderators may see the moderation queue"))

    if tk.request.method == "POST":
        ids = tk.request.form.getlist("report")
        bulk = _BULK_ACTIONS.get(tk.request.form.get("bulk_action", ""))
        if not ids or bulk is None:
            tk.h.flash_error(tk._("Select reports and an action."))
        else:
            try:
                result = tk.get_action("servicespublics_issue_moderate")(
                    context, dict(bulk, id=ids))
            except tk.NotAuthorized:
                return tk.abort(403, tk._("Not authorised"))
            except (tk.ValidationError, tk.ObjectNotFound) as e:
                messages = (_error_summary(e.error_dict).values()
                            if isinstance(e, tk.ValidationError) else [tk._("Report not found")])
                for message in messages:
                    tk.h.flash_error(message)
            else:
                tk.h.flash_success(tk.ungettext(
                    "{n} report moderated.", "{n} reports moderated.",
                    len(result["results"])).format(n=len(result["results"])))
        return tk.redirect_to(tk.request.full_path)

    args = tk.request.args
    states = [s for s in args.getlist("moderation_state") if s in MODERATION_STATES] \
        or ["pending", "held"]
    category = [c for c in args.getlist("category") if c in CATEGORIES]
    status = [s for s in args.getlist("status") if s in STATUSES]
    organization = group_dict["id"] if group_dict else (args.get("organization") or None)
    package_id = args.get("package_id") or None
    page = _page_number()
    data_dict = {"moderation_state": states, "category": category, "status": status,
                 "organization": organization, "package_id": package_id,
                 "sort": "created asc" if set(states) <= {"pending", "held"}
                 else "created desc",
                 "limit": PER_PAGE, "offset": (page - 1) * PER_PAGE}
    try:
        result = tk.get_action("servicespublics_issue_list")(
            context, {k: v for k, v in data_dict.items() if v})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Not found"))
    params = [(k, v) for k, v in args.items(multi=True) if k != "page"]
    org_choices = []
    if group_dict is None:
        query = model.Session.query(model.Group).filter(
            model.Group.is_organization.is_(True), model.Group.state == "active")
        if not perm.is_sysadmin(user):
            query = query.filter(model.Group.id.in_(orgs))
        org_choices = [{"value": g.id, "text": g.display_name}
                       for g in query.order_by(model.Group.title)]
    extra_vars = {
        "group_dict": group_dict,
        "group_type": "organization",
        "reports": result["results"],
        "count": result["count"],
        "facets": result["facets"],
        "selected_states": states,
        "selected_category": category,
        "selected_status": status,
        "selected_organization": organization,
        "org_choices": org_choices,
        "page": Page(collection=result["results"], page=page, item_count=result["count"],
                     items_per_page=PER_PAGE, presliced_list=True,
                     url=lambda q=None, page=None: "?" + urlencode(params + [("page", page)])),
    }
    template = ("servicespublics/issues/org_queue.html" if group_dict
                else "servicespublics/issues/queue.html")
    return tk.render(template, extra_vars)


def queue() -> Any:
    return _queue(None)


def org_queue(id: str) -> Any:
    try:
        group_dict = tk.get_action("organization_show")(
            _context(), {"id": id, "include_datasets": False})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(404, tk._("Organization not found"))
    return _queue(group_dict)


servicespublics_issues.add_url_rule("/dataset/<id>/issues/new", view_func=new,
                                    methods=["GET", "POST"])
servicespublics_issues.add_url_rule("/issues/new", view_func=new_for_resource)
servicespublics_issues.add_url_rule("/dataset/<id>/issues", view_func=index)
servicespublics_issues.add_url_rule("/dataset/<id>/issues/<report_id>", view_func=read)
servicespublics_issues.add_url_rule("/dataset/<id>/issues/<report_id>/comment",
                                    view_func=comment, methods=["POST"])
servicespublics_issues.add_url_rule("/dataset/<id>/issues/<report_id>/update",
                                    view_func=update, methods=["POST"])
servicespublics_issues.add_url_rule("/dataset/<id>/issues/<report_id>/moderate",
                                    view_func=moderate, methods=["POST"])
servicespublics_issues.add_url_rule("/dataset/<id>/issues/<report_id>/accept",
                                    view_func=accept, methods=["POST"])
servicespublics_issues.add_url_rule(
    "/dataset/<id>/issues/<report_id>/corrections/<correction_id>/remove",
    view_func=remove_correction, methods=["POST"])
servicespublics_issues.add_url_rule("/issues/moderation", view_func=queue,
                                    methods=["GET", "POST"])
servicespublics_issues.add_url_rule("/organization/<id>/issues", view_func=org_queue,
                                    methods=["GET", "POST"])
