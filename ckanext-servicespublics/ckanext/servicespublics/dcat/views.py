"""Blueprint ``servicespublics_dcat``.

- ``/vocabularies/<scheme>``: the SKOS concept schemes of service types and
  domains, as Turtle, JSON-LD, RDF/XML or N3 (``.ttl``, ``.jsonld``, ``.rdf``,
  ``.n3`` or the ``Accept`` header), or as an HTML page;
- ``/service-points/<id>.<format>``: the DCAT serialisation of a service-point
  dataset at its own address (``/dataset/<id>.<format>`` is ckanext-dcat's);
- content negotiation on the catalogue's home page and on the page of every
  dataset type when ``ckanext.dcat.enable_content_negotiation`` is on.
  ckanext-dcat registers its own negotiating routes for ``/`` and
  ``/dataset/<id>`` when its module is imported; this hook also covers the
  other dataset types and follows the setting of the running application.
"""
from __future__ import annotations

from typing import Any, Optional

from flask import Blueprint, make_response, request

import ckan.plugins.toolkit as tk
from ckanext.dcat import utils as dcat_utils

from . import skos

__all__ = ["servicespublics_dcat"]

servicespublics_dcat = Blueprint("servicespublics_dcat", __name__)

_RDFLIB_FORMATS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "pretty-xml",
                   "xml": "pretty-xml", "n3": "n3"}
_JSONLD_CONTEXT = {
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dct": "http://purl.org/dc/terms/",
}


def _serialize(graph, fmt: str) -> str:
    if fmt == "jsonld":
        return graph.serialize(format="json-ld", context=_JSONLD_CONTEXT, auto_compact=True)
    return graph.serialize(format=_RDFLIB_FORMATS[fmt])


def vocabulary(scheme: str):
    """A concept scheme, by extension, by ``Accept`` header or as HTML."""
    fmt: Optional[str] = None
    if "." in scheme:
        scheme, fmt = scheme.rsplit(".", 1)
        if fmt not in _RDFLIB_FORMATS:
            return tk.abort(404, tk._("Unknown format: {0}").format(fmt))
    if scheme not in skos.SCHEMES:
        return tk.abort(404, tk._("Vocabulary not found"))
    if fmt is None:
        fmt = dcat_utils.check_access_header()
    try:
        graph = skos.scheme_graph(scheme)
        if fmt is None:
            return _vocabulary_page(scheme)
    except skos.VocabularyUnavailable as e:
        return tk.abort(503, tk._("This vocabulary is not available: {0}").format(e))
    response = make_response(_serialize(graph, fmt))
    response.headers["Content-Type"] = dcat_utils.CONTENT_TYPES[fmt] + "; charset=utf-8"
    response.headers["Vary"] = "Accept"
    return response


def _vocabulary_page(scheme: str):
    entries = skos.vocabulary(scheme)
    domains = skos.vocabulary(skos.DOMAINS) if scheme == skos.SERVICE_TYPES else {}
    base = skos.scheme_uri(scheme)
    concepts: list[dict[str, Any]] = []
    for code in sorted(entries):
        entry = entries[code]
        domain = entry.get("domain")
        concepts.append({
            "code": code,
            "uri": skos.concept_uri(scheme, code, base),
            "label_fr": entry.get("label_fr"),
            "label_en": entry.get("label_en"),
            "domain": domain,
            "domain_label": (domains.get(domain) or {}).get("label_fr") if domain else None,
        })
    response = make_response(tk.render("servicespublics/dcat/vocabulary.html", {
        "scheme": scheme,
        "scheme_uri": base,
        "concepts": concepts,
        "formats": ["ttl", "jsonld", "rdf"],
    }))
    response.headers["Vary"] = "Accept"
    return response


def read_service_points(_id: str, _format: str):
    if not tk.config.get("ckanext.dcat.enable_rdf_endpoints"):
        return tk.abort(404)
    return dcat_utils.read_dataset_page(_id, _format)


def _negotiate():
    """Serve RDF instead of the HTML page when the client asks for it."""
    if not tk.config.get("ckanext.dcat.enable_content_negotiation"):
        return None
    endpoint = request.endpoint or ""
    view_args = request.view_args or {}
    if endpoint == "home.index":
        fmt = dcat_utils.check_access_header()
        return dcat_utils.read_catalog_page(fmt) if fmt else None
    if endpoint.endswith(".read") and view_args.get("package_type") and view_args.get("id"):
        fmt = dcat_utils.check_access_header()
        return dcat_utils.read_dataset_page(view_args["id"], fmt) if fmt else None
    return None


def _vary(response):
    endpoint = request.endpoint or ""
    if tk.config.get("ckanext.dcat.enable_content_negotiation") and (
            endpoint == "home.index" or endpoint.endswith(".read")):
        response.vary.add("Accept")
    return response


servicespublics_dcat.add_url_rule("/vocabularies/<scheme>", view_func=vocabulary)
servicespublics_dcat.add_url_rule("/service-points/<_id>.<_format>",
                                  view_func=read_service_points)
servicespublics_dcat.before_app_request(_negotiate)
servicespublics_dcat.after_app_request(_vary)
