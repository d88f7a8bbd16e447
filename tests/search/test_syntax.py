"""Query syntax, French text, spatial filter and autocomplete of the
PostgreSQL engine, through package_search as clients call it."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

import ckan.lib.search as search
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from ckanext.servicespublics.search import datemath
from ckanext.servicespublics.search.lucene import min_should_match


def names(**kwargs):
    result = helpers.call_action("package_search", **kwargs)
    return sorted(d["name"] for d in result["results"])


def _extent(minx, miny, maxx, maxy):
    return json.dumps({"type": "Polygon", "coordinates": [[
        [minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]]})


@pytest.fixture
def datasets():
    org = factories.Organization(name="ministere-interieur")
    made = {}
    specs = [
        ("gendarmerie-rennes", "Gendarmerie de Rennes", "Brigade territoriale.",
         ["gendarmerie", "Bretagne"], "CSV", 12, _extent(-1.75, 48.05, -1.60, 48.15)),
        ("ecoles-rennes", "École maternelle et élémentaire", "Les écoles de Rennes.",
         ["école", "Bretagne"], "JSON", 120, _extent(-1.75, 48.05, -1.60, 48.15)),
        ("hopitaux-paris", "Hôpitaux de Paris", "Liste des hôpitaux publics.",
         ["santé", "Île-de-France"], "CSV", 45, _extent(2.22, 48.81, 2.47, 48.90)),
        ("mairies-corse", "Mairies de Corse-du-Sud", "Annuaire des mairies.",
         ["mairie"], "XLSX", 124, _extent(8.5, 41.3, 9.6, 42.4)),
    ]
    for name, title, notes, tags, fmt, count, extent in specs:
        made[name] = factories.Dataset(
            name=name, title=title, notes=notes, owner_org=org["id"],
            tags=[{"name": t} for t in tags],
            extras=[{"key": "spatial", "value": extent},
                    {"key": "point_count", "value": str(count)}],
            resources=[{"url": f"http://example.org/{name}.{fmt.lower()}",
                        "format": fmt}])
    return made


@pytest.mark.usefixtures("clean_db")
class TestLuceneSyntax:
    def test_field_queries(self, datasets):
        assert names(q="tags:école") == ["ecoles-rennes"]
        assert names(q="organization:ministere-interieur") == sorted(datasets)
        assert names(q="res_format:CSV") == ["gendarmerie-rennes", "hopitaux-paris"]
        assert names(q="point_count:124") == ["mairies-corse"]

    def test_phrases(self, datasets):
        assert names(q='title:"maternelle et élémentaire"') == ["ecoles-rennes"]
        assert names(q='title:"élémentaire maternelle"') == []
        assert names(q='tags:"Île-de-France"') == ["hopitaux-paris"]

    def test_boolean_operators_and_grouping(self, datasets):
        assert names(q="tags:Bretagne AND res_format:CSV") == ["gendarmerie-rennes"]
        assert names(q="tags:mairie OR tags:santé") == ["hopitaux-paris", "mairies-corse"]
        assert names(q="tags:Bretagne AND NOT tags:école") == ["gendarmerie-rennes"]
        assert names(q="(tags:mairie OR tags:santé) AND res_format:CSV") == ["hopitaux-paris"]
        assert names(q="+tags:Bretagne -res_format:JSON") == ["gendarmerie-rennes"]
        assert names(fq="-tags:Bretagne") == ["hopitaux-paris", "mairies-corse"]

    def test_wildcards(self, datasets):
        assert names(q="name:ecoles-*") == ["ecoles-rennes"]
        assert names(q="name:*-rennes") == ["ecoles-rennes", "gendarmerie-rennes"]
        assert names(q="name:hopitaux-par?s") == ["hopitaux-paris"]
        assert names(q="title:gendar*") == ["gendarmerie-rennes"]

    def test_ranges_numbers_and_dates(self, datasets):
        assert names(q="point_count:[45 TO 120]") == ["ecoles-rennes", "hopitaux-paris"]
        assert names(q="point_count:{45 TO 120]") == ["ecoles-rennes"]
        assert names(q="point_count:[100 TO *]") == ["ecoles-rennes", "mairies-corse"]
        assert names(q="metadata_modified:[NOW-1YEAR TO *]") == sorted(datasets)
        assert names(q="metadata_modified:[* TO NOW-1DAY]") == []
        assert names(fq="metadata_created:[NOW/DAY-1DAY TO NOW/DAY+1DAY]") == sorted(datasets)

    def test_match_all_and_field_exists(self, datasets):
        assert names(q="*:*") == sorted(datasets)
        assert names(q="point_count:*") == sorted(datasets)
        factories.Dataset(name="sans-compte")
        assert "sans-compte" not in names(q="point_count:*")
        assert "sans-compte" in names(q="-point_count:*")

    def test_q_op_and_mm(self, datasets):
        # dismax (no colon): CKAN's mm "2<-1 5<80%" wants all of 2 words...
        assert names(q="gendarmerie paris") == []
        # ... and all but one of 3
        assert names(q="gendarmerie rennes paris") == ["gendarmerie-rennes"]
        assert names(q="gendarmerie paris", mm="1") == [
            "gendarmerie-rennes", "hopitaux-paris"]
        assert names(q="tags:mairie tags:santé") == []
        # q.op is not a package_search parameter, but CKAN code and
        # extensions may pass it to the engine directly
        conn = search.make_connection()
        fq = '+site_id:"%s"' % tk.config["ckan.site_id"]
        hits = conn.search(q="tags:mairie tags:santé", fq=fq, fl="name", **{"q.op": "OR"})
        assert sorted(d["name"] for d in hits.docs) == ["hopitaux-paris", "mairies-corse"]

    def test_qf_restricts_fields(self, datasets):
        # "brigade" is only in the description of gendarmerie-rennes
        assert names(q="brigade", qf="title") == []
        assert names(q="brigade", qf="notes") == ["gendarmerie-rennes"]
        assert names(q="brigade", qf="title^4 notes") == ["gendarmerie-rennes"]
        assert names(q="brigade", defType="edismax") == ["gendarmerie-rennes"]

    def test_syntax_errors_are_400_with_position(self, app, datasets):
        url = tk.url_for("api.action", ver=3, logic_function="package_search")
        for bad in ("title:(gendarmerie", "tags:[a TO", "title:/regex/",
                    "metadata_modified:[NOW-1FORTNIGHT TO *]"):
            res = app.get(url, query_string={"q": bad}, status=400)
            assert res.json["success"] is False
            assert "Search Query Error" == res.json["error"]["__type"]
        res = app.get(url, query_string={"q": "title:(gendarmerie"}, status=400)
        assert "end of the query" in res.json["error"]["message"] or \
            "position" in res.json["error"]["message"]

    def test_sql_injection_changes_nothing(self, app, datasets):
        url = tk.url_for("api.action", ver=3, logic_function="package_search")
        attacks = [
            "name:x'); DROP TABLE package; --",
            "title:\"'; DELETE FROM servicespublics_search_document; --\"",
            "x' OR '1'='1",
            "tags:a\\' OR 1=1 --",
        ]
        for q in attacks:
            res = app.get(url, query_string={"q": q}, expect_errors=True)
            assert res.status_code in (200, 400)
            if res.status_code == 200:
                assert res.json["result"]["count"] == 0
        res = app.get(url, query_string={"sort": "name asc, (SELECT 1) desc"},
                      expect_errors=True)
        assert res.status_code == 400
        res = app.get(url, query_string={"facet.field": json.dumps(["tags) x; --"])},
                      expect_errors=True)
        assert res.status_code in (200, 400)
        # everything is still there
        assert model.Session.execute(sa.text("SELECT count(*) FROM package")).scalar() == 4
        assert names() == sorted(datasets)


@pytest.mark.usefixtures("clean_db")
class TestFrenchText:
    def test_stemming_and_accents(self, datasets):
        assert names(q="gendarmeries") == ["gendarmerie-rennes"]
        assert names(q="ecole") == ["ecoles-rennes"]
        assert names(q="hopital") == ["hopitaux-paris"]
        assert names(q="HÔPITAUX") == ["hopitaux-paris"]
        assert names(q="mairie") == ["mairies-corse"]

    def test_title_outranks_description(self):
        factories.Dataset(name="b-notes", title="Annuaire",
                          notes="Toutes les gendarmeries, gendarmerie par gendarmerie.")
        factories.Dataset(name="a-titre", title="Gendarmeries", notes="Annuaire.")
        result = helpers.call_action("package_search", q="gendarmerie")
        assert [d["name"] for d in result["results"]] == ["a-titre", "b-notes"]

    def test_resource_names_and_organisation_title(self):
        org = factories.Organization(name="dila", title="Direction de l'information légale")
        factories.Dataset(name="annuaire", owner_org=org["id"], resources=[
            {"url": "http://example.org/a.csv", "name": "Liste des préfectures",
             "description": "Sous-préfectures comprises"}])
        assert names(q="préfecture") == ["annuaire"]
        assert names(q="information légale") == ["annuaire"]


@pytest.mark.usefixtures("clean_db")
class TestSpatialFilter:
    def test_ext_bbox(self, datasets):
        brittany = "-2.0,47.9,-1.4,48.3"
        assert names(extras={"ext_bbox": brittany}) == [
            "ecoles-rennes", "gendarmerie-rennes"]
        france = "-5.5,41.0,10.0,51.5"
        assert names(extras={"ext_bbox": france}) == sorted(datasets)
        assert names(extras={"ext_bbox": "20,20,21,21"}) == []
        assert names(q="école", extras={"ext_bbox": brittany}) == ["ecoles-rennes"]

    @pytest.mark.ckan_config("ckan.plugins", "activity servicespublics servicespublics_search "
                                             "spatial_metadata spatial_query")
    @pytest.mark.usefixtures("with_plugins")
    def test_ext_bbox_with_ckanext_spatial(self, datasets):
        """As on the site: spatial_query takes ``spatial`` out of the indexed
        document (for Solr's bbox fields), the extent is indexed all the same."""
        brittany = "-2.0,47.9,-1.4,48.3"
        assert names(extras={"ext_bbox": brittany}) == [
            "ecoles-rennes", "gendarmerie-rennes"]
        assert names(extras={"ext_bbox": "20,20,21,21"}) == []

    def test_bad_bbox(self, datasets):
        with pytest.raises(search.SearchQueryError):
            names(extras={"ext_bbox": "a,b,c"})

    def test_search_page_with_bbox(self, app, datasets):
        res = app.get(tk.url_for("dataset.search"),
                      query_string={"ext_bbox": "8,41,10,43"})
        body = res.get_data(as_text=True)
        assert "Mairies de Corse-du-Sud" in body
        assert "Hôpitaux de Paris" not in body


@pytest.mark.usefixtures("clean_db")
class TestAutocomplete:
    def test_prefix_and_middle_of_words(self, app, datasets):
        result = helpers.call_action("package_autocomplete", q="gendar")
        assert [d["name"] for d in result] == ["gendarmerie-rennes"]
        result = helpers.call_action("package_autocomplete", q="pitaux")
        assert [d["name"] for d in result] == ["hopitaux-paris"]
        # accents and case are ignored
        result = helpers.call_action("package_autocomplete", q="ECOLE")
        assert [d["name"] for d in result] == ["ecoles-rennes"]
        res = app.get("/api/2/util/dataset/autocomplete", query_string={"incomplete": "mair"})
        assert [d["name"] for d in res.json["ResultSet"]["Result"]] == ["mairies-corse"]

    def test_private_not_suggested_to_anonymous(self, app):
        org = factories.Organization()
        factories.Dataset(name="plan-secret", title="Plan secret", owner_org=org["id"],
                          private=True)
        url = tk.url_for("api.action", ver=3, logic_function="package_autocomplete")
        assert app.get(url, query_string={"q": "secret"}).json["result"] == []


@pytest.mark.usefixtures("clean_db")
class TestPackageShowCache:
    def test_cache_equals_database_on_a_varied_catalogue(self, datasets):
        org = factories.Organization()
        group = factories.Group()
        user = factories.User()
        varied = [
            factories.Dataset(owner_org=org["id"], private=True, groups=[{"id": group["id"]}],
                              extras=[{"key": "a", "value": "1"}, {"key": "é", "value": "ü"}],
                              resources=[{"url": "http://x.org/a.csv", "format": "CSV",
                                          "alt_url": "http://y.org"}]),
            factories.Dataset(state="draft", user=user),
            factories.Dataset(url="", notes="", tags=[{"name": "xx"}, {"name": "y z"}]),
            factories.Dataset(type="rapport"),
        ]
        for d in list(datasets.values()) + varied:
            cached = helpers.call_action("package_show", id=d["id"])
            fresh = helpers.call_action("package_show", context={"use_cache": False},
                                        id=d["id"])
            assert cached == fresh, d["name"]
            assert search.show(d["id"])["validated_data_dict"]

    def test_stale_cache_is_not_used(self, datasets):
        pkg = model.Package.get("ecoles-rennes")
        pkg.title = "Changed in the database only"
        pkg.metadata_modified = dt.datetime.utcnow()
        model.Session.commit()
        shown = helpers.call_action("package_show", id="ecoles-rennes")
        assert shown["title"] == "Changed in the database only"


class TestUnits:
    @pytest.mark.parametrize("count,spec,expected", [
        (1, "2<-1 5<80%", 1), (2, "2<-1 5<80%", 2), (3, "2<-1 5<80%", 2),
        (5, "2<-1 5<80%", 4), (6, "2<-1 5<80%", 4), (10, "2<-1 5<80%", 8),
        (4, "75%", 3), (4, "-25%", 3), (4, "2", 2), (4, "-1", 3), (3, None, 3),
    ])
    def test_min_should_match(self, count, spec, expected):
        assert min_should_match(count, spec) == expected

    def test_date_math(self):
        now = dt.datetime(2026, 11, 21, 15, 30, 12, tzinfo=dt.timezone.utc)
        assert datemath.parse("NOW", now) == now
        assert datemath.parse("NOW-1YEAR", now) == now.replace(year=2025)
        assert datemath.parse("NOW/DAY", now) == now.replace(hour=0, minute=0, second=0)
        assert datemath.parse("NOW/MONTH+6MONTHS", now) == dt.datetime(
            2027, 5, 1, tzinfo=dt.timezone.utc)
        assert datemath.parse("2024-01-31T00:00:00Z+1MONTH") == dt.datetime(
            2024, 2, 29, tzinfo=dt.timezone.utc)
        with pytest.raises(datemath.DateMathError):
            datemath.parse("NOW-1FORTNIGHT", now)
        with pytest.raises(datemath.DateMathError):
            datemath.parse("yesterday", now)
