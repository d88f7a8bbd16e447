"""The territorial reference: loading the COG 2026, lookups, search, boundaries."""
from __future__ import annotations

import json
import os
import shutil

import pytest
import sqlalchemy as sa

import ckan.plugins.toolkit as tk
from ckan.cli.cli import ckan as ckan_cli
from ckan.tests import helpers

from .fixtures import COG_COUNTS, COG_DIR, GEOJSON_DIR, SHIPPED_BOUNDARIES, ensure_loaded

PLUGINS = "activity servicespublics servicespublics_search scheming_datasets " \
          "servicespublics_dataset"


def _read(name):
    with open(os.path.join(COG_DIR, name), encoding="utf-8") as stream:
        return json.load(stream)


@pytest.fixture(scope="module")
def cog_files():
    communes = _read("communes.json")
    return {
        "communes": [c for c in communes if c["type"] == "commune-actuelle"],
        "arrondissements": [c for c in communes if c["type"] == "arrondissement-municipal"],
        "former": {a: c["code"] for c in communes if c["type"] == "commune-actuelle"
                   for a in c.get("anciensCodes", [])},
        "departements": _read("departements.json"),
        "regions": _read("regions.json"),
        "epci": _read("epci.json"),
    }


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestLoad:
    def test_counts_match_the_files(self, territories_loaded, cog_files):
        counts = territories_loaded.counts()
        assert counts["commune"] == len(cog_files["communes"]) == 34969
        assert counts["arrondissement_municipal"] == len(cog_files["arrondissements"]) == 45
        assert counts["departement"] == len(cog_files["departements"]) == 109
        assert counts["region"] == len(cog_files["regions"]) == 26
        assert counts["epci"] == len(cog_files["epci"]) == 1255
        assert counts["former_codes"] == len(cog_files["former"]) == 4240
        assert counts["boundaries"] == SHIPPED_BOUNDARIES

    def test_legal_populations(self, territories_loaded, cog_files):
        t = territories_loaded
        rennes = next(c for c in cog_files["communes"] if c["code"] == "35238")
        assert t.population("35238") == rennes["population"] == 230890
        in_35 = [c["population"] for c in cog_files["communes"]
                 if c["departement"] == "35" and "population" in c]
        assert t.population("35", level="departement") == sum(in_35)
        in_53 = [c["population"] for c in cog_files["communes"]
                 if c["region"] == "53" and "population" in c]
        assert t.population("53", level="region") == sum(in_53)
        metropole = next(e for e in cog_files["epci"] if e["code"] == "243500139")
        assert t.population("243500139") == metropole["populationMunicipale"]
        total = sum(c.get("population", 0) for c in cog_files["communes"])
        assert sum(t.population(r["code"], "region") or 0 for r in cog_files["regions"]) == total
        # the TAAF have no inhabitants in the COG
        assert t.population("98411") is None

    def test_parents_and_names(self, territories_loaded):
        rennes = territories_loaded.get("35238")
        assert rennes["name"] == "Rennes"
        assert rennes["label"] == "Rennes (35)"
        assert (rennes["level"], rennes["departement"], rennes["region"], rennes["epci"]) \
            == ("commune", "35", "53", "243500139")
        assert rennes["postcodes"] == ["35000", "35200", "35700"]
        paris_12 = territories_loaded.get("75112")
        assert paris_12["level"] == "arrondissement_municipal"
        assert paris_12["commune"] == "75056"
        metropole = territories_loaded.get("243500139")
        assert (metropole["level"], metropole["kind"], metropole["departement"]) \
            == ("epci", "METRO", "35")
        assert territories_loaded.get("2a004")["name"] == "Ajaccio"

    def test_codes_at_several_levels(self, territories_loaded):
        # "53" is the Mayenne département and the Bretagne région
        assert territories_loaded.get("53")["name"] == "Mayenne"
        assert territories_loaded.get("53", level="region")["name"] == "Bretagne"
        assert territories_loaded.get("53", level="commune") is None
        assert territories_loaded.get("99999") is None
        assert territories_loaded.get("") is None

    def test_former_codes_of_merged_communes(self, territories_loaded):
        # Ristolas (05120) merged into Abriès-Ristolas (05001) in 2019: the
        # 2016 DILA directory still uses the old code
        commune = territories_loaded.resolve_commune("05120")
        assert (commune["code"], commune["name"], commune["former_code"]) \
            == ("05001", "Abriès-Ristolas", "05120")
        assert territories_loaded.resolve_commune("05069")["name"] == "Garde-Colombe"
        assert territories_loaded.resolve_commune("35238")["name"] == "Rennes"
        assert "former_code" not in territories_loaded.resolve_commune("35238")
        assert territories_loaded.resolve_commune("75112")["commune"] == "75056"
        assert territories_loaded.resolve_commune("99999") is None
        assert territories_loaded.resolve_commune("35") is None
        assert territories_loaded.former_codes(["05120", "35238"]) == {"05120": "05001"}

    def test_children(self, territories_loaded, cog_files):
        t = territories_loaded
        assert [d["code"] for d in t.children("53", level="region")] == ["22", "29", "35", "56"]
        communes_35 = sorted(c["code"] for c in cog_files["communes"] if c["departement"] == "35")
        assert [c["code"] for c in t.children("35")] == communes_35
        metropole = next(e for e in cog_files["epci"] if e["code"] == "243500139")
        assert sorted(c["code"] for c in t.children("243500139")) \
            == sorted(m["code"] for m in metropole["membres"])
        assert len(t.children("75056")) == 20
        assert t.children("35238") == []
        assert t.children("00000") == []

    def test_reload_keeps_boundaries_and_replaces_everything_else(
            self, territories_loaded, tmp_path):
        from ckanext.servicespublics.territories import loader

        source = tmp_path / "cog"
        shutil.copytree(COG_DIR, source)
        regions = json.loads((source / "regions.json").read_text(encoding="utf-8"))
        regions[[r["code"] for r in regions].index("53")]["nom"] = "Bretagne (test)"
        (source / "regions.json").write_text(json.dumps(regions), encoding="utf-8")
        counts = loader.load_cog(str(source), echo=lambda _msg: None)
        assert {k: counts[k] for k in COG_COUNTS} == COG_COUNTS
        assert territories_loaded.get("53", "region")["name"] == "Bretagne (test)"
        assert territories_loaded.get("53", "region")["has_boundary"] is True
        assert territories_loaded.counts()["boundaries"] == SHIPPED_BOUNDARIES
        ensure_loaded()
        loader.load_cog(COG_DIR, echo=lambda _msg: None)
        assert territories_loaded.get("53", "region")["name"] == "Bretagne"

    @pytest.mark.parametrize("damage, message", [
        ("missing", "communes.json is missing"),
        ("not json", "communes.json is not valid JSON"),
        ("no code", "communes.json: item 1 has no code or no nom"),
        ("not a list", "communes.json: expected a JSON list"),
    ])
    def test_a_bad_source_changes_nothing(self, territories_loaded, tmp_path, damage,
                                          message):
        from ckanext.servicespublics.territories import loader

        source = tmp_path / "cog"
        shutil.copytree(COG_DIR, source)
        communes = source / "communes.json"
        if damage == "missing":
            communes.unlink()
        elif damage == "not json":
            communes.write_text(communes.read_text(encoding="utf-8")[:5000], encoding="utf-8")
        elif damage == "no code":
            communes.write_text(json.dumps([{"code": "01001", "nom": "A"}, {"nom": "B"}]),
                                encoding="utf-8")
        else:
            communes.write_text('{"code": "01001"}', encoding="utf-8")
        with pytest.raises(loader.TerritoryLoadError, match=message):
            loader.load_cog(str(source))
        assert {k: v for k, v in territories_loaded.counts().items() if k in COG_COUNTS} \
            == COG_COUNTS
        assert territories_loaded.get("35238")["name"] == "Rennes"

    def test_cli_load_and_status(self, cli, territories_loaded):
        result = cli.invoke(ckan_cli, ["servicespublics", "territories", "load",
                                       "--source", COG_DIR])
        assert result.exit_code == 0, result.output
        assert "34969 communes" in result.output
        assert "4240 anciens codes de communes" in result.output
        result = cli.invoke(ckan_cli, ["servicespublics", "territories", "status"])
        assert result.exit_code == 0, result.output
        assert "commune: 34969" in result.output
        assert f"boundaries: {SHIPPED_BOUNDARIES}" in result.output

    def test_cli_load_bad_source(self, cli, territories_loaded, tmp_path):
        result = cli.invoke(ckan_cli, ["servicespublics", "territories", "load",
                                       "--source", str(tmp_path)])
        assert result.exit_code == 1
        assert "regions.json is missing" in result.output

    def test_default_source_is_the_npm_package(self, ckan_config, monkeypatch):
        from ckanext.servicespublics.territories import loader

        source = loader.default_source()
        if source is None:
            pytest.fail("run `npm ci` at the repository's root: "
                        "@etalab/decoupage-administratif is missing")
        assert source.endswith(os.path.join("@etalab", "decoupage-administratif", "data"))
        with open(os.path.join(source, "communes.json"), "rb") as a, \
                open(os.path.join(COG_DIR, "communes.json"), "rb") as b:
            assert a.read() == b.read()
        monkeypatch.setitem(ckan_config, loader.SOURCE_CONFIG_KEY, COG_DIR)
        assert loader.default_source() == COG_DIR


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestSearch:
    def _codes(self, results):
        return [(r["level"], r["code"]) for r in results]

    def test_by_name_prefix(self, territories_loaded):
        results = territories_loaded.search("rennes")
        assert self._codes(results)[0] == ("commune", "35238")
        # then the names that start with it, most populated first
        assert ("epci", "243500139") in self._codes(results)
        assert all("rennes" in r["name"].lower() for r in results)

    def test_accents_case_and_punctuation_are_ignored(self, territories_loaded):
        assert self._codes(territories_loaded.search("ile de france"))[0] == ("region", "11")
        assert self._codes(territories_loaded.search("ÎLE-DE-FRANCE"))[0] == ("region", "11")
        assert self._codes(territories_loaded.search("saint etienne"))[0] \
            == ("commune", "42218")
        assert self._codes(territories_loaded.search("Saint-Étienne"))[0] \
            == ("commune", "42218")
        assert self._codes(territories_loaded.search("st malo"))[0] == ("commune", "35288")
        assert self._codes(territories_loaded.search("l'hay-les-roses"))[0] \
            == ("commune", "94038")

    def test_word_prefix(self, territories_loaded):
        # "malo" starts the second word of Saint-Malo
        assert ("commune", "35288") in self._codes(territories_loaded.search("malo", limit=50))

    def test_by_code(self, territories_loaded):
        assert self._codes(territories_loaded.search("35238")) == [("commune", "35238")]
        results = territories_loaded.search("35")
        assert self._codes(results)[0] == ("departement", "35")
        assert len(results) == 10
        assert self._codes(territories_loaded.search("2a", level="departement")) \
            == [("departement", "2A")]
        assert self._codes(territories_loaded.search("53", level="region")) == [("region", "53")]
        assert self._codes(territories_loaded.search("243500139")) == [("epci", "243500139")]

    def test_by_former_code_and_postcode(self, territories_loaded):
        assert self._codes(territories_loaded.search("05120"))[0] == ("commune", "05001")
        assert ("commune", "35238") in self._codes(territories_loaded.search("35000"))

    def test_level_and_limit(self, territories_loaded):
        assert self._codes(territories_loaded.search("bretagne", level="region")) \
            == [("region", "53")]
        assert len(territories_loaded.search("saint", limit=3)) == 3
        assert territories_loaded.search("") == []
        assert territories_loaded.search("zzzzzz") == []

    def test_action(self, app):
        res = app.get(tk.url_for("api.action", ver=3,
                                 logic_function="servicespublics_territory_search"),
                      query_string={"q": "bretagne", "level": "region"})
        assert res.status_code == 200
        result = res.json["result"]
        assert [(r["code"], r["name"], r["label"]) for r in result] \
            == [("53", "Bretagne", "Bretagne")]
        assert result[0]["population"] > 3_000_000
        assert result[0]["has_boundary"] is True

    def test_action_rejects_bad_parameters(self, app):
        url = tk.url_for("api.action", ver=3,
                         logic_function="servicespublics_territory_search")
        res = app.get(url, query_string={"q": "x", "level": "canton"}, status=409)
        assert "level" in res.json["error"]
        res = app.get(url, query_string={"level": "region"}, status=409)
        assert "q" in res.json["error"]

    def test_show_action(self, app):
        url = tk.url_for("api.action", ver=3, logic_function="servicespublics_territory_show")
        result = app.get(url, query_string={"id": "53", "level": "region",
                                            "include_children": True,
                                            "include_geometry": True}).json["result"]
        assert result["name"] == "Bretagne"
        assert [c["code"] for c in result["children"]] == ["22", "29", "35", "56"]
        assert result["geometry"]["type"] == "MultiPolygon"
        result = app.get(url, query_string={"id": "05120"}).json["result"]
        assert (result["code"], result["former_code"]) == ("05001", "05120")
        assert "geometry" not in result
        res = app.get(url, query_string={"id": "99999"}, status=404)
        assert "99999" in res.json["error"]["message"]

    def test_autocomplete_for_the_form(self, app):
        res = app.get("/servicespublics/territories/autocomplete",
                      query_string={"incomplete": "ille-et"})
        items = res.json["ResultSet"]["Result"]
        assert items[0]["code"] == "35"
        assert items[0]["label"] == "Ille-et-Vilaine (35) · Département 35"
        app.get("/servicespublics/territories/autocomplete",
                query_string={"incomplete": "x", "level": "canton"}, status=400)


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestBoundaries:
    def test_shipped_boundaries(self, territories_loaded):
        geometry = territories_loaded.geometry("35", "departement")
        assert geometry["type"] == "MultiPolygon"
        assert territories_loaded.get("974", "departement")["has_boundary"] is True
        # overseas collectivities have no boundary in the shipped files
        assert territories_loaded.get("987", "departement")["has_boundary"] is False
        assert territories_loaded.geometry("987", "departement") is None

    def test_extent(self, territories_loaded):
        box = json.loads(territories_loaded.extent("departement", ["35"]))
        assert box["type"] == "Polygon"
        (west, south), _, (east, north) = box["coordinates"][0][:3]
        assert -2.3 < west < -2.2 and 47.6 < south < 47.7
        assert -1.2 < east < -1.0 and 48.6 < north < 48.8
        both = json.loads(territories_loaded.extent("departement", ["35", "29"]))
        assert both["coordinates"][0][0][0] < -4.7
        # every territory needs a boundary
        assert territories_loaded.extent("departement", ["35", "987"]) is None
        assert territories_loaded.extent("commune", ["35238"]) is None
        assert territories_loaded.extent("departement", []) is None

    def test_load_real_files_and_guess_their_level(self, territories_loaded):
        from ckanext.servicespublics.territories import loader

        result = loader.load_boundaries(
            os.path.join(GEOJSON_DIR, "regions-version-simplifiee.geojson"),
            echo=lambda _msg: None)
        assert (result["updated"], result.get("region"), result["unknown"]) == (13, 13, [])
        result = loader.load_boundaries(
            os.path.join(GEOJSON_DIR, "departements-avec-outre-mer.geojson"),
            echo=lambda _msg: None)
        assert (result["updated"], result.get("departement")) == (101, 101)

    def test_load_commune_boundaries_of_2018(self, territories_loaded):
        from ckanext.servicespublics.territories import loader

        # Indre in 2018: 243 communes, two of which have merged since
        result = loader.load_boundaries(
            os.path.join(GEOJSON_DIR, "communes-par-departement",
                         "communes-36-indre.geojson"), echo=lambda _msg: None)
        assert result["commune"] == 241
        assert len(result["unknown"]) == 2
        assert all(territories_loaded.former_codes(result["unknown"]))
        assert territories_loaded.get("36044")["has_boundary"] is True

    def test_cli_folder_with_level(self, cli, territories_loaded, tmp_path):
        shutil.copy(os.path.join(GEOJSON_DIR, "departements-version-simplifiee.geojson"),
                    tmp_path)
        result = cli.invoke(ckan_cli, ["servicespublics", "territories", "load-boundaries",
                                       str(tmp_path), "--level", "departement"])
        assert result.exit_code == 0, result.output
        assert "96 territoires" in result.output

    def test_undecidable_level(self, territories_loaded, tmp_path):
        from ckanext.servicespublics.territories import loader

        path = tmp_path / "zones.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"code": "11", "nom": "Zone"},
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        }]}), encoding="utf-8")
        with pytest.raises(loader.TerritoryLoadError, match="pass --level"):
            loader.load_boundaries(str(path))

    @pytest.mark.parametrize("content, message", [
        ("{", "is not valid JSON"),
        ('{"type": "Feature"}', "expected a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": [{"properties": {"nom": "x"}, '
         '"geometry": {"type": "Polygon", "coordinates": []}}]}', "feature 0 has no code"),
        ('{"type": "FeatureCollection", "features": [{"properties": {"code": "35"}, '
         '"geometry": {"type": "Point", "coordinates": [0, 0]}}]}', "is a Point, not a polygon"),
    ])
    def test_bad_files_change_nothing(self, territories_loaded, tmp_path, content, message):
        from ckanext.servicespublics.territories import loader

        path = tmp_path / "bad.geojson"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(loader.TerritoryLoadError, match=message):
            loader.load_boundaries(str(path), level="departement")
        assert territories_loaded.counts()["boundaries"] == SHIPPED_BOUNDARIES

    def test_boundaries_need_the_territories(self, territories_loaded, cli):
        from ckan.model import meta

        from ckanext.servicespublics.territories import loader

        meta.Session.execute(sa.text("DELETE FROM servicespublics_dataset_territory"))
        meta.Session.commit()
        try:
            with pytest.raises(loader.TerritoryLoadError, match="territories load"):
                loader.load_boundaries()
            result = cli.invoke(ckan_cli, ["servicespublics", "territories",
                                           "load-boundaries"])
            assert result.exit_code == 1
        finally:
            ensure_loaded()


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestVocabularyAction:
    def test_vocabulary_show(self):
        result = helpers.call_action("servicespublics_vocabulary_show", name="service_types")
        gendarmerie = next(e for e in result["service_types"] if e["code"] == "gendarmerie")
        assert gendarmerie["domain"] == "securite"
        assert gendarmerie["labels"]["fr"] == "Brigade de gendarmerie"
        everything = helpers.call_action("servicespublics_vocabulary_show")
        assert {"domains", "frequencies", "access_levels", "territory_levels",
                "point_statuses"} <= set(everything)
        with pytest.raises(tk.ObjectNotFound):
            helpers.call_action("servicespublics_vocabulary_show", name="colours")
