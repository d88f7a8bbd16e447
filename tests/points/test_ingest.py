"""Ingestion of point files: the real files, and every kind of bad input.

The ingestion runs for real (PostgreSQL/PostGIS, COPY), called as the job
calls it; the hooks and the jobs are tested in test_plugin.py.
"""
from __future__ import annotations

import codecs
import glob
import json
import os
import subprocess
import sys

import pytest

from .conftest import (
    DILA_DIR, DILA_MAPPING, DILA_TYPES, EDUCATION, EDUCATION_GEO, FRANCE_SERVICES, FS_MAPPING,
    PLUGINS,
    ROOT, codes, dila_records, messages, read_csv, write_csv,
)


def _fs_rows():
    return read_csv(FRANCE_SERVICES)


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestRealFiles:
    def test_france_services(self, ingester):
        header, rows = _fs_rows()
        result = ingester(FRANCE_SERVICES, column_mapping=FS_MAPPING)
        assert result.status == "valid", messages(result)
        assert result.rows_read == len(rows) == 2845
        assert result.rows_ingested == 2845 == ingester.count()
        assert result.rows_rejected == 0 and codes(result, "error") == {}
        points = {p["source_id"]: p for p in ingester.points()}
        source = dict(zip(header, rows[0]))
        point = points[source["id_fs"]]
        assert point["name"] == source["lib_fs"] == "France services de Valserhône"
        assert point["service_type"] == "france-services"
        assert point["insee_code"] == "01033" and point["postcode"] == "01200"
        assert abs(point["lat"] - float(source["latitude"])) < 1e-9
        assert abs(point["lon"] - float(source["longitude"])) < 1e-9
        assert point["opening_date"].isoformat() == "2020-01-01"
        assert point["opening_hours"] == (
            "lundi : 13:30 - 17:00; mardi : 09:00 - 12:00 / 13:30 - 17:00; "
            "mercredi : 09:00 - 12:00 / 13:30 - 17:00; jeudi : 09:00 - 12:00 / 13:30 - 17:00; "
            "vendredi : 09:00 - 12:00 / 13:30 - 16:00")
        assert point["email"] == "franceservices@ccpb01.fr"
        assert point["extra"]["type_fs"] == "Principal"
        assert point["extra"]["lib_com"] == "Valserhône"
        # overseas points are in France too
        assert {p["departement_code"] for p in points.values()} >= {"971", "974", "976"}
        assert result.extents["974"][1] < -20.8

    def test_dila_json_lines(self, ingester, tmp_path):
        records = dila_records()
        mapped = [r for r in records if r.get("type") in DILA_TYPES]
        located = [r for r in mapped if (r.get("geo") or {}).get("latitude") is not None]
        # the seven département files, concatenated, as published
        path = tmp_path / "annuaire.sjson"
        with open(path, "wb") as out:
            for name in sorted(glob.glob(os.path.join(DILA_DIR, "*.sjson"))):
                with open(name, "rb") as stream:
                    out.write(stream.read())
        result = ingester(str(path), column_mapping=DILA_MAPPING)
        assert result.status == "partial", messages(result)
        assert result.rows_read == len(records)
        assert result.rows_skipped == len(records) - len(mapped)
        assert result.rows_ingested == len(located) == ingester.count()
        # every rejected row has its reason: no coordinates in this file
        assert result.rows_rejected == len(mapped) - len(located) > 0
        assert codes(result, "error") == {"coordinates_missing": result.rows_rejected}
        missing = [e for e in result.report.entries if e[4] == "coordinates_missing"]
        assert missing[0][1] == "geo.latitude/geo.longitude"
        assert "écartée(s) par la correspondance de valeurs" in messages(result)
        points = ingester.points()
        by_type = {}
        for p in points:
            by_type[p["service_type"]] = by_type.get(p["service_type"], 0) + 1
        expected = {}
        for r in located:
            code = DILA_TYPES[r["type"]]
            expected[code] = expected.get(code, 0) + 1
        assert by_type == expected
        gendarmerie = next(p for p in points if p["service_type"] == "gendarmerie")
        source = next(r for r in located if r["id"] == gendarmerie["source_id"])
        assert gendarmerie["lat"] == pytest.approx(source["geo"]["latitude"])
        assert gendarmerie["insee_code"] == source["codeinsee"]
        assert "writeAddress" in gendarmerie["extra"]

    def test_education_detected_columns_and_lambert93(self, ingester):
        header, rows = read_csv(EDUCATION, delimiter=";", encoding="utf-8-sig")
        types = [dict(zip(header, r))["Type_etablissement"] for r in rows]
        # every column is recognised from its name; the types that are not
        # service types ("Service Administratif", "Médico-social"...) are rejected
        detected = ingester(EDUCATION)
        assert "Séparateur détecté : point-virgule" in messages(detected)
        text = messages(detected)
        assert "latitude ← latitude" in text and "status ← etat" in text
        assert "service_type ← Type_etablissement" in text
        unknown = [t for t in types if t and t not in ("Ecole", "Collège", "Lycée")]
        assert detected.status == "partial"
        assert codes(detected, "error") == {"service_type_unknown": len(unknown)}
        assert detected.rows_ingested == len(rows) - len(unknown)
        # with a value mapping, the schools only
        mapping = {"service_type_values": {
            "Ecole": "ecole", "Collège": "college", "Lycée": "lycee", "EREA": "lycee",
            "Information et orientation": "cio", "*": None}}
        wgs = ingester(EDUCATION, column_mapping=mapping)
        assert wgs.status == "valid", messages(wgs)
        dropped = [t for t in types if t in ("Service Administratif", "Médico-social",
                                             "Autre")]
        assert wgs.rows_skipped == len(dropped) == 92
        assert wgs.rows_ingested == len(rows) - len(dropped) == ingester.count()
        assert codes(wgs) == {"service_type_missing": types.count(""), "id_duplicate": 3}
        points = ingester.points()
        assert {p["status"] for p in points} == {"open", "planned_closure"}
        assert {p["service_type"] for p in points} == {"ecole", "college", "lycee", "cio",
                                                       None}
        first = dict(zip(header, rows[0]))
        assert points[0]["source_id"] == first["Identifiant_de_l_etablissement"]
        assert points[0]["opening_date"].isoformat() == first["date_ouverture"]
        # the same file read from its Lambert-93 columns lands on the same points
        other = "lambert93-" + ingester.resource_id
        l93 = ingester(EDUCATION, resource_id=other, crs="EPSG:2154", column_mapping=mapping)
        assert l93.status == "valid" and l93.crs == "EPSG:2154"
        for a, b in zip(points, ingester.points(other)):
            assert a["source_id"] == b["source_id"]
            assert abs(a["lon"] - b["lon"]) < 1e-4 and abs(a["lat"] - b["lat"]) < 1e-4

    def test_lambert93_only_with_per_row_crs(self, ingester, tmp_path):
        header, rows = read_csv(EDUCATION_GEO, delimiter=";", encoding="utf-8-sig")
        keep = [i for i, h in enumerate(header) if h not in ("Latitude", "Longitude",
                                                             "Position")]
        path = write_csv(str(tmp_path / "l93.csv"), [header[i] for i in keep],
                         [[r[i] for i in keep] for r in rows], delimiter=";")
        result = ingester(path, column_mapping={
            "x": "Coordonnee X", "y": "Coordonnee Y", "crs": "EPSG",
            "name": "Appellation officielle", "service_type": {
                "column": "Nature", "values": {"COLLEGE": "college", "*": "ecole"}},
            "status": {"column": "Etat établissement",
                       "values": {"OUVERT": "open", "FERME": "closed"}}})
        assert result.status == "valid", messages(result)
        lat_index, lon_index = header.index("Latitude"), header.index("Longitude")
        for point, row in zip(ingester.points(), rows):
            assert abs(point["lat"] - float(row[lat_index])) < 1e-4
            assert abs(point["lon"] - float(row[lon_index])) < 1e-4

    def test_geojson_streamed(self, ingester, tmp_path):
        header, rows = _fs_rows()
        features = [{"type": "Feature", "id": r[0],
                     "geometry": {"type": "Point", "coordinates": [float(r[9]), float(r[8])]},
                     "properties": dict(zip(header, r))} for r in rows]
        path = tmp_path / "fs.geojson"
        # pretty-printed: the reader cannot take it line by line
        path.write_text(json.dumps({"type": "FeatureCollection", "name": "fs",
                                    "features": features}, indent=1, ensure_ascii=False))
        result = ingester(str(path), declared_format="GeoJSON",
                          column_mapping={"name": "lib_fs", "id": "id_fs",
                                          "service_type": "=france-services"})
        assert result.status == "valid", messages(result)
        assert result.format == "geojson"
        assert result.rows_ingested == 2845 == ingester.count()

    def test_xlsx(self, ingester, tmp_path):
        openpyxl = pytest.importorskip("openpyxl")
        header, rows = _fs_rows()
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("France services")
        sheet.append(header)
        for row in rows[:300]:
            values = list(row)
            values[8], values[9] = float(values[8]), float(values[9])
            sheet.append(values)
        path = str(tmp_path / "fs.xlsx")
        book.save(path)
        result = ingester(path, declared_format="XLSX", column_mapping=FS_MAPPING)
        assert result.status == "valid", messages(result)
        assert result.format == "xlsx" and result.rows_ingested == 300
        point = ingester.points()[0]
        assert point["source_id"] == "1" and point["insee_code"] == "01033"
        assert abs(point["lat"] - float(rows[0][8])) < 1e-9


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestBadInput:
    """Each bad file gets a precise report and leaves the previous points alone."""

    @pytest.fixture
    def previous(self, ingester, tmp_path):
        header, rows = _fs_rows()
        path = write_csv(str(tmp_path / "before.csv"), header, rows[:50])
        result = ingester(path, column_mapping=FS_MAPPING)
        assert result.status == "valid" and ingester.count() == 50
        return ingester.points()

    def _intact(self, ingester, previous):
        assert ingester.points() == previous

    def test_wrong_delimiter(self, ingester, previous, tmp_path):
        header, rows = _fs_rows()
        path = write_csv(str(tmp_path / "semicolon.csv"), header, rows[:20], delimiter=";")
        result = ingester(path, delimiter=",", column_mapping=FS_MAPPING)
        assert result.status == "error"
        assert "Une seule colonne lue avec le séparateur virgule" in messages(result)
        assert "mauvais séparateur ?" in messages(result)
        self._intact(ingester, previous)
        # detected when not forced
        result = ingester(path, column_mapping=FS_MAPPING)
        assert result.status == "valid" and result.delimiter == ";"

    def test_cp1252_accents(self, ingester, tmp_path):
        header, rows = _fs_rows()
        path = write_csv(str(tmp_path / "cp1252.csv"), header, rows[:40], delimiter=";",
                         encoding="cp1252")
        with open(path, "rb") as stream:
            assert b"Valserh\xf4ne" in stream.read()
        result = ingester(path, column_mapping=FS_MAPPING)
        assert result.status == "valid", messages(result)
        assert "Encodage détecté : windows-1252" in messages(result)
        assert ingester.points()[0]["name"] == "France services de Valserhône"
        # a wrong declared encoding is a clear error
        result = ingester(path, encoding="utf-8", column_mapping=FS_MAPPING)
        assert result.status == "error"
        assert "n'est pas en UTF-8" in messages(result)

    def test_utf8_bom_and_tabs(self, ingester, tmp_path):
        header, rows = _fs_rows()
        path = str(tmp_path / "bom.tsv")
        write_csv(path, header, rows[:10], delimiter="\t")
        with open(path, "rb") as stream:
            data = stream.read()
        with open(path, "wb") as stream:
            stream.write(codecs.BOM_UTF8 + data)
        result = ingester(path, column_mapping=FS_MAPPING)
        assert result.status == "valid" and result.delimiter == "\t"
        assert ingester.points()[0]["source_id"] == "1"

    def test_swapped_coordinates(self, ingester, previous, tmp_path):
        header, rows = _fs_rows()
        rows = [list(r) for r in rows[:10]]
        rows[3][8], rows[3][9] = rows[3][9], rows[3][8]
        path = write_csv(str(tmp_path / "swapped.csv"), header, rows)
        result = ingester(path, column_mapping=FS_MAPPING)
        assert result.status == "partial"
        assert result.rows_ingested == 9 and result.rows_rejected == 1
        (entry,) = [e for e in result.report.entries if e[3] == "error"]
        line, column, value, severity, code, message = entry
        assert (line, column, code) == (5, "latitude/longitude", "coordinates_swapped")
        assert message.startswith("Latitude et longitude inversées ?")
        assert "France métropolitaine" in message
        assert ingester.count() == 9  # replaced: the file had valid rows

    def test_points_at_sea_and_outside_france(self, ingester, tmp_path):
        header, rows = _fs_rows()
        rows = [list(r) for r in rows[:6]]
        rows[1][8], rows[1][9] = "46.0", "-4.5"       # Bay of Biscay, 100 km out
        rows[2][8], rows[2][9] = "52.52", "13.40"     # Berlin
        rows[3][8], rows[3][9] = "0", "0"             # "null island"
        rows[4][8], rows[4][9] = "6766352.2", "327366.8"  # Lambert-93 given as degrees
        path = write_csv(str(tmp_path / "sea.csv"), header, rows)
        result = ingester(path, column_mapping=FS_MAPPING)
        assert result.status == "partial" and result.rows_ingested == 2
        by_line = {e[0]: e for e in result.report.entries if e[3] == "error"}
        assert by_line[3][4] == "point_at_sea" and "Point en mer" in by_line[3][5]
        assert by_line[4][4] == "coordinates_outside"
        assert by_line[4][5] == "Point hors de France (52.52, 13.4)"
        assert by_line[5][4] == "coordinates_outside"
        assert by_line[6][4] == "coordinates_range" and "Lambert-93" in by_line[6][5]

    def test_empty_and_zero_byte_files(self, ingester, previous, tmp_path):
        zero = tmp_path / "zero.csv"
        zero.write_bytes(b"")
        result = ingester(str(zero), column_mapping=FS_MAPPING)
        assert result.status == "error"
        assert messages(result) == "Le fichier est vide (0 octet)"
        self._intact(ingester, previous)
        header_only = tmp_path / "header.csv"
        header_only.write_text(",".join(_fs_rows()[0]) + "\n")
        result = ingester(str(header_only), column_mapping=FS_MAPPING)
        assert result.status == "error"
        assert "aucune ligne de données" in messages(result)
        self._intact(ingester, previous)
        blank = tmp_path / "blank.json"
        blank.write_text("  \n\n ")
        result = ingester(str(blank), column_mapping=FS_MAPPING)
        assert result.status == "error" and "vide" in messages(result)
        self._intact(ingester, previous)

    def test_binary_junk(self, ingester, previous, tmp_path):
        junk = tmp_path / "junk.csv"
        junk.write_bytes(bytes(range(256)) * 200)
        result = ingester(str(junk), column_mapping=FS_MAPPING)
        assert result.status == "error"
        assert "n'est pas un fichier texte" in messages(result)
        self._intact(ingester, previous)
        # a zip that is not a workbook
        fake = tmp_path / "fake.xlsx"
        fake.write_bytes(b"PK\x03\x04" + os.urandom(2000))
        result = ingester(str(fake), column_mapping=FS_MAPPING)
        assert result.status == "error" and "XLSX illisible" in messages(result)
        self._intact(ingester, previous)

    def test_all_rows_invalid(self, ingester, previous, tmp_path):
        header, rows = _fs_rows()
        rows = [list(r) for r in rows[:5]]
        for row in rows:
            row[8] = "n/a"
        path = write_csv(str(tmp_path / "invalid.csv"), header, rows)
        result = ingester(path, column_mapping=FS_MAPPING)
        assert result.status == "invalid"
        assert result.rows_rejected == 5 and result.rows_ingested == 0
        assert codes(result) == {"coordinates_invalid": 5}
        assert result.report.entries[0][:5] == (2, "latitude", "n/a", "error",
                                                "coordinates_invalid")
        assert "les points précédents sont conservés" in messages(result)
        self._intact(ingester, previous)

    def test_no_coordinate_columns_and_bad_mapping(self, ingester, previous, tmp_path):
        path = write_csv(str(tmp_path / "nocoords.csv"), ["nom", "ville"],
                         [["Mairie", "Rennes"]])
        result = ingester(path)
        assert result.status == "error"
        assert "Aucune colonne de coordonnées reconnue" in messages(result)
        result = ingester(FRANCE_SERVICES, column_mapping={"nom": "lib_fs"})
        assert result.status == "error"
        assert "Clé inconnue dans column_mapping : « nom »" in messages(result)
        result = ingester(FRANCE_SERVICES, column_mapping={"name": "libelle"})
        assert result.status == "error"
        assert "Colonne(s) de column_mapping absente(s) du fichier : libelle" in \
            messages(result)
        result = ingester(FRANCE_SERVICES, column_mapping="{not json")
        assert result.status == "error" and "JSON valide" in messages(result)
        self._intact(ingester, previous)

    def test_row_level_problems(self, ingester, tmp_path):
        header, rows = _fs_rows()
        rows = [list(r) for r in rows[:8]]
        rows[0][5] = "1033"                      # Excel dropped the zero
        rows[1][5] = "ABCDE"                     # not a code
        rows[2][23] = "Espace labellisé 31/02/2020"  # no such day
        rows[3][10] = "pas-une-adresse"
        rows[4] = rows[4] + ["surplus"]          # one value too many
        rows[5][0] = rows[6][0]                  # duplicate id
        path = write_csv(str(tmp_path / "rows.csv"), header, rows)
        result = ingester(path, column_mapping={**FS_MAPPING, "service_type": {
            "value": "france-services"}})
        assert result.status == "partial"
        found = {(e[0], e[4]): e for e in result.report.entries}
        assert found[(2, "insee_padded")][3] == "info"
        assert found[(3, "insee_invalid")][3] == "warning"
        assert found[(4, "date_invalid")][2] == "31/02/2020"
        assert found[(5, "email_invalid")][3] == "warning"
        assert found[(6, "row_columns")][5].startswith("25 valeurs au lieu de 24")
        assert found[(8, "id_duplicate")][5] == (
            f"Identifiant « {rows[6][0]} » en double (déjà ligne 7)")
        assert result.rows_rejected == 1 and result.rows_ingested == 7
        points = {p["row_number"]: p for p in ingester.points()}
        assert points[2]["insee_code"] == "01033"
        assert points[4]["opening_date"] is None

    def test_unknown_service_type_rejects_the_row(self, ingester, tmp_path):
        header, rows = _fs_rows()
        path = write_csv(str(tmp_path / "types.csv"), header + ["type"],
                         [r + [t] for r, t in zip(rows[:3], ["France Services",
                                                             "gendarmeries", "piscine"])])
        result = ingester(path, column_mapping={"service_type": "type"})
        assert result.status == "partial"
        assert [p["service_type"] for p in ingester.points()] == ["france-services",
                                                                  "gendarmerie"]
        (entry,) = result.report.entries
        assert entry[:5] == (4, "type", "piscine", "error", "service_type_unknown")

    def test_entries_capped_with_totals(self, ingester, tmp_path):
        header, rows = _fs_rows()
        rows = [list(r) for r in rows[:40]]
        for row in rows[:30]:
            row[8] = "?"
        path = write_csv(str(tmp_path / "many.csv"), header, rows)
        result = ingester(path, column_mapping=FS_MAPPING, max_entries=10)
        assert result.status == "partial"
        assert len(result.report.entries) == 10 and result.report.truncated
        assert result.report.counts["error"] == 30 == result.rows_rejected
        assert result.report.summary()[0] == {
            "code": "coordinates_invalid", "severity": "error", "count": 30,
            "label": "Coordonnée illisible"}

    def test_insee_not_checked_without_referential(self, ingester):
        result = ingester(FRANCE_SERVICES, column_mapping=FS_MAPPING)
        text = messages(result)
        assert "Référentiel des communes (COG) non chargé : codes INSEE non vérifiés" in text

    def test_json_lines_with_broken_lines(self, ingester, tmp_path):
        records = dila_records("annuaire-05.sjson")[:30]
        lines = [json.dumps(r) for r in records]
        lines[4] = lines[4][:40]
        lines[7] = "[1, 2]"
        path = tmp_path / "broken.jsonl"
        path.write_text("\n".join(lines) + "\n")
        result = ingester(str(path), column_mapping=DILA_MAPPING)
        entries = {e[0]: e for e in result.report.entries}
        assert entries[5][4] == "json_invalid" and entries[8][4] == "json_not_object"
        assert result.rows_read == 30


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestBoundedMemory:
    def test_200_mb_file_in_bounded_memory(self, tmp_path, ckan_config):
        """A 200 MB file (real rows replicated) goes in with a bounded peak RSS."""
        header, rows = _fs_rows()
        path = tmp_path / "big.csv"
        size = 0
        n = 0
        import csv

        with open(path, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            while size < 200 * 1024 * 1024:
                for row in rows:
                    n += 1
                    row = list(row)
                    row[0] = str(n)
                    writer.writerow(row)
                size = stream.tell()
        assert path.stat().st_size >= 200 * 1024 * 1024
        script = os.path.join(os.path.dirname(__file__), "memory_probe.py")
        out = subprocess.run(
            [sys.executable, script, str(path), ckan_config["sqlalchemy.url"],
             json.dumps(FS_MAPPING)],
            capture_output=True, text=True, cwd=ROOT, timeout=1800)
        assert out.returncode == 0, out.stderr[-3000:]
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        assert figures["status"] == "valid"
        assert figures["rows_ingested"] == n
        # growth of the peak RSS during the ingestion: a few chunks, not the file
        assert figures["rss_growth_mb"] < 120, figures
