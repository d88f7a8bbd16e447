"""The catalogue's DCAT output validates against the official DCAT-AP shapes.

Shapes: /work/shared/data/dcat-ap (SEMIC, see its SOURCES.md). DCAT-AP 3.0.0
ships two expressions of its constraints that disagree on one point:

- ``html/shacl/shapes.ttl`` (with ``range.ttl``, ``mdr-vocabularies.shape.ttl``
  and ``shapes_recommended.ttl``) wants ``locn:geometry`` to be a literal
  (``sh:nodeKind sh:Literal``), as DCAT-AP 2.1.1 and GeoDCAT-AP do;
- ``shacl/dcat-ap-SHACL.ttl`` wants a ``locn:Geometry`` node
  (``sh:class locn:Geometry``, ``sh:nodeKind sh:BlankNodeOrIRI``).

No graph can satisfy both. The catalogue writes the geometry as a WKT literal
(``gsp:wktLiteral``), which ckanext-dcat, data.gouv.fr and GeoDCAT-AP
consumers read; so against ``dcat-ap-SHACL.ttl`` exactly these two
constraints fail, on each ``dct:Location`` that carries the extent, and
nothing else does.
"""
from __future__ import annotations

import os
from collections import Counter

import pytest
from rdflib import Graph, Namespace

from . import conftest, realdata

SH = Namespace("http://www.w3.org/ns/shacl#")
SHAPES = os.path.join(realdata.DATA, "dcat-ap")

DCAT_AP_3 = ["3.0.0/shapes.ttl", "3.0.0/range.ttl", "3.0.0/mdr-vocabularies.shape.ttl",
             "3.0.0/shapes_recommended.ttl"]
DCAT_AP_3_SHACL = ["3.0.0/dcat-ap-SHACL.ttl", "3.0.0/range.ttl",
                   "3.0.0/mdr-vocabularies.shape.ttl", "3.0.0/shapes_recommended.ttl"]
DCAT_AP_2 = ["2.1.1/dcat-ap_2.1.1_shacl_shapes.ttl", "2.1.1/dcat-ap_2.1.1_shacl_range.ttl",
             "2.1.1/dcat-ap_2.1.1_shacl_mdr-vocabularies.shape.ttl",
             "2.1.1/dcat-ap_2.1.1_shacl_shapes_recommended.ttl"]

GEOMETRY = "http://www.w3.org/ns/locn#geometry"
GEOMETRY_CONFLICT = {
    (GEOMETRY, "http://www.w3.org/ns/shacl#ClassConstraintComponent"),
    (GEOMETRY, "http://www.w3.org/ns/shacl#NodeKindConstraintComponent"),
}


def _shapes(files: list[str]) -> Graph:
    graph = Graph()
    for name in files:
        graph.parse(os.path.join(SHAPES, name), format="turtle")
    return graph


def violations(data: Graph, files: list[str]) -> Counter:
    """(path, constraint component) of every violation, with its count."""
    from pyshacl import validate

    _conforms, report, _text = validate(data, shacl_graph=_shapes(files), inference="none",
                                        allow_warnings=True)
    found: Counter = Counter()
    for result in report.objects(None, SH.result):
        if report.value(result, SH.resultSeverity) == SH.Violation:
            found[(str(report.value(result, SH.resultPath)),
                   str(report.value(result, SH.sourceConstraintComponent)))] += 1
    return found


def _locations_with_geometry(data: Graph) -> int:
    return len(set(data.subjects(Namespace("http://www.w3.org/ns/locn#").geometry, None)))


@pytest.fixture
def catalogue_graph(app, catalogue) -> Graph:
    response = app.get("/catalog.ttl")
    assert response.status_code == 200
    return Graph().parse(data=response.get_data(as_text=True), format="turtle")


@conftest.configure
class TestDcatAp:
    def test_catalogue_conforms(self, catalogue_graph):
        assert violations(catalogue_graph, DCAT_AP_3) == Counter()
        assert violations(catalogue_graph, DCAT_AP_2) == Counter()
        # dcat-ap-SHACL.ttl only disagrees on the geometry (see above)
        found = violations(catalogue_graph, DCAT_AP_3_SHACL)
        assert set(found) == GEOMETRY_CONFLICT
        # one of each per location carrying the extent (6 public datasets)
        assert _locations_with_geometry(catalogue_graph) == 6
        assert set(found.values()) == {6}

    def test_each_dataset_conforms(self, app, catalogue):
        for name, fmt, parse_as in (
                ("annuaire-education-ille-et-vilaine-2023", "ttl", "turtle"),
                ("france-services-2024", "rdf", "xml"),
                ("annuaire-administration-2a-2016", "jsonld", "json-ld")):
            response = app.get(f"/dataset/{catalogue[name]['id']}.{fmt}")
            assert response.status_code == 200
            data = Graph().parse(data=response.get_data(as_text=True), format=parse_as)
            assert violations(data, DCAT_AP_3) == Counter(), (name, fmt)
