"""servicespublics: the base plugin.

Owns the extension's translation catalogue (French first, English available),
the shared templates, assets and helpers, and the ``ckan servicespublics``
command group (demo data).
"""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import DefaultTranslation


@tk.blanket.helpers
@tk.blanket.cli
@tk.blanket.config_declarations
class ServicesPublicsPlugin(p.SingletonPlugin, DefaultTranslation):
    p.implements(p.IConfigurer)
    p.implements(p.ITranslation)
    p.implements(p.IMiddleware, inherit=True)

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        tk.add_template_directory(config_, "templates")
        tk.add_public_directory(config_, "public")
        tk.add_resource("assets", "servicespublics")

    # IMiddleware

    def make_middleware(self, app, config_):
        # CKAN 2.12's CSRF exemptions outlive the request that made them
        from . import csrf

        csrf.install(app)
        return app
