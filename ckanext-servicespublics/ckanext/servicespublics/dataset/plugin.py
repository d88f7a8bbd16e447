"""servicespublics_dataset: the catalogue's dataset schemas and search facets.

- ckanext-scheming schemas (``schemas/service_points.yaml`` for the
  ``service-points`` type, ``schemas/dataset.yaml`` for the French-adapted
  default type), with their presets, validators, display snippets and
  controlled vocabularies (``vocabulary.yaml``);
- the territorial reference (``ckanext.servicespublics.territories``), its
  ``ckan servicespublics territories`` commands and its actions;
- search: facets by domain, service type, région then département, producer,
  format, licence and access level, labelled in the visitor's language;
- the standard Table Schema of point files, served at
  ``/schemas/service-points/tableschema.json``;
- the licence list (``licenses/licenses.json``, Licence Ouverte 2.0 first).

Put ``scheming_datasets`` in ``ckan.plugins`` too, and point
``scheming.dataset_schemas`` / ``scheming.presets`` at the schemas (README).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.servicespublics import territories

from . import vocabulary
from .logic.validators import servicespublics_json_list_output

LICENSES_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "licenses", "licenses.json")

#: settings this plugin gives a value when the site leaves them out
DEFAULTS = {
    "licenses_group_url": "file://" + LICENSES_FILE,
    # service-point datasets are datasets too: /dataset lists every type
    "ckan.search.show_all_types": True,
}

#: list fields that scheming stores as JSON text and the index needs as lists
LIST_FIELDS = ("service_types", "territory_codes")

#: the facets of the search pages, in order, with their titles
FACETS = OrderedDict([
    ("domain", {"fr": "Domaines", "en": "Domains"}),
    ("service_types", {"fr": "Types de service", "en": "Service types"}),
    ("territory_regions", {"fr": "Régions", "en": "Regions"}),
    ("territory_departements", {"fr": "Départements", "en": "Départements"}),
    ("organization", {"fr": "Producteurs", "en": "Producers"}),
    ("res_format", {"fr": "Formats", "en": "Formats"}),
    ("license_id", {"fr": "Licences", "en": "Licences"}),
    ("access_level", {"fr": "Niveaux d'accès", "en": "Access levels"}),
])

#: facets whose values are vocabulary codes
VOCABULARY_FACETS = {
    "domain": "domains",
    "service_types": "service_types",
    "access_level": "access_levels",
    "frequency": "frequencies",
    "territory_level": "territory_levels",
}


@tk.blanket.actions
@tk.blanket.auth_functions
@tk.blanket.validators
@tk.blanket.helpers
@tk.blanket.blueprints
@tk.blanket.cli
@tk.blanket.config_declarations
class ServicesPublicsDatasetPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.IFacets, inherit=True)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IPluginObserver, inherit=True)

    _defaults_set: dict[str, Any] = {}

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        tk.add_template_directory(config_, "templates")
        for key, value in DEFAULTS.items():
            if key not in config_ or config_[key] in (None, ""):
                config_[key] = value
                self._defaults_set[key] = value
        _reset_license_register()
        # a broken extra vocabulary file stops the site at start-up
        vocabulary.load()

    # IPluginObserver

    def after_unload(self, service: p.SingletonPlugin):
        if service is self:
            for key, value in list(self._defaults_set.items()):
                if tk.config.get(key) == value:
                    tk.config.pop(key, None)
            self._defaults_set.clear()
            _reset_license_register()

    # IFacets

    def dataset_facets(self, facets_dict: OrderedDict[str, Any],
                       package_type: str) -> OrderedDict[str, Any]:
        return _facets(facets_dict)

    def group_facets(self, facets_dict: OrderedDict[str, Any], group_type: str,
                     package_type: str | None) -> OrderedDict[str, Any]:
        return _facets(facets_dict)

    def organization_facets(self, facets_dict: OrderedDict[str, Any],
                            organization_type: str,
                            package_type: str | None) -> OrderedDict[str, Any]:
        return _facets(facets_dict)

    # IPackageController

    def before_dataset_index(self, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        for name in LIST_FIELDS:
            if isinstance(pkg_dict.get(name), str):
                pkg_dict[name] = servicespublics_json_list_output(pkg_dict[name])
        level = pkg_dict.get("territory_level")
        codes = pkg_dict.get("territory_codes") or []
        regions: list[str] = []
        departements: list[str] = []
        names: list[str] = []
        if level == "national":
            regions = [territories.NATIONAL]
        elif level in territories.LEVELS and codes:
            parents = territories.parents(level, codes)
            regions, departements = parents["regions"], parents["departements"]
            names = sorted(territories.labels(level, codes).values())
        pkg_dict["territory_regions"] = regions
        pkg_dict["territory_departements"] = departements
        if names:
            pkg_dict["territory_names"] = names
        return pkg_dict

    def after_dataset_search(self, search_results: dict[str, Any],
                             search_params: dict[str, Any]) -> dict[str, Any]:
        facets = search_results.get("search_facets") or {}
        lang = vocabulary.current_lang()
        for name, vocab in VOCABULARY_FACETS.items():
            for item in facets.get(name, {}).get("items", []):
                item["display_name"] = vocabulary.label(vocab, item["name"], lang)
        for name, level in (("territory_regions", "region"),
                            ("territory_departements", "departement")):
            items = facets.get(name, {}).get("items", [])
            if not items:
                continue
            found = territories.get_many([i["name"] for i in items], level)
            for item in items:
                if item["name"] == territories.NATIONAL:
                    item["display_name"] = vocabulary.label("territory_levels", "national",
                                                            lang)
                elif item["name"] in found:
                    row = found[item["name"]]
                    item["display_name"] = row["name"] if level == "region" else row["label"]
        register = model.Package.get_license_register()
        for item in facets.get("license_id", {}).get("items", []):
            licence = register.get(item["name"])
            if licence is not None and not lang.startswith("fr"):
                item["display_name"] = getattr(licence, "title_en", None) or licence.title
        return search_results


def _facets(facets_dict: OrderedDict[str, Any]) -> OrderedDict[str, Any]:
    lang = vocabulary.current_lang()
    result: OrderedDict[str, Any] = OrderedDict(
        (name, vocabulary.text(title, lang)) for name, title in FACETS.items())
    for name, title in facets_dict.items():
        if name not in result:
            result[name] = title
    return result


def _reset_license_register() -> None:
    """CKAN keeps the licence list of the first use: drop it when the
    setting may have changed."""
    if "_license_register" in model.Package.__dict__:
        del model.Package._license_register
