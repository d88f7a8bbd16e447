"""Validators of the analytics actions (registered by ``tk.blanket.validators``)."""
from __future__ import annotations

import datetime
import json
import re
from typing import Any

import ckan.plugins.toolkit as tk

__all__ = [
    "servicespublics_analytics_code_list", "servicespublics_analytics_date",
    "servicespublics_analytics_positive_number", "servicespublics_analytics_id_list",
    "servicespublics_analytics_places", "servicespublics_analytics_longitude",
    "servicespublics_analytics_latitude",
]

_CODE = re.compile(r"^[a-z0-9_]+(-[a-z0-9_]+)*$")
#: most ids, places and codes one request may name
MAX_ITEMS = 500


def _items(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise tk.Invalid(tk._("Invalid JSON list"))
        else:
            return [v.strip() for v in text.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise tk.Invalid(tk._("Must be a list or a comma-separated text"))
    if len(value) > MAX_ITEMS:
        raise tk.Invalid(tk._("At most {n} items").format(n=MAX_ITEMS))
    return list(value)


def servicespublics_analytics_code_list(value: Any) -> list[str]:
    """Codes (``a-b-c``), as a list or a comma-separated text, deduplicated."""
    codes = []
    for item in _items(value):
        code = str(item).strip().lower()
        if not _CODE.match(code):
            raise tk.Invalid(tk._("Invalid code: {code}").format(code=str(item)[:50]))
        if code not in codes:
            codes.append(code)
    return codes


def servicespublics_analytics_id_list(value: Any) -> list[int]:
    """Point ids (integers), as a list or a comma-separated text."""
    ids = []
    for item in _items(value):
        try:
            number = int(str(item).strip())
        except ValueError:
            raise tk.Invalid(tk._("Invalid point id: {id}").format(id=str(item)[:50]))
        if number <= 0:
            raise tk.Invalid(tk._("Invalid point id: {id}").format(id=number))
        if number not in ids:
            ids.append(number)
    return ids


def servicespublics_analytics_date(value: Any) -> Any:
    """An ISO date (YYYY-MM-DD) as a ``datetime.date``."""
    if value is None or value == "":
        return value
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise tk.Invalid(tk._("Invalid date, expected YYYY-MM-DD: {value}").format(
            value=str(value)[:30]))


def _number(value: Any) -> float:
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        raise tk.Invalid(tk._("Must be a number"))
    if number != number or number in (float("inf"), float("-inf")):
        raise tk.Invalid(tk._("Must be a number"))
    return number


def servicespublics_analytics_positive_number(value: Any) -> Any:
    """A number greater than 0 (a distance in km, a threshold)."""
    if value is None or value == "":
        return value
    number = _number(value)
    if not number > 0:
        raise tk.Invalid(tk._("Must be a number greater than 0"))
    return number


def servicespublics_analytics_longitude(value: Any) -> Any:
    if value is None or value == "":
        return value
    number = _number(value)
    if not -180 <= number <= 180:
        raise tk.Invalid(tk._("Longitude must be between -180 and 180"))
    return number


def servicespublics_analytics_latitude(value: Any) -> Any:
    if value is None or value == "":
        return value
    number = _number(value)
    if not -90 <= number <= 90:
        raise tk.Invalid(tk._("Latitude must be between -90 and 90"))
    return number


def servicespublics_analytics_places(value: Any) -> list[dict[str, Any]]:
    """Places of hypothetical services: a list (or JSON list) of objects with
    ``longitude``, ``latitude`` and an optional ``name``, or "lon,lat" texts."""
    places = []
    for item in _items(value) if not isinstance(value, str) or value.strip().startswith("[") \
            else [value]:
        if isinstance(item, str):
            parts = item.replace(";", ",").split(",")
            if len(parts) != 2:
                raise tk.Invalid(tk._("A place is an object with longitude and latitude"))
            item = {"longitude": parts[0], "latitude": parts[1]}
        if not isinstance(item, dict):
            raise tk.Invalid(tk._("A place is an object with longitude and latitude"))
        place = {"longitude": servicespublics_analytics_longitude(item.get("longitude")),
                 "latitude": servicespublics_analytics_latitude(item.get("latitude")),
                 "name": str(item.get("name") or "")[:200] or None}
        if place["longitude"] in (None, "") or place["latitude"] in (None, ""):
            raise tk.Invalid(tk._("A place is an object with longitude and latitude"))
        places.append(place)
    return places
