"""Parameter schemas of the analytics actions."""
from __future__ import annotations

from ckan.logic.schema import validator_args
from ckan.types import Schema, Validator, ValidatorFactory

LEVELS = ["region", "departement", "epci", "commune"]
TERRITORY_LEVELS = ["region", "departement", "epci", "commune", "arrondissement_municipal"]
STATES = ["open", "planned_closure", "planned_opening", "closed"]


@validator_args
def _filters(ignore_missing: Validator, unicode_safe: Validator, one_of: ValidatorFactory,
             servicespublics_analytics_code_list: Validator,
             servicespublics_analytics_date: Validator) -> Schema:
    return {
        "service_type": [ignore_missing, servicespublics_analytics_code_list],
        "domain": [ignore_missing, unicode_safe],
        "organization": [ignore_missing, unicode_safe],
        "territory": [ignore_missing, unicode_safe],
        "territory_level": [ignore_missing, unicode_safe, one_of(TERRITORY_LEVELS)],
        "date": [ignore_missing, servicespublics_analytics_date],
        "__extras": [ignore_missing],
    }


@validator_args
def servicespublics_density_schema(default: ValidatorFactory, unicode_safe: Validator,
                                   one_of: ValidatorFactory) -> Schema:
    return {**_filters(), "level": [default("departement"), unicode_safe, one_of(LEVELS)]}


@validator_args
def servicespublics_evolution_schema(
        default: ValidatorFactory, unicode_safe: Validator, one_of: ValidatorFactory,
        not_empty: Validator, ignore_missing: Validator,
        servicespublics_analytics_date: Validator) -> Schema:
    return {
        **_filters(),
        "level": [default("departement"), unicode_safe, one_of(LEVELS)],
        "date_from": [not_empty, servicespublics_analytics_date],
        "date_to": [ignore_missing, servicespublics_analytics_date],
        "interval": [ignore_missing, unicode_safe, one_of(["month", "year"])],
    }


@validator_args
def servicespublics_nearest_schema(
        ignore_missing: Validator, unicode_safe: Validator, default: ValidatorFactory,
        int_validator: Validator, boolean_validator: Validator,
        servicespublics_analytics_positive_number: Validator,
        servicespublics_analytics_longitude: Validator,
        servicespublics_analytics_latitude: Validator) -> Schema:
    return {
        **_filters(),
        "commune": [ignore_missing, unicode_safe],
        "longitude": [ignore_missing, servicespublics_analytics_longitude],
        "latitude": [ignore_missing, servicespublics_analytics_latitude],
        "limit": [default(5), int_validator],
        "threshold_km": [ignore_missing, servicespublics_analytics_positive_number],
        "include_communes": [default(True), boolean_validator],
    }


@validator_args
def servicespublics_closure_impact_schema(
        ignore_missing: Validator, servicespublics_analytics_positive_number: Validator,
        servicespublics_analytics_id_list: Validator,
        servicespublics_analytics_places: Validator) -> Schema:
    return {
        **_filters(),
        "close": [ignore_missing, servicespublics_analytics_id_list],
        "open": [ignore_missing, servicespublics_analytics_id_list],
        "add": [ignore_missing, servicespublics_analytics_places],
        "threshold_km": [ignore_missing, servicespublics_analytics_positive_number],
    }


@validator_args
def servicespublics_points_export_schema(
        ignore_missing: Validator, default: ValidatorFactory, int_validator: Validator,
        servicespublics_analytics_code_list: Validator) -> Schema:
    return {
        **_filters(),
        "state": [ignore_missing, servicespublics_analytics_code_list],
        "limit": [default(1000), int_validator],
        "offset": [default(0), int_validator],
    }
