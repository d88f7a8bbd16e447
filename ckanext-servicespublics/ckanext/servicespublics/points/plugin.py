"""servicespublics_points: ingestion of service-point files into PostGIS.

When a point resource (``role`` = ``point_file``, or a CSV, GeoJSON, JSON,
JSONL or XLSX resource of a ``service-points`` dataset) is created or its
file, URL or reading settings change, a background job reads the file,
checks every row and replaces the resource's points in
``servicespublics_points_point``.  The status and the report are kept in the
plugin's tables and shown as the computed resource fields
``validation_status`` and ``point_count``, on the resource page and through
the ``servicespublics_points_*`` actions.

The ``ckan servicespublics points`` commands are added to the base plugin's
command group when this module is imported (``cli.py``).
"""
from __future__ import annotations

import logging
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan import types

from . import cli  # noqa: F401  (adds "points" to "ckan servicespublics")
from . import model  # noqa: F401  (the tables, in CKAN's metadata)
from . import queries, subscriptions

log = logging.getLogger(__name__)

COMPUTED_FIELDS = ("validation_status", "point_count")


@tk.blanket.actions
@tk.blanket.auth_functions
@tk.blanket.helpers
@tk.blanket.validators
@tk.blanket.config_declarations
class ServicesPublicsPointsPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.IResourceController, inherit=True)
    p.implements(p.ISignal)

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        tk.add_template_directory(config_, "templates")

    # ISignal

    def get_signal_subscriptions(self) -> types.SignalMapping:
        return subscriptions.get_subscriptions()

    # IResourceController

    def after_resource_create(self, context: types.Context, resource: dict[str, Any]):
        self._changed(resource)

    def after_resource_update(self, context: types.Context, resource: dict[str, Any]):
        self._changed(resource)

    @staticmethod
    def _changed(resource: dict[str, Any]) -> None:
        try:
            subscriptions.resource_changed(resource)
        except Exception:  # never fail the resource's own action
            log.exception("Could not follow resource %s", resource.get("id"))

    def before_resource_show(self, resource_dict: dict[str, Any]) -> dict[str, Any]:
        fields = queries.computed_fields(resource_dict["id"]) \
            if resource_dict.get("id") else None
        if fields is None:
            for name in COMPUTED_FIELDS:
                resource_dict.pop(name, None)
        else:
            resource_dict["validation_status"], resource_dict["point_count"] = fields
        return resource_dict
