"""Access levels, organisation types and public agents: the rules.

Everything that decides who may read a dataset lives here, so that the
permission labels (search, ``package_show``, activities), the banner on the
dataset page and the sysadmin reports apply the same rules.

- ``public``: ``private=False``, label ``public``.
- ``restricted``: ``private=True`` (so that every core check that relies on
  ``private`` hides it from anonymous visitors) and the extra
  ``access_level=restricted``; labels ``agent``, ``member-<org>``,
  ``creator-<user>``.
- ``private``: ``private=True``; labels ``member-<org>``, ``creator-<user>``.

``private`` is the source of truth for "public or not": a dataset whose
``private`` flag is false is public whatever its ``access_level`` extra says,
because core paths such as ``package_list`` or ``resource_search`` only look
at ``private``.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Optional

import sqlalchemy as sa

import ckan.authz as authz
import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk

log = logging.getLogger(__name__)

PUBLIC = "public"
RESTRICTED = "restricted"
PRIVATE = "private"
LEVELS = (PUBLIC, RESTRICTED, PRIVATE)

#: dataset field / extra holding the level
LEVEL_FIELD = "access_level"
#: organisation extras
ORG_TYPE_FIELD = "org_type"
ORG_DEFAULT_LEVEL_FIELD = "default_access_level"
ORG_TYPES = ("ministere", "prefecture", "collectivite", "operateur", "association", "autre")

#: label given to public agents and to restricted datasets
AGENT_LABEL = "agent"
#: key of this plugin's data in ``User.plugin_extras``
PLUGIN_EXTRAS_KEY = "servicespublics_access"

#: ``ckanext.servicespublics.access.agent_membership`` values
MEMBERSHIP_ANY = "any"
MEMBERSHIP_TYPED = "typed"
MEMBERSHIP_NONE = "none"


# -- configuration -----------------------------------------------------------

def parse_level_map(value: Any) -> dict[str, str]:
    """Parse ``ministere:restricted prefecture:public`` into a dict.

    :raises ValueError: on an unknown organisation type or level
    """
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    else:
        items = list(value or [])
    out: dict[str, str] = {}
    for item in items:
        org_type, sep, level = str(item).partition(":")
        org_type, level = org_type.strip(), level.strip()
        if not sep or org_type not in ORG_TYPES or level not in LEVELS:
            raise ValueError(
                f"Invalid entry {item!r}: expected <type>:<level> with type in "
                f"{', '.join(ORG_TYPES)} and level in {', '.join(LEVELS)}")
        out[org_type] = level
    return out


def default_level_by_org_type() -> dict[str, str]:
    return parse_level_map(
        tk.config.get("ckanext.servicespublics.access.default_level_by_org_type"))


def agent_membership() -> str:
    return tk.config.get("ckanext.servicespublics.access.agent_membership")


def ignored_dataset_types() -> list[str]:
    return tk.config.get("ckanext.servicespublics.access.ignored_dataset_types")


# -- datasets ----------------------------------------------------------------

def dataset_level(pkg: model.Package) -> str:
    """The effective level of a dataset object (what the labels enforce)."""
    if not pkg.private:
        return PUBLIC
    if (pkg.extras or {}).get(LEVEL_FIELD) == RESTRICTED:
        return RESTRICTED
    return PRIVATE


def scheming_has_level_field(dataset_type: Optional[str]) -> bool:
    """Whether the scheming schema of this type declares ``access_level``
    (then the level is a dataset field, otherwise a plain extra)."""
    if not dataset_type or not p.plugin_loaded("scheming_datasets"):
        return False
    from ckanext.scheming.helpers import scheming_get_dataset_schema

    schema = scheming_get_dataset_schema(dataset_type) or {}
    return any(f.get("field_name") == LEVEL_FIELD for f in schema.get("dataset_fields") or [])


def level_from_dict(pkg_dict: dict[str, Any]) -> str:
    """The effective level of a dataset dict (``package_show`` output)."""
    if not tk.asbool(pkg_dict.get("private") or False):
        return PUBLIC
    value = pkg_dict.get(LEVEL_FIELD)
    if not value:
        for extra in pkg_dict.get("extras") or []:
            if isinstance(extra, dict) and extra.get("key") == LEVEL_FIELD:
                value = extra.get("value")
    return RESTRICTED if value == RESTRICTED else PRIVATE


def dataset_labels(pkg: model.Package) -> list[str]:
    """Permission labels of a dataset (see the module docstring)."""
    if pkg.state == "active" and not pkg.private:
        return [PUBLIC]
    labels = []
    if authz.check_config_permission("allow_dataset_collaborators"):
        labels.append(f"collaborator-{pkg.id}")
    if pkg.owner_org:
        labels.append(f"member-{pkg.owner_org}")
    if pkg.creator_user_id:
        labels.append(f"creator-{pkg.creator_user_id}")
    if pkg.state == "active" and dataset_level(pkg) == RESTRICTED:
        labels.append(AGENT_LABEL)
    return labels


# -- organisations -------------------------------------------------------------

def extra_value(extras: Any, key: str) -> Optional[str]:
    if isinstance(extras, dict):
        return extras.get(key)
    for extra in extras or []:
        if isinstance(extra, dict) and extra.get("key") == key:
            return extra.get("value")
    return None


def org_type(org: Any) -> Optional[str]:
    """Type of an organisation (object or dict), ``None`` when not set."""
    extras = org.extras if isinstance(org, model.Group) else (org or {}).get("extras")
    value = extra_value(extras, ORG_TYPE_FIELD)
    return value if value in ORG_TYPES else None


def org_default_level(org: Any) -> str:
    """Level given to the new datasets of an organisation (object or dict)."""
    if org is None:
        return PUBLIC
    extras = org.extras if isinstance(org, model.Group) else (org or {}).get("extras")
    value = extra_value(extras, ORG_DEFAULT_LEVEL_FIELD)
    if value in LEVELS:
        return value
    return default_level_by_org_type().get(org_type(org) or "", PUBLIC)


# -- users -------------------------------------------------------------------

def is_flagged_agent(user: Optional[model.User]) -> bool:
    if not user:
        return False
    data = (user.plugin_extras or {}).get(PLUGIN_EXTRAS_KEY) or {}
    return bool(data.get("agent"))


def _typed_org_ids(org_ids: Iterable[str]) -> list[str]:
    ids = list(org_ids)
    if not ids:
        return []
    rows = model.Session.execute(
        sa.select(model.Group.id).where(
            model.Group.id.in_(ids),
            model.Group.extras[ORG_TYPE_FIELD].astext.in_(ORG_TYPES),
        )
    ).scalars()
    return list(rows)


def agent_reasons(user: Optional[model.User],
                  member_org_ids: Optional[Iterable[str]] = None) -> list[str]:
    """Why a user is a public agent: ``flag``, ``member``, ``sysadmin``.

    An empty list means the user is not an agent.  ``member_org_ids`` are the
    organisations the user is an active member of (computed when omitted).
    """
    if not user or user.is_anonymous or user.state != "active":
        return []
    reasons = []
    if user.sysadmin:
        reasons.append("sysadmin")
    if is_flagged_agent(user):
        reasons.append("flag")
    mode = agent_membership()
    if mode != MEMBERSHIP_NONE:
        if member_org_ids is None:
            member_org_ids = user_org_ids(user)
        ids = list(member_org_ids)
        if mode == MEMBERSHIP_TYPED:
            ids = _typed_org_ids(ids)
        if ids:
            reasons.append("member")
    return reasons


def user_org_ids(user: model.User) -> list[str]:
    """Active organisations the user is an active member of (any capacity)."""
    rows = model.Session.execute(
        sa.select(model.Member.group_id)
        .join(model.Group, model.Group.id == model.Member.group_id)
        .where(
            model.Member.table_name == "user",
            model.Member.table_id == user.id,
            model.Member.state == "active",
            model.Group.is_organization.is_(True),
            model.Group.state == "active",
        )
    ).scalars()
    return list(dict.fromkeys(rows))


def member_user_ids_sql() -> Any:
    """Users who are active members of an active organisation (a subquery)."""
    q = (
        sa.select(model.Member.table_id)
        .join(model.Group, model.Group.id == model.Member.group_id)
        .where(
            model.Member.table_name == "user",
            model.Member.state == "active",
            model.Group.is_organization.is_(True),
            model.Group.state == "active",
        )
    )
    if agent_membership() == MEMBERSHIP_TYPED:
        q = q.where(model.Group.extras[ORG_TYPE_FIELD].astext.in_(ORG_TYPES))
    return q


def set_agent_flag(user: model.User, agent: bool) -> None:
    extras = dict(user.plugin_extras or {})
    data = dict(extras.get(PLUGIN_EXTRAS_KEY) or {})
    if agent:
        data["agent"] = True
    else:
        data.pop("agent", None)
    if data:
        extras[PLUGIN_EXTRAS_KEY] = data
    else:
        extras.pop(PLUGIN_EXTRAS_KEY, None)
    user.plugin_extras = extras or None


# -- activities ----------------------------------------------------------------

def label_rank(labels: Iterable[str]) -> int:
    """How widely labels open a dataset: 0 everyone, 1 agents, 2 members."""
    labels = set(labels)
    if PUBLIC in labels:
        return 0
    if AGENT_LABEL in labels:
        return 1
    return 2


_RELABEL = sa.text("""
UPDATE activity SET permission_labels = CAST(:labels AS text[])
WHERE object_id = :id
  AND CASE WHEN permission_labels IS NULL OR 'public' = ANY(permission_labels) THEN 0
           WHEN 'agent' = ANY(permission_labels) THEN 1
           ELSE 2 END < :rank
""")


def relabel_activities(pkg: model.Package) -> None:
    """Narrow the labels of a dataset's past activities to its current ones.

    The activity plugin stores the labels a dataset had when each activity was
    recorded, and the organisation, user, dashboard and "recently changed"
    streams filter on them only.  Once a public dataset becomes restricted or
    private, its past activities (which embed the whole dataset) must follow.
    Labels only ever narrow: when a dataset is opened (private to restricted or
    public, draft to active), what was recorded while it was closed stays
    visible to those who could see it then.
    """
    if not p.plugin_loaded("activity"):
        return
    labels = dataset_labels(pkg)
    model.Session.execute(
        _RELABEL, {"labels": labels, "id": pkg.id, "rank": label_rank(labels)})
