"""The catalogue's vocabularies as SKOS concept schemes.

Two schemes are published by the site, with hash URIs so that each concept
resolves to its scheme's document:

- ``<site>/vocabularies/domains#<code>``: the domains of public services;
- ``<site>/vocabularies/service-types#<code>``: the types of service points,
  each linked to its domain (``skos:broadMatch``).

Codes and labels are those of the ``servicespublics_dataset`` plugin
(``ckanext.servicespublics.dataset.vocabulary``, with the site's own extra
service types), imported when first needed.
"""
from __future__ import annotations

import importlib
from typing import Any, Optional

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, SKOS

import ckan.plugins.toolkit as tk

from . import mappings

# the dataset plugin's vocabularies (``entries(name)``: dicts with ``code``,
# ``label`` {fr, en} and, for service types, ``domain``)
VOCABULARY_MODULE = "ckanext.servicespublics.dataset.vocabulary"

SERVICE_TYPES = "service-types"
DOMAINS = "domains"
SCHEMES = (SERVICE_TYPES, DOMAINS)

_TITLES = {
    SERVICE_TYPES: ("Types de points de service public", "Types of public service points"),
    DOMAINS: ("Domaines des services publics", "Domains of public services"),
}


class VocabularyUnavailable(RuntimeError):
    """The vocabularies of the dataset plugin cannot be read."""


def _label(entry: dict[str, Any], lang: str) -> Optional[str]:
    label = entry.get("label")
    if isinstance(label, dict):
        return label.get(lang)
    return label if lang == "fr" else None


def vocabulary(scheme: str) -> dict[str, dict[str, Any]]:
    """``code -> {label_fr, label_en, domain}`` for ``scheme``, read when
    needed (the site may add service types to its vocabulary file).

    Raises :py:class:`VocabularyUnavailable`, with the reason, when the
    dataset plugin's vocabularies cannot be read."""
    name = "service_types" if scheme == SERVICE_TYPES else "domains"
    try:
        module = importlib.import_module(VOCABULARY_MODULE)
        rows = module.entries(name)
    except ImportError as e:
        raise VocabularyUnavailable(
            f"the service-point vocabularies ({VOCABULARY_MODULE}, plugin "
            f"servicespublics_dataset) cannot be imported: {e}") from e
    except Exception as e:  # the module's own errors (an invalid site vocabulary file)
        raise VocabularyUnavailable(f"{VOCABULARY_MODULE}: {e}") from e
    return {row["code"]: {"label_fr": _label(row, "fr"), "label_en": _label(row, "en"),
                          "domain": row.get("domain")}
            for row in rows}


def scheme_uri(scheme: str) -> str:
    """The concept scheme's URI: its address on this site (``ckan.site_url``,
    no language prefix), served by the ``servicespublics_dcat`` blueprint."""
    return tk.url_for(f"/vocabularies/{scheme}", _external=True, locale="default")


def concept_uri(scheme: str, code: str, base: Optional[str] = None) -> str:
    return f"{base or scheme_uri(scheme)}#{code}"


def code_from_concept(graph: Graph, concept: URIRef, scheme: str) -> Optional[str]:
    """The code of ``concept`` if it belongs to ``scheme`` of any catalogue
    running this extension (the harvested site's own URIs, not ours)."""
    suffix = "/vocabularies/" + scheme
    in_scheme = any(str(s).rstrip("/").endswith(suffix)
                    for s in graph.objects(concept, SKOS.inScheme))
    uri = str(concept)
    if not in_scheme and suffix + "#" not in uri:
        return None
    notation = graph.value(concept, SKOS.notation)
    if notation is not None:
        return str(notation)
    return uri.rsplit("#", 1)[1] if "#" in uri else None


def add_concept(graph: Graph, scheme: str, code: str, entry: dict[str, Any],
                base: str, domains_base: Optional[str] = None) -> URIRef:
    concept = URIRef(concept_uri(scheme, code, base))
    graph.add((concept, RDF.type, SKOS.Concept))
    graph.add((concept, SKOS.inScheme, URIRef(base)))
    graph.add((concept, SKOS.notation, Literal(code)))
    labels = [(entry.get(f"label_{lang}"), lang) for lang in ("fr", "en")]
    for label, lang in labels:
        if label:
            graph.add((concept, SKOS.prefLabel, Literal(label, lang=lang)))
    if not any(label for label, _lang in labels):
        # a code the vocabulary no longer has (or cannot be read): DCAT-AP
        # still wants a label
        graph.add((concept, SKOS.prefLabel, Literal(code)))
    if scheme == DOMAINS:
        for theme in mappings.data_theme_uris(code)[:-1]:
            graph.add((concept, SKOS.closeMatch, URIRef(theme)))
    elif entry.get("domain") and domains_base:
        graph.add((concept, SKOS.broadMatch,
                   URIRef(concept_uri(DOMAINS, entry["domain"], domains_base))))
    return concept


def add_scheme(graph: Graph, scheme: str, base: Optional[str] = None) -> URIRef:
    ref = URIRef(base or scheme_uri(scheme))
    if (ref, RDF.type, SKOS.ConceptScheme) not in graph:
        graph.add((ref, RDF.type, SKOS.ConceptScheme))
        for title, lang in zip(_TITLES[scheme], ("fr", "en")):
            graph.add((ref, DCTERMS.title, Literal(title, lang=lang)))
    return ref


def scheme_graph(scheme: str) -> Graph:
    """The whole concept scheme, to be served as a document."""
    if scheme not in SCHEMES:
        raise tk.ObjectNotFound(scheme)
    entries = vocabulary(scheme)
    base = scheme_uri(scheme)
    domains_base = scheme_uri(DOMAINS)
    graph = Graph()
    graph.bind("skos", SKOS)
    graph.bind("dct", DCTERMS)
    ref = add_scheme(graph, scheme, base)
    for title, lang in zip(_TITLES[scheme], ("fr", "en")):
        graph.add((ref, SKOS.prefLabel, Literal(title, lang=lang)))
    for code in sorted(entries):
        concept = add_concept(graph, scheme, code, entries[code], base, domains_base)
        graph.add((concept, SKOS.topConceptOf, ref))
        graph.add((ref, SKOS.hasTopConcept, concept))
    return graph
