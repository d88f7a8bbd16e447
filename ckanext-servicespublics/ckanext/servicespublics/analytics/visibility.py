"""Which datasets' points a user may count: the permission labels' verdict.

Every statistic, tile and export of the national map is computed over the
points of the datasets returned by ``visible_packages``, so that a private or
restricted dataset never counts for someone who cannot read it:

- a sysadmin counts every active dataset;
- anyone else counts the active datasets whose permission labels meet theirs
  (``IPermissionLabels``: ``public``, ``member-<org>``, ``agent``…), read from
  the search index, as ``package_search`` does: the PostgreSQL search table
  when ``servicespublics_search`` is the backend, else ``package_search``
  itself (Solr).

Only datasets that have points (a resource known to the points plugin) are
returned.
"""
from __future__ import annotations

from typing import Any, Optional

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import get_permission_labels

from .model import LIVE_STATE, VERSION

__all__ = ["user_object", "visible_packages", "is_sysadmin"]

_SEARCH_TABLE = "servicespublics_search_document"
_PAGE = 1000


def user_object(context: dict[str, Any]) -> Optional[model.User]:
    user = context.get("auth_user_obj")
    if isinstance(user, model.User):
        return user
    name = context.get("user")
    return model.User.get(name) if name else None


def is_sysadmin(context: dict[str, Any]) -> bool:
    user = user_object(context)
    return bool(user is not None and user.sysadmin and user.state == "active")


def _postgres_backend() -> bool:
    try:
        from ckanext.servicespublics.search import backend
    except ImportError:
        return False
    return backend.active()


def _with_points() -> str:
    return (f"(SELECT package_id FROM {LIVE_STATE} UNION "
            f"SELECT DISTINCT package_id FROM {VERSION})")


def visible_packages(context: dict[str, Any]) -> list[str]:
    """Ids of the active datasets with points that the context's user may read."""
    if is_sysadmin(context):
        return list(model.Session.execute(sa.text(
            f"SELECT id FROM package WHERE state = 'active' "
            f"AND id IN {_with_points()}")).scalars())
    labels = get_permission_labels().get_user_dataset_labels(user_object(context))
    if _postgres_backend():
        return list(model.Session.execute(sa.text(
            f"""SELECT d.id FROM {_SEARCH_TABLE} d
                WHERE d.site_id = :site AND d.entity_type = 'package' AND d.state = 'active'
                  AND d.permission_labels && CAST(:labels AS text[])
                  AND d.id IN {_with_points()}"""),
            {"site": tk.config.get("ckan.site_id"), "labels": labels}).scalars())
    # another search backend: ask it, with the user's own permissions
    with_points = set(model.Session.execute(sa.text(_with_points())).scalars())
    if not with_points:
        return []
    found: list[str] = []
    search = tk.get_action("package_search")
    start = 0
    while True:
        result = search(
            {"user": context.get("user"), "auth_user_obj": user_object(context),
             "ignore_auth": False},
            {"q": "*:*", "fl": "id", "rows": _PAGE, "start": start, "include_private": True,
             "include_drafts": False, "sort": "id asc"})
        ids = [r["id"] if isinstance(r, dict) else r for r in result["results"]]
        found.extend(i for i in ids if i in with_points)
        start += _PAGE
        if not ids or start >= result["count"]:
            break
    return found
