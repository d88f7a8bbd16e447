"""navl validation with plans per shape gives what navl gives."""
from __future__ import annotations

import copy

import pytest

import ckan.lib.navl.dictization_functions as df
import ckan.logic.schema as core_schema
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckanext.servicespublics.search import validation


def _upper(value):
    return value.upper() if isinstance(value, str) else value


def _stop_when_empty(key, data, errors, context):
    if not data.get(key):
        errors[key].append("vide")
        raise df.StopOnError


def _log(name):
    def converter(key, data, errors, context):
        context["order"].append((name, key))
    return converter


def _nested_schema():
    """Every kind of key navl knows: before, after, extras, junk, a
    validator that stops the others, sub-schemas two levels down."""
    return {
        "__before": [_log("before")],
        "name": [_stop_when_empty, _upper, _log("name")],
        "title": [tk.get_validator("ignore_missing"), _log("title")],
        "resources": {
            "url": [_stop_when_empty, _log("url")],
            "format": [tk.get_validator("ignore_missing"), _upper],
            "pieces": {"size": [tk.get_validator("ignore_missing"), _log("size")],
                       "__extras": [tk.get_validator("keep_extras")]},
            "__extras": [tk.get_validator("keep_extras")],
            "__after": [_log("resource after")],
        },
        "__extras": [tk.get_validator("ignore")],
        "__junk": [tk.get_validator("keep_extras"), _log("junk")],
        "__after": [_log("after")],
    }


DATA = [
    {"name": "a", "title": "A", "resources": [
        {"url": "u", "format": "csv", "autre": 1,
         "pieces": [{"size": 1, "z": 2}, {"size": 3}]},
        {"url": "", "format": "json"}]},
    # same shape, keys in another order: junk and extras in that order
    {"resources": [{"format": "csv", "autre": 1, "url": "v",
                    "pieces": [{"z": 2, "size": 1}, {"size": 3}]},
                   {"format": "json", "url": "w"}], "title": "B", "name": "b"},
    {"name": "", "inconnu": [1, 2], "resources": []},
    {"name": "c", "resources": [{"url": "x", "pieces": []}], "junk": {"deep": 1}},
    {},
]


def _navl(data, schema):
    """The validated data, the errors and the validators run, in order
    (navl copies the context: the list is shared)."""
    context = {"order": []}
    converted, errors = df.validate(copy.deepcopy(data), schema, context)
    return converted, errors, context["order"]


def _planned(data, schema):
    with validation.planned():
        return _navl(data, schema)


@pytest.mark.parametrize("data", DATA)
def test_same_result_errors_and_order_of_validators(data):
    expected = _navl(data, _nested_schema())
    first = _planned(data, _nested_schema())
    again = _planned(data, _nested_schema())  # from the plan
    assert first == expected
    assert again == expected
    # dicts compare equal in any order: the order is the same too
    assert repr(first) == repr(expected) and repr(again) == repr(expected)


def test_plans_learnt_from_other_values_give_each_dataset_its_own_result():
    """DATA[0] and DATA[1] have the same keys in another order, with other
    values: the second one is validated with the first one's plan."""
    expected = [_navl(data, _nested_schema()) for data in DATA]
    with validation.planned():
        found = [_navl(data, _nested_schema()) for data in DATA + DATA]
    assert found == expected + expected
    assert repr(found) == repr(expected + expected)


def test_a_schema_that_grows_between_calls_gets_a_new_plan():
    """ckanext-scheming sets its fields on the schema at each call."""
    schema = _nested_schema()
    data = {"name": "a", "extra_field": "x", "resources": []}
    with validation.planned():
        before = _navl(data, schema)
        schema["extra_field"] = [_upper]
        after = _navl(data, schema)
    assert before == _navl(data, _nested_schema())
    assert after[0]["extra_field"] == "X"
    assert after == _navl(data, schema)


def test_a_sub_schema_that_grows_between_calls_gets_a_new_plan():
    schema = _nested_schema()
    data = {"name": "a", "resources": [{"url": "u", "role": "liste"}]}
    with validation.planned():
        before = _navl(data, schema)
        schema["resources"]["role"] = [_upper]
        after = _navl(data, schema)
    assert before[0]["resources"][0]["role"] == "liste"  # kept as an extra
    assert after[0]["resources"][0]["role"] == "LISTE"
    assert after == _navl(data, schema)


def test_dicts_placed_against_a_sub_schema_still_fail():
    data = {"name": "a", "resources": "pas une liste"}
    with pytest.raises(df.DataError) as navl_error:
        _navl(data, _nested_schema())
    with pytest.raises(df.DataError) as planned_error:
        _planned(data, _nested_schema())
    assert str(planned_error.value) == str(navl_error.value)


@pytest.mark.usefixtures("clean_db")
@pytest.mark.parametrize("schema", [
    core_schema.default_show_package_schema,
    core_schema.default_create_package_schema,
    core_schema.default_update_package_schema,
])
def test_core_package_schemas_with_and_without_errors(schema):
    datasets = [
        {"name": "gendarmeries", "title": " Gendarmeries ", "notes": "Liste",
         "private": False, "state": "active", "license_id": "odc-odbl",
         "tags": [{"name": "sécurité"}, {"name": "gendarmerie", "state": "active"}],
         "extras": [{"key": "spatial", "value": "{}"}, {"key": "x", "value": "1"}],
         "resources": [{"url": "http://example.org/a.csv", "format": "CSV",
                        "alt_url": "http://miroir.example.org"},
                       {"url": "a.json", "format": "", "position": 1}],
         "groups": [{"name": "securite", "capacity": "public"}],
         "organization": {"name": "anct"}, "unknown": 1},
        {"name": "Pas Un Nom!", "tags": [{"name": ""}], "resources": [{}],
         "extras": [{"key": "", "value": 1}]},
        {"title": "sans nom", "tags": [], "resources": []},
    ]
    context = {"model": model, "session": model.Session, "user": ""}
    for data in datasets:
        expected = df.validate(copy.deepcopy(data), schema(), dict(context))
        with validation.planned():
            first = df.validate(copy.deepcopy(data), schema(), dict(context))
            again = df.validate(copy.deepcopy(data), schema(), dict(context))
        assert first == expected and again == expected
        assert repr(first) == repr(expected)


def test_navl_is_itself_again_after_the_block_even_when_it_fails():
    navl = df._validate, df.flattened_order_key
    with pytest.raises(RuntimeError):
        with validation.planned():
            assert df._validate is not navl[0]
            raise RuntimeError("stop")
    assert (df._validate, df.flattened_order_key) == navl
