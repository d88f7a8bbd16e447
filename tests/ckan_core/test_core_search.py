"""CKAN 2.12's own search tests, run against the PostgreSQL search engine.

They ship in the ckan wheel; importing the classes and functions here makes
pytest collect them under this project's fixtures (``reset_db`` restricted to
the default schema, plugins loaded). Every search-related test of
``ckan/tests/lib/search/`` and of ``ckan/tests/logic/action/test_get.py``
(package search, autocomplete, tags, group and organisation counts, package
lists) is imported, except the ones listed in ``NOT_APPLICABLE``: they test
Solr internals, not search behaviour. Each exclusion says why.
"""
from __future__ import annotations

import pytest

from ckan.tests.lib.search import test_index as _index
from ckan.tests.lib.search import test_query as _query
from ckan.tests.lib.search import test_search as _search
from ckan.tests.logic.action import test_get as _get

NOT_APPLICABLE = {
    # Solr's schema.xml version check: the PostgreSQL engine replaces the
    # check with its own (table present), tested in tests/search.
    "test_current_schema_exists": "reads Solr's schema.xml",
    "test_check_valid_schema": "reads Solr's schema.xml",
    "test_check_invalid_schema": "reads Solr's schema.xml",
    "test_check_schema_with_wrong_version": "reads Solr's schema.xml",
    # Solr local parameters ({!bool must=...}) are a Solr query-parser
    # feature; CKAN rejects them unless a site allows them by config. The
    # PostgreSQL engine rejects them with a clear syntax error.
    "test_allowed_local_params_via_config": "Solr {!parser} local parameters",
    # Builds its own pysolr connection, imported before the engine is routed.
    "test_get_index_uses_site_id": "talks to pysolr directly (same check in tests/search)",
    # Asserts pysolr's HTTP basic-auth wiring.
    "test_solr_user_and_password": "pysolr HTTP authentication",
}

_MODULES = (_index, _query, _search)
_GET_CLASSES = (
    "TestPackageSearch", "TestPackageAutocomplete", "TestPackageAutocompleteWithDatasetForm",
    "TestTagShow", "TestTagList", "TestGroupList", "TestOrganizationList",
    "TestCurrentPackageList", "TestPackageList", "TestResourceSearch",
)

ENGINE = "servicespublics_search"


def _with_engine(obj: object) -> object:
    """Load the search engine next to the plugins a test asks for.

    CKAN applies ``ckan_config`` marks from the closest to the farthest, the
    farthest winning, so the mark is set on each test class or function (a
    subclass for classes) rather than on this module.
    """
    plugins = [ENGINE]
    for mark in getattr(obj, "pytestmark", []):
        if mark.name == "ckan_config" and mark.args[0] == "ckan.plugins":
            plugins = mark.args[1].split() + [ENGINE]
    mark = pytest.mark.ckan_config("ckan.plugins", " ".join(dict.fromkeys(plugins)))
    if isinstance(obj, type):
        return mark(type(obj.__name__, (obj,), {"__module__": __name__}))
    return mark(obj)


def _collect() -> dict[str, object]:
    found: dict[str, object] = {}
    for module in _MODULES:
        for name, value in vars(module).items():
            if name.startswith(("Test", "test_")) and name not in NOT_APPLICABLE:
                found[name] = value
            elif not name.startswith("_") and (
                    type(value).__name__ == "FixtureFunctionDefinition"
                    or hasattr(value, "_pytestfixturefunction")):
                found[name] = value  # module fixtures such as resources_for_search
    for name in _GET_CLASSES:
        found[name] = getattr(_get, name)
    for name, value in list(found.items()):
        if name.startswith(("Test", "test_")):
            found[name] = _with_engine(value)
    for dotted in NOT_APPLICABLE:
        if "." in dotted:
            cls_name, method = dotted.split(".")
            base = found[cls_name]
            found[cls_name] = type(cls_name, (base,), {
                method: pytest.mark.skip(reason=NOT_APPLICABLE[dotted])(
                    lambda self: None)})
    return found


globals().update(_collect())
