"""servicespublics_search: PostgreSQL as CKAN's search engine.

With ``ckanext.servicespublics.search.backend = postgres`` (the default),
CKAN indexes into and searches the extension's own table instead of Solr;
with ``solr`` the plugin steps aside and CKAN talks to ``solr_url`` as usual.
Switching is that setting plus ``ckan search-index rebuild``.
"""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import backend


@tk.blanket.config_declarations
class ServicesPublicsSearchPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.IPluginObserver, inherit=True)

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        # CKAN checks the search engine right after the IConfigurer hooks:
        # the connection is swapped here so that the check reaches PostgreSQL
        if tk.config.get("ckanext.servicespublics.search.backend") == "postgres":
            backend.install()
        else:
            backend.uninstall()

    # IPluginObserver

    def after_unload(self, service: p.SingletonPlugin):
        if service is self:
            backend.uninstall()
