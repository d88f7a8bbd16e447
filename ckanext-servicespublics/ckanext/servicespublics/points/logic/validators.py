"""Validators of the point resources' fields, for the scheming schema."""
from __future__ import annotations

import json
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.types import Context, FlattenDataDict, FlattenErrorDict, FlattenKey

from ..ingest import normalize_crs
from ..mapping import MappingError, parse_mapping

__all__ = [
    "servicespublics_points_column_mapping", "servicespublics_points_crs",
    "servicespublics_points_computed",
]


def servicespublics_points_column_mapping(value: Any, context: Context) -> Any:
    """A column mapping (JSON object), kept as compact JSON text."""
    if value is None or value == "" or value is tk.missing:
        return value
    try:
        data = json.loads(value) if isinstance(value, str) else value
        parse_mapping(data)
    except (MappingError, ValueError) as e:
        raise tk.Invalid(str(e))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def servicespublics_points_crs(value: Any, context: Context) -> Any:
    """EPSG:4326, EPSG:2154, 2154, Lambert-93… -> "EPSG:2154"."""
    if value is None or value == "" or value is tk.missing:
        return value
    crs = normalize_crs(value)
    if crs is None:
        raise tk.Invalid(tk._("Unknown coordinate reference system (e.g. EPSG:4326, "
                              "EPSG:2154)"))
    try:
        from pyproj import CRS
        CRS.from_user_input(crs)
    except Exception:
        raise tk.Invalid(tk._("Unknown coordinate reference system (e.g. EPSG:4326, "
                              "EPSG:2154)"))
    return crs


def servicespublics_points_computed(key: FlattenKey, data: FlattenDataDict,
                                    errors: FlattenErrorDict, context: Context) -> None:
    """Computed fields (validation_status, point_count) are never stored."""
    data.pop(key, None)
