"""Parameter schemas of the dataset plugin's actions."""
from __future__ import annotations

from ckan.logic.schema import validator_args
from ckan.types import Schema, Validator, ValidatorFactory

from ckanext.servicespublics import territories


@validator_args
def servicespublics_territory_search_schema(
        not_missing: Validator, unicode_safe: Validator, ignore_missing: Validator,
        one_of: ValidatorFactory, default: ValidatorFactory,
        int_validator: Validator, is_positive_integer: Validator) -> Schema:
    return {
        "q": [not_missing, unicode_safe],
        "level": [ignore_missing, unicode_safe, one_of(list(territories.LEVELS))],
        "limit": [default(10), int_validator, is_positive_integer],
    }


@validator_args
def servicespublics_territory_show_schema(
        not_empty: Validator, unicode_safe: Validator, ignore_missing: Validator,
        one_of: ValidatorFactory, default: ValidatorFactory,
        boolean_validator: Validator) -> Schema:
    return {
        "id": [not_empty, unicode_safe],
        "level": [ignore_missing, unicode_safe, one_of(list(territories.LEVELS))],
        "include_geometry": [default(False), boolean_validator],
        "include_children": [default(False), boolean_validator],
    }


@validator_args
def servicespublics_vocabulary_show_schema(
        ignore_missing: Validator, unicode_safe: Validator) -> Schema:
    return {"name": [ignore_missing, unicode_safe]}
