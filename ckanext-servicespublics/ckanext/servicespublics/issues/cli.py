"""``ckan servicespublics issues ...``: digest emails and spam purge.

The group is attached to the base plugin's ``servicespublics`` group when the
issues plugin is loaded (no second top-level group).
"""
from __future__ import annotations

import datetime

import click
import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk

from ckanext.servicespublics.cli import servicespublics

__all__ = ["issues"]


@click.group(short_help="Issue reports: digests and spam purge")
def issues():
    """Moderated issue reports (servicespublics_issues)."""


@issues.command("send-digest")
@click.option("--since", "hours", type=click.IntRange(min=1), default=24,
              show_default=True, help="List the reports received in the last HOURS hours.")
@click.option("--force", is_flag=True,
              help="Send even if ckanext.servicespublics.issues.notify_moderators "
                   "is not 'digest' or 'both'.")
def send_digest(hours: int, force: bool):
    """Email each moderator the reports awaiting moderation and the new ones
    (run daily from cron)."""
    from .notifications import send_digest as _send_digest

    mode = tk.config.get("ckanext.servicespublics.issues.notify_moderators")
    if mode not in ("digest", "both") and not force:
        click.echo(f"Digest disabled (notify_moderators = {mode}); use --force to send.")
        return
    since = datetime.datetime.utcnow() - datetime.timedelta(hours=hours)
    sent = _send_digest(since)
    click.secho(f"{sent} digest email(s) sent.", fg="green")


@issues.command("purge-spam")
@click.option("--older-than", "days", type=click.IntRange(min=0), default=None,
              help="Age in days (default: ckanext.servicespublics.issues.purge_after_days).")
@click.option("--dry-run", is_flag=True, help="Count, delete nothing.")
def purge_spam(days: int | None, dry_run: bool):
    """Delete the reports rejected as spam more than DAYS days ago, with their
    comments and history. Reports rejected as abuse or for another reason,
    and reports with an accepted correction, are kept."""
    from .model import Comment, Correction, Event, Report

    if days is None:
        days = tk.config.get("ckanext.servicespublics.issues.purge_after_days")
    cutoff = datetime.datetime.utcnow() - datetime.timedelta(days=days)
    query = model.Session.query(Report.id).filter(
        Report.moderation_state == "rejected",
        Report.rejection_reason == "spam",
        sa.func.coalesce(Report.moderated, Report.modified) < cutoff,
        ~sa.exists().where(Correction.report_id == Report.id),
        ~sa.exists().where(Report.__table__.alias("other").c.merged_into_id == Report.id),
    )
    ids = [r.id for r in query]
    if dry_run:
        click.echo(f"{len(ids)} spam report(s) older than {days} day(s) would be deleted.")
        return
    if ids:
        model.Session.query(Comment).filter(Comment.report_id.in_(ids)).delete(
            synchronize_session=False)
        model.Session.query(Event).filter(Event.report_id.in_(ids)).delete(
            synchronize_session=False)
        model.Session.query(Report).filter(Report.id.in_(ids)).delete(
            synchronize_session=False)
        model.Session.commit()
    click.secho(f"{len(ids)} spam report(s) older than {days} day(s) deleted.", fg="green")


if "issues" not in servicespublics.commands:
    servicespublics.add_command(issues)
