"""Template helpers shared by the extension's plugins."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

__all__ = ["servicespublics_home_stats", "servicespublics_home_intro"]


def servicespublics_home_stats() -> dict[str, Any]:
    """Counts shown on the home page, as the current user may see them."""
    context = {"user": tk.g.user if hasattr(tk.g, "user") else None}
    try:
        datasets = tk.get_action("package_search")(
            context, {"rows": 0, "facet.field": ["organization", "res_format"],
                      "facet.limit": -1})
    except (tk.ValidationError, tk.NotAuthorized):
        return {"datasets": 0, "organizations": 0, "formats": 0}
    facets = datasets.get("search_facets", {})
    return {
        "datasets": datasets["count"],
        "organizations": len(facets.get("organization", {}).get("items", [])),
        "formats": len(facets.get("res_format", {}).get("items", [])),
    }


def servicespublics_home_intro() -> str:
    return tk.config.get("ckanext.servicespublics.home.intro") or ""
