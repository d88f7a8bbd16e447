"""Mapping of remote metadata: licences, frequencies, territories, text."""
from __future__ import annotations

import datetime

import pytest


@pytest.fixture
def mapping():
    from ckanext.servicespublics.harvesters import mapping

    return mapping


@pytest.mark.parametrize("remote, expected", [
    ("lov2", "lov2"), ("fr-lo", "fr-lo"), ("Licence Ouverte v2.0", "lov2"),
    ("Licence Ouverte v2.0 (Etalab)", "lov2"), ("Licence Ouverte (Etalab)", "lov2"),
    ("Open Licence 2.0", "lov2"), ("odc-odbl", "odc-odbl"),
    ("Open Database License (ODbL)", "odc-odbl"), ("ODbL", "odc-odbl"),
    ("cc-by", "cc-by"), ("CC BY 4.0", "cc-by"), ("CC-BY-SA 4.0", "cc-by-sa"),
    ("Creative Commons Attribution-NonCommercial", "cc-nc"), ("CC0", "cc-zero"),
    ("Open Government Licence v3.0", "other-open"), ("other-at", "other-at"),
    ("notspecified", "notspecified"), ("", "notspecified"), (None, "notspecified"),
    (["lov2"], "notspecified"),
])
def test_licences(mapping, remote, expected):
    assert mapping.map_license(remote) == expected


@pytest.mark.parametrize("remote, expected", [
    ("weekly", "weekly"), ("monthly", "monthly"), ("punctual", "punctual"),
    ("fourTimesADay", "continuous"), ("threeTimesAWeek", "daily"),
    ("biweekly", "weekly"), ("bimonthly", "monthly"), ("threeTimesAYear", "quarterly"),
    ("biennial", "irregular"), ("http://purl.org/cld/freq/daily", "daily"),
    ("http://publications.europa.eu/resource/authority/frequency/ANNUAL", "annual"),
    ("Mensuelle", "monthly"), ("", "unknown"), ("sometimes", "unknown"), (3, "unknown"),
])
def test_frequencies(mapping, remote, expected):
    assert mapping.map_frequency(remote) == expected


@pytest.mark.parametrize("zones, expected", [
    (["fr:commune:35238"], ("commune", ["35238"])),
    (["fr:commune:2A004@1943-01-01", "fr:commune:35238"], ("commune", ["2A004", "35238"])),
    (["fr:departement:35", "fr:commune:35238"], ("departement", ["35"])),
    (["fr:departement:971", "fr:departement:2b"], ("departement", ["2B", "971"])),
    (["fr:region:53"], ("region", ["53"])),
    (["fr:epci:200039865"], ("epci", ["200039865"])),
    (["country:fr"], ("national", [])),
    (["fr:region:53", "country:fr"], ("national", [])),
    (["fr:commune:nope", "country-group:world", 12], (None, [])),
    ([], (None, [])),
])
def test_zones(mapping, zones, expected):
    assert mapping.map_zones(zones) == expected


def test_html_to_markdown(mapping):
    html = ('<p>Les <strong>écoles</strong> et <a href="https://example.org/c">collèges'
            '</a>&nbsp;:</p><ul><li>publics</li><li>privés</li></ul><script>x()</script>')
    assert mapping.html_to_markdown(html) == (
        "Les **écoles** et [collèges](https://example.org/c) :\n\n- publics\n- privés")
    # Markdown (data.gouv.fr) is left as it is
    text = "### Titre\n\n- un *point* < deux"
    assert mapping.html_to_markdown(text) == text
    assert mapping.html_to_markdown(None) == ""


def test_tags(mapping):
    assert mapping.clean_tags(["École", "école", "Administration, Government", "x",
                               "a/b", None, 3, "  "]) == [
        {"name": "École"}, {"name": "Administration Government"}, {"name": "a b"}]


def test_dates(mapping):
    assert mapping.parse_datetime("2025-04-07T06:15:30.658000+00:00") == datetime.datetime(
        2025, 4, 7, 6, 15, 30, 658000)
    assert mapping.parse_datetime("2023-06-04 10:25:23.022766+02") == datetime.datetime(
        2023, 6, 4, 8, 25, 23, 22766)
    assert mapping.iso_date("2021-04-02") == "2021-04-02"
    with pytest.raises(TypeError):
        mapping.parse_datetime(20210402)
    with pytest.raises(TypeError):
        mapping.parse_datetime("hier")


def test_rules(mapping):
    rules = mapping.validate_rules([
        {"match": {"tags": ["france-services"]}, "service_types": ["france-services"],
         "domain": "accueil-proximite"},
        {"match": {"title": "gendarmerie", "organizations": ["ministere-interieur"]},
         "service_types": ["gendarmerie"], "domain": "securite",
         "territory_level": "departement", "territory_codes": ["35"]},
        {"match": {"title": "brigade|gendarmerie"}, "service_types": ["commissariat"],
         "domain": "securite"},
    ])
    assert mapping.match_rules(rules, {"tags": ["France-Services"], "title": "x"}) == {
        "service_types": ["france-services"], "domain": "accueil-proximite",
        "territory_level": None, "territory_codes": None, "point_file_pattern": None}
    both = mapping.match_rules(rules, {"title": "Brigades de Gendarmerie",
                                       "organization": ["Ministere-Interieur"]})
    assert both["service_types"] == ["gendarmerie", "commissariat"]
    assert both["territory_level"] == "departement"
    assert mapping.match_rules(rules, {"title": "Gendarmerie", "organization": []})[
        "service_types"] == ["commissariat"]
    assert mapping.match_rules(rules, {"title": "Mairies"}) is None


def test_coordinates(mapping):
    assert mapping.columns_have_coordinates(["nom", "latitude", "longitude"])
    assert mapping.columns_have_coordinates(["nom", "lat", "lng"])
    assert mapping.columns_have_coordinates(["geo_point_2d"])
    assert mapping.columns_have_coordinates(["a", "b"], ["latitude_wgs", "longitude_wgs"])
    assert not mapping.columns_have_coordinates(["nom", "latitude"])
    assert not mapping.columns_have_coordinates(["code", "valeur"], ["string", "int"])
