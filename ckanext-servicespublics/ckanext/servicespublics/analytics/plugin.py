"""servicespublics_analytics: the national map of public services.

The ``/carte`` page draws every service point the visitor may see, with
filters, a territory box, dates to compare, the density of services per
10,000 inhabitants, openings and closures, the nearest services and the
simulated impact of closures.  Every number on it comes from an action
(``servicespublics_density``, ``servicespublics_evolution``,
``servicespublics_nearest``, ``servicespublics_closure_impact``,
``servicespublics_points_export``), computed over the points of the datasets
the caller may read (``visibility.py``), from the points' history
(``history.py``) and the communes' reference points (``centres.py``).

The ``ckan servicespublics analytics`` commands are added to the base
plugin's command group when this module is imported (``cli.py``).
"""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan import types

from . import cli  # noqa: F401  (adds "analytics" to "ckan servicespublics")
from . import model  # noqa: F401  (the tables, in CKAN's metadata)
from . import history

#: sent (sender: the resource id) by the points plugin after an ingestion
#: replaced a resource's points, and when points are corrected in place
#: (accepted corrections of the issues plugin)
POINTS_REPLACED = "servicespublics_points_replaced"
POINTS_CORRECTED = "servicespublics_points_corrected"


@tk.blanket.actions
@tk.blanket.auth_functions
@tk.blanket.blueprints
@tk.blanket.validators
@tk.blanket.config_declarations
class ServicesPublicsAnalyticsPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.ISignal)

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        tk.add_template_directory(config_, "templates")
        tk.add_resource("assets", "servicespublics-analytics")

    # ISignal

    def get_signal_subscriptions(self) -> types.SignalMapping:
        return {
            tk.signals.ckanext.signal(POINTS_REPLACED): [history.on_points_replaced],
            tk.signals.ckanext.signal(POINTS_CORRECTED): [history.on_points_replaced],
        }
