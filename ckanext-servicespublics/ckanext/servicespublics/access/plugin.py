"""servicespublics_access: public, restricted and private datasets.

- ``IPermissionLabels`` makes search, ``package_show`` (whose 2.12 auth
  function compares labels), ``resource_show`` and the views, downloads and
  activities built on them agree: no chained ``package_show`` auth is needed.
- Chained ``package_create``/``package_update`` keep ``access_level`` and
  ``private`` consistent and apply the organisation's default level (scheming
  owns ``IDatasetForm``, so validation happens in front of the action).
- Chained reads close the lists that core builds without labels (free tags,
  formats, group members, harvest objects, task statuses...).
- Sysadmin actions and pages: who can see a dataset, what an agent can see,
  the agent flag.
"""
from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.exceptions import CkanConfigurationException
from ckan.lib.plugins import DefaultPermissionLabels
from ckan.types import Context

from . import rules
from .logic import action, auth


@tk.blanket.actions(action.get_actions)
@tk.blanket.auth_functions(auth.get_auth_functions)
@tk.blanket.helpers
@tk.blanket.blueprints
@tk.blanket.config_declarations
class ServicesPublicsAccessPlugin(p.SingletonPlugin, DefaultPermissionLabels):
    p.implements(p.IConfigurer)
    p.implements(p.IConfigurable)
    p.implements(p.IPermissionLabels)
    p.implements(p.IPackageController, inherit=True)

    # IConfigurer

    def update_config(self, config_: tk.CKANConfig):
        tk.add_template_directory(config_, "templates")

    # IConfigurable

    def configure(self, config_: tk.CKANConfig):
        try:
            rules.default_level_by_org_type()
        except ValueError as e:
            raise CkanConfigurationException(
                f"ckanext.servicespublics.access.default_level_by_org_type: {e}"
            ) from e

    # IPermissionLabels

    def get_dataset_labels(self, dataset_obj: model.Package) -> list[str]:
        return rules.dataset_labels(dataset_obj)

    def get_user_dataset_labels(self, user_obj: model.User) -> list[str]:
        labels = super().get_user_dataset_labels(user_obj)
        if not user_obj or user_obj.is_anonymous:
            return labels
        member_orgs = [label[len("member-"):] for label in labels
                       if label.startswith("member-")]
        if rules.agent_reasons(user_obj, member_orgs):
            labels.append(rules.AGENT_LABEL)
        return labels

    # IPackageController

    def after_dataset_create(self, context: Context, pkg_dict: dict[str, Any]):
        self._relabel(pkg_dict)

    def after_dataset_update(self, context: Context, pkg_dict: dict[str, Any]):
        self._relabel(pkg_dict)

    @staticmethod
    def _relabel(pkg_dict: dict[str, Any]):
        pkg = model.Package.get(pkg_dict.get("id"))
        if pkg is not None:
            rules.relabel_activities(pkg)
