"""Emails about reports, through CKAN's mailer.

Each message goes to one recipient (no shared To/Cc): nobody ever sees
another person's address, and the reporter's address is never put in a
message. With ``ckanext.servicespublics.issues.background_mail`` the
messages are built and sent by a background job (queue ``mail_queue``),
otherwise right after the action's commit. A failing SMTP server is logged,
never raised to the user.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
from typing import Any, Iterator, Optional

import flask
import sqlalchemy as sa

import ckan.lib.mailer as mailer
import ckan.model as model
import ckan.plugins.toolkit as tk

from . import permissions as perm
from .model import Report

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Marks a string for translation (extracted by Babel, translated when
    used)."""
    return message


__all__ = ["notify", "send_digest", "deliver"]

_CATEGORY_LABELS = {
    "service_missing": N_("Service missing"),
    "wrong_location": N_("Wrong location"),
    "wrong_information": N_("Wrong information"),
    "service_closed": N_("Service closed"),
    "duplicate": N_("Duplicate"),
    "other": N_("Other"),
}
_STATUS_LABELS = {
    "open": N_("Open"),
    "in_progress": N_("In progress"),
    "resolved": N_("Resolved"),
    "wont_fix": N_("Won't fix"),
}


def category_label(category: str) -> str:
    return tk._(_CATEGORY_LABELS.get(category, category))


def status_label(status: str) -> str:
    return tk._(_STATUS_LABELS.get(status, status))


@contextlib.contextmanager
def _mail_locale() -> Iterator[None]:
    """Messages are written in the site's default language, inside a request
    context (url_for and the translations need one; jobs and commands run
    outside any request)."""
    pushed = None
    if not flask.has_request_context():
        from ckan.lib.helpers import _get_auto_flask_context
        pushed = _get_auto_flask_context()
        if pushed is not None:
            pushed.push()
    try:
        try:
            from flask_babel import force_locale
            locale_ctx = force_locale(tk.config.get("ckan.locale_default") or "en")
        except Exception:  # pragma: no cover - no Babel app
            locale_ctx = contextlib.nullcontext()
        with locale_ctx:
            yield
    finally:
        if pushed is not None:
            pushed.pop()


def _report_url(report: Report, package: model.Package, token: Optional[str] = None) -> str:
    kwargs: dict[str, Any] = {"id": package.name, "report_id": report.number,
                              "_external": True}
    if token:
        kwargs["token"] = token
    return tk.url_for("servicespublics_issues.read", **kwargs)


def _send(name: str, email: str, subject: str, body: str) -> bool:
    # a title typed by a producer must not break (or inject) headers
    subject = " ".join(subject.split())
    name = " ".join((name or "").split())
    try:
        mailer.mail_recipient(name, email, subject, body,
                              headers={"Auto-Submitted": "auto-generated"})
        return True
    except mailer.MailerException:
        log.exception("Could not send the issue notification %r", subject)
        return False


def _moderators(package: model.Package) -> list[model.User]:
    """Editors and admins of the dataset's organisation (sysadmins for a
    dataset without organisation), with an email address."""
    query = model.Session.query(model.User).filter(
        model.User.state == "active", model.User.email.isnot(None),
        model.User.email != "")
    if package.owner_org:
        query = query.join(model.Member, sa.and_(
            model.Member.table_id == model.User.id,
            model.Member.table_name == "user",
            model.Member.state == "active",
            model.Member.group_id == package.owner_org,
            model.Member.capacity.in_(perm.MODERATOR_ROLES)))
    else:
        query = query.filter(model.User.sysadmin.is_(True))
    return query.order_by(model.User.name).all()


def _reporter_address(report: Report) -> tuple[str, Optional[str], bool]:
    """(name, email, anonymous) of the reporter."""
    if report.user_id:
        user = model.User.get(report.user_id)
        if user is not None and user.state == "active":
            return (user.display_name, report.reporter_email or user.email, False)
    return ("", report.reporter_email, True)


def _excerpt(text: str, length: int = 400) -> str:
    text = (text or "").strip()
    return text if len(text) <= length else text[:length].rstrip() + "…"


# -------------------------------------------------------------- messages

def _new_report(report: Report, package: model.Package) -> int:
    subject = tk._("[{site}] New report #{number} on {dataset}").format(
        site=tk.config.get("ckan.site_title"), number=report.number,
        dataset=package.title or package.name)
    body = "\n".join([
        tk._("A problem was reported on the dataset \"{dataset}\".").format(
            dataset=package.title or package.name),
        "",
        tk._("Category: {category}").format(category=category_label(report.category)),
        (tk._("Service point: {point}").format(point=report.point_id)
         if report.point_id else ""),
        "",
        _excerpt(report.description),
        "",
        tk._("The report awaits moderation: publish it, reject it or merge it "
             "into an existing report."),
        _report_url(report, package),
        "",
        tk._("Moderation queue: {url}").format(url=tk.url_for(
            "servicespublics_issues.queue", _external=True)),
    ])
    sent = 0
    for user in _moderators(package):
        if report.user_id and user.id == report.user_id:
            continue
        sent += _send(user.display_name, user.email, subject, body)
    return sent


def _reporter_sees(report: Report, package: model.Package) -> bool:
    """Whether the reporter may still see the dataset (with their account,
    or as a visitor when they were not signed in): a dataset made restricted
    or private since the report was sent is no longer theirs to hear about."""
    user = model.User.get(report.user_id) if report.user_id else None
    if user is not None and user.state != "active":
        user = None
    context = {"user": user.name if user else "", "auth_user_obj": user}
    return perm.can_see_package(context, package)  # type: ignore[arg-type]


def _reporter_update(report: Report, package: model.Package, event: str,
                     extra: dict[str, Any]) -> int:
    name, email, anonymous = _reporter_address(report)
    if not email or not _reporter_sees(report, package):
        return 0
    token = perm.reporter_token(report) if anonymous else None
    lines = []
    if event == "published":
        lines.append(tk._("Your report has been published: the producer of the "
                          "dataset will follow it up."))
    elif event == "rejected":
        lines.append(tk._("Your report was not accepted by the moderators."))
    elif event == "merged":
        target = Report.get(extra.get("merged_into"))
        lines.append(tk._("Your report was merged into report #{number}, which "
                          "describes the same problem.").format(
            number=target.number if target else "?"))
        if target is not None and target.is_public:
            lines.append(_report_url(target, package))
    elif event == "status":
        lines.append(tk._("The status of your report changed: {old} → {new}.").format(
            old=status_label(extra.get("from", "")),
            new=status_label(extra.get("to", ""))))
    elif event == "correction_accepted":
        lines.append(tk._("The correction you proposed was accepted and applied "
                          "to the service point."))
    elif event == "comment":
        lines.append(tk._("The producer of the dataset commented on your report:"))
    if extra.get("comment"):
        lines += ["", _excerpt(extra["comment"], 2000)]
    subject = tk._("[{site}] Your report #{number} on {dataset}").format(
        site=tk.config.get("ckan.site_title"), number=report.number,
        dataset=package.title or package.name)
    body = "\n".join([
        tk._("Hello,"), "",
        *lines, "",
        tk._("Report #{number} ({category}):").format(
            number=report.number, category=category_label(report.category)),
        _excerpt(report.description, 300), "",
        tk._("Follow your report: {url}").format(
            url=_report_url(report, package, token)),
    ])
    return int(_send(name, email, subject, body))


def _moderators_comment(report: Report, package: model.Package,
                        extra: dict[str, Any]) -> int:
    subject = tk._("[{site}] New comment on report #{number}").format(
        site=tk.config.get("ckan.site_title"), number=report.number)
    body = "\n".join([
        tk._("The reporter commented on report #{number} on the dataset "
             "\"{dataset}\":").format(number=report.number,
                                      dataset=package.title or package.name),
        "", _excerpt(extra.get("comment", ""), 2000), "",
        _report_url(report, package),
    ])
    sent = 0
    for user in _moderators(package):
        sent += _send(user.display_name, user.email, subject, body)
    return sent


def deliver(event: str, report_id: str, extra: Optional[dict[str, Any]] = None) -> int:
    """Build and send the messages of one event (run inline or as a job).

    :returns: the number of messages sent.
    """
    extra = extra or {}
    report = Report.get(report_id)
    if report is None:
        return 0
    package = model.Package.get(report.package_id)
    if package is None:
        return 0
    with _mail_locale():
        if event == "new_report":
            return _new_report(report, package)
        if event == "reporter_comment":
            return _moderators_comment(report, package, extra)
        return _reporter_update(report, package, event, extra)


def notify(event: str, report: Report, **extra: Any) -> None:
    """Send (or queue) the messages of an event, as configured.

    Events: ``new_report`` and ``reporter_comment`` go to the moderators;
    ``published``, ``rejected``, ``merged``, ``status``,
    ``correction_accepted`` and ``comment`` go to the reporter.
    """
    if event == "new_report":
        mode = tk.config.get("ckanext.servicespublics.issues.notify_moderators")
        if mode not in ("instant", "both") or report.moderation_state != "pending":
            return
    elif event == "reporter_comment":
        mode = tk.config.get("ckanext.servicespublics.issues.notify_moderators")
        if mode not in ("instant", "both"):
            return
    elif not tk.config.get("ckanext.servicespublics.issues.notify_reporter"):
        return
    if tk.config.get("ckanext.servicespublics.issues.background_mail"):
        tk.enqueue_job(deliver, [event, report.id, extra],
                       title=f"servicespublics issue #{report.number}: {event}",
                       queue=tk.config.get("ckanext.servicespublics.issues.mail_queue"))
        return
    try:
        deliver(event, report.id, extra)
    except Exception:  # a notification never breaks the action that caused it
        log.exception("Issue notification %s for report %s failed", event, report.id)


# ---------------------------------------------------------------- digest

def send_digest(since: datetime.datetime) -> int:
    """Email each moderator a summary of their organisations' reports: those
    awaiting moderation (pending or held as suspicious) and those received
    since ``since``. Nothing is sent to moderators with nothing to moderate.

    :returns: the number of messages sent.
    """
    waiting = model.Session.query(Report).filter(
        sa.or_(Report.moderation_state.in_(("pending", "held")),
               Report.created >= since)
    ).order_by(Report.created).all()
    if not waiting:
        return 0
    by_user: dict[str, tuple[model.User, list[tuple[Report, model.Package]]]] = {}
    packages: dict[str, Optional[model.Package]] = {}
    for report in waiting:
        if report.package_id not in packages:
            packages[report.package_id] = model.Package.get(report.package_id)
        package = packages[report.package_id]
        if package is None:
            continue
        for user in _moderators(package):
            by_user.setdefault(user.id, (user, []))[1].append((report, package))
    sent = 0
    with _mail_locale():
        for user, items in by_user.values():
            pending = [r for r, _p in items if r.moderation_state == "pending"]
            held = [r for r, _p in items if r.moderation_state == "held"]
            new = [(r, p) for r, p in items if r.created >= since]
            subject = tk._("[{site}] Reports: {pending} awaiting moderation, {new} new").format(
                site=tk.config.get("ckan.site_title"),
                pending=len(pending) + len(held), new=len(new))
            lines = [
                tk._("Hello {name},").format(name=user.display_name), "",
                tk._("Awaiting moderation: {pending} ({held} held as suspicious).").format(
                    pending=len(pending) + len(held), held=len(held)),
                tk._("Moderation queue: {url}").format(url=tk.url_for(
                    "servicespublics_issues.queue", _external=True)),
                "",
            ]
            if new:
                lines.append(tk._("Received since {date}:").format(
                    date=since.strftime("%Y-%m-%d %H:%M UTC")))
                for report, package in new:
                    lines.append("- #{n} [{cat}] {dataset}: {text}".format(
                        n=report.number, cat=category_label(report.category),
                        dataset=package.title or package.name,
                        text=_excerpt(report.description, 120).replace("\n", " ")))
                    lines.append("  " + _report_url(report, package))
            sent += _send(user.display_name, user.email, subject, "\n".join(lines))
    return sent
