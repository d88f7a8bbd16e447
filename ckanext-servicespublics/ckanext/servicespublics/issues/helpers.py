"""Template helpers of the issue reports."""
from __future__ import annotations

from typing import Any, Optional

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk

from . import notifications
from . import permissions as perm
from .model import CATEGORIES, CORRECTION_FIELDS, POINT_STATUSES, STATUSES, Report


def N_(message: str) -> str:
    """Marks a string for translation (extracted by Babel, translated when
    shown)."""
    return message


__all__ = [
    "servicespublics_issue_form_url",
    "servicespublics_issue_categories",
    "servicespublics_issue_category_label",
    "servicespublics_issue_statuses",
    "servicespublics_issue_status_label",
    "servicespublics_issue_moderation_label",
    "servicespublics_issue_field_label",
    "servicespublics_issue_correction_fields",
    "servicespublics_issue_point_statuses",
    "servicespublics_issue_event_label",
    "servicespublics_issue_published_count",
    "servicespublics_issue_can_moderate",
    "servicespublics_issue_moderates_any",
    "servicespublics_issue_moderates_org",
    "servicespublics_issue_form_label",
    "servicespublics_issue_max_length",
]

_MODERATION_LABELS = {
    "pending": N_("Awaiting moderation"),
    "held": N_("Held as suspicious"),
    "published": N_("Published"),
    "rejected": N_("Rejected"),
    "merged": N_("Merged"),
}
_FIELD_LABELS = {
    "name": N_("Service name"),
    "address": N_("Address"),
    "postcode": N_("Postcode"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "opening_hours": N_("Opening hours"),
    "status": N_("Service status"),
    "opening_date": N_("Opening date"),
    "closing_date": N_("Closing date"),
}
_FORM_LABELS = {
    "category": N_("Problem"),
    "description": N_("Description"),
    "correction": N_("Proposed correction"),
    "email": N_("Email"),
    "package_id": N_("Dataset"),
    "resource_id": N_("Resource"),
    "point_id": N_("Service point"),
    "body": N_("Comment"),
    "comment": N_("Comment"),
    "status": N_("Status"),
    "fields": N_("Correction"),
    "reason": N_("Reason"),
    "merge_into": N_("Merge into"),
}
_POINT_STATUS_LABELS = {
    "open": N_("Open"),
    "closed": N_("Closed"),
    "planned_opening": N_("Opening planned"),
    "planned_closure": N_("Closure planned"),
}
_EVENT_LABELS = {
    "created": N_("Report sent"),
    "held": N_("Held as suspicious"),
    "published": N_("Published"),
    "rejected": N_("Rejected"),
    "merged": N_("Merged into another report"),
    "duplicate_merged": N_("A duplicate report was merged into this one"),
    "status": N_("Status changed"),
    "category": N_("Category changed"),
    "commented": N_("Comment"),
    "correction_accepted": N_("Correction accepted and applied"),
    "correction_removed": N_("Correction removed by the producer"),
    "correction_retired": N_("Correction no longer needed"),
}


def servicespublics_issue_form_url(package: Any, resource_id: Optional[str] = None,
                                   point_id: Optional[str] = None) -> str:
    """The URL of the report form for a dataset (id, name or dict), a
    resource and a service point (its source id). The map calls it for the
    « report a problem » link of a point's popup."""
    if isinstance(package, dict):
        package = package.get("name") or package.get("id")
    return tk.url_for("servicespublics_issues.new", id=package,
                      resource_id=resource_id or None, point_id=point_id or None)


def servicespublics_issue_categories() -> list[dict[str, str]]:
    return [{"value": c, "text": notifications.category_label(c)} for c in CATEGORIES]


def servicespublics_issue_category_label(category: str) -> str:
    return notifications.category_label(category)


def servicespublics_issue_statuses() -> list[dict[str, str]]:
    return [{"value": s, "text": notifications.status_label(s)} for s in STATUSES]


def servicespublics_issue_status_label(status: str) -> str:
    return notifications.status_label(status)


def servicespublics_issue_moderation_label(state: str) -> str:
    return tk._(_MODERATION_LABELS.get(state, state))


def servicespublics_issue_field_label(field: str) -> str:
    return tk._(_FIELD_LABELS.get(field, field))


def servicespublics_issue_correction_fields() -> list[str]:
    return list(CORRECTION_FIELDS)


def servicespublics_issue_point_statuses() -> list[dict[str, str]]:
    return [{"value": s, "text": tk._(_POINT_STATUS_LABELS[s])} for s in POINT_STATUSES]


def servicespublics_issue_event_label(action: str) -> str:
    return tk._(_EVENT_LABELS.get(action, action))


def servicespublics_issue_published_count(package_id: str) -> int:
    """The number of published reports of a dataset (the page that asks
    already checked that the user sees the dataset)."""
    return model.Session.query(sa.func.count(Report.id)).filter(
        Report.package_id == package_id, Report.moderation_state == "published"
    ).scalar() or 0


def _current_user() -> Optional[model.User]:
    user = tk.current_user
    return user if isinstance(user, model.User) else None


def servicespublics_issue_can_moderate(package_id: str) -> bool:
    return perm.can_moderate(_current_user(), model.Package.get(package_id))


def servicespublics_issue_moderates_any() -> bool:
    user = _current_user()
    return perm.is_sysadmin(user) or bool(perm.moderator_org_ids(user))


def servicespublics_issue_moderates_org(org_id: str) -> bool:
    """Whether the current user moderates this organisation's reports."""
    user = _current_user()
    return perm.is_sysadmin(user) or org_id in perm.moderator_org_ids(user)


def servicespublics_issue_form_label(key: str) -> str:
    """The label of a form field, for error messages."""
    return tk._(_FORM_LABELS.get(key, key))


def servicespublics_issue_max_length() -> int:
    return tk.config.get("ckanext.servicespublics.issues.max_length")
