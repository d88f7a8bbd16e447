"""The service-type and domain vocabularies, published as SKOS concept schemes."""
from __future__ import annotations

import json

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, SKOS

from . import conftest

SITE = "http://test.ckan.net"
SERVICE_TYPES = URIRef(SITE + "/vocabularies/service-types")
DOMAINS = URIRef(SITE + "/vocabularies/domains")


def _vocabulary(name: str) -> list[dict]:
    from ckanext.servicespublics.dataset import vocabulary
    return vocabulary.entries(name)


def _graph(response, fmt: str) -> Graph:
    return Graph().parse(data=response.get_data(as_text=True), format=fmt)


@conftest.configure
class TestConceptSchemes:
    @pytest.mark.parametrize("path, fmt, content_type", [
        ("/vocabularies/service-types.ttl", "turtle", "text/turtle"),
        ("/vocabularies/service-types.jsonld", "json-ld", "application/ld+json"),
        ("/vocabularies/service-types.rdf", "xml", "application/rdf+xml"),
    ])
    def test_service_types_scheme(self, app, path, fmt, content_type):
        response = app.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith(content_type)
        graph = _graph(response, fmt)
        assert (SERVICE_TYPES, RDF.type, SKOS.ConceptScheme) in graph
        assert (SERVICE_TYPES, DCTERMS.title, Literal(
            "Types de points de service public", lang="fr")) in graph
        entries = _vocabulary("service_types")
        concepts = set(graph.subjects(SKOS.inScheme, SERVICE_TYPES))
        assert concepts == {URIRef(f"{SERVICE_TYPES}#{e['code']}") for e in entries}
        for entry in entries:
            concept = URIRef(f"{SERVICE_TYPES}#{entry['code']}")
            assert (concept, RDF.type, SKOS.Concept) in graph
            assert (concept, SKOS.notation, Literal(entry["code"])) in graph
            assert (concept, SKOS.prefLabel, Literal(entry["label"]["fr"], lang="fr")) in graph
            assert (concept, SKOS.prefLabel, Literal(entry["label"]["en"], lang="en")) in graph
            assert (concept, SKOS.topConceptOf, SERVICE_TYPES) in graph
            assert (concept, SKOS.broadMatch, URIRef(f"{DOMAINS}#{entry['domain']}")) in graph

    def test_a_few_concepts_by_name(self, app):
        graph = _graph(app.get("/vocabularies/service-types.ttl"), "turtle")
        gendarmerie = URIRef(f"{SERVICE_TYPES}#gendarmerie")
        assert str(graph.value(gendarmerie, SKOS.prefLabel)) in (
            "Brigade de gendarmerie", "Gendarmerie station")
        labels = {str(lbl) for lbl in graph.objects(URIRef(f"{SERVICE_TYPES}#france-services"),
                                                    SKOS.prefLabel)}
        assert labels == {"France Services"}

    def test_domains_scheme(self, app):
        graph = _graph(app.get("/vocabularies/domains.jsonld"), "json-ld")
        codes = {e["code"] for e in _vocabulary("domains")}
        assert {str(graph.value(c, SKOS.notation))
                for c in graph.subjects(SKOS.inScheme, DOMAINS)} == codes
        securite = URIRef(f"{DOMAINS}#securite")
        assert (securite, SKOS.prefLabel, Literal("Sécurité et ordre public", lang="fr")) in graph
        assert (securite, SKOS.closeMatch, URIRef(
            "http://publications.europa.eu/resource/authority/data-theme/JUST")) in graph

    def test_jsonld_is_compact(self, app):
        document = json.loads(app.get("/vocabularies/domains.jsonld").get_data(as_text=True))
        assert document["@context"]["skos"] == str(SKOS)

    def test_content_negotiation_and_html_page(self, app):
        response = app.get("/vocabularies/service-types", headers={"Accept": "text/turtle"})
        assert response.headers["Content-Type"].startswith("text/turtle")
        assert "Accept" in response.headers["Vary"]
        graph = _graph(response, "turtle")
        assert (URIRef(f"{SERVICE_TYPES}#mairie"), SKOS.inScheme, SERVICE_TYPES) in graph

        page = app.get("/vocabularies/service-types", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        body = page.get_data(as_text=True)
        assert "Caisse d&#39;allocations familiales (CAF)" in body
        assert 'href="http://test.ckan.net/vocabularies/service-types.ttl"' in body

    def test_unknown_scheme_or_format(self, app):
        assert app.get("/vocabularies/tribunaux.ttl").status_code == 404
        assert app.get("/vocabularies/service-types.csv").status_code == 404

    def test_site_service_types_are_published(self, app, tmp_path, monkeypatch, ckan_config):
        extra = tmp_path / "vocabulary.yaml"
        extra.write_text(
            "service_types:\n"
            "  - code: maison-sante\n"
            "    domain: sante-social\n"
            "    label: {fr: \"Maison de santé pluriprofessionnelle\","
            " en: \"Multi-professional health centre\"}\n", encoding="utf-8")
        monkeypatch.setitem(ckan_config, "ckanext.servicespublics.dataset.vocabulary_file",
                            str(extra))
        graph = _graph(app.get("/vocabularies/service-types.ttl"), "turtle")
        concept = URIRef(f"{SERVICE_TYPES}#maison-sante")
        assert (concept, SKOS.prefLabel, Literal(
            "Maison de santé pluriprofessionnelle", lang="fr")) in graph
        assert (concept, SKOS.broadMatch, URIRef(f"{DOMAINS}#sante-social")) in graph

    def test_broken_site_vocabulary_fails_clearly(self, app, tmp_path, monkeypatch,
                                                  ckan_config):
        extra = tmp_path / "vocabulary.yaml"
        extra.write_text("service_types:\n  - code: Pas Un Code\n", encoding="utf-8")
        monkeypatch.setitem(ckan_config, "ckanext.servicespublics.dataset.vocabulary_file",
                            str(extra))
        response = app.get("/vocabularies/service-types.ttl")
        assert response.status_code == 503
        assert "vocabulary.yaml" in response.get_data(as_text=True)
