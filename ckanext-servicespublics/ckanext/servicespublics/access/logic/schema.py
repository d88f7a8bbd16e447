from __future__ import annotations

from ckan.logic.schema import validator_args
from ckan.types import Schema, Validator


@validator_args
def servicespublics_access_dataset_viewers_schema(
        not_empty: Validator, unicode_safe: Validator) -> Schema:
    return {"id": [not_empty, unicode_safe]}


@validator_args
def servicespublics_access_user_datasets_schema(
        not_empty: Validator, unicode_safe: Validator,
        boolean_validator: Validator, default: Validator,
        natural_number_validator: Validator, int_validator: Validator,
        limit_to_configured_maximum: Validator) -> Schema:
    return {
        "id": [not_empty, unicode_safe],
        "include_public": [default(False), boolean_validator],
        "rows": [default(100), natural_number_validator,
                 limit_to_configured_maximum("ckan.search.rows_max", 1000)],
        "start": [default(0), int_validator, natural_number_validator],
    }


@validator_args
def servicespublics_access_agent_set_schema(
        not_empty: Validator, unicode_safe: Validator,
        not_missing: Validator) -> Schema:
    # "agent" is parsed strictly by the action: "maybe" must not mean False
    return {
        "id": [not_empty, unicode_safe],
        "agent": [not_missing],
    }


@validator_args
def servicespublics_access_agent_show_schema(
        not_empty: Validator, unicode_safe: Validator) -> Schema:
    return {"id": [not_empty, unicode_safe]}


@validator_args
def servicespublics_access_agent_list_schema(
        ignore_missing: Validator, unicode_safe: Validator, default: Validator,
        natural_number_validator: Validator, int_validator: Validator) -> Schema:
    return {
        "q": [ignore_missing, unicode_safe],
        "limit": [default(100), int_validator, natural_number_validator],
        "offset": [default(0), int_validator, natural_number_validator],
    }
