"""Auth functions of the analytics actions.

Reading the national map's statistics is public; what they count is
filtered by the datasets the caller may read (``visibility.py``), so no
private or restricted point ever counts for someone who cannot see it.
"""
from __future__ import annotations

import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict

__all__ = [
    "servicespublics_density", "servicespublics_evolution", "servicespublics_nearest",
    "servicespublics_closure_impact", "servicespublics_points_export",
]


@tk.auth_allow_anonymous_access
def servicespublics_density(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def servicespublics_evolution(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def servicespublics_nearest(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def servicespublics_closure_impact(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def servicespublics_points_export(context: Context, data_dict: DataDict) -> AuthResult:
    return {"success": True}
