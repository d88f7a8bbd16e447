"""The bulk rebuild writes exactly the documents CKAN's own indexing writes."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import ckan.lib.search as search
import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import DefaultPermissionLabels
from ckan.tests import factories, helpers

TABLE = "servicespublics_search_document"
#: every column but indexed_ts, which records when the row was written
SNAPSHOT = sa.text(f"""
SELECT index_id, id, site_id, name, entity_type, dataset_type, state, capacity,
       organization, owner_org, license_id, title_string, tags, groups, res_format,
       permission_labels, metadata_created, metadata_modified, doc, data_dict,
       validated_data_dict, tsv::text AS tsv, ST_AsText(extent) AS extent
FROM {TABLE} ORDER BY index_id
""")


def _shout(value):
    return value.upper() if isinstance(value, str) else value


class _IndexingHooksPlugin(p.SingletonPlugin, tk.DefaultDatasetForm):
    """Every hook on the way from a dataset to its document, for the type
    ``rapport`` a show schema of its own."""

    p.implements(p.IDatasetForm)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IResourceController, inherit=True)
    p.implements(p.IPermissionLabels)

    # IDatasetForm
    def package_types(self):
        return ["rapport"]

    def is_fallback(self):
        return False

    def show_package_schema(self):
        schema = super().show_package_schema()
        schema["title"] = schema["title"] + [_shout]
        return schema

    # IPackageController
    def after_dataset_show(self, context, pkg_dict):
        pkg_dict["shown_resources"] = len(pkg_dict.get("resources") or [])

    def before_dataset_index(self, pkg_dict):
        if pkg_dict.get("panne"):
            raise ValueError(f"cannot index {pkg_dict['name']}")
        pkg_dict["hook_formats"] = sorted(set(pkg_dict.get("res_format") or []))
        pkg_dict["hook_groups"] = len(pkg_dict.get("groups") or [])
        return pkg_dict

    # IResourceController
    def before_resource_show(self, resource_dict):
        resource_dict["shown_as"] = (resource_dict.get("format") or "").lower()
        return resource_dict

    # IPermissionLabels
    def get_dataset_labels(self, dataset_obj):
        labels = DefaultPermissionLabels().get_dataset_labels(dataset_obj)
        if dataset_obj.type == "rapport":
            labels.append("rapports")
        return labels

    def get_user_dataset_labels(self, user_obj):
        return DefaultPermissionLabels().get_user_dataset_labels(user_obj)


def _catalogue():
    """Private, draft and deleted datasets, one without organisation, extras
    (spatial, dates), resources with extra fields, groups with and without
    images, free and vocabulary tags and another type.

    No relationships: CKAN 2.12 itself cannot index a dataset that has one
    (``index_package`` reads ``subject_package_id``, which the show schema
    drops), and the bulk path fails the same way."""
    sysadmin = factories.Sysadmin()
    ctx = {"user": sysadmin["name"]}
    interior = factories.Organization(name="ministere-interieur",
                                      title="Ministère de l'Intérieur",
                                      image_url="http://example.org/logo.png")
    anct = factories.Organization(name="anct", title="ANCT")
    factories.Group(name="securite", title="Sécurité")
    zones = factories.Group(name="zones", title="Zones rurales",
                            image_url="zones.png")
    helpers.call_action("group_member_create", context=ctx, id=zones["id"],
                        username=sysadmin["name"], role="admin")
    vocab = helpers.call_action("vocabulary_create", context=ctx, name="themes",
                                tags=[{"name": "eau"}, {"name": "air"}])
    spatial = json.dumps({"type": "Polygon", "coordinates": [[
        [-4.8, 47.3], [-1.0, 47.3], [-1.0, 48.9], [-4.8, 48.9], [-4.8, 47.3]]]})
    datasets = [
        factories.Dataset(
            name="gendarmeries", title="  Gendarmeries de France",
            notes="Liste des brigades de gendarmerie.", owner_org=interior["id"],
            groups=[{"name": "securite"}, {"name": "zones"}],
            tags=[{"name": "sécurité"}, {"name": "gendarmerie"},
                  {"name": "eau", "vocabulary_id": vocab["id"]}],
            extras=[{"key": "spatial", "value": spatial},
                    {"key": "frequence", "value": "mensuelle"},
                    {"key": "release_date", "value": "2024-05-01"}],
            license_id="odc-odbl", url="https://www.interieur.gouv.fr",
            resources=[{"url": "http://example.org/g.csv", "format": "CSV",
                        "name": "Brigades", "description": "Une ligne par brigade",
                        "alt_url": "http://miroir.example.org/g.csv"},
                       {"url": "example.org/g.json", "format": "JSON"}]),
        factories.Dataset(
            name="commissariats", title="Commissariats de police",
            owner_org=interior["id"], groups=[{"name": "securite"}],
            tags=[{"name": "police"}, {"name": "air", "vocabulary_id": vocab["id"]}],
            resources=[{"url": "http://example.org/c.csv", "format": "CSV"}]),
        factories.Dataset(name="plan-prive", title="Plan de réorganisation",
                          owner_org=interior["id"], private=True,
                          tags=[{"name": "sécurité"}]),
        factories.Dataset(name="brouillon", title="Brouillon", state="draft",
                          owner_org=anct["id"]),
        factories.Dataset(name="supprime", title="Supprimé", owner_org=anct["id"]),
        factories.Dataset(name="sans-organisation", title="Sans organisation",
                          extras=[{"key": "auteur_date", "value": "pas une date"}]),
        factories.Dataset(name="rapport-annuel", type="rapport",
                          title="Rapport annuel", owner_org=anct["id"],
                          groups=[{"name": "zones"}],
                          resources=[{"url": "http://example.org/r.pdf",
                                      "format": "PDF"}]),
    ]
    helpers.call_action("package_delete", context=ctx, id="supprime")
    return datasets


def _snapshot():
    model.Session.remove()
    return [dict(r._mapping) for r in model.Session.execute(SNAPSHOT)]


def _clear():
    with model.meta.engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {TABLE}"))
    model.Session.remove()


@pytest.mark.with_plugins({"servicespublics_test_indexing_hooks": _IndexingHooksPlugin})
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestBulkRebuild:
    def _per_dataset(self):
        """CKAN's own indexing, one dataset at a time."""
        ids = [r[0] for r in model.Session.query(model.Package.id)]
        _clear()
        search.rebuild(package_ids=ids, quiet=True)  # CKAN's function
        return _snapshot()

    @pytest.mark.ckan_config("ckan.search.remove_deleted_packages", False)
    @pytest.mark.ckan_config("ckanext.servicespublics.search.rebuild_batch_size", 3)
    @pytest.mark.parametrize("workers", [1, 2])
    def test_same_documents_as_ckan_indexing(self, workers, ckan_config, monkeypatch):
        _catalogue()
        expected = self._per_dataset()
        assert len(expected) == 7
        by_name = {r["name"]: r for r in expected}
        # the catalogue reaches every branch of the document
        assert by_name["supprime"]["state"] == "deleted"
        assert by_name["plan-prive"]["capacity"] == "private"
        assert by_name["rapport-annuel"]["permission_labels"][-1] == "rapports"
        assert json.loads(by_name["rapport-annuel"]["validated_data_dict"])[
            "title"] == "RAPPORT ANNUEL"
        assert by_name["gendarmeries"]["doc"]["vocab_themes"] == ["eau"]
        assert by_name["gendarmeries"]["doc"]["hook_groups"] == 2
        assert by_name["gendarmeries"]["extent"].startswith("POLYGON")
        assert "shown_as" in by_name["gendarmeries"]["data_dict"]

        monkeypatch.setitem(
            ckan_config, "ckanext.servicespublics.search.rebuild_workers", workers)
        _clear()
        search.rebuild(quiet=True)
        assert _snapshot() == expected

    def test_rebuild_updates_stale_documents_and_keeps_searching(self):
        _catalogue()
        model.Session.execute(sa.text(
            f"UPDATE {TABLE} SET title_string = 'périmé', tags = '{{}}'"))
        model.Session.commit()
        search.rebuild(quiet=True)
        expected = self._per_dataset()
        search.rebuild(quiet=True)
        assert _snapshot() == expected
        result = helpers.call_action("package_search", q="gendarmerie")
        assert [d["name"] for d in result["results"]] == ["gendarmeries"]

    def test_only_missing_and_clear(self):
        _catalogue()
        model.Session.execute(sa.text(
            f"DELETE FROM {TABLE} WHERE name IN ('gendarmeries', 'brouillon')"))
        model.Session.execute(sa.text(f"UPDATE {TABLE} SET title_string = 'gardé'"))
        model.Session.commit()
        search.rebuild(only_missing=True, quiet=True)
        rows = {r["name"]: r for r in _snapshot()}
        assert len(rows) == 6
        assert rows["gendarmeries"]["title_string"] == "Gendarmeries de France"
        assert rows["commissariats"]["title_string"] == "gardé"
        model.Session.execute(sa.text(
            f"INSERT INTO {TABLE} (index_id, id, site_id) VALUES ('x', 'y', :site)"),
            {"site": tk.config["ckan.site_id"]})
        model.Session.commit()
        search.rebuild(clear=True, quiet=True)
        assert "x" not in {r["index_id"] for r in _snapshot()}

    def test_deleted_datasets_left_out(self):
        # the default: deleted datasets are not in the index
        _catalogue()
        search.rebuild(quiet=True)
        assert "supprime" not in {r["name"] for r in _snapshot()}

    @pytest.mark.ckan_config("ckanext.servicespublics.search.rebuild_batch_size", 2)
    @pytest.mark.parametrize("workers", [1, 2])
    def test_errors_stop_unless_forced(self, workers, ckan_config, monkeypatch):
        monkeypatch.setitem(
            ckan_config, "ckanext.servicespublics.search.rebuild_workers", workers)
        _catalogue()
        # data a plugin cannot index, written behind CKAN's back
        model.Session.execute(sa.text(
            """UPDATE package SET extras = extras || '{"panne": "oui"}'::jsonb """
            "WHERE name = 'commissariats'"))
        model.Session.commit()
        _clear()
        with pytest.raises((ValueError, search.SearchIndexError),
                           match="cannot index commissariats"):
            search.rebuild(quiet=True)
        model.Session.rollback()
        search.rebuild(quiet=True, force=True)
        names = {r["name"] for r in _snapshot()}
        assert len(names) == 5 and "commissariats" not in names

    def test_single_dataset_keeps_ckan_path(self, monkeypatch):
        from ckanext.servicespublics.search import rebuild as bulk

        _catalogue()
        monkeypatch.setattr(bulk, "index_packages", None)  # must not be used
        _clear()
        search.rebuild("gendarmeries")
        assert [r["name"] for r in _snapshot()] == ["gendarmeries"]


# -- the whole index is rebuilt into a fresh table, then swapped in -----------
COUNTS = "servicespublics_search_facet_count"
#: the kept counts, whatever their rows' layout: one sum per key
COUNTS_SNAPSHOT = sa.text(f"""
SELECT site_id, entity_type, state, capacity, dataset_type, owner_org,
       permission_labels, field, value, sum(n) AS n
FROM {COUNTS} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 HAVING sum(n) <> 0
ORDER BY 1, 2, 3, 4, 5, 6, 7::text, 8, 9
""")
#: what the migrations made of the table, by name
SHAPE = sa.text("""
SELECT 'index' AS kind, indexname AS name,
       replace(indexdef, indexname, '') AS definition
FROM pg_indexes WHERE tablename = :t
UNION ALL
SELECT 'trigger', tgname, pg_get_triggerdef(oid) || tgenabled::text FROM pg_trigger
WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal
UNION ALL
SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = to_regclass(:t)
UNION ALL
SELECT 'column', attname, concat_ws(' ', format_type(atttypid, atttypmod),
       attstorage::text, attnotnull::text, attgenerated::text,
       pg_get_expr(d.adbin, d.adrelid), attacl::text)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped
UNION ALL
SELECT 'table', relname, concat_ws(' ', pg_get_userbyid(relowner), relacl::text,
       reloptions::text)
FROM pg_class WHERE oid = to_regclass(:t)
ORDER BY 1, 2
""")
LEFTOVERS = sa.text(
    "SELECT relname FROM pg_class WHERE relname LIKE 'servicespublics_search%rebuild%' "
    "UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'servicespublics_search%rebuild%' "
    "UNION ALL SELECT tgname FROM pg_trigger WHERE tgname LIKE 'servicespublics_search%rebuild%'")


def _counts():
    model.Session.remove()
    return [tuple(r) for r in model.Session.execute(COUNTS_SNAPSHOT)]


def _shape():
    model.Session.remove()
    return [tuple(r) for r in model.Session.execute(SHAPE, {"t": TABLE})]


def _leftovers():
    model.Session.remove()
    return model.Session.execute(LEFTOVERS).scalars().all()


@pytest.mark.with_plugins({"servicespublics_test_indexing_hooks": _IndexingHooksPlugin})
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index")
class TestFreshTableRebuild:
    @pytest.mark.ckan_config("ckan.search.remove_deleted_packages", False)
    @pytest.mark.ckan_config("ckanext.servicespublics.search.rebuild_workers", 2)
    def test_same_documents_counts_and_names(self):
        _catalogue()
        # privileges of the table and of a column
        model.Session.execute(sa.text(f"GRANT SELECT ON {TABLE} TO PUBLIC"))
        model.Session.execute(sa.text(f"GRANT UPDATE (title_string) ON {TABLE} TO PUBLIC"))
        model.Session.commit()
        # documents and counts as CKAN's own indexing and the triggers made
        # them, one dataset at a time
        before, counts, shape = _snapshot(), _counts(), _shape()
        oid = model.Session.execute(sa.text("SELECT to_regclass(:t)::oid"),
                                    {"t": TABLE}).scalar()
        search.rebuild(quiet=True)
        assert model.Session.execute(sa.text("SELECT to_regclass(:t)::oid"),
                                     {"t": TABLE}).scalar() != oid
        assert _snapshot() == before
        assert _counts() == counts
        assert _shape() == shape
        assert _leftovers() == []
        if model.Session.execute(sa.text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'")).scalar():
            assert "lz4" in model.Session.execute(sa.text(
                f"SELECT pg_column_compression(data_dict) FROM {TABLE}")).scalars().all()
        # the triggers keep counting on the new table
        helpers.call_action("package_patch", context={"user": factories.Sysadmin()["name"]},
                            id="commissariats", tags=[{"name": "nouveau"}])
        after_patch = _counts()
        _clear()
        search.rebuild(package_ids=[r[0] for r in model.Session.query(model.Package.id)],
                       quiet=True)
        assert _counts() == after_patch
        model.Session.execute(sa.text(f"REVOKE ALL ON {TABLE} FROM PUBLIC"))
        model.Session.execute(sa.text(f"REVOKE ALL (title_string) ON {TABLE} FROM PUBLIC"))
        model.Session.commit()

    @pytest.mark.ckan_config("ckanext.servicespublics.search.rebuild_batch_size", 2)
    @pytest.mark.ckan_config("ckanext.servicespublics.search.rebuild_workers", 1)
    def test_writes_during_the_rebuild_are_kept(self, monkeypatch):
        from ckanext.servicespublics.search import rebuild as bulk

        _catalogue()
        sysadmin = factories.Sysadmin()
        ctx = {"user": sysadmin["name"]}
        index_batch = bulk.index_batch
        calls = []
        searched = []

        def index_batch_then_write(ids, force=False, table=None):
            result = index_batch(ids, force, table)
            if not calls:
                # the first datasets are in the new table: CKAN changes
                # them in the live one, and adds a dataset the rebuild
                # does not know of
                names = {p.name: p.id for p in model.Session.query(model.Package)
                         .filter(model.Package.id.in_(ids))}
                first, second = sorted(names)
                helpers.call_action("package_patch", context=dict(ctx), id=first,
                                    title="Changé pendant la reconstruction",
                                    tags=[{"name": "pendant"}])
                helpers.call_action("package_delete", context=dict(ctx), id=second)
                factories.Dataset(name="ajoute-pendant", title="Ajouté pendant",
                                  tags=[{"name": "pendant"}])
                # searches keep answering from the live table, from
                # another connection too
                searched.append(helpers.call_action(
                    "package_search", q="tags:pendant")["count"])
                with model.meta.engine.connect() as conn:
                    conn.execute(sa.text("SET lock_timeout = '1s'"))
                    searched.append(conn.execute(sa.text(
                        f"SELECT count(*) FROM {TABLE} WHERE 'pendant' = ANY(tags)")
                    ).scalar())
            calls.append(ids)
            return result

        monkeypatch.setattr(bulk, "index_batch", index_batch_then_write)
        search.rebuild(quiet=True)
        assert len(calls) > 2 and searched == [2, 2]
        rebuilt, counts = _snapshot(), _counts()
        # exactly what indexing every dataset now gives
        monkeypatch.setattr(bulk, "index_batch", index_batch)
        assert rebuilt == TestBulkRebuild._per_dataset(self)
        names = {r["name"] for r in rebuilt}
        assert "ajoute-pendant" in names and len(names) == 6
        assert any(r["title_string"] == "Changé pendant la reconstruction"
                   for r in rebuilt)
        assert counts == _counts()
        assert _leftovers() == []

    @pytest.mark.ckan_config("ckanext.servicespublics.search.rebuild_workers", 2)
    @pytest.mark.parametrize("where", ["load", "indexes", "swap", "interrupt"])
    def test_failure_leaves_the_live_table(self, where, ckan_config, monkeypatch):
        from ckanext.servicespublics.search import fresh
        from ckanext.servicespublics.search import rebuild as bulk

        _catalogue()
        before, counts, shape = _snapshot(), _counts(), _shape()
        if where == "load":
            model.Session.execute(sa.text(
                """UPDATE package SET extras = extras || '{"panne": "oui"}'::jsonb """
                "WHERE name = 'commissariats'"))
            model.Session.commit()
            error = (ValueError, search.SearchIndexError)
        elif where == "swap":
            # in the swap's transaction, once the TRUNCATE triggers fired,
            # the counts are replaced and the triggers created
            triggers = fresh.FreshTable._triggers
            monkeypatch.setattr(
                fresh.FreshTable, "_triggers", lambda self, *args, **kwargs:
                triggers(self, *args, **kwargs)
                + ([] if kwargs.get("truncate_only") else ["SELECT 1/0"]))
            error = sa.exc.DataError
        else:
            error = KeyboardInterrupt if where == "interrupt" else RuntimeError

            def fail(*args, **kwargs):
                raise error("stop")

            target = {"indexes": (fresh.FreshTable, "_build_indexes"),
                      "interrupt": (bulk, "index_packages")}[where]
            monkeypatch.setattr(*target, fail)
        with pytest.raises(error):
            search.rebuild(quiet=True)
        model.Session.rollback()
        assert _snapshot() == before
        assert _counts() == counts
        assert _shape() == shape
        assert _leftovers() == []
        result = helpers.call_action("package_search", q="gendarmerie")
        assert [d["name"] for d in result["results"]] == ["gendarmeries"]
        # and the next rebuild works (with --force, a dataset that cannot be
        # indexed keeps its document)
        monkeypatch.undo()
        search.rebuild(quiet=True, force=True)
        assert _snapshot() == before
        assert _counts() == counts

    def test_a_view_on_the_table_stops_it_clearly(self):
        _catalogue()
        before = _snapshot()
        model.Session.execute(sa.text(
            f"CREATE VIEW servicespublics_search_names AS SELECT name FROM {TABLE}"))
        model.Session.commit()
        try:
            with pytest.raises(search.SearchIndexError,
                               match="views depend on it.*servicespublics_search_names"):
                search.rebuild(quiet=True)
            assert _snapshot() == before
            assert _leftovers() == []
        finally:
            model.Session.rollback()
            model.Session.execute(sa.text("DROP VIEW servicespublics_search_names"))
            model.Session.commit()

    @pytest.mark.ckan_config("ckanext.servicespublics.search.rebuild_workers", 1)
    def test_emptied_during_the_rebuild_stops_it_clearly(self, monkeypatch):
        from ckanext.servicespublics.search import rebuild as bulk

        _catalogue()
        index_packages = bulk.index_packages

        def truncate_then_index(*args, **kwargs):
            with model.meta.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {TABLE}"))
            return index_packages(*args, **kwargs)

        monkeypatch.setattr(bulk, "index_packages", truncate_then_index)
        with pytest.raises(search.SearchIndexError, match="truncated during the rebuild"):
            search.rebuild(quiet=True)
        model.Session.rollback()
        assert _snapshot() == [] and _counts() == []
        assert _leftovers() == []

    def test_truncate_triggers_learn_of_the_swap(self):
        """What follows the table through its TRUNCATE triggers (a log of
        removals that readers of the table follow) sees the swap as the
        table being emptied, once, in the swap's transaction."""
        _catalogue()
        statements = [
            "CREATE TABLE servicespublics_search_test_truncations (at timestamptz)",
            "CREATE FUNCTION servicespublics_search_test_truncated() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "
            "servicespublics_search_test_truncations VALUES (now()); RETURN NULL; END $$",
            f"CREATE TRIGGER servicespublics_search_test_truncate AFTER TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION servicespublics_search_test_truncated()",
        ]
        for sql in statements:
            model.Session.execute(sa.text(sql))
        model.Session.commit()
        try:
            before, shape = _snapshot(), _shape()
            search.rebuild(quiet=True)
            assert model.Session.execute(sa.text(
                "SELECT count(*) FROM servicespublics_search_test_truncations")).scalar() == 1
            assert _snapshot() == before and _shape() == shape
        finally:
            model.Session.rollback()
            model.Session.execute(sa.text(
                f"DROP TRIGGER servicespublics_search_test_truncate ON {TABLE}"))
            model.Session.execute(sa.text(
                "DROP FUNCTION servicespublics_search_test_truncated()"))
            model.Session.execute(sa.text("DROP TABLE servicespublics_search_test_truncations"))
            model.Session.commit()


SCHEMING_PLUGINS = ("activity servicespublics servicespublics_search "
                    "servicespublics_dataset scheming_datasets")


@pytest.mark.ckan_config("ckan.plugins", SCHEMING_PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_index")
class TestBulkRebuildWithSchemas:
    """The show schemas of ckanext-scheming (both dataset types, list and
    composite fields, resource fields) go through the bulk path's
    validation plans: the documents are still CKAN's own."""

    @pytest.mark.ckan_config("ckan.search.remove_deleted_packages", False)
    @pytest.mark.ckan_config("ckanext.servicespublics.search.rebuild_batch_size", 2)
    def test_same_documents_as_ckan_indexing(self, territories_loaded):
        org = factories.Organization(name="anct", title="ANCT")
        ctx = {"user": factories.Sysadmin()["name"]}
        common = dict(owner_org=org["id"], license_id="lov2", frequency="monthly")
        points = dict(common, type="service-points", domain="accueil-proximite",
                      territory_level="commune")
        for name, extra in [
                ("france-services-35", dict(
                    points, title="France Services d'Ille-et-Vilaine",
                    service_types=["france-services", "mairie"],
                    territory_codes=["35238", "35288"], vintage="2024-08-01",
                    temporal_start="2019-01-01", access_level="restricted",
                    url="https://www.data.gouv.fr/fr/datasets/france-services/",
                    contact_email="donnees@anct.gouv.fr", tags=[{"name": "proximité"}],
                    spatial='{"type": "Point", "coordinates": [-1.68, 48.11]}',
                    resources=[{"url": "https://example.org/liste.csv", "format": "CSV",
                                "name": "Liste", "role": "point_file", "encoding": "utf-8",
                                "delimiter": ";", "crs": "EPSG:2154",
                                "column_mapping": {"name": "lib_fs",
                                                   "insee_code": "com_insee"},
                                "point_count": 2845},
                               {"url": "https://example.org/notice.pdf",
                                "name": "Notice", "format": "PDF",
                                "role": "documentation"}])),
                ("mairies-05", dict(points, title="Mairies des Hautes-Alpes",
                                    service_types=["mairie"], territory_codes=["05120"],
                                    url=None, resources=[])),
                ("france-services-29", dict(
                    points, title="France Services du Finistère",
                    service_types=["france-services"], territory_codes=["35238"],
                    private=True, tags=[{"name": "accueil"}, {"name": "proximité"}],
                    resources=[{"url": "https://example.org/29.csv", "format": "CSV",
                                "role": "point_file"}])),
                ("budget", dict(common, title="Budget des services",
                                notes="Un jeu de données ordinaire.",
                                territory_level="departement", territory_codes=["35"],
                                version="2", author="ANCT",
                                resources=[{"url": "https://example.org/b.xlsx",
                                            "format": "XLSX", "name": "Budget"}])),
        ]:
            helpers.call_action("package_create", context=dict(ctx), name=name, **extra)
        ids = [r[0] for r in model.Session.query(model.Package.id)]
        _clear()
        search.rebuild(package_ids=ids, quiet=True)  # CKAN's function
        expected = _snapshot()
        assert len(expected) == 4
        shown = {r["name"]: json.loads(r["validated_data_dict"]) for r in expected}
        assert shown["france-services-35"]["service_types"] == ["france-services", "mairie"]
        assert shown["france-services-35"]["resources"][0]["column_mapping"] == {
            "name": "lib_fs", "insee_code": "com_insee"}
        assert shown["budget"]["version"] == "2"

        _clear()
        search.rebuild(quiet=True)
        # each dataset's own fields, also the second one of a type in a
        # batch (scheming reads them from the extras only with a schema
        # it has not changed yet)
        assert _snapshot() == expected
