"""Factories of the issue reports (registered with pytest_factoryboy: the
``issue`` and ``issue_factory`` fixtures, imported by ``conftest.py``)."""
from __future__ import annotations

import factory
from pytest_factoryboy import register

from ckan.tests import factories

from ckanext.servicespublics.issues.model import Report


@register(_name="issue")
class IssueFactory(factories.CKANFactory):
    """A report sent by a visitor who was not signed in (``user=None``), on a
    new public dataset unless ``package_id`` is given."""

    class Meta:
        model = Report
        action = "servicespublics_issue_create"

    user = None
    package_id = factory.LazyFunction(lambda: factories.Dataset()["id"])
    category = "wrong_information"
    description = factory.LazyFunction(
        lambda: "Les horaires affichés pour ce service ne sont plus les bons "
                "depuis le mois dernier : le bureau ferme à 16 heures.")
