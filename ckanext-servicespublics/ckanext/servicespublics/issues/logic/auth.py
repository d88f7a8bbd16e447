"""Authorisation of the issue-report actions (same names as the actions).

Every rule starts from the dataset: whoever may not ``package_show`` a
dataset may not see, report on or comment its reports.
"""
from __future__ import annotations

from typing import Optional

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict

from .. import permissions as perm
from ..model import Correction, Report

__all__ = [
    "servicespublics_issue_create",
    "servicespublics_issue_show",
    "servicespublics_issue_list",
    "servicespublics_issue_moderate",
    "servicespublics_issue_update",
    "servicespublics_issue_comment",
    "servicespublics_issue_accept_correction",
    "servicespublics_issue_correction_remove",
    "servicespublics_issue_correction_list",
]


def _fail(msg: str) -> AuthResult:
    return {"success": False, "msg": msg}


def _report(context: Context, data_dict: DataDict, key: str = "id") -> Report:
    report_id = data_dict.get(key)
    if isinstance(report_id, list):
        report_id = report_id[0] if len(report_id) == 1 else None
    cached = context.get("servicespublics_issue")  # type: ignore[misc]
    if isinstance(cached, Report) and report_id in (cached.id, str(cached.number)):
        return cached
    report = Report.get(report_id)
    if report is None:
        raise tk.ObjectNotFound(tk._("Report not found"))
    context["servicespublics_issue"] = report  # type: ignore[typeddict-unknown-key]
    return report


def _target_package(data_dict: DataDict) -> Optional[model.Package]:
    package = None
    if data_dict.get("resource_id"):
        resource = model.Resource.get(data_dict["resource_id"])
        if resource is None or resource.state != "active":
            raise tk.ObjectNotFound(tk._("Resource not found"))
        package = model.Package.get(resource.package_id)
    elif data_dict.get("package_id"):
        package = model.Package.get(data_dict["package_id"])
    if package is None:
        if data_dict.get("package_id") or data_dict.get("resource_id"):
            raise tk.ObjectNotFound(tk._("Dataset not found"))
    return package


def _moderator(context: Context, report: Report) -> AuthResult:
    user = perm.context_user(context)
    package = model.Package.get(report.package_id)
    if perm.can_moderate(user, package):
        return {"success": True}
    return _fail(tk._("Only the editors and admins of the dataset's organisation "
                      "may moderate its reports"))


@tk.auth_allow_anonymous_access
def servicespublics_issue_create(context: Context, data_dict: DataDict) -> AuthResult:
    user = perm.context_user(context)
    if user is None and not tk.config.get("ckanext.servicespublics.issues.allow_anonymous"):
        return _fail(tk._("You must be signed in to report a problem"))
    package = _target_package(data_dict)
    if package is None:
        # the action's validation tells which parameter is missing
        return {"success": True}
    if not perm.can_see_package(context, package):
        return _fail(tk._("Not authorised to see this dataset"))
    return {"success": True}


@tk.auth_allow_anonymous_access
def servicespublics_issue_show(context: Context, data_dict: DataDict) -> AuthResult:
    report = _report(context, data_dict)
    package = model.Package.get(report.package_id)
    if package is None or not perm.can_see_package(context, package):
        return _fail(tk._("Not authorised to see this report"))
    if report.is_public:
        return {"success": True}
    user = perm.context_user(context)
    if perm.can_moderate(user, package) or perm.is_reporter(
            report, user, data_dict.get("token")):
        return {"success": True}
    return _fail(tk._("This report is awaiting moderation"))


@tk.auth_allow_anonymous_access
def servicespublics_issue_list(context: Context, data_dict: DataDict) -> AuthResult:
    # the action only returns the reports the user may see
    package = _target_package({"package_id": data_dict.get("package_id"),
                               "resource_id": data_dict.get("resource_id")})
    if package is not None and not perm.can_see_package(context, package):
        return _fail(tk._("Not authorised to see this dataset"))
    return {"success": True}


def servicespublics_issue_moderate(context: Context, data_dict: DataDict) -> AuthResult:
    ids = data_dict.get("id")
    if not isinstance(ids, list):
        ids = [ids]
    if not ids or not all(ids):
        raise tk.ValidationError({"id": [tk._("Missing value")]})
    for report_id in ids:
        result = _moderator(context, _report(context, {"id": report_id}))
        if not result["success"]:
            return result
    return {"success": True}


def servicespublics_issue_update(context: Context, data_dict: DataDict) -> AuthResult:
    return _moderator(context, _report(context, data_dict))


@tk.auth_allow_anonymous_access
def servicespublics_issue_comment(context: Context, data_dict: DataDict) -> AuthResult:
    report = _report(context, data_dict)
    package = model.Package.get(report.package_id)
    if package is None or not perm.can_see_package(context, package):
        return _fail(tk._("Not authorised to see this report"))
    user = perm.context_user(context)
    if perm.can_moderate(user, package) or perm.is_reporter(
            report, user, data_dict.get("token")):
        return {"success": True}
    return _fail(tk._("Only the reporter and the dataset's producer may comment"))


def servicespublics_issue_accept_correction(context: Context,
                                            data_dict: DataDict) -> AuthResult:
    return _moderator(context, _report(context, data_dict))


def servicespublics_issue_correction_remove(context: Context,
                                            data_dict: DataDict) -> AuthResult:
    correction = model.Session.get(Correction, data_dict.get("id") or "")
    if correction is None:
        raise tk.ObjectNotFound(tk._("Correction not found"))
    user = perm.context_user(context)
    if perm.can_moderate(user, model.Package.get(correction.package_id)):
        return {"success": True}
    return _fail(tk._("Only the editors and admins of the dataset's organisation "
                      "may remove its corrections"))


@tk.auth_allow_anonymous_access
def servicespublics_issue_correction_list(context: Context,
                                          data_dict: DataDict) -> AuthResult:
    package = _target_package({"resource_id": data_dict.get("resource_id")})
    if package is None:
        raise tk.ValidationError({"resource_id": [tk._("Missing value")]})
    if not perm.can_see_package(context, package):
        return _fail(tk._("Not authorised to see this dataset"))
    return {"success": True}
