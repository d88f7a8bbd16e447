"""Template helpers of servicespublics_access."""
from __future__ import annotations

from typing import Any, Optional

import ckan.plugins.toolkit as tk

from . import rules

__all__ = [
    "servicespublics_access_level",
    "servicespublics_access_banner",
    "servicespublics_access_level_options",
    "servicespublics_access_org_type_options",
    "servicespublics_access_org_info",
    "servicespublics_access_agent_status",
    "servicespublics_access_has_level_field",
]


def _level_labels() -> dict[str, str]:
    return {
        rules.PUBLIC: tk._("Public"),
        rules.RESTRICTED: tk._("Restricted to public agents"),
        rules.PRIVATE: tk._("Private"),
    }


def _org_type_labels() -> dict[str, str]:
    return {
        "ministere": tk._("Ministry"),
        "prefecture": tk._("Prefecture"),
        "collectivite": tk._("Local authority"),
        "operateur": tk._("State operator"),
        "association": tk._("Association"),
        "autre": tk._("Other"),
    }


def servicespublics_access_level(pkg_dict: dict[str, Any]) -> str:
    """``public``, ``restricted`` or ``private``, as the permission labels
    enforce it."""
    return rules.level_from_dict(pkg_dict)


def servicespublics_access_banner(pkg_dict: dict[str, Any]) -> dict[str, str]:
    """Who can see a dataset, for the banner of the dataset pages."""
    level = rules.level_from_dict(pkg_dict)
    if level == rules.PUBLIC:
        text, icon = tk._("Visible to everyone"), "globe"
    elif level == rules.RESTRICTED:
        text, icon = tk._("Restricted to signed-in public agents"), "id-badge"
    else:
        org = pkg_dict.get("organization") or {}
        name = org.get("title") or org.get("name") or tk._("the organization")
        text, icon = tk._("Private: members of %(org)s only") % {"org": name}, "lock"
    return {"level": level, "text": text, "icon": icon}


def servicespublics_access_level_options(with_default: bool = False) -> list[dict[str, str]]:
    """Options of the access level select (``with_default``: an empty first
    option meaning "the organisation's default")."""
    options = [{"value": v, "text": t} for v, t in _level_labels().items()]
    if with_default:
        options.insert(0, {"value": "", "text": tk._("Default of the organization")})
    return options


def servicespublics_access_org_type_options() -> list[dict[str, str]]:
    return [{"value": "", "text": tk._("Not set")}] + [
        {"value": v, "text": t} for v, t in _org_type_labels().items()]


def servicespublics_access_org_info(org_dict: dict[str, Any]) -> dict[str, Any]:
    """Type and default access level of an organisation (a dict)."""
    org_type = rules.org_type(org_dict)
    default_level = rules.org_default_level(org_dict)
    own = rules.extra_value(org_dict.get("extras"), rules.ORG_DEFAULT_LEVEL_FIELD)
    return {
        "type": org_type,
        "type_label": _org_type_labels().get(org_type or "", ""),
        "default_level": default_level,
        "default_level_label": _level_labels()[default_level],
        "own_default_level": own if own in rules.LEVELS else "",
    }


def servicespublics_access_agent_status(user_id: str) -> Optional[dict[str, Any]]:
    """A user's agent status, for sysadmins only (``None`` for others)."""
    try:
        return tk.get_action("servicespublics_access_agent_show")({}, {"id": user_id})
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return None


def servicespublics_access_has_level_field(dataset_type: Optional[str]) -> bool:
    """Whether the scheming schema of a dataset type has an access_level
    field (forms then show it instead of CKAN's visibility select)."""
    return rules.scheming_has_level_field(dataset_type)
