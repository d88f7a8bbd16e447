"""Schemas of the servicespublics_points actions."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan.logic.schema import validator_args
from ckan.types import Context, Schema, Validator, ValidatorFactory

SEVERITIES = ["error", "warning", "info"]
FORMATS = ["geojson", "list"]


def bbox_validator(value: Any, context: Context) -> Any:
    """"minlon,minlat,maxlon,maxlat" (WGS84) -> a list of 4 floats."""
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise tk.Invalid(tk._("Expected minlon,minlat,maxlon,maxlat"))
    try:
        box = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise tk.Invalid(tk._("Expected minlon,minlat,maxlon,maxlat"))
    if len(box) != 4:
        raise tk.Invalid(tk._("Expected minlon,minlat,maxlon,maxlat"))
    x0, y0, x1, y1 = box
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise tk.Invalid(tk._("The box must have minlon <= maxlon within -180..180 and "
                              "minlat <= maxlat within -90..90"))
    return box


def at_most(maximum: int) -> Validator:
    def validator(value: Any, context: Context) -> Any:
        return min(int(value), maximum)
    return validator


@validator_args
def servicespublics_points_report_schema(
    not_missing: Validator, not_empty: Validator, unicode_safe: Validator,
    ignore_missing: Validator, natural_number_validator: Validator,
    one_of: ValidatorFactory, default: ValidatorFactory,
) -> Schema:
    return {
        "id": [not_missing, not_empty, unicode_safe],
        "ingestion_id": [ignore_missing, unicode_safe],
        "severity": [ignore_missing, one_of(SEVERITIES)],
        "limit": [default(100), natural_number_validator, at_most(1000)],
        "offset": [default(0), natural_number_validator],
    }


@validator_args
def servicespublics_points_list_schema(
    unicode_safe: Validator, ignore_missing: Validator, ignore_empty: Validator,
    natural_number_validator: Validator, one_of: ValidatorFactory,
    default: ValidatorFactory, limit_to_configured_maximum: ValidatorFactory,
) -> Schema:
    return {
        "resource_id": [ignore_empty, ignore_missing, unicode_safe],
        "package_id": [ignore_empty, ignore_missing, unicode_safe],
        "bbox": [ignore_empty, ignore_missing, bbox_validator],
        "service_type": [ignore_empty, ignore_missing, unicode_safe],
        "limit": [default(1000), natural_number_validator,
                  limit_to_configured_maximum(
                      "ckanext.servicespublics.points.list_max_limit", 5000)],
        "offset": [default(0), natural_number_validator],
        "format": [default("geojson"), one_of(FORMATS)],
    }


@validator_args
def servicespublics_points_ingest_schema(
    not_missing: Validator, not_empty: Validator, unicode_safe: Validator,
    boolean_validator: Validator, default: ValidatorFactory,
) -> Schema:
    return {
        "id": [not_missing, not_empty, unicode_safe],
        "sync": [default(False), boolean_validator],
    }
