"""Auth functions of servicespublics_points: the rights on the resource's dataset."""
from __future__ import annotations

from typing import Optional

import ckan.authz as authz
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict

__all__ = [
    "servicespublics_points_report", "servicespublics_points_list",
    "servicespublics_points_ingest",
]


def _package_id(resource_id: Optional[str]) -> str:
    resource = model.Resource.get(resource_id) if resource_id else None
    if resource is None:
        raise tk.ObjectNotFound(tk._("Resource not found"))
    return resource.package_id


def _can(action: str, context: Context, package_id: str) -> AuthResult:
    # a fresh context: core's auth functions cache the package in it
    fresh: Context = {"user": context.get("user"), "model": model,
                      "auth_user_obj": context.get("auth_user_obj")}
    if not authz.is_authorized_boolean(action, fresh, {"id": package_id}):
        return {"success": False,
                "msg": tk._("You are not authorized to see the points of this dataset")
                if action == "package_show"
                else tk._("You are not authorized to edit this dataset")}
    return {"success": True}


@tk.auth_allow_anonymous_access
def servicespublics_points_report(context: Context, data_dict: DataDict) -> AuthResult:
    return _can("package_show", context, _package_id(data_dict.get("id")))


@tk.auth_allow_anonymous_access
def servicespublics_points_list(context: Context, data_dict: DataDict) -> AuthResult:
    if data_dict.get("resource_id"):
        return _can("package_show", context, _package_id(data_dict["resource_id"]))
    package = model.Package.get(data_dict.get("package_id") or "")
    if package is None:
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    return _can("package_show", context, package.id)


def servicespublics_points_ingest(context: Context, data_dict: DataDict) -> AuthResult:
    return _can("package_update", context, _package_id(data_dict.get("id")))
