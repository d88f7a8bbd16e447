"""Auth functions of servicespublics_access.

Reading a dataset needs no chained auth in CKAN 2.12: ``package_show``'s auth
function compares the permission labels, and ``resource_show``,
``resource_view_show|list``, downloads, ``dcat_dataset_show`` and the
activity auth functions all end in it.  The chained functions below close
the reads that do not go through ``package_show``.
"""
from __future__ import annotations

import ckan.authz as authz
import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.types import AuthFunction, AuthResult, Context, DataDict

#: chained auth functions of other plugins, registered only when they are loaded
_OPTIONAL = {"harvest_object_show": "harvest", "harvest_object_list": "harvest"}

__all__ = [
    "get_auth_functions",
    "servicespublics_access_dataset_viewers",
    "servicespublics_access_user_datasets",
    "servicespublics_access_agent_set",
    "servicespublics_access_agent_show",
    "servicespublics_access_agent_list",
    "task_status_show",
    "dataset_follower_count",
    "am_following_dataset",
    "harvest_object_show",
    "harvest_object_list",
]


def get_auth_functions() -> dict[str, AuthFunction]:
    """The auth functions, for ``tk.blanket.auth_functions``: CKAN refuses to
    chain an auth function that no loaded plugin provides."""
    return {name: globals()[name] for name in __all__
            if name != "get_auth_functions"
            and (name not in _OPTIONAL or p.plugin_loaded(_OPTIONAL[name]))}


def servicespublics_access_dataset_viewers(context: Context, data_dict: DataDict
                                           ) -> AuthResult:
    """Sysadmins only."""
    return {"success": False}


def servicespublics_access_user_datasets(context: Context, data_dict: DataDict
                                         ) -> AuthResult:
    """Sysadmins only."""
    return {"success": False}


def servicespublics_access_agent_set(context: Context, data_dict: DataDict) -> AuthResult:
    """Sysadmins only."""
    return {"success": False}


def servicespublics_access_agent_show(context: Context, data_dict: DataDict) -> AuthResult:
    """Sysadmins only."""
    return {"success": False}


def servicespublics_access_agent_list(context: Context, data_dict: DataDict) -> AuthResult:
    """Sysadmins only."""
    return {"success": False}


def _can(action: str, context: Context, data_dict: DataDict) -> bool:
    # ckanext-harvest's auth functions read the model from the context
    fresh = dict(tk.fresh_context(context), model=model, session=model.Session)
    return authz.is_authorized_boolean(action, fresh, data_dict)


def _manages_source(context: Context, source_id: str) -> bool:
    # ckanext-harvest's auth functions crash on anonymous users
    if not context.get("user"):
        return False
    return _can("harvest_source_update", context, {"id": source_id})


@tk.auth_allow_anonymous_access
@tk.chained_auth_function
def task_status_show(next_auth: AuthFunction, context: Context,
                     data_dict: DataDict) -> AuthResult:
    """Core lets anyone read any task status; those of a dataset or a
    resource (e.g. ingestion reports) follow the dataset."""
    task = context.get("task_status")
    if task is None and data_dict.get("id"):
        task = model.TaskStatus.get(data_dict["id"])
    if task is not None:
        if task.entity_type == "resource" and model.Resource.get(task.entity_id):
            if not _can("resource_show", context, {"id": task.entity_id}):
                return {"success": False, "msg": tk._("Not authorized to see this task")}
        elif task.entity_type in ("package", "dataset") and model.Package.get(task.entity_id):
            if not _can("package_show", context, {"id": task.entity_id}):
                return {"success": False, "msg": tk._("Not authorized to see this task")}
    return next_auth(context, data_dict)


@tk.auth_allow_anonymous_access
@tk.chained_auth_function
def dataset_follower_count(next_auth: AuthFunction, context: Context,
                           data_dict: DataDict) -> AuthResult:
    """Core answers for any dataset: follow package_show, like following."""
    if not _can("package_show", context, {"id": data_dict.get("id")}):
        return {"success": False, "msg": tk._("Not authorized to see this dataset")}
    return next_auth(context, data_dict)


@tk.auth_allow_anonymous_access
@tk.chained_auth_function
def am_following_dataset(next_auth: AuthFunction, context: Context,
                         data_dict: DataDict) -> AuthResult:
    if not _can("package_show", context, {"id": data_dict.get("id")}):
        return {"success": False, "msg": tk._("Not authorized to see this dataset")}
    return next_auth(context, data_dict)


@tk.auth_allow_anonymous_access
@tk.chained_auth_function
def harvest_object_show(next_auth: AuthFunction, context: Context,
                        data_dict: DataDict) -> AuthResult:
    """ckanext-harvest shows any harvested record to anyone: the record of a
    restricted or private dataset follows the dataset, a record without
    dataset is for the source's managers."""
    from ckanext.harvest.model import HarvestObject

    obj = None
    if data_dict.get("id"):
        obj = HarvestObject.get(data_dict["id"], attr=data_dict.get("attr"))
    elif data_dict.get("dataset_id"):
        pkg = model.Package.get(data_dict["dataset_id"])
        if pkg is not None and not _can("package_show", context, {"id": pkg.id}):
            return {"success": False, "msg": tk._("Not authorized to see this record")}
    if obj is not None:
        if obj.package_id and model.Package.get(obj.package_id) is not None:
            allowed = _can("package_show", context, {"id": obj.package_id})
        else:
            allowed = _manages_source(context, obj.harvest_source_id)
        if not allowed:
            return {"success": False, "msg": tk._("Not authorized to see this record")}
    return next_auth(context, data_dict)


@tk.chained_auth_function
def harvest_object_list(next_auth: AuthFunction, context: Context,
                        data_dict: DataDict) -> AuthResult:
    """The ids of a source's records, for the source's managers (ckanext-harvest
    gives them to any signed-in user)."""
    source_id = data_dict.get("source_id")
    if not source_id or not _manages_source(context, source_id):
        return {"success": False, "msg": tk._("Not authorized to list these records")}
    return next_auth(context, data_dict)
