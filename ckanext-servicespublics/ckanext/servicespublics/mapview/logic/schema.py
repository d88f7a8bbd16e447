"""Schemas of the servicespublics_map actions."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan.logic.schema import validator_args
from ckan.types import Context, Schema, Validator, ValidatorFactory

#: most results of a name search
SEARCH_MAX = 50


def _at_most(maximum: int) -> Validator:
    def validator(value: Any, context: Context) -> Any:
        return min(int(value), maximum)
    return validator


def _search_text(value: Any, context: Context) -> Any:
    text = " ".join(str(value).split())
    if len(text) < 2:
        raise tk.Invalid(tk._("Type at least 2 characters"))
    if len(text) > 200:
        raise tk.Invalid(tk._("Type at most 200 characters"))
    return text


def _point_id(value: Any, context: Context) -> Any:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise tk.Invalid(tk._("A point id is a whole number"))
    if number < 1:
        raise tk.Invalid(tk._("A point id is a whole number"))
    return number


@validator_args
def servicespublics_map_search_schema(
    not_missing: Validator, not_empty: Validator, unicode_safe: Validator,
    natural_number_validator: Validator, default: ValidatorFactory,
) -> Schema:
    return {
        "resource_id": [not_missing, not_empty, unicode_safe],
        "q": [not_missing, not_empty, unicode_safe, _search_text],
        "limit": [default(10), natural_number_validator, _at_most(SEARCH_MAX)],
    }


@validator_args
def servicespublics_map_point_show_schema(
    not_missing: Validator, not_empty: Validator, unicode_safe: Validator,
) -> Schema:
    return {
        "resource_id": [not_missing, not_empty, unicode_safe],
        "id": [not_missing, not_empty, _point_id],
    }


@validator_args
def servicespublics_map_layer_show_schema(
    not_missing: Validator, not_empty: Validator, unicode_safe: Validator,
) -> Schema:
    return {"resource_id": [not_missing, not_empty, unicode_safe]}


@validator_args
def servicespublics_map_layer_build_schema(
    not_missing: Validator, not_empty: Validator, unicode_safe: Validator,
    boolean_validator: Validator, default: ValidatorFactory,
) -> Schema:
    return {
        "resource_id": [not_missing, not_empty, unicode_safe],
        "sync": [default(False), boolean_validator],
    }
