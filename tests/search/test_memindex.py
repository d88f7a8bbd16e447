"""The in-memory index answers word queries exactly as SQL does, and follows
every change of the table, whoever sees it."""
from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa

import ckan.lib.search as search
import ckan.model as model
from ckan.tests import factories, helpers

from ckanext.servicespublics.search import memindex

PLUGINS = "activity servicespublics servicespublics_search servicespublics_dataset " \
          "scheming_datasets"
FACETS = json.dumps(["domain", "service_types", "territory_regions", "organization",
                     "res_format", "license_id", "access_level", "tags", "groups"])
SWITCH = "ckanext.servicespublics.search.memory_index"

TITLES = ["Brigades de gendarmerie", "Gendarmeries du Morbihan", "Écoles maternelles",
          "Liste des France Services", "Mairies et services publics", "Hôpitaux publics",
          "Services de la préfecture", "La Poste : bureaux et agences",
          "Collèges et lycées publics", "Tribunaux judiciaires"]
NOTES = ["Accueil du public et horaires.", "Implantation des services de l'État.",
         "Les écoles, collèges et lycées.", "", "Données de la gendarmerie nationale.",
         "Services publics de proximité en Bretagne."]
QUERIES = ["gendarmerie", "services", "écoles", "ecole", "publics", "hôpital", "hopitaux",
           "services publics", "la gendarmerie nationale", "services publics bretagne",
           "mairie de paris", "le la les", "introuvable", "accueil horaires",
           "france services proximité", "tribunal", "poste agences"]


@pytest.fixture
def catalogue(territories_loaded):
    """Forty datasets with words in titles, descriptions, tags, resources and
    organisations, two of them private, one draft, and equal scores."""
    interior = factories.Organization(name="ministere-interieur",
                                      title="Ministère de l'Intérieur")
    anct = factories.Organization(name="anct", title="ANCT — services publics")
    factories.Group(name="securite", title="Sécurité")
    admin = factories.Sysadmin()
    context = {"user": admin["name"]}
    domains = ["securite", "accueil-proximite", "education-culture-sport"]
    for i in range(40):
        data = dict(
            name=f"jeu-{i:02d}", title=TITLES[i % len(TITLES)],
            notes=NOTES[i % len(NOTES)], owner_org=(interior if i % 3 else anct)["id"],
            domain=domains[i % 3], territory_level="national",
            tags=[{"name": ["sécurité", "écoles", "services", "accueil"][i % 4]}],
            license_id=["odc-odbl", "cc-by", "lov2"][i % 3] if i % 5 else "",
            resources=[{"url": f"https://example.org/{i}.csv", "format": "CSV",
                        "name": "Liste des mairies" if i % 4 == 0 else "Fichier",
                        "description": "Services de gendarmerie" if i % 7 == 0 else ""}])
        if i % 9 == 0:
            data["groups"] = [{"name": "securite"}]
        if i % 2 == 0:
            data.update(type="service-points",
                        service_types=[["gendarmerie", "ecole", "france-services"][i % 3]])
        if i in (5, 17):
            data["private"] = True
            data["title"] = "Gendarmerie confidentielle"
        if i == 23:
            data["state"] = "draft"
        helpers.call_action("package_create", context=dict(context), **data)
    member = factories.User()
    helpers.call_action("organization_member_create", id=interior["id"],
                        username=member["name"], role="member")
    return {"admin": admin, "member": member, "interior": interior, "anct": anct}


def _both(monkeypatch, ckan_config, context, query):
    """The same package_search from memory, then from SQL."""
    served = memindex.STATS["served"]
    monkeypatch.setitem(ckan_config, SWITCH, True)
    memory = helpers.call_action("package_search", context=dict(context), **query)
    from_memory = memindex.STATS["served"] > served
    monkeypatch.setitem(ckan_config, SWITCH, False)
    sql = helpers.call_action("package_search", context=dict(context), **query)
    monkeypatch.setitem(ckan_config, SWITCH, True)
    return memory, sql, from_memory


def _assert_same(monkeypatch, ckan_config, context, queries, served=True):
    for query in queries:
        memory, sql, from_memory = _both(monkeypatch, ckan_config, context, query)
        assert from_memory is served, query
        assert memory["count"] == sql["count"], query
        assert memory["results"] == sql["results"], query
        assert memory["search_facets"] == sql["search_facets"], query


def _word_queries(**extra):
    out = []
    for q in QUERIES:
        out.append(dict({"q": q, "facet.field": FACETS}, **extra))
    return out


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestSameAsSql:
    def test_every_visitor_every_word(self, catalogue, monkeypatch, ckan_config):
        visitors = [({}, {}), ({"user": catalogue["member"]["name"]},
                               {"include_private": True}),
                    ({"user": catalogue["admin"]["name"]},
                     {"include_private": True, "include_drafts": True})]
        for context, extra in visitors:
            context = dict(context, ignore_auth=False)
            _assert_same(monkeypatch, ckan_config, context, _word_queries(**extra))

    def test_pages_sorts_limits_scores(self, catalogue, monkeypatch, ckan_config):
        _assert_same(monkeypatch, ckan_config, {}, [
            {"q": "services", "rows": 3, "start": 2, "fl": "name,score"},
            {"q": "services", "rows": 5, "start": 30},
            {"q": "gendarmerie", "sort": "score desc, metadata_created asc"},
            {"q": "gendarmerie", "sort": "score desc", "fl": "id,name,score"},
            {"q": "services publics", "facet.field": FACETS, "facet.limit": 2,
             "facet.mincount": 3},
            {"q": "services", "fq": f'owner_org:"{catalogue["anct"]["id"]}"',
             "facet.field": FACETS},
            {"q": "services", "fq": "+dataset_type:service-points "
                                    f'-owner_org:"{catalogue["anct"]["id"]}"'},
            # facets the visitor clicked
            {"q": "services", "fq": 'organization:"anct"', "facet.field": FACETS},
            {"q": "services publics", "fq": 'tags:"écoles" res_format:"CSV"',
             "facet.field": FACETS},
            {"q": "gendarmerie", "fq": "domain:securite -license_id:cc-by",
             "facet.field": FACETS},
            {"q": "services", "fq": '+service_types:"gendarmerie" +groups:securite'},
            {"q": "services", "fq": 'organization:"inconnue"'},
            {"q": "services", "fq": "access_level:restricted"},
            # the listing with facets clicked, no words
            {"fq": 'organization:"anct"', "facet.field": FACETS, "fl": "name,score"},
            {"q": "*:*", "fq": 'res_format:"CSV" -tags:"écoles"', "facet.field": FACETS,
             "rows": 4, "start": 3},
            {"fq": "domain:securite", "sort": "metadata_created asc"},
            # mm: two of three words are enough
            {"q": "gendarmerie tribunal accueil", "facet.field": FACETS},
            {"q": "gendarmerie tribunal", "defType": "lucene"},
        ])
        # scores are PostgreSQL's own, to the last bit
        memory, sql, served = _both(monkeypatch, ckan_config, {},
                                    {"q": "services publics", "fl": "name,score",
                                     "rows": 40})
        assert served
        assert [r["score"] for r in memory["results"]] == \
            [r["score"] for r in sql["results"]]
        assert len({r["score"] for r in memory["results"]}) > 3

    def test_other_queries_go_to_sql(self, catalogue, monkeypatch, ckan_config):
        _assert_same(monkeypatch, ckan_config, {}, [
            {"q": "title:gendarmerie"}, {"q": '"services publics"'},
            {"q": "gendar*"}, {"q": "services", "fq": "tags:écol*"},
            {"q": "services", "fq": "tags:écoles OR tags:services"},
            {"q": "services", "fq": "metadata_modified:[NOW-1YEAR TO *]"},
            {"q": "services", "fq": "title:gendarmerie"},
            {"q": "services", "sort": "name asc"},
            {"q": "services", "facet.field": json.dumps(["name"])},
            {"q": "*:*", "facet.field": FACETS},
            {"fq": "domain:securite", "sort": "name asc"},
            {"q": "services", "extras": {"ext_bbox": "-5,47,-1,49"}},
        ], served=False)

    def test_private_words_stay_private(self, catalogue, monkeypatch, ckan_config):
        anonymous = helpers.call_action("package_search", q="confidentielle",
                                        **{"facet.field": FACETS})
        assert anonymous["count"] == 0
        assert anonymous["search_facets"]["organization"]["items"] == []
        member = helpers.call_action(
            "package_search", context={"user": catalogue["member"]["name"],
                                       "ignore_auth": False},
            q="confidentielle", include_private=True)
        assert sorted(r["name"] for r in member["results"]) == ["jeu-05", "jeu-17"]


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestFollowsTheTable:
    def test_every_change(self, catalogue, monkeypatch, ckan_config):
        context = {"user": catalogue["admin"]["name"]}
        queries = _word_queries()
        _assert_same(monkeypatch, ckan_config, {}, queries)
        builds = memindex.STATS["builds"]
        helpers.call_action("package_patch", context=dict(context), id="jeu-01",
                            title="Nouvelle gendarmerie", private=False)
        helpers.call_action("package_patch", context=dict(context), id="jeu-02",
                            private=True)
        helpers.call_action("package_patch", context=dict(context), id="jeu-05",
                            private=False)
        helpers.call_action("package_delete", context=dict(context), id="jeu-04")
        helpers.call_action("dataset_purge", context=dict(context), id="jeu-07")
        helpers.call_action("package_patch", context=dict(context), id="jeu-23",
                            state="active")
        helpers.call_action("package_create", context=dict(context), name="nouveau",
                            title="Services de gendarmerie", owner_org=catalogue["anct"]["id"],
                            domain="securite", territory_level="national")
        result = helpers.call_action("package_search", q="nouvelle")
        assert [r["name"] for r in result["results"]] == ["jeu-01"]
        _assert_same(monkeypatch, ckan_config, {}, queries)
        # followed, not rebuilt
        assert memindex.STATS["builds"] == builds
        # a new facet field is read once, then followed too
        _assert_same(monkeypatch, ckan_config, {}, [
            {"q": "services", "facet.field": json.dumps(["service_types", "owner_org"])}])
        helpers.call_action("package_patch", context=dict(context), id="jeu-00",
                            service_types=["gendarmerie", "ecole"])
        _assert_same(monkeypatch, ckan_config, {}, [
            {"q": "services", "facet.field": json.dumps(["service_types", "owner_org"])}])

    def test_rebuild_clear_and_truncate(self, catalogue, monkeypatch, ckan_config):
        queries = _word_queries()[:6]
        _assert_same(monkeypatch, ckan_config, {}, queries)
        search.rebuild(quiet=True)
        _assert_same(monkeypatch, ckan_config, {}, queries)
        search.clear_all()
        assert helpers.call_action("package_search", q="services")["count"] == 0
        search.rebuild(quiet=True)
        _assert_same(monkeypatch, ckan_config, {}, queries)
        builds = memindex.STATS["builds"]
        model.Session.execute(sa.text("TRUNCATE servicespublics_search_document"))
        model.Session.commit()
        assert helpers.call_action("package_search", q="services")["count"] == 0
        assert memindex.STATS["builds"] > builds
        search.rebuild(quiet=True)
        _assert_same(monkeypatch, ckan_config, {}, queries)

    def test_own_uncommitted_writes_are_answered_by_sql(self, catalogue, monkeypatch,
                                                         ckan_config):
        _assert_same(monkeypatch, ckan_config, {}, _word_queries()[:1])
        model.Session.execute(sa.text(
            "UPDATE servicespublics_search_document SET state = 'deleted' "
            "WHERE name = 'jeu-00'"))
        served = memindex.STATS["served"]
        names = [r["name"] for r in helpers.call_action(
            "package_search", q="gendarmerie", rows=50)["results"]]
        assert "jeu-00" not in names
        assert memindex.STATS["served"] == served
        model.Session.rollback()
        names = [r["name"] for r in helpers.call_action(
            "package_search", q="gendarmerie", rows=50)["results"]]
        assert memindex.STATS["served"] == served + 1
        assert "jeu-00" in names


def test_term_weights_are_postgres_ts_rank(app, clean_db):
    """Each weights pattern gives ts_rank's value for a one-word query."""
    patterns = ["A", "D", "C", "B", "AA", "DA", "AD", "CCC", "ABCD", "DCBA",
                "A" * 40, "D" * 7 + "A", "BDBDBDBDBD"]
    letters = {"A": "A", "B": "B", "C": "C", "D": "D"}
    for pattern in patterns:
        # one lexeme at positions 1.., with these weights
        vector = " ".join(f"{i + 1}{letters[w]}" for i, w in enumerate(pattern))
        value = model.Session.execute(sa.text(
            "SELECT ts_rank('{0.05, 0.1, 0.4, 1.0}', "
            "CAST(:v AS tsvector), CAST('mot' AS tsquery))"),
            {"v": "mot:" + vector.replace(" ", ",")}).scalar()
        # a real, as PostgreSQL prints it and Python reads it
        assert memindex._as_returned(np.float32(memindex.term_weight(pattern))) \
            == value, pattern
