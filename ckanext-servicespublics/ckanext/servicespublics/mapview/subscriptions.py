"""Following the changes of resources, datasets and points.

- a deleted resource or dataset takes its map layers along;
- a correction accepted (or removed) on a point changes it in place, without
  a new ingestion: the resource's points get a new version (new ETags, the
  cluster levels counted again).
"""
from __future__ import annotations

import logging
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan import types

from . import layers

log = logging.getLogger(__name__)

__all__ = ["get_subscriptions"]

#: sent by servicespublics_issues (sender: the resource id)
CORRECTION_ACCEPTED = "servicespublics_issue_correction_accepted"
#: sent by servicespublics_issues when re-ingested points got their
#: corrections back (sender: the resource id)
POINTS_CORRECTED = "servicespublics_points_corrected"


def get_subscriptions() -> types.SignalMapping:
    return {
        tk.signals.action_succeeded: [
            {"sender": "resource_delete", "receiver": resource_deleted},
            {"sender": "package_delete", "receiver": package_deleted},
            {"sender": "dataset_purge", "receiver": package_deleted},
            {"sender": "bulk_update_delete", "receiver": bulk_deleted},
            {"sender": "servicespublics_issue_correction_remove",
             "receiver": correction_removed},
        ],
        tk.signals.ckanext.signal(CORRECTION_ACCEPTED): [correction_accepted],
        tk.signals.ckanext.signal(POINTS_CORRECTED): [correction_accepted],
    }


def _safely(function: Any, *args: Any) -> None:
    try:
        function(*args)
    except Exception:
        log.exception("Map layers: %s%r failed", function.__name__, args)


def resource_deleted(sender: str, **kwargs: Any) -> None:
    data_dict = kwargs.get("data_dict") or {}
    if data_dict.get("id"):
        _safely(layers.drop, data_dict["id"])


def package_deleted(sender: str, **kwargs: Any) -> None:
    name_or_id = (kwargs.get("data_dict") or {}).get("id")
    if not name_or_id:
        return
    package = model.Package.get(name_or_id)
    _safely(layers.drop_package, package.id if package else name_or_id)


def bulk_deleted(sender: str, **kwargs: Any) -> None:
    for package_id in (kwargs.get("data_dict") or {}).get("datasets") or []:
        _safely(layers.drop_package, package_id)


def correction_accepted(sender: str, **kwargs: Any) -> None:
    if sender and kwargs.get("applied", True):
        _safely(layers.bump_version, sender)


def correction_removed(sender: str, **kwargs: Any) -> None:
    result = kwargs.get("result") or {}
    if not isinstance(result, dict) or not result.get("restored", True):
        return  # the point kept its values
    resource_id = result.get("resource_id")
    if resource_id:
        _safely(layers.bump_version, resource_id)
