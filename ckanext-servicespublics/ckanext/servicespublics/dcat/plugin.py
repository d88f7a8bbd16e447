"""servicespublics_dcat: the catalogue in DCAT-AP.

On top of ckanext-dcat (plugins ``dcat`` and, to harvest, ``harvest`` +
``dcat_rdf_harvester``): the RDF profile ``servicespublics_dcat_ap``
(``profiles.py``) maps the service-point fields, the blueprint (``views.py``)
publishes the service-type and domain vocabularies as SKOS and negotiates
content on every dataset type, and the chained actions (``logic/action.py``)
keep datasets a user may not see out of the DCAT endpoints.
"""
from __future__ import annotations

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.exceptions import CkanConfigurationException


@tk.blanket.actions
@tk.blanket.blueprints
@tk.blanket.config_declarations
class ServicesPublicsDcatPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        if not p.plugin_loaded("dcat"):
            raise CkanConfigurationException(
                "servicespublics_dcat needs ckanext-dcat's plugin: add dcat to ckan.plugins")
        tk.add_template_directory(config_, "templates")
