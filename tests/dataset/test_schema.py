"""The dataset schemas: every field of the service-point datasets, valid and
invalid values, defaults, normalisation, and the default ``dataset`` type.

Actions are called without a request, so messages are the English msgids
(the French ones come from the catalogue, see test_pages.py).
"""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from tests.territories.fixtures import ensure_loaded

PLUGINS = "activity servicespublics servicespublics_search servicespublics_dataset " \
          "scheming_datasets"

VALID = {
    "type": "service-points",
    "title": "Brigades de gendarmerie de Bretagne",
    "notes": "Les brigades territoriales et leurs horaires.",
    "domain": "securite",
    "service_types": ["gendarmerie", "commissariat"],
    "territory_level": "departement",
    "territory_codes": ["35", "56"],
    "vintage": "2026-01-01",
    "temporal_start": "2020-01-01",
    "temporal_end": "2025-12-31",
    "frequency": "annual",
    "access_level": "restricted",
    "url": "https://www.data.gouv.fr/fr/datasets/brigades/",
    "license_id": "odc-odbl",
    "contact_name": "Service de la donnée",
    "contact_email": "donnees@interieur.gouv.fr",
}


@pytest.fixture
def producer():
    org = factories.Organization(name="ministere-interieur", title="Ministère de l'Intérieur")
    user = factories.Sysadmin()
    return {"org": org, "context": {"user": user["name"], "ignore_auth": True}}


def _create(producer, name="brigades", **fields):
    data = dict(VALID, name=name, owner_org=producer["org"]["id"])
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return helpers.call_action("package_create", context=dict(producer["context"]), **data)


def _errors(producer, **fields):
    with pytest.raises(tk.ValidationError) as e:
        _create(producer, **fields)
    return e.value.error_dict


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestServicePointFields:
    def test_a_complete_dataset(self, producer):
        dataset = _create(producer)
        shown = helpers.call_action("package_show", id=dataset["id"])
        for key in ("domain", "territory_level", "vintage", "temporal_start", "temporal_end",
                    "frequency", "access_level", "url", "license_id", "contact_name",
                    "contact_email"):
            assert shown[key] == VALID[key], key
        assert shown["type"] == "service-points"
        assert shown["service_types"] == ["gendarmerie", "commissariat"]
        assert shown["territory_codes"] == ["35", "56"]
        assert shown["license_title"] == "Open Database License (ODbL)"
        # the extent is the bounding box of the two départements
        assert shown["spatial_origin"] == "territories"
        extent = json.loads(shown["spatial"])
        assert extent["type"] == "Polygon"
        (west, south), _, (east, north) = extent["coordinates"][0][:3]
        assert -3.8 < west < -3.6 and 47.2 < south < 47.4
        assert -1.1 < east < -0.9 and 48.6 < north < 48.8

    def test_defaults(self, producer):
        dataset = _create(producer, access_level=None, license_id=None)
        assert dataset["access_level"] == "public"
        assert dataset["license_id"] == "lov2"
        assert dataset["license_title"] == "Licence Ouverte / Open Licence version 2.0"
        dataset = _create(producer, name="brigades-2", access_level="", license_id="")
        assert (dataset["access_level"], dataset["license_id"]) == ("public", "lov2")

    def test_required_fields(self, producer):
        errors = _errors(producer, domain=None, service_types=None, territory_level=None,
                         territory_codes=None)
        assert errors["domain"] == ["Missing value"]
        assert errors["service_types"] == ["Select at least one service type"]
        assert errors["territory_level"] == ["Missing value"]
        assert _errors(producer, service_types=[])["service_types"] \
            == ["Select at least one service type"]

    def test_optional_fields(self, producer):
        dataset = _create(producer, vintage=None, temporal_start=None, temporal_end=None,
                          frequency=None, url=None, contact_name=None, contact_email=None,
                          notes=None)
        for key in ("vintage", "temporal_start", "temporal_end", "frequency",
                    "contact_name", "contact_email"):
            assert key not in dataset, key
        assert dataset.get("url") is None

    @pytest.mark.parametrize("field, value, message", [
        ("domain", "police",
         "Unknown value: police (expected one of: securite, justice, sante-social, "
         "education-culture-sport, emploi-travail, finances-publiques, "
         "services-deconcentres, accueil-proximite, interet-general)"),
        ("service_types", ["gendarmerie", "ovni", "soucoupe"],
         "Unknown service type(s): ovni, soucoupe. See the list of service types "
         "(API: servicespublics_vocabulary_show)"),
        ("service_types", {"a": 1}, "Expected a list of codes"),
        ("territory_level", "canton",
         "Unknown value: canton (expected one of: commune, epci, departement, region, "
         "national)"),
        ("vintage", "2024-13-01",
         "Invalid date: 2024-13-01 (expected YYYY-MM-DD, such as 2024-08-01)"),
        ("vintage", "01/08/2024",
         "Invalid date: 01/08/2024 (expected YYYY-MM-DD, such as 2024-08-01)"),
        ("temporal_start", "hier",
         "Invalid date: hier (expected YYYY-MM-DD, such as 2024-08-01)"),
        ("temporal_end", "2019-06-30",
         "The end of the temporal coverage (2019-06-30) is before its start (2020-01-01)"),
        ("frequency", "sometimes",
         "Unknown update frequency: sometimes (expected one of: continuous, daily, weekly, "
         "monthly, quarterly, semiannual, annual, punctual, irregular, unknown)"),
        ("access_level", "secret",
         "Unknown value: secret (expected one of: public, restricted, private)"),
        ("url", "ftp://example.org/x.csv",
         "Invalid URL: ftp://example.org/x.csv (expected an address starting with http:// "
         "or https://)"),
        ("url", "www.data.gouv.fr",
         "Invalid URL: www.data.gouv.fr (expected an address starting with http:// "
         "or https://)"),
        ("license_id", "wtfpl",
         "Unknown licence: wtfpl (expected one of: lov2, fr-lo, odc-odbl, odc-by, "
         "odc-pddl, cc-by, cc-by-sa, cc-zero, other-open, other-at, other-pd, "
         "other-closed, notspecified)"),
        ("contact_email", "pas-une-adresse", "Email pas-une-adresse is not a valid format"),
        ("spatial", "{", "Invalid GeoJSON: the extent is not valid JSON"),
        ("spatial", '{"type": "Feature"}',
         "Invalid GeoJSON: expected a geometry (Polygon, MultiPolygon, Point…) in "
         "longitude/latitude"),
        ("spatial", '{"type": "Point", "coordinates": [652000, 6860000]}',
         "Invalid GeoJSON: coordinates must be longitudes and latitudes in degrees (WGS 84)"),
        ("spatial", '{"type": "Polygon", "coordinates": [[1, 2]]}',
         "Invalid GeoJSON: the coordinates of the geometry are invalid"),
    ])
    def test_invalid_values(self, producer, field, value, message):
        assert _errors(producer, **{field: value})[field] == [message]

    @pytest.mark.parametrize("level, codes, message", [
        ("commune", ["35238", "99999", "35999"],
         "Unknown commune code(s) in the Code officiel géographique: 99999, 35999"),
        ("commune", ["3523", "Rennes"],
         "Invalid commune code(s): 3523, RENNES (expected 5 characters, such as 35238 or "
         "2A004)"),
        ("epci", ["243500139", "123"],
         "Invalid EPCI code(s): 123 (expected the 9-digit SIREN number, such as 243500139)"),
        ("epci", ["200000000"], "Unknown EPCI code(s) (SIREN): 200000000"),
        ("departement", ["35", "99"], "Unknown département code(s): 99"),
        ("departement", ["3"],
         "Invalid département code(s): 3 (expected 2 or 3 characters, such as 35, 2A or 974)"),
        ("region", ["53", "35"], "Unknown région code(s): 35"),
        ("region", ["2A"], "Invalid région code(s): 2A (expected 2 or 3 digits, such as 53)"),
        ("national", ["35"], "A national coverage takes no territory code"),
        ("departement", [], "Give the code of at least one territory of this level"),
        ("region", None, "Give the code of at least one territory of this level"),
    ])
    def test_invalid_territories(self, producer, level, codes, message):
        errors = _errors(producer, territory_level=level, territory_codes=codes)
        assert errors == {"territory_codes": [message]}

    def test_merged_commune_codes_become_the_current_ones(self, producer):
        # 2016 codes of the DILA directory: Ristolas (05120) is now part of
        # Abriès-Ristolas (05001), Sainte-Marie (05069) of Garde-Colombe (05053)
        dataset = _create(producer, territory_level="commune",
                          territory_codes=["05120", "05069", "35238", "05001", "75112"])
        assert dataset["territory_codes"] == ["05001", "05053", "35238", "75112"]

    def test_codes_as_text_and_corsica(self, producer):
        dataset = _create(producer, territory_codes="35, 56;2a 29")
        assert dataset["territory_codes"] == ["35", "56", "2A", "29"]
        dataset = _create(producer, name="brigades-2", territory_codes='["22"]',
                          service_types="gendarmerie")
        assert dataset["territory_codes"] == ["22"]
        assert dataset["service_types"] == ["gendarmerie"]

    def test_national_and_epci_coverage(self, producer):
        dataset = _create(producer, territory_level="national", territory_codes=None)
        assert "territory_codes" not in dataset
        assert "spatial" not in dataset
        dataset = _create(producer, name="metropole", territory_level="epci",
                          territory_codes=["243500139"])
        assert dataset["territory_codes"] == ["243500139"]

    def test_normalised_values(self, producer):
        dataset = _create(producer, vintage="2024-08-01T00:00:00", frequency="biweekly",
                          temporal_end="2025-12-31 23:59:59", service_types=[
                              "commissariat", "gendarmerie", "commissariat"])
        assert dataset["vintage"] == "2024-08-01"
        assert dataset["temporal_end"] == "2025-12-31"
        # data.gouv.fr's "biweekly" is our "weekly"
        assert dataset["frequency"] == "weekly"
        assert dataset["service_types"] == ["commissariat", "gendarmerie"]

    def test_unknown_codes_without_the_reference(self, producer):
        from ckan.model import meta

        meta.Session.execute(sa.text("DELETE FROM servicespublics_dataset_territory"))
        meta.Session.commit()
        try:
            errors = _errors(producer)
            assert errors["territory_codes"] == [
                "The territorial reference is not loaded, territory codes cannot be checked "
                "(run: ckan servicespublics territories load)"]
        finally:
            ensure_loaded()


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestSpatialExtent:
    def test_given_extent_is_kept(self, producer):
        point = '{"type": "Point", "coordinates": [-1.68, 48.11]}'
        dataset = _create(producer, spatial=point)
        assert json.loads(dataset["spatial"]) == json.loads(point)
        assert dataset["spatial_origin"] == "manual"

    def test_computed_extent_follows_the_territories(self, producer):
        dataset = _create(producer, territory_codes=["35"])
        before = json.loads(dataset["spatial"])
        dataset = helpers.call_action("package_patch", context=dict(producer["context"]),
                                      id=dataset["id"], territory_codes=["35", "29"])
        after = json.loads(dataset["spatial"])
        assert after["coordinates"][0][0][0] < before["coordinates"][0][0][0] - 1
        assert dataset["spatial_origin"] == "territories"
        # communes have no boundaries loaded: no extent rather than a wrong one
        dataset = helpers.call_action("package_patch", context=dict(producer["context"]),
                                      id=dataset["id"], territory_level="commune",
                                      territory_codes=["35238"])
        assert "spatial" not in dataset and "spatial_origin" not in dataset

    def test_extent_of_the_points_is_kept(self, producer):
        dataset = _create(producer, territory_codes=["35"])
        points = '{"type": "Polygon", "coordinates": [[[-1.7, 48.1], [-1.6, 48.1], ' \
                 '[-1.6, 48.2], [-1.7, 48.2], [-1.7, 48.1]]]}'
        dataset = helpers.call_action("package_patch", context=dict(producer["context"]),
                                      id=dataset["id"], spatial=points, spatial_origin="points")
        assert dataset["spatial_origin"] == "points"
        dataset = helpers.call_action("package_patch", context=dict(producer["context"]),
                                      id=dataset["id"], territory_codes=["35", "56"])
        assert json.loads(dataset["spatial"]) == json.loads(points)
        assert dataset["spatial_origin"] == "points"

    def test_bad_origin(self, producer):
        assert _errors(producer, spatial_origin="guess")["spatial_origin"] == [
            "Unknown value: guess (expected one of: territories, points, manual)"]


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestResourceFields:
    def _resource(self, producer, **fields):
        dataset = _create(producer)
        data = {"package_id": dataset["id"], "url": "https://example.org/brigades.csv",
                "format": "CSV", "name": "Brigades"}
        data.update(fields)
        return helpers.call_action("resource_create", context=dict(producer["context"]),
                                   **data)

    def _error(self, producer, **fields):
        with pytest.raises(tk.ValidationError) as e:
            self._resource(producer, **fields)
        return e.value.error_dict

    def test_a_point_file(self, producer):
        resource = self._resource(
            producer, role="point_file", encoding="UTF8", delimiter="semicolon",
            crs="lambert93",
            column_mapping={"name": "Nom de la brigade", "insee_code": "Code commune ",
                            "x": "X_L93", "y": "Y_L93"},
            validation_status="partial", point_count=2845)
        assert resource["role"] == "point_file"
        assert resource["encoding"] == "utf-8"
        assert resource["delimiter"] == ";"
        assert resource["crs"] == "EPSG:2154"
        assert resource["column_mapping"] == {"name": "Nom de la brigade",
                                              "insee_code": "Code commune",
                                              "x": "X_L93", "y": "Y_L93"}
        assert resource["validation_status"] == "partial"
        assert resource["point_count"] == 2845

    @pytest.mark.parametrize("given, stored", [
        ("latin1", "iso-8859-1"), ("cp1252", "windows-1252"), ("utf-8-sig", "utf-8-sig"),
    ])
    def test_encodings(self, producer, given, stored):
        assert self._resource(producer, encoding=given)["encoding"] == stored

    @pytest.mark.parametrize("given, stored", [
        (",", ","), ("tab", "\t"), ("\t", "\t"), ("Point-virgule", ";"), ("|", "|"),
    ])
    def test_delimiters(self, producer, given, stored):
        assert self._resource(producer, delimiter=given)["delimiter"] == stored

    @pytest.mark.parametrize("given, stored", [
        ("EPSG:4326", "EPSG:4326"), ("4326", "EPSG:4326"), ("wgs84", "EPSG:4326"),
        ("2154", "EPSG:2154"), ("epsg:2154", "EPSG:2154"),
    ])
    def test_coordinate_systems(self, producer, given, stored):
        assert self._resource(producer, crs=given)["crs"] == stored

    def test_the_richer_mappings_of_the_point_ingestion(self, producer):
        # the France Services list of the demo (see points/mapping.py)
        mapping = {
            "id": "id_fs", "name": "lib_fs", "service_type": "=france-services",
            "address": ["adresse", "complement_adresse"], "postcode": "code_postal",
            "latitude": "geo.latitude", "phone": None,
            "opening_hours": {"columns": {"lundi": "h_lundi", "mardi": "h_mardi"}},
            "opening_date": {"column": "labellisation_fs",
                             "pattern": "(\\d{2}/\\d{2}/\\d{4})"},
            "status_values": {"OUVERT": "open", "*": None}, "crs": "epsg", "extra": False,
        }
        resource = self._resource(producer, column_mapping=json.dumps(mapping))
        assert resource["column_mapping"] == mapping

    def test_mapping_as_json_text(self, producer):
        resource = self._resource(producer, column_mapping='{"latitude": "lat", '
                                                           '"longitude": "lon"}')
        assert resource["column_mapping"] == {"latitude": "lat", "longitude": "lon"}

    @pytest.mark.parametrize("field, value, message", [
        ("role", "data", "Unknown value: data (expected one of: point_file, documentation, "
                         "other)"),
        ("encoding", "klingon", "Unknown character encoding: klingon (such as utf-8, "
                                "iso-8859-1 or windows-1252)"),
        ("delimiter", "#", "Unknown delimiter: # (expected a comma, a semicolon, a tab or "
                           "a vertical bar)"),
        ("crs", "EPSG:27572", "Unsupported coordinate system: EPSG:27572 (expected "
                              "EPSG:4326, WGS 84 longitude/latitude, or EPSG:2154, "
                              "Lambert-93)"),
        ("column_mapping", {"nom": "Nom", "name": "Nom", "lat": "y"},
         "Invalid column mapping: nom, lat not standard column(s) (expected: id, name, "
         "service_type, address, postcode, insee_code, latitude, longitude, x, y, "
         "opening_date, closing_date, status, opening_hours, phone, email, website)"),
        ("column_mapping", "{name: Nom}", "Invalid column mapping: not valid JSON"),
        ("column_mapping", '["name"]', 'Invalid column mapping: expected a JSON object such '
                                      'as {"name": "Nom", "insee_code": "COG"}'),
        ("column_mapping", {"name": ""},
         "Invalid column mapping: the column of the file is missing for name"),
        ("column_mapping", {"nom_values": {"a": "b"}},
         "Invalid column mapping: nom_values not standard column(s) (expected: id, name, "
         "service_type, address, postcode, insee_code, latitude, longitude, x, y, "
         "opening_date, closing_date, status, opening_hours, phone, email, website)"),
        ("column_mapping", {"name": {"colonne": "Nom"}},
         "Invalid column mapping: « name » : clé(s) inconnue(s) colonne (clés possibles : "
         "column, columns, value, values, pattern, format, separator, default)"),
        ("validation_status", "ok", "Unknown value: ok (expected one of: pending, valid, "
                                    "partial, invalid, error)"),
        ("point_count", -3, "Must be a natural number"),
        ("point_count", "beaucoup", "Invalid integer"),
    ])
    def test_invalid_values(self, producer, field, value, message):
        assert self._error(producer, **{field: value}) == {field: [message]}

    def test_computed_fields_survive_a_form_edit(self, producer):
        resource = self._resource(producer, role="point_file", validation_status="valid",
                                  point_count=12)
        # the resource form sends neither field
        updated = helpers.call_action(
            "resource_update", context=dict(producer["context"]), id=resource["id"],
            url=resource["url"], name="Brigades (mise à jour)", format="CSV",
            role="point_file")
        assert (updated["validation_status"], updated["point_count"]) == ("valid", 12)
        # the point ingestion changes them explicitly, an empty value clears them
        updated = helpers.call_action(
            "resource_patch", context=dict(producer["context"]), id=resource["id"],
            validation_status="pending", point_count="")
        assert updated["validation_status"] == "pending"
        assert "point_count" not in updated


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestVocabularyExtension:
    def test_extra_service_types(self, producer, ckan_config, monkeypatch, tmp_path):
        from ckanext.servicespublics.dataset import vocabulary

        path = tmp_path / "vocabulary.yaml"
        path.write_text(
            "service_types:\n"
            "  - code: maison-sante\n"
            "    domain: sante-social\n"
            "    label: {fr: \"Maison de santé pluriprofessionnelle\", en: \"Health centre\"}\n"
            "  - code: mairie\n"
            "    domain: accueil-proximite\n"
            "    label: Hôtel de ville\n", encoding="utf-8")
        monkeypatch.setitem(ckan_config, vocabulary.CONFIG_KEY, str(path))
        dataset = _create(producer, domain="sante-social",
                          service_types=["maison-sante", "hopital"])
        assert dataset["service_types"] == ["maison-sante", "hopital"]
        assert vocabulary.label("service_types", "maison-sante") \
            == "Maison de santé pluriprofessionnelle"
        assert vocabulary.label("service_types", "mairie", "en") == "Hôtel de ville"
        assert len(vocabulary.codes("service_types")) == 42

    @pytest.mark.parametrize("content, message", [
        ("service_types:\n  - {code: x-ray, domain: radiologie, label: Radio}\n",
         "service type 'x-ray' has an unknown domain 'radiologie'"),
        ("service_types:\n  - {code: Maison Santé, domain: sante-social, label: M}\n",
         "needs a code made of lowercase letters"),
        ("service_types:\n  - {code: maison-sante, domain: sante-social}\n",
         "'maison-sante' needs a label"),
        ("colours: []\n", "unknown key(s) colours"),
        ("[1, 2]\n", "expected a mapping"),
        ("service_types: [\n", "Invalid vocabulary file"),
    ])
    def test_bad_files(self, ckan_config, monkeypatch, tmp_path, content, message):
        from ckanext.servicespublics.dataset import vocabulary

        path = tmp_path / "vocabulary.yaml"
        path.write_text(content, encoding="utf-8")
        monkeypatch.setitem(ckan_config, vocabulary.CONFIG_KEY, str(path))
        with pytest.raises(vocabulary.VocabularyError, match=message.replace("(", r"\(")
                           .replace(")", r"\)")):
            vocabulary.load()
        monkeypatch.setitem(ckan_config, vocabulary.CONFIG_KEY, str(tmp_path / "absent.yaml"))
        with pytest.raises(vocabulary.VocabularyError, match="Cannot read"):
            vocabulary.load()

    def test_datagouv_frequencies(self):
        from ckanext.servicespublics.dataset import vocabulary

        assert vocabulary.frequency_from_datagouv("threeTimesAYear") == "quarterly"
        assert vocabulary.frequency_from_datagouv("hourly") == "continuous"
        assert vocabulary.frequency_from_datagouv("quinquennial") == "annual"
        assert vocabulary.frequency_from_datagouv("punctual") == "punctual"
        assert vocabulary.frequency_from_datagouv("fortnightly") is None


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestDefaultDatasetType:
    def test_core_factories_still_validate(self):
        org = factories.Organization()
        dataset = factories.Dataset(owner_org=org["id"])
        assert dataset["type"] == "dataset"
        assert dataset["access_level"] == "public"
        resource = factories.Resource(package_id=dataset["id"])
        assert resource["package_id"] == dataset["id"]
        dataset = factories.Dataset(owner_org=org["id"], license_id="cc-by", url="",
                                    tags=[{"name": "population"}], extras=[
                                        {"key": "source", "value": "INSEE"}])
        assert dataset["license_id"] == "cc-by"
        assert dataset["extras"] == [{"key": "source", "value": "INSEE"}]

    def test_optional_fields(self, producer):
        dataset = helpers.call_action(
            "package_create", context=dict(producer["context"]), name="population-2023",
            title="Population légale 2023", owner_org=producer["org"]["id"],
            territory_level="region", territory_codes=["53"], vintage="2023-01-01",
            frequency="annual", contact_email="insee@example.org", url="insee.fr")
        assert dataset["type"] == "dataset"
        assert dataset["territory_codes"] == ["53"]
        # spatial is a free extra in the default type (ckanext-spatial's way)
        extras = {e["key"]: e["value"] for e in dataset["extras"]}
        assert extras["spatial_origin"] == "territories"
        assert json.loads(extras["spatial"])["type"] == "Polygon"
        # the source is free text in the default type
        assert dataset["url"] == "insee.fr"
        assert "domain" not in dataset

    def test_spatial_extra(self, producer):
        extent = '{"type": "Point", "coordinates": [-1.68, 48.11]}'
        dataset = helpers.call_action(
            "package_create", context=dict(producer["context"]), name="budget",
            owner_org=producer["org"]["id"], territory_level="departement",
            territory_codes=["35"], extras=[{"key": "spatial", "value": extent}])
        assert dataset.get("extras") == [{"key": "spatial", "value": extent}]
        # an extent computed from the territories follows them...
        dataset = helpers.call_action(
            "package_patch", context=dict(producer["context"]), id=dataset["id"], extras=[])
        extras = {e["key"]: e["value"] for e in dataset["extras"]}
        assert extras["spatial_origin"] == "territories"
        dataset = helpers.call_action(
            "package_patch", context=dict(producer["context"]), id=dataset["id"],
            territory_level="national", territory_codes=[])
        assert dataset.get("extras", []) == []
        # ...until the producer gives one
        dataset = helpers.call_action(
            "package_patch", context=dict(producer["context"]), id=dataset["id"],
            territory_level="region", territory_codes=["53"])
        extras = {e["key"]: e["value"] for e in dataset["extras"]}
        assert extras["spatial_origin"] == "territories"
        dataset = helpers.call_action(
            "package_patch", context=dict(producer["context"]), id=dataset["id"],
            extras=[{"key": "spatial", "value": extent},
                    {"key": "spatial_origin", "value": "territories"}])
        assert dataset.get("extras") == [{"key": "spatial", "value": extent}]

    def test_codes_need_a_level(self, producer):
        with pytest.raises(tk.ValidationError) as e:
            helpers.call_action(
                "package_create", context=dict(producer["context"]), name="budget",
                owner_org=producer["org"]["id"], territory_codes=["35"])
        assert e.value.error_dict == {
            "territory_codes": ["Choose the level of the territorial coverage first"]}
