"""Template helpers of the dataset schemas (choices, labels, territories, dates)."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Optional

from babel.dates import format_date

import ckan.plugins.toolkit as tk

from ckanext.servicespublics import territories

from . import vocabulary

__all__ = [
    "servicespublics_vocabulary_choices",
    "servicespublics_vocabulary_label",
    "servicespublics_territory_list",
    "servicespublics_format_date",
    "servicespublics_format_number",
    "servicespublics_spatial_summary",
    "servicespublics_tableschema_url",
    "servicespublics_as_list",
    "servicespublics_facet_label",
]


def servicespublics_vocabulary_choices(field: dict[str, Any]) -> list[dict[str, Any]]:
    """Scheming ``choices_helper``: the choices of the vocabulary named by the
    field's ``vocabulary`` key (``domains``, ``service_types``, ...)."""
    return vocabulary.choices(field["vocabulary"])


def servicespublics_vocabulary_label(name: str, code: Any) -> str:
    """The label of a code in the visitor's language."""
    return vocabulary.label(name, code)


def servicespublics_as_list(value: Any) -> list[Any]:
    """A list field as a list, whether it arrives as a list or as JSON text."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    try:
        loaded = json.loads(value)
    except (TypeError, ValueError):
        return [value]
    return loaded if isinstance(loaded, list) else [loaded]


def servicespublics_territory_list(level: Any, codes: Any) -> list[dict[str, Any]]:
    """The territories of a dataset, for display: ``code``, ``label`` (the
    code itself when the reference does not know it), ``level`` and
    ``search_param`` (the facet that finds the datasets of this territory)."""
    codes = [str(c) for c in servicespublics_as_list(codes)]
    if not codes or level not in territories.LEVELS:
        return [{"code": c, "label": c, "known": False, "search_param": None} for c in codes]
    found = territories.get_many(codes, level)
    if level == "commune":
        found.update(territories.get_many(
            [c for c in codes if c not in found], "arrondissement_municipal"))
    facet = {"region": "territory_regions", "departement": "territory_departements"}.get(level)
    return [{"code": c, "label": found[c]["label"] if c in found else c,
             "name": found[c]["name"] if c in found else c,
             "known": c in found, "search_param": facet} for c in codes]


def _parse_date(value: Any) -> Optional[dt.date]:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def servicespublics_format_date(value: Any) -> str:
    """A date in words, in the visitor's language ("1 août 2024"); the value
    itself when it is not a date."""
    if value in (None, ""):
        return ""
    date = _parse_date(value)
    if date is None:
        return str(value)
    lang = vocabulary.current_lang()
    try:
        return format_date(date, format="long", locale=lang)
    except (ValueError, LookupError):
        return date.isoformat()


def servicespublics_format_number(value: Any) -> str:
    """A count with the visitor's digit grouping ("2 845" in French)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    from babel.numbers import format_decimal
    try:
        return format_decimal(number, locale=vocabulary.current_lang())
    except (ValueError, LookupError):
        return str(number)


def servicespublics_spatial_summary(value: Any) -> Optional[dict[str, float]]:
    """The bounding box of a GeoJSON geometry (west, south, east, north)."""
    if not value:
        return None
    try:
        from shapely.geometry import shape
        geometry = json.loads(value) if isinstance(value, str) else value
        west, south, east, north = shape(geometry).bounds
    except Exception:  # a stored extent that is not GeoJSON is shown as text
        return None
    return {"west": round(west, 4), "south": round(south, 4),
            "east": round(east, 4), "north": round(north, 4)}


def servicespublics_tableschema_url(qualified: bool = False) -> str:
    """Where the standard Table Schema of service points is served."""
    return tk.url_for("servicespublics_dataset.tableschema", _external=qualified)


def servicespublics_facet_label(item: dict[str, Any]) -> str:
    """The whole label of a facet item (core cuts them at 22 characters)."""
    return item.get("display_name") or item.get("name") or ""
