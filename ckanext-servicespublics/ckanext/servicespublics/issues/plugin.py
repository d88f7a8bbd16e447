"""servicespublics_issues: moderated issue reports on datasets and points.

Anyone who can see a dataset reports missing or wrong data (on the dataset,
one of its resources or one service point), moderators (editors and admins
of the dataset's organisation, sysadmins) publish, reject or merge the
reports, producers follow them to resolution and accept proposed point
corrections, which then survive re-ingestion as overrides.
"""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk

# importing cli attaches ``ckan servicespublics issues ...`` to the base
# plugin's command group
from . import cli  # noqa: F401
from . import subscriptions


@tk.blanket.actions
@tk.blanket.auth_functions
@tk.blanket.validators
@tk.blanket.helpers
@tk.blanket.blueprints
@tk.blanket.config_declarations
class ServicesPublicsIssuesPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.ISignal)

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        tk.add_template_directory(config_, "templates")
        tk.add_resource("assets", "servicespublics-issues")

    # ISignal

    def get_signal_subscriptions(self):
        return subscriptions.get_subscriptions()
