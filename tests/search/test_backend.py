"""The PostgreSQL search engine, through CKAN's own actions and paths."""
from __future__ import annotations

import json

import pytest

import ckan.lib.search as search
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers


def _search(**kwargs):
    return helpers.call_action("package_search", **kwargs)


def _names(result):
    return sorted(d["name"] for d in result["results"])


def _facet(result, field):
    return {i["name"]: i["count"] for i in result["search_facets"][field]["items"]}


@pytest.fixture
def catalogue():
    """A small but varied catalogue: two organisations, groups, tags, formats,
    a private dataset, a draft and another dataset type."""
    interior = factories.Organization(name="ministere-interieur",
                                      title="Ministère de l'Intérieur")
    anct = factories.Organization(name="anct", title="ANCT")
    securite = factories.Group(name="securite", title="Sécurité")
    d = {}
    d["gendarmeries"] = factories.Dataset(
        name="gendarmeries", title="Gendarmeries de France",
        notes="Liste des brigades de gendarmerie.",
        owner_org=interior["id"], groups=[{"name": securite["name"]}],
        tags=[{"name": "sécurité"}, {"name": "gendarmerie"}],
        license_id="odc-odbl",
        resources=[{"url": "http://example.org/g.csv", "format": "CSV",
                    "name": "Brigades"}])
    d["commissariats"] = factories.Dataset(
        name="commissariats", title="Commissariats de police",
        notes="Implantation des commissariats, avec la gendarmerie voisine.",
        owner_org=interior["id"], groups=[{"name": securite["name"]}],
        tags=[{"name": "sécurité"}, {"name": "police"}],
        resources=[{"url": "http://example.org/c.json", "format": "JSON"},
                   {"url": "http://example.org/c.csv", "format": "CSV"}])
    d["france-services"] = factories.Dataset(
        name="france-services", title="Liste des France Services",
        notes="Les hôpitaux ne sont pas dedans, les écoles non plus.",
        owner_org=anct["id"], tags=[{"name": "France Services"}],
        resources=[{"url": "http://example.org/fs.csv", "format": "CSV"}])
    d["plan-prive"] = factories.Dataset(
        name="plan-prive", title="Plan de réorganisation des gendarmeries",
        owner_org=interior["id"], private=True, tags=[{"name": "sécurité"}])
    d["brouillon"] = factories.Dataset(
        name="brouillon", title="Gendarmeries brouillon", state="draft",
        owner_org=interior["id"])
    return {"orgs": {"interior": interior, "anct": anct}, "group": securite,
            "datasets": d}


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestPackageSearch:
    def test_q_words_all_must_match_and_rank(self, catalogue):
        result = _search(q="gendarmerie")
        # stemming: "gendarmerie" finds "Gendarmeries" (title) and the notes
        assert _names(result) == ["commissariats", "gendarmeries"]
        assert result["count"] == 2
        # the title match outranks the description match
        assert result["results"][0]["name"] == "gendarmeries"
        assert _names(_search(q="gendarmerie police")) == ["commissariats"]
        assert _names(_search(q="gendarmerie hopital")) == []
        assert _names(_search(q="commissariats police")) == ["commissariats"]

    def test_french_accents_and_plurals(self, catalogue):
        assert _names(_search(q="hopital")) == ["france-services"]
        assert _names(_search(q="ecole")) == ["france-services"]
        assert _names(_search(q="sécurite")) == ["commissariats", "gendarmeries"]

    def test_fq_field_value_quoted_and_clauses(self, catalogue):
        assert _names(_search(fq="organization:anct")) == ["france-services"]
        assert _names(_search(fq='tags:"France Services"')) == ["france-services"]
        assert _names(_search(fq="+tags:sécurité -tags:police")) == ["gendarmeries"]
        assert _names(_search(fq="res_format:JSON")) == ["commissariats"]
        assert _names(_search(fq="groups:securite")) == [
            "commissariats", "gendarmeries"]
        assert _names(_search(fq="license_id:odc-odbl")) == ["gendarmeries"]
        assert _names(_search(q="name:france-services")) == ["france-services"]

    def test_facets_exact_counts(self, catalogue):
        result = _search(**{"facet.field": json.dumps(
            ["organization", "tags", "res_format", "groups", "license_id"])})
        assert result["count"] == 3
        assert _facet(result, "organization") == {"ministere-interieur": 2, "anct": 1}
        # a dataset with two CSV resources counts once
        assert _facet(result, "res_format") == {"CSV": 3, "JSON": 1}
        assert _facet(result, "tags")["sécurité"] == 2
        assert _facet(result, "groups") == {"securite": 2}
        orgs = result["search_facets"]["organization"]["items"]
        assert {o["display_name"] for o in orgs} == {"Ministère de l'Intérieur", "ANCT"}

    def test_facet_limit_and_mincount(self, catalogue):
        result = _search(**{"facet.field": json.dumps(["tags"]), "facet.limit": 1})
        assert _facet(result, "tags") == {"sécurité": 2}
        result = _search(**{"facet.field": json.dumps(["tags"]),
                            "facet.mincount": 2})
        assert _facet(result, "tags") == {"sécurité": 2}

    def test_sort_and_paging(self, catalogue):
        result = _search(sort="name asc")
        assert [d["name"] for d in result["results"]] == [
            "commissariats", "france-services", "gendarmeries"]
        result = _search(sort="title_string desc", rows=1, start=1)
        assert [d["name"] for d in result["results"]] == ["gendarmeries"]
        assert result["count"] == 3
        result = _search(sort="metadata_created asc")
        assert result["results"][0]["name"] == "gendarmeries"

    def test_invalid_sort_is_a_query_error(self, catalogue):
        with pytest.raises(search.SearchQueryError):
            _search(sort="name sideways")
        with pytest.raises(search.SearchQueryError):
            _search(sort="name asc; DROP TABLE package")

    @pytest.mark.ckan_config("ckan.search.rows_max", "2")
    def test_rows_max(self, catalogue):
        result = _search(rows=100000)
        assert len(result["results"]) == 2
        assert result["count"] == 3

    def test_fl(self, catalogue):
        result = _search(q="name:gendarmeries", fl=["name", "title"])
        assert result["results"] == [
            {"name": "gendarmeries", "title": "Gendarmeries de France"}]

    def test_private_needs_permission(self, catalogue):
        # call_action ignores auth: permission labels are skipped, but
        # include_private still governs what comes back
        assert "plan-prive" not in _names(_search())
        assert "plan-prive" in _names(_search(include_private=True))

    def test_drafts(self, catalogue):
        assert "brouillon" not in _names(_search())
        assert "brouillon" in _names(_search(include_drafts=True))

    def test_other_dataset_types(self, catalogue):
        factories.Dataset(name="un-rapport", type="rapport", title="Rapport")
        assert "un-rapport" in _names(_search(fq="dataset_type:rapport"))
        assert _names(_search(fq="+dataset_type:rapport")) == ["un-rapport"]

    def test_syntax_error_is_reported(self, catalogue):
        with pytest.raises(search.SearchQueryError) as e:
            _search(q="title:(gendarmerie")
        assert "q" in str(e.value)

    def test_delete_removes_from_index(self, catalogue):
        admin = factories.Sysadmin()
        helpers.call_action("package_delete", context={"user": admin["name"]},
                            id="gendarmeries")
        assert "gendarmeries" not in _names(_search())


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestPermissionLabels:
    """What an anonymous visitor, a member and a sysadmin may count."""

    def test_anonymous_never_counts_private(self, app, catalogue):
        url = tk.url_for("api.action", ver=3, logic_function="package_search")
        res = app.get(url, query_string={
            "include_private": "true",
            "facet.field": json.dumps(["organization", "tags"])})
        body = res.json["result"]
        names = {d["name"] for d in body["results"]}
        assert "plan-prive" not in names
        assert body["count"] == 3
        assert _facet(body, "organization") == {"ministere-interieur": 2, "anct": 1}
        assert _facet(body, "tags")["sécurité"] == 2

    def test_member_sees_private_of_own_org(self, app, catalogue):
        user = factories.UserWithToken()
        helpers.call_action("organization_member_create",
                            id=catalogue["orgs"]["interior"]["id"],
                            username=user["name"], role="member")
        outsider = factories.UserWithToken()
        url = tk.url_for("api.action", ver=3, logic_function="package_search")
        query = {"include_private": "true", "facet.field": json.dumps(["organization"])}
        member = app.get(url, query_string=query,
                         headers={"Authorization": user["token"]}).json["result"]
        assert "plan-prive" in {d["name"] for d in member["results"]}
        assert _facet(member, "organization")["ministere-interieur"] == 3
        other = app.get(url, query_string=query,
                        headers={"Authorization": outsider["token"]}).json["result"]
        assert other["count"] == 3
        assert _facet(other, "organization")["ministere-interieur"] == 2

    def test_sysadmin_sees_everything(self, app, catalogue):
        admin = factories.SysadminWithToken()
        url = tk.url_for("api.action", ver=3, logic_function="package_search")
        res = app.get(url, query_string={"include_private": "true"},
                      headers={"Authorization": admin["token"]}).json["result"]
        assert res["count"] == 4


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestCorePaths:
    """Core code that reaches the search engine without package_search."""

    def test_group_and_organization_counts(self, app, catalogue):
        def api(action, **params):
            url = tk.url_for("api.action", ver=3, logic_function=action)
            return app.get(url, query_string=params).json["result"]

        # anonymous: the private dataset is not counted
        assert api("organization_show", id="ministere-interieur")["package_count"] == 2
        groups = api("group_list", all_fields="true")
        assert {g["name"]: g["package_count"] for g in groups} == {"securite": 2}
        orgs = api("organization_list", all_fields="true")
        assert {o["name"]: o["package_count"] for o in orgs} == {
            "ministere-interieur": 2, "anct": 1}
        # a sysadmin counts the private dataset too
        admin = factories.SysadminWithToken()
        url = tk.url_for("api.action", ver=3, logic_function="organization_show")
        org = app.get(url, query_string={"id": "ministere-interieur"},
                      headers={"Authorization": admin["token"]}).json["result"]
        assert org["package_count"] == 3

    def test_tag_show_lists_public_datasets(self, catalogue):
        tag = helpers.call_action("tag_show", id="sécurité", include_datasets=True)
        assert sorted(p["name"] for p in tag["packages"]) == [
            "commissariats", "gendarmeries"]

    def test_package_show_cache_matches_database(self, catalogue):
        for name in ("gendarmeries", "commissariats", "france-services", "plan-prive"):
            cached = helpers.call_action("package_show", id=name)
            fresh = helpers.call_action("package_show", context={"use_cache": False},
                                        id=name)
            assert cached == fresh
            assert search.show(name)["name"] == name

    def test_rebuild_clear_and_show(self, catalogue, cli, ckan_config):
        from ckan.cli.cli import ckan

        search.clear_all()
        assert _search()["count"] == 0
        result = cli.invoke(ckan, ["search-index", "rebuild", "-q"])
        assert result.exit_code == 0, result.output
        assert _search()["count"] == 3
        result = cli.invoke(ckan, ["search-index", "show", "gendarmeries"])
        assert result.exit_code == 0, result.output
        assert "gendarmeries" in result.output
        result = cli.invoke(ckan, ["search-index", "clear"])
        assert result.exit_code == 0, result.output
        model.Session.remove()
        assert _search()["count"] == 0

    def test_schema_check_replaced(self):
        assert search.check_solr_schema_version() is True
        assert search.is_available() is True


@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestViews:
    def test_dataset_search_page(self, app, catalogue):
        res = app.get(tk.url_for("dataset.search"), query_string={"q": "gendarmerie"})
        assert res.status_code == 200
        body = res.get_data(as_text=True)
        assert "Gendarmeries de France" in body
        assert "Plan de réorganisation" not in body

    def test_organization_and_group_pages(self, app, catalogue):
        res = app.get(tk.url_for("organization.read", id="ministere-interieur"))
        assert "Gendarmeries de France" in res.get_data(as_text=True)
        assert "Plan de réorganisation" not in res.get_data(as_text=True)
        res = app.get(tk.url_for("group.index"))
        assert "Sécurité" in res.get_data(as_text=True)
        res = app.get(tk.url_for("organization.index"))
        assert "ANCT" in res.get_data(as_text=True)

    def test_dataset_page(self, app, catalogue):
        res = app.get(tk.url_for("dataset.read", id="gendarmeries"))
        assert res.status_code == 200
        assert "Brigades" in res.get_data(as_text=True)

    def test_invalid_query_is_a_400(self, app, catalogue):
        url = tk.url_for("api.action", ver=3, logic_function="package_search")
        res = app.get(url, query_string={"q": "title:(gendarmerie"}, status=400)
        assert "position" in res.json["error"]["message"] or \
            "end of the query" in res.json["error"]["message"]
