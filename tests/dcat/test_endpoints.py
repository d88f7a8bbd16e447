"""ckanext-dcat's endpoints on this catalogue, and who sees what through them."""
from __future__ import annotations

import json

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from ckan.tests import factories, helpers

from . import conftest

DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
HYDRA = "http://www.w3.org/ns/hydra/core#"
PRIVATE = "brigades-gendarmerie-indre-projet"
FORMATS = {"ttl": ("turtle", "text/turtle"), "xml": ("xml", "application/rdf+xml"),
           "rdf": ("xml", "application/rdf+xml"),
           "jsonld": ("json-ld", "application/ld+json")}


def _graph(response, fmt: str = "ttl") -> Graph:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return Graph().parse(data=response.get_data(as_text=True), format=FORMATS[fmt][0])


def _datasets(graph: Graph) -> set[str]:
    return {str(d) for d in graph.subjects(RDF.type, URIRef(DCAT + "Dataset"))}


def _uri(dataset: dict) -> str:
    return f"http://test.ckan.net/dataset/{dataset['id']}"


def _total(graph: Graph) -> int:
    return int(next(graph.objects(None, URIRef(HYDRA + "totalItems"))))


@pytest.fixture
def member(organizations) -> dict:
    """An editor of the DILA, which owns the private dataset."""
    user = factories.User()
    helpers.call_action("organization_member_create", id=organizations["dila"]["id"],
                        username=user["name"], role="editor")
    return {"user": user, "headers": {"Authorization": factories.APIToken(user=user["name"])[
        "token"]}}


@conftest.configure
class TestCatalogue:
    def test_catalogue_formats(self, app, catalogue):
        public = {_uri(d) for d in catalogue.values() if not d["private"]}
        for fmt in sorted(FORMATS):
            response = app.get(f"/catalog.{fmt}")
            assert response.headers["Content-Type"].startswith(FORMATS[fmt][1]), fmt
            graph = _graph(response, fmt)
            assert _datasets(graph) == public, fmt
            assert _total(graph) == 6

    @pytest.mark.ckan_config("ckanext.dcat.datasets_per_page", 2)
    def test_hydra_paging_counts_what_the_visitor_may_see(self, app, catalogue, member):
        for headers in ({}, member["headers"]):
            seen, page = set(), 1
            while True:
                graph = _graph(app.get(f"/catalog.ttl?page={page}", headers=headers))
                assert _total(graph) == 6
                seen |= _datasets(graph)
                if not list(graph.objects(None, URIRef(HYDRA + "next"))):
                    break
                page += 1
            assert page == 3
            assert _uri(catalogue[PRIVATE]) not in seen
            assert len(seen) == 6

    def test_private_dataset_is_absent_for_anonymous_visitors(self, app, catalogue):
        private = catalogue[PRIVATE]
        body = app.get("/catalog.ttl").get_data(as_text=True)
        assert private["id"] not in body and "Indre" not in body
        for url in (f"/dataset/{private['id']}.ttl", f"/dataset/{PRIVATE}.jsonld",
                    f"/service-points/{PRIVATE}.rdf"):
            response = app.get(url)
            assert response.status_code == 404, url
            assert "Indre" not in response.get_data(as_text=True)
        api = app.post("/api/3/action/dcat_dataset_show",
                       json={"id": private["id"], "format": "ttl"})
        assert api.status_code == 404
        assert api.json["success"] is False

    def test_a_member_of_the_producer_gets_the_private_dataset(self, app, catalogue, member):
        private = catalogue[PRIVATE]
        graph = _graph(app.get(f"/dataset/{private['id']}.ttl", headers=member["headers"]))
        assert _datasets(graph) == {_uri(private)}
        # another signed-in user does not
        outsider = factories.APIToken(user=factories.User()["name"])["token"]
        assert app.get(f"/dataset/{private['id']}.ttl",
                       headers={"Authorization": outsider}).status_code == 404

    def test_catalogue_date_ignores_private_datasets(self, app, catalogue):
        private = helpers.call_action("package_patch", id=catalogue[PRIVATE]["id"],
                                      notes="Version de travail, non publiée.")
        latest_public = max(
            helpers.call_action("package_show", id=d["id"])["metadata_modified"]
            for d in catalogue.values() if not d["private"])
        # to the millisecond, as the search index keeps it
        assert private["metadata_modified"][:23] > latest_public[:23]
        graph = _graph(app.get("/catalog.ttl"))
        (modified,) = graph.objects(URIRef("http://test.ckan.net"), URIRef(DCT + "modified"))
        assert modified.datatype == XSD.dateTime
        assert str(modified).startswith(latest_public[:23])

    def test_unknown_format(self, app, catalogue):
        dataset = catalogue["france-services-2024"]
        assert app.get(f"/dataset/{dataset['id']}.csv").status_code == 404
        assert app.get("/service-points/france-services-2024.csv").status_code == 404
        response = app.get("/catalog.csv")
        assert response.status_code == 409
        assert "Format inconnu" in response.get_data(as_text=True)  # French first


@conftest.configure
class TestDatasetEndpoints:
    def test_service_points_address(self, app, catalogue):
        dataset = catalogue["france-services-bretagne-2024"]
        addresses = [(f"/{where}/{key}.{fmt}", fmt) for fmt in ("ttl", "rdf", "jsonld")
                     for where, key in (("dataset", dataset["id"]),
                                        ("service-points", dataset["name"]))]
        for url, fmt in addresses:
            response = app.get(url)
            assert response.headers["Content-Type"].startswith(FORMATS[fmt][1]), url
            graph = _graph(response, fmt)
            assert _datasets(graph) == {_uri(dataset)}
            assert (URIRef(_uri(dataset)), URIRef(DCT + "title"),
                    Literal(dataset["title"])) in graph

    def test_dataset_page_links_its_rdf(self, app, catalogue):
        dataset = catalogue["france-services-rennes-metropole-2024"]
        body = app.get(f"/service-points/{dataset['name']}").get_data(as_text=True)
        assert (f'<link rel="alternate" type="text/turtle" '
                f'href="http://test.ckan.net/dataset/{dataset["id"]}.ttl"/>') in body

    @pytest.mark.ckan_config("ckanext.dcat.enable_content_negotiation", True)
    def test_content_negotiation(self, app, catalogue):
        dataset = catalogue["annuaire-administration-2a-2016"]
        response = app.get(f"/service-points/{dataset['name']}",
                           headers={"Accept": "text/turtle"})
        assert response.headers["Content-Type"].startswith("text/turtle")
        assert "Accept" in response.headers["Vary"]
        assert _datasets(_graph(response)) == {_uri(dataset)}

        response = app.get(f"/service-points/{dataset['name']}",
                           headers={"Accept": "text/html,application/xhtml+xml"})
        assert response.headers["Content-Type"].startswith("text/html")
        assert dataset["title"] in response.get_data(as_text=True)

        response = app.get("/", headers={"Accept": "application/ld+json"})
        assert response.headers["Content-Type"].startswith("application/ld+json")
        assert len(_datasets(_graph(response, "jsonld"))) == 6
        assert isinstance(json.loads(response.get_data(as_text=True)), (list, dict))

        private = app.get(f"/service-points/{PRIVATE}", headers={"Accept": "text/turtle"})
        assert private.status_code == 404

    def test_no_negotiation_unless_enabled(self, app, catalogue):
        response = app.get("/service-points/annuaire-administration-2a-2016",
                           headers={"Accept": "text/turtle"})
        assert response.headers["Content-Type"].startswith("text/html")


@conftest.configure(plugins="servicespublics_access")
class TestRestrictedDatasets:
    """With the access plugin: restricted datasets are for public agents only."""

    def test_restricted_dataset(self, app, sysadmin, organizations):
        from . import realdata

        dataset = conftest.create(sysadmin, realdata.dila_departement(
            "2A", "la Corse-du-Sud", access_level="restricted"))
        assert dataset["access_level"] == "restricted", dataset
        assert dataset["private"] is True, dataset["private"]
        anonymous = app.get("/catalog.ttl").get_data(as_text=True)
        assert dataset["id"] not in anonymous
        assert app.get(f"/dataset/{dataset['id']}.ttl").status_code == 404
        assert app.get(f"/service-points/{dataset['name']}.ttl").status_code == 404

        agent = factories.User()
        helpers.call_action("organization_member_create", id=organizations["anct"]["id"],
                            username=agent["name"], role="member")
        headers = {"Authorization": factories.APIToken(user=agent["name"])["token"]}
        graph = _graph(app.get(f"/dataset/{dataset['id']}.ttl", headers=headers))
        assert list(graph.objects(URIRef(_uri(dataset)), URIRef(DCT + "accessRights"))) == [
            URIRef("http://publications.europa.eu/resource/authority/access-right/RESTRICTED")]
        # the catalogue lists public datasets only, whoever asks
        assert dataset["id"] not in app.get("/catalog.ttl", headers=headers).get_data(
            as_text=True)
