"""Auth functions of servicespublics_map: the rights on the resource's dataset."""
from __future__ import annotations

from typing import Optional

import ckan.authz as authz
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict

__all__ = [
    "servicespublics_map_search", "servicespublics_map_point_show",
    "servicespublics_map_layer_show", "servicespublics_map_layer_build",
]


def _resource(resource_id: Optional[str]) -> model.Resource:
    resource = model.Resource.get(resource_id) if resource_id else None
    if resource is None or resource.state != "active":
        raise tk.ObjectNotFound(tk._("Resource not found"))
    return resource


def _can(action: str, context: Context, data_dict: DataDict) -> AuthResult:
    resource = _resource(data_dict.get("resource_id"))
    # a fresh context: core's auth functions cache the objects they load in it
    fresh: Context = {"user": context.get("user"), "model": model,
                      "auth_user_obj": context.get("auth_user_obj")}
    target = {"id": resource.id} if action == "resource_show" else {"id": resource.package_id}
    if not authz.is_authorized_boolean(action, fresh, target):
        return {"success": False,
                "msg": tk._("You are not authorized to see the points of this resource")
                if action == "resource_show"
                else tk._("You are not authorized to edit this dataset")}
    return {"success": True}


@tk.auth_allow_anonymous_access
def servicespublics_map_search(context: Context, data_dict: DataDict) -> AuthResult:
    return _can("resource_show", context, data_dict)


@tk.auth_allow_anonymous_access
def servicespublics_map_point_show(context: Context, data_dict: DataDict) -> AuthResult:
    return _can("resource_show", context, data_dict)


@tk.auth_allow_anonymous_access
def servicespublics_map_layer_show(context: Context, data_dict: DataDict) -> AuthResult:
    return _can("resource_show", context, data_dict)


def servicespublics_map_layer_build(context: Context, data_dict: DataDict) -> AuthResult:
    return _can("package_update", context, data_dict)
