"""Who may see, moderate and follow a report.

- Everything about a report requires seeing its dataset (``package_show``
  on the dataset, so private and restricted datasets keep their reports to
  the people who may read them).
- Moderators are the editors and admins of the dataset's organisation, and
  sysadmins.
- The reporter follows the report through their account or, when they were
  not signed in, through a secret link (a token derived from the report's
  random key and the site's secret: nothing in the database alone gives it).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Iterable, Optional

import ckan.authz as authz
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context

from .model import Report

MODERATOR_ROLES = ("editor", "admin")


def context_user(context: Context) -> Optional[model.User]:
    """The signed-in user of an action's context, or None."""
    user = context.get("auth_user_obj")
    if isinstance(user, model.User):
        return user
    name = context.get("user")
    if name:
        return model.User.get(name)
    return None


def is_sysadmin(user: Optional[model.User]) -> bool:
    return bool(user and user.sysadmin and user.state == "active")


def can_moderate(user: Optional[model.User], package: Optional[model.Package]) -> bool:
    """Editors and admins of the dataset's organisation, and sysadmins."""
    if user is None or package is None:
        return False
    if is_sysadmin(user):
        return True
    if not package.owner_org:
        return False
    return authz.users_role_for_group_or_org(package.owner_org, user.name) \
        in MODERATOR_ROLES


def moderator_org_ids(user: Optional[model.User]) -> set[str]:
    """The organisations whose reports this user moderates (sysadmins: see
    :func:`is_sysadmin`, they moderate everything)."""
    if user is None:
        return set()
    rows = model.Session.query(model.Member.group_id).join(
        model.Group, model.Group.id == model.Member.group_id
    ).filter(
        model.Member.table_name == "user",
        model.Member.table_id == user.id,
        model.Member.state == "active",
        model.Member.capacity.in_(MODERATOR_ROLES),
        model.Group.is_organization.is_(True),
        model.Group.state == "active",
    )
    return {r.group_id for r in rows}


def new_key() -> str:
    return secrets.token_hex(16)


def reporter_token(report: Report) -> Optional[str]:
    """The secret that lets an anonymous reporter follow their report."""
    if not report.reporter_key:
        return None
    secret = (tk.config.get("SECRET_KEY") or "").encode()
    message = f"servicespublics-issue:{report.id}:{report.reporter_key}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:40]


def is_reporter(report: Report, user: Optional[model.User],
                token: Optional[str] = None) -> bool:
    if user is not None and report.user_id and report.user_id == user.id:
        return True
    expected = reporter_token(report)
    return bool(token and expected and hmac.compare_digest(str(token), expected))


def can_see_package(context: Context, package: model.Package) -> bool:
    """``package_show`` authorisation on the dataset, as CKAN (and any plugin
    chaining ``package_show``) decides it."""
    auth_context: Context = {
        "user": context.get("user") or "",
        "auth_user_obj": context.get("auth_user_obj"),
        "model": model,
        "session": model.Session,
        "package": package,
    }
    return authz.is_authorized(
        "package_show", auth_context, {"id": package.id}).get("success", False)


def visible_package_ids(context: Context, package_ids: Iterable[str]) -> set[str]:
    """The datasets of ``package_ids`` that the context's user may see.

    The packages are loaded in one query, then ``package_show``'s
    authorisation runs on each from the session's identity map.
    """
    ids = list({i for i in package_ids if i})
    if not ids:
        return set()
    packages = model.Session.query(model.Package).filter(model.Package.id.in_(ids)).all()
    return {pkg.id for pkg in packages if can_see_package(context, pkg)}


def report_role(report: Report, package: Optional[model.Package],
                user: Optional[model.User], token: Optional[str] = None) -> dict[str, Any]:
    return {"moderator": can_moderate(user, package),
            "reporter": is_reporter(report, user, token)}
