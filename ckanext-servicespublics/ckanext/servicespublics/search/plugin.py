"""servicespublics_search: PostgreSQL as CKAN's search engine.

With ``ckanext.servicespublics.search.backend = postgres`` (the default),
CKAN indexes into and searches the extension's own table instead of Solr;
with ``solr`` the plugin steps aside and CKAN talks to ``solr_url`` as usual.
Switching is that setting plus ``ckan search-index rebuild``.
"""
from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from . import backend
from .fields import BBOX_FIELD
from .lucene import parse_bbox


@tk.blanket.config_declarations
class ServicesPublicsSearchPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.IPackageController, inherit=True)

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        # CKAN checks the search engine right after the IConfigurer hooks, so
        # the routing is installed here; it checks at every call whether this
        # plugin is loaded and configured for PostgreSQL (see backend.active)
        backend.install()

    # IPackageController

    def before_dataset_search(self, search_params: dict[str, Any]) -> dict[str, Any]:
        """Answer ckanext-spatial's ``ext_bbox`` with PostGIS.

        The spatial search widget sends ``ext_bbox=minx,miny,maxx,maxy``;
        ckanext-spatial would turn it into a Solr function query. When
        PostgreSQL is the engine, this plugin (listed before
        ``spatial_query``) takes the parameter out and filters on the indexed
        extent instead.
        """
        extras = search_params.get("extras") or {}
        bbox = extras.get("ext_bbox")
        if not bbox or not backend.active():
            return search_params
        minx, miny, maxx, maxy = parse_bbox(bbox)
        extras = dict(extras)
        extras.pop("ext_bbox")
        search_params["extras"] = extras
        clause = f'+{BBOX_FIELD}:"{minx},{miny},{maxx},{maxy}"'
        search_params["fq"] = f"{search_params.get('fq') or ''} {clause}".strip()
        return search_params
