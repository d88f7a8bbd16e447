"""servicespublics_map: the map of a resource's service points.

- a resource view (``servicespublics_map``): a MapLibre GL map of the
  resource's points, grouped when zoomed out, coloured by service type with
  a legend, a popup per point, a search by name and a list of the visible
  points for keyboard and screen-reader users. It is added by default to
  every service-point resource (``defaults.py``) and can be added to CSV,
  GeoJSON and JSON resources;
- the vector tiles it reads (``views.py``, ``tiles.py``), from the points of
  ``servicespublics_points`` and the cluster levels counted once per
  ingestion (``layers.py``, tables of ``migration/servicespublics_map``);
- a small map of the dataset's spatial extent on the dataset page.

MapLibre GL JS comes from npm (the root ``package.json``), copied into
``public/vendor/maplibre-gl`` by ``vendor.py``; the base plugin
``servicespublics`` serves that folder.
"""
from __future__ import annotations

import logging
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan import types

from . import cli  # noqa: F401  (adds "map" to "ckan servicespublics")
from . import model  # noqa: F401  (the tables, in CKAN's metadata)
from . import defaults, layers, presentation, subscriptions

log = logging.getLogger(__name__)


@tk.blanket.actions
@tk.blanket.auth_functions
@tk.blanket.blueprints
@tk.blanket.helpers
@tk.blanket.config_declarations
class ServicesPublicsMapPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.IResourceView, inherit=True)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.ISignal)

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        tk.add_template_directory(config_, "templates")
        tk.add_resource("assets", "servicespublics-map")

    # IResourceView

    def info(self) -> dict[str, Any]:
        return {
            "name": defaults.VIEW_TYPE,
            "title": tk._("Map"),
            "icon": "map",
            "iframed": True,
            "always_available": False,
            "default_title": tk._("Map"),
            "default_description": "",
            "preview_enabled": True,
            "full_page_edit": False,
            "requires_datastore": False,
        }

    def can_view(self, data_dict: types.DataDict) -> bool:
        return defaults.can_add(data_dict.get("resource") or {}, data_dict.get("package"))

    def setup_template_variables(self, context: types.Context,
                                 data_dict: types.DataDict) -> dict[str, Any]:
        resource = data_dict["resource"]
        package = data_dict.get("package") or {}
        return {"map_config": presentation.view_config(resource, package)}

    def view_template(self, context: types.Context, data_dict: types.DataDict) -> str:
        return "servicespublics/map/view.html"

    def form_template(self, context: types.Context, data_dict: types.DataDict) -> str:
        return "servicespublics/map/form.html"

    # IPackageController

    def before_dataset_index(self, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        # a dataset is reindexed after each ingestion of its points: count the
        # cluster levels of its new points in the background
        if pkg_dict.get("id") and p.plugin_loaded("servicespublics_points"):
            try:
                for current in layers.stale_resources(pkg_dict["id"]):
                    layers.enqueue_build(current)
            except Exception:
                log.exception("Could not queue the map layers of dataset %s", pkg_dict["id"])
        return pkg_dict

    # ISignal

    def get_signal_subscriptions(self) -> types.SignalMapping:
        return subscriptions.get_subscriptions()
