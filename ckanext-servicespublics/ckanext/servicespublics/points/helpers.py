"""Template helpers of servicespublics_points."""
from __future__ import annotations

from typing import Any, Optional

import ckan.plugins.toolkit as tk

from . import queries

__all__ = [
    "servicespublics_points_summary", "servicespublics_points_status_label",
    "servicespublics_points_severity_label",
]


def servicespublics_points_summary(resource_id: str, entries: int = 100
                                   ) -> Optional[dict[str, Any]]:
    """The validation summary of a point resource (None if it is not one).

    ``validation_status``, ``point_count``, ``running``, the latest
    ``ingestion`` (counts, messages, summary by code), its first ``entries``
    and ``entries_count``.  The caller shows it only where the resource is
    visible (the resource page).
    """
    if not resource_id:
        return None
    return queries.summary(resource_id, entries_limit=entries)


def servicespublics_points_status_label(status: Optional[str]) -> str:
    labels = {
        "pending": tk._("Pending"),
        "running": tk._("In progress"),
        "valid": tk._("Valid"),
        "partial": tk._("Partially valid"),
        "invalid": tk._("Invalid"),
        "error": tk._("Error"),
    }
    return labels.get(status or "", status or "")


def servicespublics_points_severity_label(severity: Optional[str]) -> str:
    labels = {
        "error": tk._("Error (row rejected)"),
        "warning": tk._("Warning (row kept)"),
        "info": tk._("Information"),
    }
    return labels.get(severity or "", severity or "")
