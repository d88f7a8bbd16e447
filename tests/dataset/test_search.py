"""Search: filters and facets on the schema fields, with labels instead of codes."""
from __future__ import annotations

import re

import pytest

from ckan.tests import factories, helpers

PLUGINS = "activity servicespublics servicespublics_search servicespublics_dataset " \
          "scheming_datasets"
FACETS = ["domain", "service_types", "territory_regions", "territory_departements",
          "organization", "res_format", "license_id", "access_level"]


@pytest.fixture
def catalogue(territories_loaded):
    interior = factories.Organization(name="ministere-interieur",
                                      title="Ministère de l'Intérieur")
    anct = factories.Organization(name="anct", title="ANCT")
    context = {"user": factories.Sysadmin()["name"]}

    def create(**data):
        return helpers.call_action("package_create", context=dict(context), **data)

    create(name="gendarmeries-bretagne", title="Brigades de gendarmerie",
           type="service-points", owner_org=interior["id"], domain="securite",
           service_types=["gendarmerie"], territory_level="departement",
           territory_codes=["35", "56"], license_id="odc-odbl",
           resources=[{"url": "https://example.org/g.csv", "format": "CSV"}])
    create(name="commissariats", title="Commissariats de police", type="service-points",
           owner_org=interior["id"], domain="securite", service_types=["commissariat"],
           territory_level="commune", territory_codes=["35238"], access_level="restricted",
           resources=[{"url": "https://example.org/c.json", "format": "JSON"}])
    create(name="france-services", title="Liste des France Services", type="service-points",
           owner_org=anct["id"], domain="accueil-proximite",
           service_types=["france-services"], territory_level="national",
           resources=[{"url": "https://example.org/fs.csv", "format": "CSV"}])
    create(name="etablissements-scolaires", title="Établissements scolaires",
           type="service-points", owner_org=anct["id"], domain="education-culture-sport",
           service_types=["ecole", "college", "lycee"], territory_level="epci",
           territory_codes=["243500139"])
    create(name="population-2023", title="Population légale 2023", owner_org=anct["id"],
           territory_level="region", territory_codes=["53"], license_id="cc-by")
    factories.Dataset(name="budget", title="Budget primitif", owner_org=anct["id"])
    return {"interior": interior, "anct": anct}


def _facets(result):
    return {name: {i["name"]: (i["display_name"], i["count"]) for i in facet["items"]}
            for name, facet in result["search_facets"].items()}


def _names(result):
    return sorted(d["name"] for d in result["results"])


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_index", "catalogue")
class TestSearchApi:
    def test_facets_have_french_labels(self):
        facets = _facets(helpers.call_action("package_search", **{"facet.field": FACETS}))
        assert facets["domain"] == {
            "securite": ("Sécurité et ordre public", 2),
            "accueil-proximite": ("Accueil de proximité", 1),
            "education-culture-sport": ("Éducation, culture et sport", 1),
        }
        assert facets["service_types"] == {
            "gendarmerie": ("Brigade de gendarmerie", 1),
            "commissariat": ("Commissariat de police", 1),
            "france-services": ("France Services", 1),
            "ecole": ("École", 1), "college": ("Collège", 1), "lycee": ("Lycée", 1),
        }
        # région, then département; a national dataset counts for France entière
        assert facets["territory_regions"] == {
            "53": ("Bretagne", 4), "FR": ("France entière", 1)}
        assert facets["territory_departements"] == {
            "35": ("Ille-et-Vilaine (35)", 3), "56": ("Morbihan (56)", 1)}
        assert facets["organization"] == {
            "ministere-interieur": ("Ministère de l'Intérieur", 2), "anct": ("ANCT", 4)}
        assert facets["res_format"] == {"CSV": ("CSV", 2), "JSON": ("JSON", 1)}
        assert facets["license_id"] == {
            "lov2": ("Licence Ouverte / Open Licence version 2.0", 3),
            "odc-odbl": ("Open Database License (ODbL)", 1),
            "cc-by": ("Creative Commons Attribution 4.0 (CC-BY)", 1),
        }
        assert facets["access_level"] == {
            "public": ("Publique", 5), "restricted": ("Réservée aux agents publics", 1)}

    @pytest.mark.parametrize("fq, names", [
        ("domain:securite", ["commissariats", "gendarmeries-bretagne"]),
        ("service_types:gendarmerie", ["gendarmeries-bretagne"]),
        ("service_types:college", ["etablissements-scolaires"]),
        ("territory_regions:53", ["commissariats", "etablissements-scolaires",
                                  "gendarmeries-bretagne", "population-2023"]),
        ("territory_regions:FR", ["france-services"]),
        ("territory_departements:56", ["gendarmeries-bretagne"]),
        ("territory_codes:35238", ["commissariats"]),
        ("territory_level:epci", ["etablissements-scolaires"]),
        ("access_level:restricted", ["commissariats"]),
        ("license_id:lov2 AND dataset_type:service-points",
         ["commissariats", "etablissements-scolaires", "france-services"]),
    ])
    def test_filters(self, fq, names):
        assert _names(helpers.call_action("package_search", fq=fq)) == names

    def test_territory_names_are_searchable(self):
        # the commune and the EPCI are named nowhere but in the coverage
        assert _names(helpers.call_action("package_search", q="Rennes")) \
            == ["commissariats", "etablissements-scolaires"]
        assert _names(helpers.call_action("package_search", q="Morbihan")) \
            == ["gendarmeries-bretagne"]

    def test_lists_are_indexed_as_lists(self):
        result = helpers.call_action("package_search", fq="name:etablissements-scolaires")
        dataset = result["results"][0]
        assert dataset["service_types"] == ["ecole", "college", "lycee"]
        assert dataset["territory_codes"] == ["243500139"]


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_index", "catalogue")
class TestSearchPage:
    def test_french_page(self, app):
        body = app.get("/dataset/").get_data(as_text=True)
        # service-point datasets are listed with the others
        assert "6 jeux de données trouvés" in body
        for title in ("Domaines", "Types de service", "Régions", "Départements",
                      "Producteurs", "Formats", "Licences", "Niveaux d&#39;accès"):
            assert re.search(r'<h2 class="module-heading">\s*<i class="fa fa-filter"></i>\s*'
                             + re.escape(title) + r"\s*</h2>", body), title
        labels = re.findall(r'<span class="item-label">([^<]*)</span>', body)
        for label in ("Sécurité et ordre public", "Accueil de proximité",
                      "Brigade de gendarmerie", "École", "Bretagne", "France entière",
                      "Ille-et-Vilaine (35)", "Morbihan (56)", "Ministère de l&#39;Intérieur",
                      "Licence Ouverte / Open Licence version 2.0",
                      "Open Database License (ODbL)", "Publique",
                      "Réservée aux agents publics"):
            assert label in labels, label
        for code in ("securite", "gendarmerie", "53", "35", "lov2", "public", "restricted",
                     "FR", "accueil-proximite"):
            assert code not in labels, code
        # the order of the facets: domain, service type, région, département...
        positions = [body.index(f"?{name}=") for name in (
            "domain", "service_types", "territory_regions", "territory_departements",
            "organization", "res_format", "license_id", "access_level")]
        assert positions == sorted(positions)

    def test_filtered_page(self, app):
        body = app.get("/dataset/", query_string={"territory_departements": "35",
                                                  "domain": "securite"}).get_data(as_text=True)
        assert "2 jeux de données trouvés" in body
        assert "Brigades de gendarmerie" in body and "Commissariats de police" in body
        assert "Liste des France Services" not in body

    def test_english_page(self, app):
        body = app.get("/en/dataset/").get_data(as_text=True)
        labels = re.findall(r'<span class="item-label">([^<]*)</span>', body)
        for label in ("Security and public order", "Gendarmerie station", "Whole of France",
                      "Etalab Open Licence version 2.0", "Public agents only"):
            assert label in labels, label
        assert "Service types" in body and "Access levels" in body

    def test_organization_page(self, app, catalogue):
        body = app.get("/organization/ministere-interieur").get_data(as_text=True)
        labels = re.findall(r'<span class="item-label">([^<]*)</span>', body)
        assert "Sécurité et ordre public" in labels
        assert "Commissariat de police" in labels
