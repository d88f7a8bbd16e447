"""Reactions to core events (``ISignal``, as in ``ckanext/activity``).

When a resource is deleted or its dataset purged, the corrections accepted on
its points stop being overrides (state ``removed``); the reports themselves
stay, for audit.
"""
from __future__ import annotations

import datetime
import logging
from typing import Any

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan import types

log = logging.getLogger(__name__)


#: sent by servicespublics_points after an ingestion (sender: the resource id)
POINTS_REPLACED = "servicespublics_points_replaced"
#: sent here once corrections were written back onto re-ingested points
POINTS_CORRECTED = "servicespublics_points_corrected"


def get_subscriptions() -> types.SignalMapping:
    return {
        tk.signals.action_succeeded: [
            {"sender": "resource_delete", "receiver": resource_deleted},
            {"sender": "dataset_purge", "receiver": dataset_purged},
        ],
        tk.signals.ckanext.signal(POINTS_REPLACED): [points_replaced],
    }


def points_replaced(sender: str, **kwargs: Any) -> None:
    """Accepted corrections survive re-ingestion: write them back (or retire
    the ones the producer's new file agrees with)."""
    from . import corrections

    resource_id = kwargs.get("resource_id") or sender
    if not _has_tables():
        return
    counts = corrections.reapply_to_points(resource_id)
    if counts["applied"] or counts["retired"]:
        tk.signals.ckanext.signal(POINTS_CORRECTED).send(
            resource_id, resource_id=resource_id, **counts)


def _retire(condition: Any, reason: str) -> int:
    from .model import Correction, Event

    now = datetime.datetime.utcnow()
    corrections = model.Session.query(Correction).filter(
        condition, Correction.state == "active").all()
    for correction in corrections:
        correction.state = "removed"
        correction.removed = now
        correction.removal_reason = reason
        model.Session.add(Event(report_id=correction.report_id, actor_role="system",
                                action="correction_retired", created=now,
                                data={"correction_id": correction.id, "reason": reason}))
    if corrections:
        model.Session.commit()
    return len(corrections)


def _has_tables() -> bool:
    return bool(model.Session.execute(sa.text(
        "SELECT to_regclass('servicespublics_issues_correction') IS NOT NULL")).scalar())


def resource_deleted(sender: str, **kwargs: Any) -> None:
    from .model import Correction

    resource_id = (kwargs.get("data_dict") or {}).get("id")
    if resource_id and _has_tables():
        _retire(Correction.resource_id == resource_id, "resource_deleted")


def dataset_purged(sender: str, **kwargs: Any) -> None:
    from .model import Correction

    package_id = (kwargs.get("data_dict") or {}).get("id")
    if not package_id or not _has_tables():
        return
    # the dataset may have been addressed by name: its rows are gone now,
    # so match the corrections by id only
    _retire(Correction.package_id == package_id, "dataset_purged")
