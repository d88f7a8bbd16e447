"""Counts kept by the search table's triggers answer like counting does."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import ckan.lib.search as search
import ckan.model as model
from ckan.tests import factories, helpers

FACETS = json.dumps(["organization", "owner_org", "tags", "res_format", "groups",
                     "license_id", "dataset_type"])
COUNTS = "servicespublics_search_facet_count"


def _catalogue():
    admin = factories.Sysadmin()
    interior = factories.Organization(name="ministere-interieur")
    anct = factories.Organization(name="anct")
    factories.Group(name="securite")
    factories.Group(name="zones")
    for i in range(6):
        factories.Dataset(
            name=f"jeu-{i}", owner_org=(interior if i % 2 else anct)["id"],
            private=(i == 3), license_id=["cc-by", "odc-odbl", ""][i % 3],
            groups=[{"name": "securite"}] + ([{"name": "zones"}] if i > 3 else []),
            tags=[{"name": "sécurité"}, {"name": f"tag-{i % 3}"}],
            resources=[{"url": "http://example.org/a.csv", "format": "CSV"},
                       {"url": "http://example.org/b.csv", "format": "CSV"},
                       {"url": "http://example.org/c.json", "format": "JSON"}][:1 + i % 3])
    factories.Dataset(name="sans-organisation", tags=[{"name": "sécurité"}])
    factories.Dataset(name="brouillon", state="draft", owner_org=anct["id"])
    factories.Dataset(name="un-rapport", type="rapport", owner_org=anct["id"])
    return admin, interior, anct


QUERIES = [
    {},
    {"include_private": True},
    {"include_private": True, "include_drafts": True},
    {"fq": "dataset_type:rapport"},
    {"fq": "-dataset_type:rapport", "include_private": True},
    {"facet.limit": 1},
    {"facet.limit": -1, "facet.mincount": 2},
    {"rows": 0},
    {"rows": 2, "start": 1},
]


def _both(context, query, ckan_config, monkeypatch):
    """package_search from the kept counts, then by counting."""
    data = dict(query, **{"facet.field": FACETS})
    kept = helpers.call_action("package_search", context=dict(context), **data)
    monkeypatch.setitem(ckan_config, "ckanext.servicespublics.search.kept_counts", False)
    counted = helpers.call_action("package_search", context=dict(context), **data)
    monkeypatch.setitem(ckan_config, "ckanext.servicespublics.search.kept_counts", True)
    return kept, counted


def _assert_same(context, ckan_config, monkeypatch, queries=QUERIES):
    for query in queries:
        kept, counted = _both(context, query, ckan_config, monkeypatch)
        assert kept["count"] == counted["count"], query
        assert kept["search_facets"] == counted["search_facets"], query
        assert kept["facets"] == counted["facets"], query
        assert kept["results"] == counted["results"], query


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestKeptCounts:
    def test_same_as_counting_for_every_visitor(self, app, ckan_config, monkeypatch):
        admin, interior, _ = _catalogue()
        member = factories.User()
        helpers.call_action("organization_member_create", id=interior["id"],
                            username=member["name"], role="member")
        for user in ("", member["name"], admin["name"]):
            context = {"user": user, "ignore_auth": False}
            _assert_same(context, ckan_config, monkeypatch)
        # an organisation page and the group/organisation counts
        _assert_same({}, ckan_config, monkeypatch,
                     [{"fq": f'owner_org:"{interior["id"]}"'},
                      {"fq": "+dataset_type:dataset", "facet.limit": -1, "rows": 1}])
        # the kept counts did answer: they hold every indexed document
        total = model.Session.execute(sa.text(
            f"SELECT sum(n) FROM {COUNTS} WHERE field = ''")).scalar()
        indexed = model.Session.execute(sa.text(
            "SELECT count(*) FROM servicespublics_search_document")).scalar()
        assert total == indexed == 9
        # and they are what answers: a count written behind the triggers'
        # back shows in the kept answer only
        model.Session.execute(sa.text(
            f"INSERT INTO {COUNTS} SELECT site_id, entity_type, state, capacity, "
            f"dataset_type, owner_org, permission_labels, 'tags', 'fantôme', 5 "
            f"FROM {COUNTS} WHERE field = '' AND capacity = 'public' LIMIT 1"))
        model.Session.commit()
        kept, counted = _both({}, {}, ckan_config, monkeypatch)
        assert kept["facets"]["tags"]["fantôme"] == 5
        assert "fantôme" not in counted["facets"]["tags"]

    def test_follow_every_change(self, ckan_config, monkeypatch):
        admin, interior, anct = _catalogue()
        ctx = {"user": admin["name"]}
        helpers.call_action("package_patch", context=dict(ctx), id="jeu-1",
                            tags=[{"name": "nouveau"}], private=True)
        helpers.call_action("package_patch", context=dict(ctx), id="jeu-2",
                            owner_org=interior["id"], license_id="cc-by")
        helpers.call_action("package_delete", context=dict(ctx), id="jeu-4")
        helpers.call_action("dataset_purge", context=dict(ctx), id="jeu-5")
        helpers.call_action("package_patch", context=dict(ctx), id="brouillon",
                            state="active")
        _assert_same({}, ckan_config, monkeypatch)
        search.rebuild(quiet=True)
        _assert_same({}, ckan_config, monkeypatch)
        search.clear_all()
        assert model.Session.execute(sa.text(f"SELECT count(*) FROM {COUNTS}")).scalar() == 0
        search.rebuild(quiet=True)
        _assert_same({}, ckan_config, monkeypatch)

    def test_rows_are_merged(self):
        _catalogue()
        search.rebuild(quiet=True)
        search.rebuild(quiet=True)
        rows, keys = model.Session.execute(sa.text(
            f"SELECT count(*), count(DISTINCT (site_id, entity_type, state, capacity, "
            f"dataset_type, owner_org, permission_labels, field, value)) "
            f"FROM {COUNTS}")).one()
        assert rows == keys
        assert model.Session.execute(sa.text(
            f"SELECT count(*) FROM {COUNTS} WHERE n <= 0")).scalar() == 0
