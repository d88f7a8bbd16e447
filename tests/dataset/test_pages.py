"""Pages: a service-point dataset and its resources shown readably, the
dataset form, the Table Schema URL."""
from __future__ import annotations

import json
import re

import pytest

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

PLUGINS = "activity servicespublics servicespublics_search servicespublics_dataset " \
          "scheming_datasets"
NNBSP = "\u202f"  # French digit grouping: 2 845


@pytest.fixture
def dataset(territories_loaded):
    org = factories.Organization(name="anct", title="Agence nationale de la cohésion "
                                                  "des territoires")
    context = {"user": factories.Sysadmin()["name"]}
    return helpers.call_action(
        "package_create", context=context, type="service-points", name="france-services-35",
        title="France Services d'Ille-et-Vilaine", owner_org=org["id"],
        notes="Les structures labellisées.", domain="accueil-proximite",
        service_types=["france-services", "mairie"], territory_level="commune",
        territory_codes=["35238", "35288", "05120"], vintage="2024-08-01",
        temporal_start="2019-01-01", temporal_end="2024-08-01", frequency="monthly",
        access_level="restricted", url="https://www.data.gouv.fr/fr/datasets/france-services/",
        license_id="lov2", contact_name="Pôle données ANCT",
        contact_email="donnees@anct.gouv.fr",
        spatial='{"type": "Point", "coordinates": [-1.68, 48.11]}',
        resources=[{
            "url": "https://example.org/liste-fs.csv", "name": "Liste des structures",
            "format": "CSV", "role": "point_file", "encoding": "utf-8",
            "delimiter": ";", "crs": "EPSG:2154",
            "column_mapping": {"name": "lib_fs", "insee_code": "com_insee"},
            "validation_status": "partial", "point_count": 2845,
        }, {
            "url": "https://example.org/notice.pdf", "name": "Notice", "format": "PDF",
            "role": "documentation",
        }])


def _text(html):
    """The text of a page, tags removed, runs of ASCII blanks made one space
    (not the narrow no-break spaces of French numbers)."""
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _rows(body):
    """The additional-information table: label -> text of the value."""
    rows = {}
    for label, value in re.findall(
            r'<th scope="row" class="dataset-label">(.*?)</th>\s*'
            r'<td class="dataset-details"[^>]*>(.*?)</td>', body, re.S):
        rows[label.strip()] = _text(value)
    return rows


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_index")
class TestDatasetPage:
    def test_french(self, app, dataset):
        res = app.get(tk.url_for("service-points.read", id=dataset["name"]))
        assert res.status_code == 200
        body = res.get_data(as_text=True)
        rows = _rows(body)
        assert rows["Domaine"] == "Accueil de proximité"
        assert rows["Types de service"] == "France Services Mairie"
        assert rows["Couverture territoriale"] == "Commune"
        # names, not codes; Ristolas (05120) is now Abriès-Ristolas
        assert rows["Territoires couverts"] \
            == "Rennes (35) 35238 Saint-Malo (35) 35288 Abriès-Ristolas (05) 05001"
        assert rows["Millésime (date de référence)"] == "1 août 2024"
        assert rows["Début de la couverture temporelle"] == "1 janvier 2019"
        assert rows["Fin de la couverture temporelle"] == "1 août 2024"
        assert rows["Fréquence de mise à jour"] == "Mensuelle"
        assert rows["Niveau d&#39;accès"] == "Réservée aux agents publics"
        assert rows["Source"] == "https://www.data.gouv.fr/fr/datasets/france-services/"
        assert 'href="https://www.data.gouv.fr/fr/datasets/france-services/"' in body
        assert rows["Contact"] == "Pôle données ANCT"
        assert rows["Courriel du contact"] == "donnees@anct.gouv.fr"
        assert "mailto:donnees@anct.gouv.fr" in body
        assert rows["Emprise géographique (GeoJSON)"].startswith("Saisie par le producteur")
        assert "Licence Ouverte / Open Licence version 2.0" in body
        assert "Agence nationale de la cohésion des territoires" in body
        # the resource list tells the role, the points and the validation
        assert f"Fichier de points · 2{NNBSP}845 points · Partiellement valide" \
            in re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", "", body))
        assert "Documentation" in body

    def test_english(self, app, dataset):
        body = app.get("/en" + tk.url_for("service-points.read", id=dataset["name"])) \
            .get_data(as_text=True)
        rows = _rows(body)
        assert rows["Domain"] == "Local public reception"
        assert rows["Vintage (reference date)"] == "August 1, 2024"
        assert rows["Access level"] == "Public agents only"
        assert rows["Territorial coverage"] == "Municipality"

    @pytest.mark.parametrize("url", ["", None])
    def test_without_source(self, app, dataset, url):
        context = {"user": factories.Sysadmin()["name"]}
        if url is None:
            data = dict(dataset)
            data.pop("url", None)
            helpers.call_action("package_update", context=context, **data)
            assert helpers.call_action("package_show", id=dataset["id"]).get("url") is None
        else:
            helpers.call_action("package_patch", context=context, id=dataset["id"], url=url)
        for path in (tk.url_for("service-points.read", id=dataset["name"]),
                     tk.url_for("dataset.read", id=dataset["name"]),
                     "/en" + tk.url_for("service-points.read", id=dataset["name"])):
            res = app.get(path)
            assert res.status_code == 200
        assert "Source" not in _rows(res.get_data(as_text=True))

    def test_a_minimal_dataset(self, app, territories_loaded):
        context = {"user": factories.Sysadmin()["name"]}
        helpers.call_action(
            "package_create", context=context, type="service-points", name="mairies",
            owner_org=factories.Organization()["id"], domain="accueil-proximite",
            service_types=["mairie"], territory_level="national")
        body = app.get(tk.url_for("service-points.read", id="mairies")).get_data(as_text=True)
        rows = _rows(body)
        assert rows["Couverture territoriale"] == "France entière"
        assert set(rows) == {"Domaine", "Types de service", "Couverture territoriale",
                             "Niveau d&#39;accès"}

    def test_resource_page(self, app, dataset):
        resource = dataset["resources"][0]
        body = app.get(tk.url_for("service-points_resource.read", id=dataset["name"],
                                  resource_id=resource["id"])).get_data(as_text=True)
        text = _text(body)
        assert "Rôle Fichier de points" in text
        assert "Encodage des caractères utf-8" in text
        assert "Séparateur de colonnes Point-virgule ( ; )" in text
        assert "Système de coordonnées Lambert-93 (EPSG:2154)" in text
        assert "Correspondance des colonnes com_insee → insee_code lib_fs → name" in text
        assert "Validation Partiellement valide" in text
        assert f"Nombre de points 2{NNBSP}845" in text

    def test_resource_page_of_a_document(self, app, dataset):
        resource = dataset["resources"][1]
        body = app.get(tk.url_for("service-points_resource.read", id=dataset["name"],
                                  resource_id=resource["id"])).get_data(as_text=True)
        text = _text(body)
        assert "Rôle Documentation" in text
        assert "Nombre de points" not in text


class _PointsSummary(p.SingletonPlugin):
    """Stands for the servicespublics_points plugin's helper, with its
    contract: ``servicespublics_points_summary(resource_id, entries)`` gives a
    dict (or None for a resource that is not a point file)."""
    p.implements(p.ITemplateHelpers)

    def get_helpers(self):
        return {"servicespublics_points_summary": _summary}


def _summary(resource_id, entries=100):
    resource = helpers.call_action("resource_show", id=resource_id)
    if resource.get("role") != "point_file":
        return None
    return {"validation_status": "valid", "point_count": 2850, "running": False,
            "ingestion": {}, "entries": [], "entries_count": 0}


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.with_plugins({"test_points_summary": _PointsSummary})
@pytest.mark.usefixtures("with_plugins", "clean_index")
def test_live_figures_of_the_point_ingestion(app, dataset):
    resource = dataset["resources"][0]
    text = _text(app.get(tk.url_for("service-points_resource.read", id=dataset["name"],
                                    resource_id=resource["id"])).get_data(as_text=True))
    assert f"Nombre de points 2{NNBSP}850" in text
    assert "Validation Valide" in text
    text = _text(app.get(tk.url_for("service-points.read", id=dataset["name"]))
                 .get_data(as_text=True))
    assert f"Fichier de points · 2{NNBSP}850 points · Valide" in text
    # the documentation is no point file
    text = _text(app.get(tk.url_for("service-points_resource.read", id=dataset["name"],
                                    resource_id=dataset["resources"][1]["id"]))
                 .get_data(as_text=True))
    assert "Rôle Documentation" in text and "Validation" not in text


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_index")
class TestForm:
    def test_new_form(self, app, territories_loaded):
        user = factories.SysadminWithToken()
        factories.Organization(users=[{"name": user["name"], "capacity": "admin"}])
        res = app.get("/service-points/new", headers={"Authorization": user["token"]})
        assert res.status_code == 200
        body = res.get_data(as_text=True)
        assert '<label class="form-label" for="field-domain"><span class="control-required">' \
               '*</span> Domaine</label>' in body
        assert '<option value="securite"' in body
        assert "Sécurité et ordre public" in body
        assert re.search(r'<option id="field-service_types-gendarmerie"\s+value="gendarmerie"',
                         body)
        assert 'data-module-source="/servicespublics/territories/autocomplete?incomplete=?"' \
            in body
        assert '<option value="lov2" selected>' in body
        assert '<option value="public" selected>Publique</option>' in body

    def test_edit_form_of_a_dataset(self, app, dataset):
        user = factories.SysadminWithToken()
        res = app.get(tk.url_for("service-points.edit", id=dataset["name"]),
                      headers={"Authorization": user["token"]})
        body = res.get_data(as_text=True)
        assert re.search(r'<input id="field-territory_codes" type="text" '
                         r'name="territory_codes" value="35238,35288,05001"', body)
        assert '<option value="accueil-proximite" selected>' in body
        assert re.search(r'<option id="field-service_types-mairie"\s+value="mairie"\s+'
                         r'selected', body)

    def test_default_type_form(self, app, territories_loaded):
        user = factories.SysadminWithToken()
        factories.Organization(users=[{"name": user["name"], "capacity": "admin"}])
        body = app.get("/dataset/new", headers={"Authorization": user["token"]}) \
            .get_data(as_text=True)
        assert 'id="field-territory_codes"' in body
        assert 'for="field-frequency">Fréquence de mise à jour</label>' in body
        assert 'id="field-domain"' not in body

    def test_create_through_the_form(self, app, territories_loaded):
        user = factories.SysadminWithToken()
        org = factories.Organization(users=[{"name": user["name"], "capacity": "admin"}])
        headers = {"Authorization": user["token"]}
        form = app.get("/service-points/new", headers=headers).get_data(as_text=True)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
        res = app.post("/service-points/new", headers=headers, data={
            "_csrf_token": token, "title": "Bureaux de poste du Morbihan",
            "name": "bureaux-poste-56", "owner_org": org["id"], "domain": "interet-general",
            "service_types": ["bureau-poste", "agence-postale-communale"],
            "territory_level": "departement", "territory_codes": "56",
            "vintage": "2025-01-01", "frequency": "annual", "access_level": "public",
            "license_id": "lov2", "save": "continue", "pkg_name": "",
        }, follow_redirects=False)
        assert res.status_code == 302, res.get_data(as_text=True)[:2000]
        created = helpers.call_action("package_show", id="bureaux-poste-56")
        assert created["type"] == "service-points"
        assert created["service_types"] == ["bureau-poste", "agence-postale-communale"]
        assert created["territory_codes"] == ["56"]

    def test_form_errors_in_french(self, app, territories_loaded):
        user = factories.SysadminWithToken()
        org = factories.Organization(users=[{"name": user["name"], "capacity": "admin"}])
        headers = {"Authorization": user["token"]}
        form = app.get("/service-points/new", headers=headers).get_data(as_text=True)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
        res = app.post("/service-points/new", headers=headers, data={
            "_csrf_token": token, "title": "Mairies", "name": "mairies-x",
            "owner_org": org["id"], "domain": "accueil-proximite", "service_types": "mairie",
            "territory_level": "commune", "territory_codes": "35238, 99999",
            "save": "continue", "pkg_name": "",
        })
        body = res.get_data(as_text=True)
        assert "Codes de communes inconnus du Code officiel géographique : 99999" in body


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestApiInFrench:
    def test_unknown_commune_code(self, app):
        user = factories.SysadminWithToken()
        org = factories.Organization()
        res = app.post(tk.url_for("api.action", ver=3, logic_function="package_create"),
                       headers={"Authorization": user["token"]}, json={
                           "type": "service-points", "name": "x", "owner_org": org["id"],
                           "domain": "securite", "service_types": ["gendarmerie"],
                           "territory_level": "commune", "territory_codes": ["99999"]},
                       status=409)
        assert res.json["error"]["territory_codes"] == [
            "Codes de communes inconnus du Code officiel géographique : 99999"]


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins")
class TestTableSchema:
    def test_served_as_json(self, app):
        from ckanext.servicespublics.dataset import tableschema

        url = tk.url_for("servicespublics_dataset.tableschema")
        assert url == "/schemas/service-points/tableschema.json"
        res = app.get(url)
        assert res.status_code == 200
        assert res.headers["Content-Type"] == "application/json; charset=utf-8"
        assert res.headers["Access-Control-Allow-Origin"] == "*"
        schema = json.loads(res.get_data(as_text=True))
        assert schema == tableschema.load()
        assert [f["name"] for f in schema["fields"]] == list(tableschema.STANDARD_COLUMNS) == [
            "id", "name", "service_type", "address", "postcode", "insee_code", "latitude",
            "longitude", "x", "y", "opening_date", "closing_date", "status", "opening_hours",
            "phone", "email", "website"]
        fields = {f["name"]: f for f in schema["fields"]}
        assert fields["status"]["constraints"]["enum"] == [
            "open", "closed", "planned_opening", "planned_closure"]
        assert fields["latitude"]["type"] == "number"
        assert fields["opening_date"]["type"] == "date"
        assert fields["insee_code"]["constraints"]["pattern"] == "([0-9]{2}|2A|2B)[0-9]{3}"
        assert tableschema.REQUIRED_COLUMNS == ("name", "service_type")
        assert all(f["title"] and f["description"] for f in schema["fields"])

    def test_load_returns_a_copy(self):
        from ckanext.servicespublics.dataset import tableschema

        schema = tableschema.load()
        schema["fields"].clear()
        assert len(tableschema.load()["fields"]) == 17
        with pytest.raises(KeyError):
            tableschema.field("nom")

    def test_the_status_values_are_the_vocabulary(self):
        from ckanext.servicespublics.dataset import tableschema, vocabulary

        assert list(tableschema.POINT_STATUSES) == vocabulary.codes("point_statuses")
