"""Actions of the moderated issue reports.

A report is created *pending* (or *held*, when it looks like spam) and
nothing of it is public until a moderator (editor or admin of the dataset's
organisation, or a sysadmin) publishes it. A published report is *open*, then
*in progress*, *resolved* or *won't fix*; the producer and the reporter
comment it, and every change is kept in its history. Rejected and merged
reports stay in the database, hidden, for audit.
"""
from __future__ import annotations

import datetime
import logging
from typing import Any, Optional

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.model.types import make_uuid
from ckan.types import Context, DataDict

from .. import corrections as corr
from .. import notifications, spam
from .. import permissions as perm
from ..model import (CATEGORIES, MODERATION_STATES, STATUSES, Comment, Correction, Event,
                     Report)
from . import schema

log = logging.getLogger(__name__)

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

MAX_LIMIT = 100

moderated = tk.signals.ckanext.signal("servicespublics_issue_moderated")
correction_accepted = tk.signals.ckanext.signal("servicespublics_issue_correction_accepted")


class RateLimited(tk.ValidationError):
    """Too many reports or comments from one address or account (the API
    answers 409 like any validation error; the web form answers 429)."""


# ------------------------------------------------------------------ helpers

def _validate(data_dict: DataDict, schema_: dict[str, Any], context: Context) -> DataDict:
    data, errors = tk.navl_validate(data_dict, schema_, context)
    if errors:
        raise tk.ValidationError(errors)
    return data


def _request_ip() -> Optional[str]:
    return spam.client_ip()


def _commit(context: Context) -> None:
    if not context.get("defer_commit"):
        model.Session.commit()


def _get_report(report_id: Any) -> Report:
    report = Report.get(report_id)
    if report is None:
        raise tk.ObjectNotFound(tk._("Report not found"))
    return report


def _event(report: Report, user: Optional[model.User], role: str, action: str,
           data: Optional[dict[str, Any]] = None, public: bool = True,
           now: Optional[datetime.datetime] = None) -> Event:
    event = Event(report_id=report.id, user_id=user.id if user else None,
                  actor_role=role, action=action, data=data or {}, public=public,
                  created=now or datetime.datetime.utcnow())
    model.Session.add(event)
    return event


def _user_name(user_id: Optional[str], cache: dict[str, Optional[str]]) -> Optional[str]:
    if not user_id:
        return None
    if user_id not in cache:
        user = model.User.get(user_id)
        cache[user_id] = user.display_name if user else None
    return cache[user_id]


def _dictize(report: Report, package: Optional[model.Package], user: Optional[model.User],
             token: Optional[str] = None, *, full: bool = True,
             comment_count: Optional[int] = None) -> dict[str, Any]:
    """A report as the given user may see it (never anybody's email address
    but the reporter's own)."""
    moderator = perm.can_moderate(user, package)
    reporter = perm.is_reporter(report, user, token)
    names: dict[str, Optional[str]] = {}
    state = report.moderation_state
    if state == "held" and not moderator:
        state = "pending"
    result: dict[str, Any] = {
        "id": report.id,
        "number": report.number,
        "package_id": report.package_id,
        "package_name": package.name if package else None,
        "package_title": package.title if package else None,
        "owner_org": package.owner_org if package else None,
        "resource_id": report.resource_id,
        "point_id": report.point_id,
        "category": report.category,
        "description": report.description,
        "correction": report.correction,
        "status": report.status,
        "moderation_state": state,
        "created": report.created.isoformat(),
        "modified": report.modified.isoformat(),
        "reporter": "user" if report.user_id else "anonymous",
        "can_moderate": moderator,
        "is_reporter": reporter,
        "merged_into": None,
    }
    if report.merged_into_id and (moderator or reporter):
        target = model.Session.get(Report, report.merged_into_id)
        if target is not None:
            result["merged_into"] = {"id": target.id, "number": target.number}
    if moderator:
        result.update({
            "reporter_name": _user_name(report.user_id, names),
            "spam_reasons": list(report.spam_reasons or []),
            "rejection_reason": report.rejection_reason,
            "moderated": report.moderated.isoformat() if report.moderated else None,
            "moderated_by": _user_name(report.moderated_by, names),
            "has_email": bool(report.reporter_email or report.user_id),
        })
    if reporter:
        result["email"] = report.reporter_email
    if not full:
        result["comment_count"] = comment_count or 0
        return result
    comments = model.Session.query(Comment).filter(
        Comment.report_id == report.id, Comment.state == "active"
    ).order_by(Comment.created, Comment.id).all()
    result["comment_count"] = len(comments)
    result["comments"] = [{
        "id": c.id,
        "author_role": c.author_role,
        # producers sign their comments; reporters stay anonymous to others
        "author": (_user_name(c.user_id, names)
                   if c.author_role == "moderator" or moderator else None),
        "body": c.body,
        "created": c.created.isoformat(),
    } for c in comments]
    events = model.Session.query(Event).filter(Event.report_id == report.id)
    if not moderator:
        events = events.filter(Event.public.is_(True))
    result["history"] = [{
        "action": e.action,
        "actor_role": e.actor_role,
        "actor": (_user_name(e.user_id, names)
                  if e.actor_role != "reporter" or moderator else None),
        "data": e.data,
        "created": e.created.isoformat(),
    } for e in events.order_by(Event.seq)]
    result["corrections"] = [{
        "id": c.id,
        "resource_id": c.resource_id,
        "source_id": c.source_id,
        "fields": c.fields,
        "state": c.state,
        "created": c.created.isoformat(),
        "accepted_by": _user_name(c.accepted_by, names),
        "removed": c.removed.isoformat() if c.removed else None,
        "removal_reason": c.removal_reason,
    } for c in model.Session.query(Correction).filter(
        Correction.report_id == report.id).order_by(Correction.created)]
    return result


def _check_rate(user: Optional[model.User], moderator: bool) -> None:
    if moderator or perm.is_sysadmin(user):
        return
    exceeded = spam.hit_rate_limit(_request_ip(), user.id if user else None)
    if exceeded:
        raise RateLimited({"rate_limit": [tk._(
            "Too many reports or comments sent recently; please try again later")]})


def _send_signal(signal: Any, sender: str, **kwargs: Any) -> None:
    try:
        signal.send(sender, **kwargs)
    except Exception:
        log.exception("A receiver of %s failed", signal.name)


# ------------------------------------------------------------------ actions

def servicespublics_issue_create(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Report a problem on a dataset, one of its resources or one service point.

    Anyone who can see the dataset may report (visitors who are not signed in
    too, unless ``ckanext.servicespublics.issues.allow_anonymous`` is off).
    The report is pending until a moderator publishes it; reports that look
    like spam are held. Sending too many reports from one address or account
    is refused.

    :param package_id: the id or name of the dataset (optional if
        ``resource_id`` is given)
    :type package_id: string
    :param resource_id: the id of the resource (optional)
    :type resource_id: string
    :param point_id: the source id of the service point in that resource
        (optional; needs ``resource_id``)
    :type point_id: string
    :param category: one of ``service_missing``, ``wrong_location``,
        ``wrong_information``, ``service_closed``, ``duplicate``, ``other``
    :type category: string
    :param description: what is wrong or missing (at most
        ``ckanext.servicespublics.issues.max_length`` characters)
    :type description: string
    :param correction: proposed values of the point: some of ``name``,
        ``address``, ``postcode``, ``latitude``, ``longitude``,
        ``opening_hours``, ``status``, ``opening_date``, ``closing_date``
        (optional)
    :type correction: dict
    :param email: an address for follow-up (optional; signed-in users are
        written to at their account's address by default). Never shown to
        anybody else.
    :type email: string

    :returns: the report as its reporter sees it, plus ``token``: the secret
        that lets a reporter who was not signed in follow and comment the
        report (``servicespublics_issue_show`` with ``token``)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_issue_create", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_issue_create_schema(), context)
    if not data.get("package_id") and not data.get("resource_id"):
        raise tk.ValidationError({"package_id": [tk._("Missing value")]})

    resource = None
    if data.get("resource_id"):
        resource = model.Resource.get(data["resource_id"])
        if resource is None or resource.state != "active":
            raise tk.ObjectNotFound(tk._("Resource not found"))
    package = model.Package.get(data.get("package_id") or resource.package_id)
    if package is None or package.state != "active":
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    if resource is not None and resource.package_id != package.id:
        raise tk.ValidationError(
            {"resource_id": [tk._("This resource is not part of the dataset")]})
    point_id = data.get("point_id") or None
    current = None
    if point_id:
        if resource is None:
            raise tk.ValidationError(
                {"point_id": [tk._("A service point is identified within a resource: "
                                   "resource_id is missing")]})
        if len(point_id) > 200:
            raise tk.ValidationError({"point_id": [tk._("Too long")]})
        current = corr.point_values(resource.id, point_id)

    correction = data.get("correction")
    if correction and current:
        # keep only what the reporter actually changes
        correction = {k: v for k, v in correction.items()
                      if not corr.values_agree({k: v}, current)} or None

    user = perm.context_user(context)
    moderator = perm.can_moderate(user, package)
    _check_rate(user, moderator)

    checked_text = "\n".join([data["description"]] + [
        str(v) for v in (correction or {}).values() if isinstance(v, str)])
    reasons = [] if moderator else spam.suspicion_reasons(checked_text)
    ip = _request_ip()
    now = datetime.datetime.utcnow()
    report = Report(
        id=make_uuid(),
        package_id=package.id,
        resource_id=resource.id if resource is not None else None,
        point_id=point_id,
        category=data["category"],
        description=data["description"],
        correction=correction,
        user_id=user.id if user else None,
        reporter_email=data.get("email") or None,
        reporter_key=perm.new_key(),
        reporter_ip_hash=spam.hash_ip(ip),
        moderation_state="held" if reasons else "pending",
        spam_reasons=reasons,
        status="open",
        created=now,
        modified=now,
    )
    model.Session.add(report)
    model.Session.flush()
    _event(report, user, "reporter", "created",
           {"category": report.category, "point_id": point_id,
            "correction": sorted(correction) if correction else []}, now=now)
    if reasons:
        _event(report, None, "system", "held", {"reasons": reasons}, public=False,
               now=now)
    _commit(context)
    notifications.notify("new_report", report)

    result = _dictize(report, package, user, perm.reporter_token(report))
    result["token"] = perm.reporter_token(report)
    result["url"] = tk.url_for("servicespublics_issues.read", id=package.name,
                               report_id=report.number,
                               token=None if user else result["token"])
    return result


@tk.side_effect_free
def servicespublics_issue_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """A report, with its comments, corrections and history.

    Published reports are visible to whoever can see the dataset; pending,
    held, rejected and merged ones only to the moderators and (with their
    account or token) the reporter.

    :param id: the id or number of the report
    :type id: string
    :param token: the reporter's secret, for reporters who were not signed in
        (optional)
    :type token: string
    :param include_history: include the history (default true)
    :type include_history: bool

    :rtype: dictionary
    """
    data = _validate(data_dict, schema.servicespublics_issue_show_schema(), context)
    report = _get_report(data["id"])
    tk.check_access("servicespublics_issue_show", context,
                    {"id": report.id, "token": data.get("token")})
    user = perm.context_user(context)
    result = _dictize(report, model.Package.get(report.package_id), user, data.get("token"))
    if not data["include_history"]:
        result.pop("history", None)
    return result


def _as_list(values: Optional[list[str]], allowed: tuple[str, ...], field: str) -> list[str]:
    values = values or []
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise tk.ValidationError({field: [tk._("Must be one of: {values}").format(
            values=", ".join(allowed))]})
    return values


@tk.side_effect_free
def servicespublics_issue_list(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Reports, newest first, among those the user may see.

    Everyone sees the published reports of the datasets they can see;
    moderators also see the other reports of their organisations' datasets
    (sysadmins: of all datasets), and reporters their own.

    :param package_id: only the reports of this dataset (id or name)
    :type package_id: string
    :param organization: only the reports of this organisation's datasets
        (id or name)
    :type organization: string
    :param resource_id: only the reports on this resource
    :type resource_id: string
    :param point_id: only the reports on this service point (with
        ``resource_id``)
    :type point_id: string
    :param status: only these statuses (``open``, ``in_progress``,
        ``resolved``, ``wont_fix``): a list or comma-separated
    :type status: list of strings
    :param category: only these categories: a list or comma-separated
    :type category: list of strings
    :param moderation_state: only these moderation states (``pending``,
        ``held``, ``published``, ``rejected``, ``merged``; default: published
        for everyone, and also pending and held for moderators)
    :type moderation_state: list of strings
    :param mine: only the reports sent by the signed-in user
    :type mine: bool
    :param sort: ``created desc`` (default), ``created asc``, ``modified
        desc``, ``number desc`` or ``number asc``
    :type sort: string
    :param limit: page size (default 20, at most 100)
    :type limit: int
    :param offset: page start (default 0)
    :type offset: int

    :returns: ``count`` (all matching reports), ``results`` (this page) and
        ``facets`` (counts per ``status``, ``category`` and
        ``moderation_state`` over the reports matching the other filters)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_issue_list", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_issue_list_schema(), context)
    statuses = _as_list(data.get("status"), STATUSES, "status")
    categories = _as_list(data.get("category"), CATEGORIES, "category")
    states = _as_list(data.get("moderation_state"), MODERATION_STATES, "moderation_state")
    user = perm.context_user(context)
    sysadmin = perm.is_sysadmin(user)

    query = model.Session.query(Report)
    if data.get("package_id"):
        package = model.Package.get(data["package_id"])
        if package is None:
            raise tk.ObjectNotFound(tk._("Dataset not found"))
        query = query.filter(Report.package_id == package.id)
    if data.get("organization"):
        org = model.Group.get(data["organization"])
        if org is None or not org.is_organization:
            raise tk.ObjectNotFound(tk._("Organization not found"))
        query = query.join(model.Package, model.Package.id == Report.package_id).filter(
            model.Package.owner_org == org.id)
    if data.get("resource_id"):
        query = query.filter(Report.resource_id == data["resource_id"])
    if data.get("point_id"):
        query = query.filter(Report.point_id == data["point_id"])
    if data.get("mine"):
        if user is None:
            return {"count": 0, "results": [], "facets": {}}
        query = query.filter(Report.user_id == user.id)

    # who sees what: published reports of visible datasets; everything of
    # the datasets one moderates; one's own reports (a report held as
    # suspicious looks pending to whoever does not moderate it)
    effective_state: Any = Report.moderation_state
    if not sysadmin:
        package_ids = [r[0] for r in query.with_entities(Report.package_id).distinct()]
        visible = perm.visible_package_ids(context, package_ids)
        moderated_orgs = perm.moderator_org_ids(user)
        moderated: set[str] = set()
        if moderated_orgs and visible:
            moderated = {r[0] for r in model.Session.query(model.Package.id).filter(
                model.Package.id.in_(visible), model.Package.owner_org.in_(moderated_orgs))}
        rules = [Report.moderation_state == "published"]
        if moderated:
            rules.append(Report.package_id.in_(moderated))
        if user is not None:
            rules.append(Report.user_id == user.id)
        query = query.filter(Report.package_id.in_(visible), sa.or_(*rules))
        effective_state = sa.case(
            (sa.and_(Report.moderation_state == "held",
                     sa.not_(Report.package_id.in_(moderated))), "pending"),
            else_=Report.moderation_state)
        is_moderator = bool(moderated_orgs)
    else:
        is_moderator = True

    if not states:
        states = ["published"]
        if is_moderator and not data.get("mine"):
            states += ["pending", "held"]
        if data.get("mine"):
            states = list(MODERATION_STATES)

    def facet(column: Any, *filters: Any) -> dict[str, int]:
        rows = query.filter(*filters).with_entities(column, sa.func.count()).group_by(column)
        return {key: count for key, count in rows}

    by_state = effective_state.in_(states)
    by_status = [Report.status.in_(statuses)] if statuses else []
    by_category = [Report.category.in_(categories)] if categories else []
    facets = {
        "status": facet(Report.status, by_state, *by_category),
        "category": facet(Report.category, by_state, *by_status),
        "moderation_state": facet(effective_state, *by_status, *by_category),
    }
    query = query.filter(by_state, *by_status, *by_category)

    count = query.count()
    column, direction = data["sort"].split()
    order = getattr(Report, column)
    order = order.desc() if direction == "desc" else order.asc()
    limit = min(int(data["limit"]), MAX_LIMIT)
    reports = query.order_by(order, Report.id).offset(int(data["offset"])).limit(limit).all()

    packages: dict[str, model.Package] = {}
    comment_counts: dict[str, int] = {}
    if reports:
        packages = {p.id: p for p in model.Session.query(model.Package).filter(
            model.Package.id.in_({r.package_id for r in reports}))}
        comment_counts = dict(model.Session.query(Comment.report_id, sa.func.count()).filter(
            Comment.report_id.in_([r.id for r in reports]), Comment.state == "active"
        ).group_by(Comment.report_id).all())
    results = [_dictize(r, packages.get(r.package_id), user, full=False,
                        comment_count=comment_counts.get(r.id, 0)) for r in reports]
    return {"count": count, "results": results, "facets": facets}


def _merge_target(context: Context, merge_into: Optional[str],
                  reports: list[Report]) -> Report:
    """The report that duplicates are merged into (same dataset, alive)."""
    if not merge_into:
        raise tk.ValidationError({"merge_into": [tk._("Missing value")]})
    target = Report.get(merge_into)
    if target is None:
        raise tk.ValidationError({"merge_into": [tk._("Report not found")]})
    if target.moderation_state in ("rejected", "merged"):
        raise tk.ValidationError({"merge_into": [tk._(
            "Cannot merge into a rejected or merged report")]})
    for report in reports:
        if report.id == target.id:
            raise tk.ValidationError({"merge_into": [tk._(
                "A report cannot be merged into itself")]})
        if report.package_id != target.package_id:
            raise tk.ValidationError({"merge_into": [tk._(
                "Only reports on the same dataset can be merged")]})
    tk.check_access("servicespublics_issue_update", context, {"id": target.id})
    return target


def _notify_moderation(report: Report, before: str, action: str, reason: Optional[str],
                       user: Optional[model.User]) -> None:
    if user is not None and report.user_id == user.id:
        return  # nobody is told of their own doing
    if action == "publish":
        notifications.notify("published", report)
    elif action == "merge" and before != "held":
        notifications.notify("merged", report, merged_into=report.merged_into_id)
    elif action == "reject" and reason == "other":
        # spam and abuse are not answered
        notifications.notify("rejected", report)


def servicespublics_issue_moderate(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Publish, reject or merge one or several reports (moderators only).

    Rejected and merged reports are kept, hidden, for audit. A rejected or
    merged report can be published again.

    :param id: the id (or number) of a report, or a list of them
    :type id: string or list of strings
    :param action: ``publish``, ``reject`` or ``merge``
    :type action: string
    :param reason: why a report is rejected: ``spam``, ``abuse`` or
        ``other`` (required to reject)
    :type reason: string
    :param merge_into: the id or number of the report of the same dataset
        that these reports duplicate (required to merge)
    :type merge_into: string
    :param note: a note for the history (optional; shown to moderators only)
    :type note: string

    :returns: ``{"results": [report, ...]}``
    :rtype: dictionary
    """
    data = _validate(data_dict, schema.servicespublics_issue_moderate_schema(), context)
    ids = data.get("id") or []
    if not ids:
        raise tk.ValidationError({"id": [tk._("Missing value")]})
    reports = [_get_report(i) for i in ids]
    tk.check_access("servicespublics_issue_moderate", context,
                    {"id": [r.id for r in reports]})
    action = data["action"]
    target = None
    if action == "reject" and not data.get("reason"):
        raise tk.ValidationError({"reason": [tk._("Missing value")]})
    if action == "merge":
        target = _merge_target(context, data.get("merge_into"), reports)

    user = perm.context_user(context)
    now = datetime.datetime.utcnow()
    changed: list[tuple[Report, str]] = []
    for report in reports:
        before = report.moderation_state
        if action == "publish":
            if before == "published":
                continue
            report.moderation_state = "published"
            report.rejection_reason = None
            report.merged_into_id = None
            _event(report, user, "moderator", "published", {"from": before}, now=now)
        elif action == "reject":
            if before == "rejected":
                continue
            report.moderation_state = "rejected"
            report.rejection_reason = data["reason"]
            report.merged_into_id = None
            _event(report, user, "moderator", "rejected",
                   {"from": before, "reason": data["reason"],
                    "note": data.get("note") or ""}, public=False, now=now)
        else:
            assert target is not None
            if before == "merged" and report.merged_into_id == target.id:
                continue
            report.moderation_state = "merged"
            report.merged_into_id = target.id
            _event(report, user, "moderator", "merged",
                   {"from": before, "into": target.number}, now=now)
            _event(target, user, "moderator", "duplicate_merged",
                   {"report": report.number}, public=target.is_public, now=now)
            target.modified = now
        report.moderated = now
        report.moderated_by = user.id if user else None
        report.modified = now
        changed.append((report, before))
    _commit(context)

    for report, before in changed:
        _send_signal(moderated, report.id, action=action, previous=before,
                     report_id=report.id, package_id=report.package_id)
        _notify_moderation(report, before, action, data.get("reason"), user)
    packages = {r.package_id: model.Package.get(r.package_id) for r in reports}
    return {"results": [_dictize(r, packages[r.package_id], user, full=False)
                        for r in reports]}


def servicespublics_issue_update(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Change the status (or the category) of a published report, with an
    optional comment (moderators only). The reporter is told.

    :param id: the id or number of the report
    :type id: string
    :param status: ``open``, ``in_progress``, ``resolved`` or ``wont_fix``
    :type status: string
    :param category: a corrected category (optional)
    :type category: string
    :param comment: a comment from the producer, shown with the report
        (optional)
    :type comment: string

    :rtype: dictionary
    """
    data = _validate(data_dict, schema.servicespublics_issue_update_schema(), context)
    report = _get_report(data["id"])
    tk.check_access("servicespublics_issue_update", context, {"id": report.id})
    if not report.is_public:
        raise tk.ValidationError({"id": [tk._(
            "Only published reports have a status; publish the report first")]})
    if not any(data.get(k) for k in ("status", "category", "comment")):
        raise tk.ValidationError({"status": [tk._("Nothing to change")]})
    user = perm.context_user(context)
    now = datetime.datetime.utcnow()
    old_status = report.status
    status_changed = bool(data.get("status")) and data["status"] != old_status
    if status_changed:
        report.status = data["status"]
        _event(report, user, "moderator", "status",
               {"from": old_status, "to": report.status}, now=now)
    if data.get("category") and data["category"] != report.category:
        _event(report, user, "moderator", "category",
               {"from": report.category, "to": data["category"]}, now=now)
        report.category = data["category"]
    if data.get("comment"):
        model.Session.add(Comment(report_id=report.id, user_id=user.id if user else None,
                                  author_role="moderator", body=data["comment"],
                                  created=now))
        _event(report, user, "moderator", "commented", now=now)
    report.modified = now
    _commit(context)
    own = bool(user and report.user_id == user.id)
    if status_changed and not own:
        notifications.notify("status", report, comment=data.get("comment") or "",
                             **{"from": old_status, "to": report.status})
    elif data.get("comment") and not own:
        notifications.notify("comment", report, comment=data["comment"])
    return _dictize(report, model.Package.get(report.package_id), user)


def servicespublics_issue_comment(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Comment a report: the dataset's producer (its organisation's editors
    and admins) and the reporter may comment. A producer's comment is sent to
    the reporter, a reporter's comment to the producer.

    :param id: the id or number of the report
    :type id: string
    :param body: the comment (at most
        ``ckanext.servicespublics.issues.max_length`` characters)
    :type body: string
    :param token: the reporter's secret, for reporters who were not signed in
    :type token: string

    :returns: the report, with the new comment
    :rtype: dictionary
    """
    data = _validate(data_dict, schema.servicespublics_issue_comment_schema(), context)
    report = _get_report(data["id"])
    tk.check_access("servicespublics_issue_comment", context,
                    {"id": report.id, "token": data.get("token")})
    if report.moderation_state in ("rejected", "merged"):
        raise tk.ValidationError({"id": [tk._(
            "This report is closed to comments")]})
    user = perm.context_user(context)
    package = model.Package.get(report.package_id)
    moderator = perm.can_moderate(user, package)
    if not moderator:
        if spam.blocked_words_in(data["body"]):
            raise tk.ValidationError({"body": [tk._(
                "This comment contains words that are not allowed")]})
        _check_rate(user, moderator)
    now = datetime.datetime.utcnow()
    role = "moderator" if moderator else "reporter"
    model.Session.add(Comment(report_id=report.id, user_id=user.id if user else None,
                              author_role=role, body=data["body"], created=now))
    _event(report, user, role, "commented", now=now)
    report.modified = now
    _commit(context)
    if moderator and not (user and report.user_id == user.id):
        notifications.notify("comment", report, comment=data["body"])
    elif not moderator:
        notifications.notify("reporter_comment", report, comment=data["body"])
    return _dictize(report, package, user, data.get("token"))


def servicespublics_issue_accept_correction(context: Context,
                                            data_dict: DataDict) -> dict[str, Any]:
    """Accept the correction proposed by a report on a service point
    (moderators only).

    The correction is stored as an override of the point (it survives the
    next ingestions of the resource until the producer's file agrees with it
    or a moderator removes it), applied to the point in the same transaction
    and recorded in the report's history; the report's status becomes
    ``status``, the reporter is told and the signal
    ``servicespublics_issue_correction_accepted`` is sent (sender: the
    resource id; keyword arguments ``report_id``, ``correction_id``,
    ``package_id``, ``source_id``, ``fields``, ``previous``, ``applied``).

    :param id: the id or number of a published report on a service point
    :type id: string
    :param fields: the values to apply, if not exactly the proposed ones
        (same keys as the report's ``correction``; optional)
    :type fields: dict
    :param status: the report's new status (default ``resolved``)
    :type status: string

    :returns: the report, with its corrections
    :rtype: dictionary
    """
    data = _validate(data_dict, schema.servicespublics_issue_accept_correction_schema(),
                     context)
    report = _get_report(data["id"])
    tk.check_access("servicespublics_issue_accept_correction", context, {"id": report.id})
    if not report.is_public:
        raise tk.ValidationError({"id": [tk._(
            "Only published reports can have their correction accepted")]})
    if not report.resource_id or not report.point_id:
        raise tk.ValidationError({"id": [tk._(
            "This report is not about a service point of a resource")]})
    fields = data.get("fields") or report.correction
    if not fields:
        raise tk.ValidationError({"fields": [tk._("No correction to accept")]})
    user = perm.context_user(context)
    now = datetime.datetime.utcnow()
    current = corr.point_values(report.resource_id, report.point_id)
    previous = {k: current.get(k) for k in fields} if current else None
    correction = Correction(
        id=make_uuid(), report_id=report.id, package_id=report.package_id,
        resource_id=report.resource_id, source_id=report.point_id, fields=fields,
        previous=previous, accepted_by=user.id if user else None, created=now,
        state="active")
    model.Session.add(correction)
    applied = corr.patch_point(report.resource_id, report.point_id, fields)
    if applied:
        correction.applied_ingestion = corr.live_ingestion(report.resource_id)
    _event(report, user, "moderator", "correction_accepted",
           {"correction_id": correction.id, "fields": fields, "applied": applied}, now=now)
    old_status = report.status
    if data["status"] != old_status:
        report.status = data["status"]
        _event(report, user, "moderator", "status",
               {"from": old_status, "to": report.status}, now=now)
    report.modified = now
    _commit(context)
    _send_signal(correction_accepted, report.resource_id, report_id=report.id,
                 correction_id=correction.id, package_id=report.package_id,
                 source_id=report.point_id, fields=dict(fields), previous=previous,
                 applied=applied)
    if not (user and report.user_id == user.id):
        notifications.notify("correction_accepted", report)
    return _dictize(report, model.Package.get(report.package_id), user)


def servicespublics_issue_correction_remove(context: Context,
                                            data_dict: DataDict) -> dict[str, Any]:
    """Remove an accepted correction (moderators only): the override stops
    applying at the next ingestion, and the point gets back its previous
    values now when it still has the corrected ones.

    :param id: the id of the correction
    :type id: string
    :param restore: put the point's previous values back (default true)
    :type restore: bool

    :returns: the correction
    :rtype: dictionary
    """
    data = _validate(data_dict, schema.servicespublics_issue_correction_remove_schema(),
                     context)
    tk.check_access("servicespublics_issue_correction_remove", context, {"id": data["id"]})
    correction = model.Session.get(Correction, data["id"])
    assert correction is not None  # checked by the auth function
    if correction.state != "active":
        raise tk.ValidationError({"id": [tk._("This correction was already removed")]})
    user = perm.context_user(context)
    now = datetime.datetime.utcnow()
    restored = False
    if data["restore"] and correction.previous:
        current = corr.point_values(correction.resource_id, correction.source_id)
        if current is not None and corr.values_agree(correction.fields, current):
            restored = corr.patch_point(correction.resource_id, correction.source_id,
                                        correction.previous)
    correction.state = "removed"
    correction.removed = now
    correction.removed_by = user.id if user else None
    correction.removal_reason = "producer"
    report = model.Session.get(Report, correction.report_id)
    _event(report, user, "moderator", "correction_removed",
           {"correction_id": correction.id, "restored": restored}, now=now)
    _commit(context)
    return {"id": correction.id, "state": correction.state, "restored": restored,
            "resource_id": correction.resource_id, "source_id": correction.source_id,
            "fields": correction.fields, "report_id": correction.report_id}


@tk.side_effect_free
def servicespublics_issue_correction_list(context: Context,
                                          data_dict: DataDict) -> list[dict[str, Any]]:
    """The corrections accepted on a resource's service points, oldest first.

    :param resource_id: the id of the resource
    :type resource_id: string
    :param include_removed: also list the removed ones (default false)
    :type include_removed: bool

    :rtype: list of dictionaries
    """
    data = _validate(data_dict, schema.servicespublics_issue_correction_list_schema(),
                     context)
    tk.check_access("servicespublics_issue_correction_list", context,
                    {"resource_id": data["resource_id"]})
    query = model.Session.query(Correction, Report.number).join(
        Report, Report.id == Correction.report_id
    ).filter(Correction.resource_id == data["resource_id"])
    if not data["include_removed"]:
        query = query.filter(Correction.state == "active")
    return [{
        "id": c.id, "report_id": c.report_id, "report_number": number,
        "resource_id": c.resource_id, "source_id": c.source_id, "fields": c.fields,
        "state": c.state, "created": c.created.isoformat(),
        "removed": c.removed.isoformat() if c.removed else None,
        "removal_reason": c.removal_reason,
    } for c, number in query.order_by(Correction.created, Correction.id)]
