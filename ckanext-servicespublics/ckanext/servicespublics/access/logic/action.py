"""Actions of servicespublics_access.

Three groups:

- chained writes that keep ``access_level`` and ``private`` consistent
  (``package_create``, ``package_update``; ``package_patch``, ``package_revise``
  and the organisation bulk actions go through ``package_update``), that
  reindex after ``package_owner_org_update`` and that validate the
  organisation type and default level (``organization_create|update``);
- chained reads that filter what core lists without permission labels (free
  tags, resource formats, group members, relationships, followed datasets,
  activities that are not typed "... package", harvest sources) and that list
  an organisation's or group's datasets as its pages do (what the user may
  read, restricted ones included for agents);
- the sysadmin actions ``servicespublics_access_*``.
"""
from __future__ import annotations

from typing import Any, Optional

import sqlalchemy as sa

import ckan.authz as authz
import ckan.lib.search as search
import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import get_permission_labels
from ckan.types import Action, Context, DataDict

from .. import rules
from . import schema

#: chained actions of other plugins, registered only when they are loaded
_OPTIONAL = {
    "harvest_source_list": "harvest",
    "user_activity_list": "activity",
    "dashboard_activity_list": "activity",
    "recently_changed_packages_activity_list": "activity",
    "organization_activity_list": "activity",
    "group_activity_list": "activity",
}

__all__ = [
    "get_actions",
    "package_create",
    "package_update",
    "package_owner_org_update",
    "organization_create",
    "organization_update",
    "organization_show",
    "group_show",
    "group_package_show",
    "tag_list",
    "tag_show",
    "tag_search",
    "tag_autocomplete",
    "format_autocomplete",
    "member_list",
    "package_relationships_list",
    "dataset_followee_list",
    "followee_list",
    "user_activity_list",
    "dashboard_activity_list",
    "recently_changed_packages_activity_list",
    "organization_activity_list",
    "group_activity_list",
    "harvest_source_list",
    "servicespublics_access_dataset_viewers",
    "servicespublics_access_user_datasets",
    "servicespublics_access_agent_set",
    "servicespublics_access_agent_show",
    "servicespublics_access_agent_list",
]


def get_actions() -> dict[str, Action]:
    """The actions, for ``tk.blanket.actions``: CKAN refuses to chain an
    action that no loaded plugin provides."""
    return {name: globals()[name] for name in __all__
            if name != "get_actions"
            and (name not in _OPTIONAL or p.plugin_loaded(_OPTIONAL[name]))}


# -- access level of datasets --------------------------------------------------

def _read_level(data_dict: DataDict) -> tuple[bool, Optional[str]]:
    """``(key present, value)`` of ``access_level``: top level, else extras."""
    if rules.LEVEL_FIELD in data_dict:
        return True, data_dict[rules.LEVEL_FIELD]
    for extra in data_dict.get("extras") or []:
        if isinstance(extra, dict) and extra.get("key") == rules.LEVEL_FIELD \
                and not tk.asbool(extra.get("deleted") or False):
            return True, extra.get("value")
    return False, None


def _read_private(data_dict: DataDict) -> Optional[bool]:
    value = data_dict.get("private")
    if value is None or value == "":
        return None
    try:
        return tk.asbool(value)
    except ValueError:
        return None  # core validation reports it


def _organization(owner_org: Any) -> Optional[model.Group]:
    if not owner_org or not isinstance(owner_org, str):
        return None
    group = model.Group.get(owner_org)
    if group is None or not group.is_organization:
        return None
    return group


def _resolve_level(data_dict: DataDict, pkg: Optional[model.Package],
                   org: Optional[model.Group]) -> str:
    """The level the dataset gets, from what the caller sent.

    - an explicit ``access_level`` wins (on update: when it differs from the
      stored one);
    - otherwise a change of ``private`` (clients that do not know levels,
      CKAN's own forms and bulk actions): true gives ``private`` — or keeps
      ``restricted`` — false gives ``public``;
    - otherwise the stored level (update) or the organisation's default
      (create).
    """
    has_key, raw = _read_level(data_dict)
    raw = raw.strip() if isinstance(raw, str) else raw
    if raw not in (None, "") and raw not in rules.LEVELS:
        raise tk.ValidationError({rules.LEVEL_FIELD: [
            tk._("Invalid access level: use public, restricted or private")]})
    private = _read_private(data_dict)
    stored = rules.dataset_level(pkg) if pkg is not None else None

    if raw and raw != stored:
        return raw
    if pkg is None:
        if private is not None and not has_key:
            return rules.PRIVATE if private else rules.PUBLIC
        return raw or rules.org_default_level(org)
    assert stored is not None
    if private is not None and private != bool(pkg.private):
        return rules.PRIVATE if private else rules.PUBLIC
    return stored


def _apply_level(data_dict: DataDict, pkg: Optional[model.Package]) -> DataDict:
    dataset_type = data_dict.get("type") or (pkg.type if pkg else None) or "dataset"
    if dataset_type in rules.ignored_dataset_types():
        return data_dict
    data_dict = dict(data_dict)
    owner_org = data_dict["owner_org"] if "owner_org" in data_dict else (
        pkg.owner_org if pkg else None)
    org = _organization(owner_org)
    level = _resolve_level(data_dict, pkg, org)
    if level != rules.PUBLIC and not owner_org:
        raise tk.ValidationError({rules.LEVEL_FIELD: [
            tk._("A restricted or private dataset must belong to an organization")]})

    data_dict["private"] = level != rules.PUBLIC
    extras = [e for e in data_dict.get("extras") or []
              if not (isinstance(e, dict) and e.get("key") == rules.LEVEL_FIELD)]
    if rules.scheming_has_level_field(dataset_type):
        data_dict[rules.LEVEL_FIELD] = level
        if "extras" in data_dict:
            data_dict["extras"] = extras
    else:
        data_dict.pop(rules.LEVEL_FIELD, None)
        data_dict["extras"] = extras + [{"key": rules.LEVEL_FIELD, "value": level}]
    return data_dict


@tk.chained_action
def package_create(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    return up_func(context, _apply_level(data_dict, None))


@tk.chained_action
def package_update(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    pkg = model.Package.get(data_dict.get("id") or data_dict.get("name") or "")
    if pkg is None:
        return up_func(context, data_dict)  # core reports the missing dataset
    return up_func(context, _apply_level(data_dict, pkg))


@tk.chained_action
def package_owner_org_update(up_func: Action, context: Context,
                             data_dict: DataDict) -> Any:
    """Core moves the dataset but neither reindexes it nor relabels its
    activities: the search index would keep the old organisation's label."""
    result = up_func(context, data_dict)
    if not context.get("defer_commit"):
        pkg = model.Package.get(data_dict.get("id") or "")
        if pkg is not None:
            rules.relabel_activities(pkg)
            search.rebuild(pkg.id, defer_commit=True)
            model.repo.commit()
    return result


# -- organisations ---------------------------------------------------------------

_ORG_FIELDS = (rules.ORG_TYPE_FIELD, rules.ORG_DEFAULT_LEVEL_FIELD)


def _apply_org_fields(context: Context, data_dict: DataDict,
                      group: Optional[model.Group]) -> DataDict:
    if data_dict.get("type") not in (None, "organization") and group is None:
        return data_dict
    data_dict = dict(data_dict)
    extras = [dict(e) for e in data_dict.get("extras") or [] if isinstance(e, dict)]
    current = dict(group.extras or {}) if group is not None else {}
    values: dict[str, Any] = {}
    for field in _ORG_FIELDS:
        if field in data_dict:
            values[field] = data_dict.pop(field)
            continue
        found = [e for e in extras if e.get("key") == field]
        if found:
            values[field] = None if tk.asbool(found[-1].get("deleted") or False) \
                else found[-1].get("value")
        elif field in current:
            values[field] = current[field]  # partial update: keep it
    extras = [e for e in extras if e.get("key") not in _ORG_FIELDS]

    errors: dict[str, list[str]] = {}
    org_type = (values.get(rules.ORG_TYPE_FIELD) or "").strip()
    level = (values.get(rules.ORG_DEFAULT_LEVEL_FIELD) or "").strip()
    if org_type and org_type not in rules.ORG_TYPES:
        errors[rules.ORG_TYPE_FIELD] = [
            tk._("Invalid organization type: use one of %s") % ", ".join(rules.ORG_TYPES)]
    elif org_type != (current.get(rules.ORG_TYPE_FIELD) or "") and not (
            context.get("ignore_auth") or authz.is_sysadmin(context.get("user"))):
        errors[rules.ORG_TYPE_FIELD] = [
            tk._("Only sysadmins can set the type of an organization")]
    if level and level not in rules.LEVELS:
        errors[rules.ORG_DEFAULT_LEVEL_FIELD] = [
            tk._("Invalid access level: use public, restricted or private")]
    if errors:
        raise tk.ValidationError(errors)
    if org_type:
        extras.append({"key": rules.ORG_TYPE_FIELD, "value": org_type})
    if level:
        extras.append({"key": rules.ORG_DEFAULT_LEVEL_FIELD, "value": level})
    data_dict["extras"] = extras
    return data_dict


@tk.chained_action
def organization_create(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    return up_func(context, _apply_org_fields(context, data_dict, None))


@tk.chained_action
def organization_update(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    group = model.Group.get(data_dict.get("id") or data_dict.get("name") or "")
    if group is None or not group.is_organization:
        return up_func(context, data_dict)
    return up_func(context, _apply_org_fields(context, data_dict, group))


# -- filtering of core lists -----------------------------------------------------
# The chained reads below give core a copy of the context: core may change it
# (followee_list sets ignore_auth) and the filter must judge the caller.

def _sees_everything(context: Context) -> bool:
    return bool(context.get("ignore_auth")) or authz.is_sysadmin(context.get("user"))


def _user_labels(context: Context) -> set[str]:
    user_obj = context.get("auth_user_obj")
    if user_obj is None and context.get("user"):
        user_obj = model.User.get(context["user"])
    return set(get_permission_labels().get_user_dataset_labels(user_obj))


def _readable(context: Context, ids_or_names: list[str], by_name: bool = True) -> set[str]:
    """The ids and names, among those given, of datasets the user may read."""
    wanted = list({i for i in ids_or_names if i})
    if not wanted:
        return set()
    match = model.Package.id.in_(wanted)
    if by_name:
        match = sa.or_(match, model.Package.name.in_(wanted))
    pkgs = model.Session.query(model.Package).filter(match).all()
    if _sees_everything(context):
        ok = pkgs
    else:
        labels = _user_labels(context)
        plugin = get_permission_labels()
        ok = [pkg for pkg in pkgs if labels & set(plugin.get_dataset_labels(pkg))]
    return {pkg.id for pkg in ok} | {pkg.name for pkg in ok}


def _visible_facet(context: Context, field: str) -> set[str]:
    """Values of a search facet over the datasets the user may read."""
    result = tk.get_action("package_search")(
        {"user": context.get("user"), "auth_user_obj": context.get("auth_user_obj")},
        {"q": "", "rows": 0, "facet": "true", "facet.field": [field],
         "facet.limit": -1, "facet.mincount": 1, "include_private": True,
         "include_drafts": True})
    return set((result.get("facets") or {}).get(field, {}).keys())


def _is_free_tag_query(data_dict: DataDict) -> bool:
    return not data_dict.get("vocabulary_id")


@tk.side_effect_free
@tk.chained_action
def tag_list(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """Free tags come from datasets: list those of datasets the user may read
    (vocabulary tags are a sysadmin-managed list and stay as they are)."""
    result = up_func(dict(context), data_dict)
    if _sees_everything(context) or not _is_free_tag_query(data_dict):
        return result
    visible = _visible_facet(context, "tags")
    return [t for t in result
            if (t["name"] if isinstance(t, dict) else t) in visible]


@tk.side_effect_free
@tk.chained_action
def tag_show(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """A free tag only used by datasets the user may not read does not exist
    for them (its datasets are the public ones, as in core)."""
    result = up_func(dict(context), data_dict)
    if _sees_everything(context) or result.get("vocabulary_id"):
        return result
    if result["name"] not in _visible_facet(context, "tags"):
        raise tk.ObjectNotFound(tk._("Tag not found"))
    return result


def _group_datasets(context: Context, group: dict[str, Any], is_org: bool,
                    rows: Optional[int]) -> tuple[int, list[dict[str, Any]]]:
    fq = f'+owner_org:"{group["id"]}"' if is_org else f'+groups:"{group["name"]}"'
    query: dict[str, Any] = {"fq": fq, "include_private": True, "facet": "false"}
    if rows is not None:
        query["rows"] = rows
    result = tk.get_action("package_search")(
        {"user": context.get("user"), "auth_user_obj": context.get("auth_user_obj")}, query)
    return result["count"], result["results"]


def _group_or_org_show(up_func: Action, context: Context, data_dict: DataDict,
                       is_org: bool) -> Any:
    """Core counts and lists the datasets of an organisation for its members
    only, those of a group for nobody but public ones: list what the user may
    read, as the organisation and group pages do."""
    if context.get("ignore_auth") or "dataset_counts" in context:
        # internal calls (e.g. the activity plugin recording a change) keep
        # core's behaviour: they must not count what the actor could read;
        # organization_list and group_list pass counts they computed with the
        # user's labels (one search for all groups, not one per group)
        return up_func(dict(context), data_dict)
    data_dict = dict(data_dict)
    include_datasets = tk.asbool(data_dict.get("include_datasets", False))
    include_count = tk.asbool(data_dict.get("include_dataset_count", True))
    data_dict["include_datasets"] = False
    data_dict["include_dataset_count"] = False
    result = up_func(dict(context), data_dict)
    if include_datasets or include_count:
        rows = None
        if "limits" in context and "packages" in context["limits"]:
            rows = context["limits"]["packages"]
        count, packages = _group_datasets(context, result, is_org,
                                          rows if include_datasets else 0)
        result["package_count"] = count
        if include_datasets:
            result["packages"] = packages
    return result


@tk.side_effect_free
@tk.chained_action
def organization_show(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    return _group_or_org_show(up_func, context, data_dict, is_org=True)


@tk.side_effect_free
@tk.chained_action
def group_show(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    return _group_or_org_show(up_func, context, data_dict, is_org=False)


@tk.side_effect_free
@tk.chained_action
def group_package_show(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """Core lists a group's public datasets only: list what the user may read."""
    up_func(dict(context), data_dict)  # validation and auth
    group = model.Group.get(data_dict["id"])
    assert group is not None
    limit = data_dict.get("limit")
    _count, packages = _group_datasets(
        context, {"id": group.id, "name": group.name}, group.is_organization,
        int(limit) if limit not in (None, "") else None)
    return packages


def _filtered_tag_search(up_func: Action, context: Context,
                         data_dict: DataDict) -> tuple[list[Any], int]:
    data_dict = dict(data_dict)
    limit = data_dict.pop("limit", None)
    offset = data_dict.pop("offset", None) or 0
    result = up_func(dict(context), data_dict)
    items = result["results"] if isinstance(result, dict) else result
    if not (_sees_everything(context) or not _is_free_tag_query(data_dict)):
        visible = _visible_facet(context, "tags")
        items = [t for t in items if (t["name"] if isinstance(t, dict) else t) in visible]
    count = len(items)
    try:
        start = int(offset)
        items = items[start:start + int(limit)] if limit not in (None, "") else items[start:]
    except (TypeError, ValueError):
        raise tk.ValidationError({"limit": [tk._("Must be an integer")]}) from None
    return items, count


@tk.side_effect_free
@tk.chained_action
def tag_search(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    items, count = _filtered_tag_search(up_func, context, data_dict)
    return {"count": count, "results": items}


@tk.side_effect_free
@tk.chained_action
def tag_autocomplete(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    # core's tag_search and tag_autocomplete both wrap the same query
    data_dict = dict(data_dict)
    limit = data_dict.get("limit")
    data_dict["limit"] = None
    names = up_func(dict(context), data_dict)
    if not (_sees_everything(context) or not _is_free_tag_query(data_dict)):
        visible = _visible_facet(context, "tags")
        names = [n for n in names if n in visible]
    if limit not in (None, ""):
        try:
            names = names[:int(limit)]
        except (TypeError, ValueError):
            raise tk.ValidationError({"limit": [tk._("Must be an integer")]}) from None
    return names


@tk.side_effect_free
@tk.chained_action
def format_autocomplete(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """Core counts the formats of every resource, private datasets included."""
    if _sees_everything(context):
        return up_func(dict(context), data_dict)
    data_dict = dict(data_dict)
    try:
        limit = int(data_dict.get("limit") or 5)
    except (TypeError, ValueError):
        raise tk.ValidationError({"limit": [tk._("Must be an integer")]}) from None
    data_dict["limit"] = 10000
    formats = up_func(dict(context), data_dict)
    visible = {f.lower() for f in _visible_facet(context, "res_format")}
    return [f for f in formats if f in visible][:limit]


@tk.side_effect_free
@tk.chained_action
def member_list(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """Core lists the ids of every dataset of a group or organisation."""
    members = up_func(dict(context), data_dict)
    if _sees_everything(context):
        return members
    ids = [m[0] for m in members if m[1] == "package"]
    readable = _readable(context, ids)
    return [m for m in members if m[1] != "package" or m[0] in readable]


@tk.side_effect_free
@tk.chained_action
def package_relationships_list(up_func: Action, context: Context,
                               data_dict: DataDict) -> Any:
    """Core lists the relationships to every dataset, readable or not."""
    rels = up_func(dict(context), data_dict)
    if _sees_everything(context):
        return rels
    names = [r.get(k) for r in rels for k in ("subject", "object")]
    readable = _readable(context, names)
    return [r for r in rels if r.get("subject") in readable and r.get("object") in readable]


_RELATIONSHIP_KEYS = ("relationships_as_subject", "relationships_as_object")


def _readable_datasets(context: Context, datasets: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
    """Keep the readable dataset dicts (``package_dictize`` output), without
    their relationships to datasets the user may not read."""
    ids = [d["id"] for d in datasets]
    for d in datasets:
        for key in _RELATIONSHIP_KEYS:
            for rel in d.get(key) or []:
                ids += [rel.get("subject_package_id"), rel.get("object_package_id")]
    readable = _readable(context, ids, by_name=False)
    out = []
    for d in datasets:
        if d["id"] not in readable:
            continue
        d = dict(d)
        for key in _RELATIONSHIP_KEYS:
            if key in d:
                d[key] = [r for r in d[key] or []
                          if r.get("subject_package_id") in readable
                          and r.get("object_package_id") in readable]
        out.append(d)
    return out


@tk.side_effect_free
@tk.chained_action
def dataset_followee_list(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """A user keeps following datasets they can no longer read, and core's
    dataset dicts list the relationships to every other dataset."""
    datasets = up_func(dict(context), data_dict)
    if _sees_everything(context):
        return datasets
    return _readable_datasets(context, datasets)


@tk.side_effect_free
@tk.chained_action
def followee_list(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    followees = up_func(dict(context), data_dict)
    if _sees_everything(context):
        return followees
    kept = {d["id"]: d for d in _readable_datasets(
        context, [f["dict"] for f in followees if f.get("type") == "dataset"])}
    out = []
    for f in followees:
        if f.get("type") != "dataset":
            out.append(f)
        elif f["dict"]["id"] in kept:
            out.append(dict(f, dict=kept[f["dict"]["id"]]))
    return out


# -- activities ---------------------------------------------------------------------

def _readable_activities(context: Context, activities: list[dict[str, Any]]
                         ) -> list[dict[str, Any]]:
    """Drop the activities about datasets the user may not read.

    The activity plugin filters on the labels recorded with each activity,
    but only for activity types ending in "package": "new resource view",
    "changed resource view"... are shown to everybody, with the whole dataset
    in their data.
    """
    if _sees_everything(context):
        return activities
    object_ids = [a.get("object_id") for a in activities]
    packages = set(model.Session.execute(
        sa.select(model.Package.id).where(model.Package.id.in_(
            [i for i in object_ids if i])))
        .scalars()) if object_ids else set()
    readable = _readable(context, list(packages), by_name=False)
    return [a for a in activities
            if a.get("object_id") not in packages or a.get("object_id") in readable]


@tk.side_effect_free
@tk.chained_action
def user_activity_list(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    return _readable_activities(context, up_func(dict(context), data_dict))


@tk.side_effect_free
@tk.chained_action
def dashboard_activity_list(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    return _readable_activities(context, up_func(dict(context), data_dict))


@tk.side_effect_free
@tk.chained_action
def recently_changed_packages_activity_list(up_func: Action, context: Context,
                                            data_dict: DataDict) -> Any:
    return _readable_activities(context, up_func(dict(context), data_dict))


@tk.side_effect_free
@tk.chained_action
def organization_activity_list(up_func: Action, context: Context,
                               data_dict: DataDict) -> Any:
    return _readable_activities(context, up_func(dict(context), data_dict))


@tk.side_effect_free
@tk.chained_action
def group_activity_list(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    return _readable_activities(context, up_func(dict(context), data_dict))


@tk.side_effect_free
@tk.chained_action
def harvest_source_list(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """ckanext-harvest lists every source to anonymous users, private ones too
    (and never calls its own auth function)."""
    tk.check_access("harvest_source_list", context, data_dict)
    sources = up_func(dict(context), data_dict)
    if _sees_everything(context):
        return sources
    readable = _readable(context, [s["id"] for s in sources])
    return [s for s in sources if s["id"] in readable]


# -- sysadmin actions -------------------------------------------------------------

def _user_or_404(id_: str) -> model.User:
    user = model.User.get(id_)
    if user is None or user.state == "deleted":
        raise tk.ObjectNotFound(tk._("User not found"))
    return user


def _user_summary(user: model.User, reasons: list[str]) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "display_name": user.display_name,
            "reasons": reasons}


@tk.side_effect_free
def servicespublics_access_dataset_viewers(context: Context, data_dict: DataDict
                                           ) -> dict[str, Any]:
    """Who can read a dataset, and why (sysadmins only).

    :param id: the id or name of the dataset
    :type id: string
    :returns: ``id``, ``name``, ``title``, ``access_level``, ``everyone``
        (true for public datasets: then ``users`` is empty), ``count`` and
        ``users``: ``id``, ``name``, ``display_name`` and ``reasons`` (among
        ``sysadmin``, ``member`` of the producing organisation, ``creator``,
        ``collaborator``, ``agent``)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_access_dataset_viewers", context, data_dict)
    data, errors = tk.navl_validate(
        data_dict, schema.servicespublics_access_dataset_viewers_schema(), context)
    if errors:
        raise tk.ValidationError(errors)
    pkg = model.Package.get(data["id"])
    if pkg is None or pkg.state == "deleted":
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    labels = set(get_permission_labels().get_dataset_labels(pkg))
    out: dict[str, Any] = {
        "id": pkg.id, "name": pkg.name, "title": pkg.title,
        "access_level": rules.dataset_level(pkg), "state": pkg.state,
        "everyone": rules.PUBLIC in labels, "users": [], "count": 0,
    }
    if out["everyone"]:
        return out

    conditions = [model.User.sysadmin.is_(True)]
    org_members = sa.select(model.Member.table_id).where(
        model.Member.table_name == "user", model.Member.state == "active",
        model.Member.group_id == pkg.owner_org)
    if pkg.owner_org and f"member-{pkg.owner_org}" in labels:
        conditions.append(model.User.id.in_(org_members))
    if pkg.creator_user_id and f"creator-{pkg.creator_user_id}" in labels:
        conditions.append(model.User.id == pkg.creator_user_id)
    collaborators = sa.select(model.PackageMember.user_id).where(
        model.PackageMember.package_id == pkg.id)
    if f"collaborator-{pkg.id}" in labels:
        conditions.append(model.User.id.in_(collaborators))
    if rules.AGENT_LABEL in labels:
        conditions.append(
            model.User.plugin_extras[rules.PLUGIN_EXTRAS_KEY]["agent"].as_boolean()
            .is_(True))
        if rules.agent_membership() != rules.MEMBERSHIP_NONE:
            conditions.append(model.User.id.in_(rules.member_user_ids_sql()))
    users = model.Session.query(model.User).filter(
        model.User.state == "active", model.User.name != tk.config.get("ckan.site_id"),
        sa.or_(*conditions)).order_by(model.User.name).all()

    member_ids = set(model.Session.execute(org_members).scalars()) if pkg.owner_org else set()
    collaborator_ids = set(model.Session.execute(collaborators).scalars())
    for user in users:
        reasons = []
        if user.sysadmin:
            reasons.append("sysadmin")
        if user.id in member_ids and f"member-{pkg.owner_org}" in labels:
            reasons.append("member")
        if user.id == pkg.creator_user_id and f"creator-{user.id}" in labels:
            reasons.append("creator")
        if user.id in collaborator_ids and f"collaborator-{pkg.id}" in labels:
            reasons.append("collaborator")
        if rules.AGENT_LABEL in labels and [
                r for r in rules.agent_reasons(user) if r != "sysadmin"]:
            reasons.append("agent")
        if reasons:
            out["users"].append(_user_summary(user, reasons))
    out["count"] = len(out["users"])
    return out


@tk.side_effect_free
def servicespublics_access_user_datasets(context: Context, data_dict: DataDict
                                         ) -> dict[str, Any]:
    """The datasets a user can read, as search and ``package_show`` decide
    (sysadmins only).

    :param id: the id or name of the user
    :type id: string
    :param include_public: also list public datasets (optional, default:
        false: only restricted and private ones)
    :type include_public: bool
    :param rows: page size (optional, default 100, at most
        ``ckan.search.rows_max``)
    :type rows: int
    :param start: offset (optional, default 0)
    :type start: int
    :returns: ``user`` (``id``, ``name``, ``display_name``, ``agent``,
        ``agent_reasons``), ``count`` and ``results``: ``id``, ``name``,
        ``title``, ``access_level``, ``owner_org``
    :rtype: dictionary
    """
    tk.check_access("servicespublics_access_user_datasets", context, data_dict)
    data, errors = tk.navl_validate(
        data_dict, schema.servicespublics_access_user_datasets_schema(), context)
    if errors:
        raise tk.ValidationError(errors)
    user = _user_or_404(data["id"])
    labels = None if user.sysadmin else \
        get_permission_labels().get_user_dataset_labels(user)
    fq = "+state:active"
    if not data["include_public"]:
        fq += " +capacity:private"
    query = search.query_for(model.Package)
    found = query.run({"q": "*:*", "fq": fq, "fl": "id", "rows": data["rows"],
                       "start": data["start"], "sort": "title_string asc"},
                      permission_labels=labels)
    ids = [r["id"] if isinstance(r, dict) else r for r in found["results"]]
    pkgs = {pkg.id: pkg for pkg in model.Session.query(model.Package).filter(
        model.Package.id.in_(ids))} if ids else {}
    results = [{"id": pkg.id, "name": pkg.name, "title": pkg.title,
                "access_level": rules.dataset_level(pkg), "owner_org": pkg.owner_org}
               for pkg in (pkgs.get(i) for i in ids) if pkg is not None]
    reasons = rules.agent_reasons(user)
    return {
        "user": dict(_user_summary(user, reasons), agent=bool(reasons),
                     agent_reasons=reasons),
        "count": found["count"],
        "results": results,
    }


def _agent_status(user: model.User) -> dict[str, Any]:
    reasons = rules.agent_reasons(user)
    return {
        "id": user.id, "name": user.name, "display_name": user.display_name,
        "agent": bool(reasons), "flagged": rules.is_flagged_agent(user),
        "reasons": reasons, "organizations": rules.user_org_ids(user),
    }


def servicespublics_access_agent_set(context: Context, data_dict: DataDict
                                     ) -> dict[str, Any]:
    """Mark or unmark a user as a public agent (sysadmins only).

    The flag is kept in the user's ``plugin_extras``. Members of an
    organisation are agents whatever their flag (see
    ``ckanext.servicespublics.access.agent_membership``).

    :param id: the id or name of the user
    :type id: string
    :param agent: true to mark, false to unmark
    :type agent: bool
    :returns: the user's agent status, as ``servicespublics_access_agent_show``
    :rtype: dictionary
    """
    tk.check_access("servicespublics_access_agent_set", context, data_dict)
    data, errors = tk.navl_validate(
        data_dict, schema.servicespublics_access_agent_set_schema(), context)
    if not errors:
        try:
            data["agent"] = tk.asbool(data["agent"])
        except ValueError:
            errors = {"agent": [tk._("Must be true or false")]}
    if errors:
        raise tk.ValidationError(errors)
    user = _user_or_404(data["id"])
    rules.set_agent_flag(user, data["agent"])
    if not context.get("defer_commit"):
        model.repo.commit()
    return _agent_status(user)


@tk.side_effect_free
def servicespublics_access_agent_show(context: Context, data_dict: DataDict
                                      ) -> dict[str, Any]:
    """A user's agent status (sysadmins only).

    :param id: the id or name of the user
    :type id: string
    :returns: ``id``, ``name``, ``display_name``, ``agent`` (whether the user
        may read restricted datasets), ``flagged`` (marked by a sysadmin),
        ``reasons`` (``sysadmin``, ``flag``, ``member``) and ``organizations``
        (ids of the organisations the user is a member of)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_access_agent_show", context, data_dict)
    data, errors = tk.navl_validate(
        data_dict, schema.servicespublics_access_agent_show_schema(), context)
    if errors:
        raise tk.ValidationError(errors)
    return _agent_status(_user_or_404(data["id"]))


@tk.side_effect_free
def servicespublics_access_agent_list(context: Context, data_dict: DataDict
                                      ) -> dict[str, Any]:
    """The public agents: flagged users and members of organisations
    (sysadmins only; sysadmins themselves are not listed).

    :param q: keep users whose name, full name or e-mail contains it (optional)
    :type q: string
    :param limit: page size (optional, default 100)
    :type limit: int
    :param offset: offset (optional, default 0)
    :type offset: int
    :returns: ``count`` and ``results`` (as ``servicespublics_access_agent_show``)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_access_agent_list", context, data_dict)
    data, errors = tk.navl_validate(
        data_dict, schema.servicespublics_access_agent_list_schema(), context)
    if errors:
        raise tk.ValidationError(errors)
    conditions = [model.User.plugin_extras[rules.PLUGIN_EXTRAS_KEY]["agent"]
                  .as_boolean().is_(True)]
    if rules.agent_membership() != rules.MEMBERSHIP_NONE:
        conditions.append(model.User.id.in_(rules.member_user_ids_sql()))
    query = model.Session.query(model.User).filter(
        model.User.state == "active", model.User.sysadmin.is_(False),
        model.User.name != tk.config.get("ckan.site_id"), sa.or_(*conditions))
    if data.get("q"):
        like = "%" + data["q"].replace("\\", "\\\\").replace("%", "\\%") \
            .replace("_", "\\_") + "%"
        query = query.filter(sa.or_(model.User.name.ilike(like),
                                    model.User.fullname.ilike(like),
                                    model.User.email.ilike(like)))
    count = query.count()
    users = query.order_by(model.User.name).offset(data["offset"]).limit(data["limit"])
    return {"count": count, "results": [_agent_status(u) for u in users]}
