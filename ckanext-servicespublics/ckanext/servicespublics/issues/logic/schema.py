"""Validation schemas of the issue-report actions (one per action)."""
from __future__ import annotations

from ckan.logic.schema import validator_args
from ckan.types import Schema, Validator, ValidatorFactory


@validator_args
def servicespublics_issue_create_schema(
    ignore: Validator,
    ignore_missing: Validator,
    not_empty: Validator,
    unicode_safe: Validator,
    strip_value: Validator,
    email_validator: Validator,
    servicespublics_issue_category: Validator,
    servicespublics_issue_text: Validator,
    servicespublics_issue_correction: Validator,
) -> Schema:
    return {
        "package_id": [ignore_missing, unicode_safe, strip_value],
        "resource_id": [ignore_missing, unicode_safe, strip_value],
        "point_id": [ignore_missing, unicode_safe, strip_value],
        "category": [not_empty, unicode_safe, servicespublics_issue_category],
        "description": [not_empty, unicode_safe, servicespublics_issue_text],
        "correction": [ignore_missing, servicespublics_issue_correction],
        "email": [ignore_missing, unicode_safe, strip_value, email_validator],
        "__extras": [ignore],
        "__junk": [ignore],
    }


@validator_args
def servicespublics_issue_show_schema(
    ignore: Validator,
    ignore_missing: Validator,
    not_empty: Validator,
    unicode_safe: Validator,
    boolean_validator: Validator,
    default: ValidatorFactory,
) -> Schema:
    return {
        "id": [not_empty, unicode_safe],
        "token": [ignore_missing, unicode_safe],
        "include_history": [default(True), boolean_validator],
        "__extras": [ignore],
        "__junk": [ignore],
    }


@validator_args
def servicespublics_issue_list_schema(
    ignore: Validator,
    ignore_missing: Validator,
    unicode_safe: Validator,
    boolean_validator: Validator,
    natural_number_validator: Validator,
    is_positive_integer: Validator,
    default: ValidatorFactory,
    one_of: ValidatorFactory,
    servicespublics_issue_string_list: Validator,
) -> Schema:
    return {
        "package_id": [ignore_missing, unicode_safe],
        "organization": [ignore_missing, unicode_safe],
        "resource_id": [ignore_missing, unicode_safe],
        "point_id": [ignore_missing, unicode_safe],
        "status": [ignore_missing, servicespublics_issue_string_list],
        "category": [ignore_missing, servicespublics_issue_string_list],
        "moderation_state": [ignore_missing, servicespublics_issue_string_list],
        "mine": [default(False), boolean_validator],
        "sort": [default("created desc"),
                 one_of(["created desc", "created asc", "modified desc",
                         "number desc", "number asc"])],
        "limit": [default(20), is_positive_integer],
        "offset": [default(0), natural_number_validator],
        "__extras": [ignore],
        "__junk": [ignore],
    }


@validator_args
def servicespublics_issue_moderate_schema(
    ignore: Validator,
    ignore_missing: Validator,
    not_empty: Validator,
    unicode_safe: Validator,
    one_of: ValidatorFactory,
    servicespublics_issue_string_list: Validator,
    servicespublics_issue_text: Validator,
) -> Schema:
    return {
        "id": [ignore_missing, servicespublics_issue_string_list],
        "action": [not_empty, one_of(["publish", "reject", "merge"])],
        "reason": [ignore_missing, one_of(["spam", "abuse", "other"])],
        "merge_into": [ignore_missing, unicode_safe],
        "note": [ignore_missing, unicode_safe, servicespublics_issue_text],
        "__extras": [ignore],
        "__junk": [ignore],
    }


@validator_args
def servicespublics_issue_update_schema(
    ignore: Validator,
    ignore_missing: Validator,
    not_empty: Validator,
    unicode_safe: Validator,
    servicespublics_issue_status: Validator,
    servicespublics_issue_category: Validator,
    servicespublics_issue_text: Validator,
) -> Schema:
    return {
        "id": [not_empty, unicode_safe],
        "status": [ignore_missing, servicespublics_issue_status],
        "category": [ignore_missing, servicespublics_issue_category],
        "comment": [ignore_missing, unicode_safe, servicespublics_issue_text],
        "__extras": [ignore],
        "__junk": [ignore],
    }


@validator_args
def servicespublics_issue_comment_schema(
    ignore: Validator,
    ignore_missing: Validator,
    not_empty: Validator,
    unicode_safe: Validator,
    servicespublics_issue_text: Validator,
) -> Schema:
    return {
        "id": [not_empty, unicode_safe],
        "body": [not_empty, unicode_safe, servicespublics_issue_text],
        "token": [ignore_missing, unicode_safe],
        "__extras": [ignore],
        "__junk": [ignore],
    }


@validator_args
def servicespublics_issue_accept_correction_schema(
    ignore: Validator,
    ignore_missing: Validator,
    not_empty: Validator,
    unicode_safe: Validator,
    default: ValidatorFactory,
    servicespublics_issue_correction: Validator,
    servicespublics_issue_status: Validator,
) -> Schema:
    return {
        "id": [not_empty, unicode_safe],
        "fields": [ignore_missing, servicespublics_issue_correction],
        "status": [default("resolved"), servicespublics_issue_status],
        "__extras": [ignore],
        "__junk": [ignore],
    }


@validator_args
def servicespublics_issue_correction_remove_schema(
    ignore: Validator,
    ignore_missing: Validator,
    not_empty: Validator,
    unicode_safe: Validator,
    boolean_validator: Validator,
    default: ValidatorFactory,
) -> Schema:
    return {
        "id": [not_empty, unicode_safe],
        "restore": [default(True), boolean_validator],
        "__extras": [ignore],
        "__junk": [ignore],
    }


@validator_args
def servicespublics_issue_correction_list_schema(
    ignore: Validator,
    ignore_missing: Validator,
    not_empty: Validator,
    unicode_safe: Validator,
    boolean_validator: Validator,
    default: ValidatorFactory,
) -> Schema:
    return {
        "resource_id": [not_empty, unicode_safe],
        "include_removed": [default(False), boolean_validator],
        "__extras": [ignore],
        "__junk": [ignore],
    }
