"""Field by field: what the profile writes, and what it reads from others."""
from __future__ import annotations

import json

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SKOS, XSD

from ckan.tests import helpers

from . import conftest, realdata

EU = "http://publications.europa.eu/resource/authority/"
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"


def _u(prefix: str, name: str) -> URIRef:
    return URIRef(prefix + name)


def _serialize(dataset: dict) -> tuple[Graph, URIRef]:
    from ckanext.dcat.processors import RDFSerializer

    serializer = RDFSerializer()
    ref = serializer.graph_from_dataset(dataset)
    return serializer.g, ref


def _parse(turtle: str) -> list[dict]:
    from ckanext.dcat.processors import RDFParser

    parser = RDFParser()
    parser.parse(turtle, _format="turtle")
    return list(parser.datasets())


def _extras(dataset: dict) -> dict:
    return {e["key"]: e["value"] for e in dataset.get("extras", [])}


@pytest.fixture
def dila05(sysadmin, organizations) -> dict:
    return conftest.create(sysadmin, realdata.dila_departement("05", "les Hautes-Alpes"))


@conftest.configure
class TestWrite:
    def test_frequency(self, dila05):
        for code, eu in (
                ("continuous", "UPDATE_CONT"), ("daily", "DAILY"), ("weekly", "WEEKLY"),
                ("monthly", "MONTHLY"), ("quarterly", "QUARTERLY"), ("semiannual", "ANNUAL_2"),
                ("annual", "ANNUAL"), ("punctual", "NEVER"), ("irregular", "IRREG"),
                ("unknown", "UNKNOWN")):
            dataset = helpers.call_action("package_patch", id=dila05["id"], frequency=code)
            graph, ref = _serialize(dataset)
            uri = _u(EU, f"frequency/{eu}")
            assert list(graph.objects(ref, _u(DCT, "accrualPeriodicity"))) == [uri], code
            assert (uri, RDF.type, _u(DCT, "Frequency")) in graph
            assert (uri, SKOS.inScheme, _u(EU, "frequency")) in graph

    def test_licence_on_every_distribution(self, dila05):
        for license_id, uri, types in (
                ("lov2", "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
                 {"Attribution"}),
                ("odc-odbl", "http://opendatacommons.org/licenses/odbl/1-0/",
                 {"Attribution", "ShareAlike"})):
            dataset = helpers.call_action("package_patch", id=dila05["id"],
                                          license_id=license_id)
            graph, ref = _serialize(dataset)
            distributions = list(graph.objects(ref, _u(DCAT, "distribution")))
            assert distributions
            for distribution in distributions:
                assert list(graph.objects(distribution, _u(DCT, "license"))) == [URIRef(uri)]
            assert (URIRef(uri), RDF.type, _u(DCT, "LicenseDocument")) in graph
            assert {str(t).rsplit("/", 1)[1]
                    for t in graph.objects(URIRef(uri), _u(DCT, "type"))} == types

    def test_byte_size_is_a_decimal_and_reads_back(self, dila05):
        """SEMIC's DCAT-AP 3.0.0 shapes.ttl and 2.1.1 want xsd:decimal (an
        uploaded file always has a size)."""
        resource = dila05["resources"][0]
        dataset = helpers.call_action("package_patch", id=dila05["id"], resources=[
            dict(resource, size=123456)])
        graph, ref = _serialize(dataset)
        distribution = next(graph.objects(ref, _u(DCAT, "distribution")))
        sizes = list(graph.objects(distribution, _u(DCAT, "byteSize")))
        assert [(int(float(s)), s.datatype) for s in sizes] == [(123456, XSD.decimal)]
        read = _parse(graph.serialize(format="turtle"))[0]
        assert [r.get("size") for r in read["resources"]] == [123456]

    def test_territory(self, dila05):
        for level, codes, uris in (
                ("commune", ["35238", "2A004"], ["commune/35238", "commune/2A004"]),
                ("epci", ["243500139"], ["intercommunalite/243500139"]),
                ("departement", ["2B", "971"], ["departement/2B", "departement/971"]),
                ("region", ["53"], ["region/53"])):
            dataset = helpers.call_action("package_patch", id=dila05["id"],
                                          territory_level=level, territory_codes=codes)
            graph, ref = _serialize(dataset)
            expected = {URIRef("http://id.insee.fr/geo/" + u) for u in uris}
            spatial = set(graph.objects(ref, _u(DCT, "spatial")))
            assert expected <= spatial, level
            for uri in expected:
                assert (uri, RDF.type, _u(DCT, "Location")) in graph
            # plus the extent of the points, with its box and centre
            extent = [s for s in spatial if s not in expected]
            assert len(extent) == 1
            for prop in ("http://www.w3.org/ns/locn#geometry", DCAT + "bbox",
                         DCAT + "centroid"):
                value = graph.value(extent[0], URIRef(prop))
                assert value.datatype == URIRef(
                    "http://www.opengis.net/ont/geosparql#wktLiteral")
            assert str(graph.value(extent[0], _u(DCAT, "bbox"))).startswith("POLYGON ((")

    def test_national_territory(self, dila05):
        dataset = helpers.call_action("package_patch", id=dila05["id"],
                                      territory_level="national", territory_codes=[])
        graph, ref = _serialize(dataset)
        france = _u(EU, "country/FRA")
        assert france in set(graph.objects(ref, _u(DCT, "spatial")))
        assert (france, SKOS.inScheme, _u(EU, "country")) in graph

    def test_vintage_and_temporal_coverage(self, dila05):
        graph, ref = _serialize(dila05)
        assert graph.value(ref, _u(DCT, "issued")) == Literal("2016-02-26", datatype=XSD.date)
        periods = list(graph.objects(ref, _u(DCT, "temporal")))
        assert len(periods) == 1
        assert graph.value(periods[0], _u(DCAT, "startDate")) == Literal(
            "2004-09-16", datatype=XSD.date)
        assert graph.value(periods[0], _u(DCAT, "endDate")) == Literal(
            "2016-02-17", datatype=XSD.date)

    def test_vintage_alone_is_the_temporal_coverage(self, dila05):
        dataset = helpers.call_action("package_patch", id=dila05["id"],
                                      temporal_start="", temporal_end="")
        graph, ref = _serialize(dataset)
        (period,) = graph.objects(ref, _u(DCT, "temporal"))
        assert graph.value(period, _u(DCAT, "startDate")) == Literal(
            "2016-02-26", datatype=XSD.date)
        assert graph.value(period, _u(DCAT, "endDate")) == Literal(
            "2016-02-26", datatype=XSD.date)

    def test_access_contact_publisher_themes(self, dila05, organizations):
        dataset = helpers.call_action("package_patch", id=dila05["id"],
                                      access_level="restricted")
        graph, ref = _serialize(dataset)
        assert list(graph.objects(ref, _u(DCT, "accessRights"))) == [
            _u(EU, "access-right/RESTRICTED")]
        publisher = graph.value(ref, _u(DCT, "publisher"))
        assert str(graph.value(publisher, URIRef("http://xmlns.com/foaf/0.1/name"))) == \
            organizations["dila"]["title"]
        contact = graph.value(ref, _u(DCAT, "contactPoint"))
        vcard = "http://www.w3.org/2006/vcard/ns#"
        assert str(graph.value(contact, URIRef(vcard + "fn"))) == \
            "DILA, annuaire de l'administration"
        assert graph.value(contact, URIRef(vcard + "hasEmail")) == URIRef(
            "mailto:annuaire@example.org")
        themes = {str(t) for t in graph.objects(ref, _u(DCAT, "theme"))}
        site = "http://test.ckan.net/vocabularies/"
        assert {site + "domains#services-deconcentres", site + "service-types#gendarmerie",
                site + "service-types#mairie", EU + "data-theme/GOVE",
                EU + "data-theme/REGI"} <= themes

    def test_point_file_distribution(self, dila05):
        graph, ref = _serialize(dila05)
        (distribution,) = graph.objects(ref, _u(DCAT, "distribution"))
        conforms = set(graph.objects(distribution, _u(DCT, "conformsTo")))
        assert conforms == {
            URIRef("http://test.ckan.net/schemas/service-points/tableschema.json"),
            URIRef("http://www.opengis.net/def/crs/EPSG/0/4326")}
        assert graph.value(distribution, _u(DCT, "format")) == _u(EU, "file-type/JSON")
        assert str(graph.value(distribution, URIRef(
            "http://www.w3.org/2011/content#characterEncoding"))) == \
            dila05["resources"][0]["encoding"]


FOREIGN = """
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix locn: <http://www.w3.org/ns/locn#> .
@prefix gsp: <http://www.opengis.net/ont/geosparql#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<https://autre.example.org/dataset/1> a dcat:Dataset ;
    dct:title "Bureaux de poste du Cher" ;
    dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/CONT> ;
    dct:issued "2025-01-15"^^xsd:date ;
    dct:spatial <http://id.insee.fr/geo/departement/18>,
        <http://id.insee.fr/geo/commune/5cd1b4c5-7a20-4d5f-9f3a-3d1f4e1a2b3c> ;
    dct:temporal [ a dct:PeriodOfTime ; dcat:startDate "2020-01-01"^^xsd:date ] ;
    dcat:theme <https://autre.example.org/vocabularies/service-types#bureau-poste>,
        <https://autre.example.org/vocabularies/domains#interet-general> ;
    dct:conformsTo <https://autre.example.org/schemas/service-points/tableschema.json> ;
    dcat:distribution <https://autre.example.org/dataset/1/resource/a> .

<https://autre.example.org/vocabularies/service-types#bureau-poste>
    skos:inScheme <https://autre.example.org/vocabularies/service-types> ;
    skos:notation "bureau-poste" .

<https://autre.example.org/dataset/1/resource/a> a dcat:Distribution ;
    dct:title "Bureaux de poste" ;
    dcat:accessURL <https://autre.example.org/poste-18.csv> ;
    dct:format <http://publications.europa.eu/resource/authority/file-type/CSV> ;
    dcat:mediaType <https://www.iana.org/assignments/media-types/text/csv> ;
    dct:license <https://spdx.org/licenses/etalab-2.0> ;
    dct:conformsTo <https://autre.example.org/schemas/service-points/tableschema.json>,
        <http://www.opengis.net/def/crs/EPSG/0/2154> .
"""


@conftest.configure
class TestRead:
    def test_another_catalogue_running_this_extension(self):
        (dataset,) = _parse(FOREIGN)
        assert dataset["type"] == "service-points"
        assert dataset["frequency"] == "continuous"
        assert dataset["vintage"] == "2025-01-15"
        assert dataset["temporal_start"] == "2020-01-01"
        assert "temporal_end" not in dataset
        assert dataset["domain"] == "interet-general"
        assert dataset["service_types"] == ["bureau-poste"]
        # INSEE's UUID URIs cannot be read without INSEE's registry
        assert dataset["territory_level"] == "departement"
        assert dataset["territory_codes"] == ["18"]
        assert dataset["license_id"] == "lov2"
        (resource,) = dataset["resources"]
        assert resource["format"] == "CSV"
        assert resource["mimetype"] == "text/csv"
        assert resource["role"] == "point_file"
        assert resource["crs"] == "EPSG:2154"
        assert "conforms_to" not in resource and "distribution_ref" not in resource
        extras = _extras(dataset)
        assert "theme" not in extras and "conforms_to" not in extras
        assert "frequency" not in extras and "issued" not in extras

    def test_other_frequency_and_date_forms(self):
        turtle = FOREIGN.replace(
            "<http://publications.europa.eu/resource/authority/frequency/CONT>",
            "<http://purl.org/cld/freq/monthly>").replace(
            '[ a dct:PeriodOfTime ; dcat:startDate "2020-01-01"^^xsd:date ]',
            '[ a dct:PeriodOfTime ; dcat:startDate "2019"^^xsd:gYear ; '
            'dcat:endDate "2024-02"^^xsd:gYearMonth ]')
        (dataset,) = _parse(turtle)
        assert dataset["frequency"] == "monthly"
        assert (dataset["temporal_start"], dataset["temporal_end"]) == (
            "2019-01-01", "2024-02-29")

        (dataset,) = _parse(FOREIGN.replace(
            "<http://publications.europa.eu/resource/authority/frequency/CONT>",
            "<https://autre.example.org/frequences/quand-on-peut>"))
        # a frequency nobody here knows is not stored in the checked field
        assert "frequency" not in dataset and "frequency" not in _extras(dataset)

    def test_plain_dcat_dataset_keeps_its_type(self):
        turtle = FOREIGN.replace("dcat:theme", "dct:subject").replace(
            "dct:conformsTo <https://autre.example.org/schemas/service-points/tableschema.json> ;",
            "")
        (dataset,) = _parse(turtle.replace(
            "<https://autre.example.org/schemas/service-points/tableschema.json>,", ""))
        assert dataset.get("type") in (None, "dataset")
        # the default dataset schema has these fields too
        assert dataset["frequency"] == "continuous"
        assert dataset["territory_codes"] == ["18"]
        assert dataset["resources"][0]["crs"] == "EPSG:2154"
        assert "role" not in dataset["resources"][0]


@conftest.configure(scheming__dataset_schemas="ckanext.servicespublics.schemas:dataset.yaml")
class TestReadWithoutServicePointSchema:
    def test_fields_the_schema_lacks_are_kept_as_extras(self):
        (dataset,) = _parse(FOREIGN)
        assert dataset.get("type") in (None, "dataset")
        extras = _extras(dataset)
        assert extras["domain"] == "interet-general"
        assert json.loads(extras["service_types"]) == ["bureau-poste"]
        assert dataset["frequency"] == "continuous"
        assert "frequency" not in extras
