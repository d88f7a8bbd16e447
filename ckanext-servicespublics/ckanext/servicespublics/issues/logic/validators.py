"""Validators of the issue reports (registered with a ``servicespublics_``
prefix: the validator registry is global)."""
from __future__ import annotations

import datetime
import json
import re
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.types import Context

from .. import spam
from ..model import (CATEGORIES, CORRECTION_FIELDS, MODERATION_STATES, POINT_STATUSES,
                     STATUSES)

__all__ = [
    "servicespublics_issue_text",
    "servicespublics_issue_correction",
    "servicespublics_issue_category",
    "servicespublics_issue_status",
    "servicespublics_issue_moderation_state",
    "servicespublics_issue_string_list",
]

_FIELD_MAX = 500


def servicespublics_issue_text(value: Any, context: Context) -> Any:
    """A report description or comment: at most ``max_length`` characters and
    ``max_links`` links."""
    if not isinstance(value, str):
        raise tk.Invalid(tk._("Must be text"))
    value = value.strip()
    max_length = tk.config.get("ckanext.servicespublics.issues.max_length")
    if len(value) > max_length:
        raise tk.Invalid(
            tk._("Too long: at most {max} characters ({n} given)").format(
                max=max_length, n=len(value)))
    max_links = tk.config.get("ckanext.servicespublics.issues.max_links")
    links = spam.count_links(value)
    if links > max_links:
        raise tk.Invalid(
            tk._("Too many links: at most {max} ({n} given)").format(
                max=max_links, n=links))
    return value


def _number(field: str, value: Any, low: float, high: float) -> float:
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        raise tk.Invalid(tk._("{field}: not a number").format(field=field))
    if not low <= number <= high:
        raise tk.Invalid(tk._("{field}: must be between {low} and {high}").format(
            field=field, low=low, high=high))
    return number


def servicespublics_issue_correction(value: Any, context: Context) -> Any:
    """A proposed correction of a service point: a JSON object (or its text)
    with some of the fields name, address, postcode, latitude, longitude,
    opening_hours, status, opening_date, closing_date. Empty values are
    dropped; an empty correction becomes None."""
    if value is None or value == "" or value is tk.missing:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise tk.Invalid(tk._("Must be a JSON object"))
    if not isinstance(value, dict):
        raise tk.Invalid(tk._("Must be a JSON object"))
    unknown = sorted(set(value) - set(CORRECTION_FIELDS))
    if unknown:
        raise tk.Invalid(tk._("Unknown fields: {fields}").format(
            fields=", ".join(unknown)))
    clean: dict[str, Any] = {}
    for field in CORRECTION_FIELDS:
        raw = value.get(field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if field == "latitude":
            clean[field] = _number(field, raw, -90, 90)
        elif field == "longitude":
            clean[field] = _number(field, raw, -180, 180)
        elif field == "status":
            if raw not in POINT_STATUSES:
                raise tk.Invalid(tk._("status: must be one of {values}").format(
                    values=", ".join(POINT_STATUSES)))
            clean[field] = raw
        elif field in ("opening_date", "closing_date"):
            try:
                clean[field] = datetime.date.fromisoformat(str(raw).strip()).isoformat()
            except ValueError:
                raise tk.Invalid(
                    tk._("{field}: not a date (YYYY-MM-DD)").format(field=field))
        else:
            text = " ".join(str(raw).split())
            if len(text) > _FIELD_MAX:
                raise tk.Invalid(tk._("{field}: at most {max} characters").format(
                    field=field, max=_FIELD_MAX))
            if spam.count_links(text) > 1:
                raise tk.Invalid(tk._("{field}: too many links").format(field=field))
            if field == "postcode" and not re.fullmatch(r"[0-9AB]{5}", text):
                raise tk.Invalid(tk._("postcode: five characters expected"))
            clean[field] = text
    if ("latitude" in clean) != ("longitude" in clean):
        raise tk.Invalid(tk._("latitude and longitude go together"))
    return clean or None


def _one_of(values: tuple[str, ...]):
    def validator(value: Any, context: Context) -> Any:
        if value not in values:
            raise tk.Invalid(tk._("Must be one of: {values}").format(
                values=", ".join(values)))
        return value
    return validator


servicespublics_issue_category = _one_of(CATEGORIES)
servicespublics_issue_status = _one_of(STATUSES)
servicespublics_issue_moderation_state = _one_of(MODERATION_STATES)


def servicespublics_issue_string_list(value: Any, context: Context) -> Any:
    """A list of strings, from a list or a comma-separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise tk.Invalid(tk._("Must be a list of strings"))
    items = []
    for item in value:
        if not isinstance(item, str):
            raise tk.Invalid(tk._("Must be a list of strings"))
        if item.strip():
            items.append(item.strip())
    return items
