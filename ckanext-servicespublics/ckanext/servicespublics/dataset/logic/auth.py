"""Auth functions of the dataset plugin: the territorial reference and the
vocabularies are public reference data, readable by anyone."""
from __future__ import annotations

import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict

__all__ = [
    "servicespublics_territory_search",
    "servicespublics_territory_show",
    "servicespublics_vocabulary_show",
]


@tk.auth_allow_anonymous_access
def servicespublics_territory_search(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def servicespublics_territory_show(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def servicespublics_vocabulary_show(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": True}
