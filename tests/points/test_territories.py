"""INSEE codes checked against the COG (the dataset plugin's territorial reference)."""
from __future__ import annotations

import pytest


from .conftest import FRANCE_SERVICES, FS_MAPPING, codes, messages, read_csv, write_csv

PLUGINS = ("servicespublics servicespublics_search scheming_datasets servicespublics_dataset "
           "servicespublics_points")


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "territories_loaded")
class TestInseeCodes:
    def test_real_file_gets_communes_departements_regions(self, ingester):
        result = ingester(FRANCE_SERVICES, column_mapping=FS_MAPPING)
        assert result.status == "valid", messages(result)
        assert "non chargé" not in messages(result)
        points = {p["source_id"]: p for p in ingester.points()}
        valserhone = points["1"]
        assert (valserhone["commune_code"], valserhone["departement_code"],
                valserhone["region_code"]) == ("01033", "01", "84")
        assert points["565"]["region_code"] == "06"  # Mayotte
        # every code of the 2024 list is known to the COG 2026, or reported
        unknown = codes(result).get("insee_unknown", 0)
        known = sum(1 for p in points.values() if p["commune_code"])
        assert known + unknown == len(points)

    def test_unknown_merged_and_inconsistent_codes(self, ingester, tmp_path,
                                                   territories_loaded):  # noqa: F811
        header, rows = read_csv(FRANCE_SERVICES)
        rows = [list(r) for r in rows[:6]]
        former = "35020"  # Baillé, in Saint-Marc-le-Blanc (35130) since 2019
        current = territories_loaded.resolve_commune(former)["code"]
        assert current != former
        rows[0][5] = "99999"          # no such commune
        rows[1][5] = former           # merged into a commune nouvelle
        rows[2][5] = "35238"          # Rennes, but the point is in the Ain
        rows[3][5] = "97411"          # Saint-Denis (La Réunion), point in the Aisne
        path = write_csv(str(tmp_path / "insee.csv"), header, rows)
        result = ingester(path, column_mapping=FS_MAPPING)
        assert result.status == "valid"  # warnings and information keep the rows
        found = {(e[0], e[4]): e for e in result.report.entries}
        assert found[(2, "insee_unknown")][3] == "warning"
        assert found[(2, "insee_unknown")][5] == "Code INSEE inconnu du COG : « 99999 »"
        assert found[(3, "insee_merged")][3] == "info"
        assert f"rattachée à la commune actuelle {current}" in found[(3, "insee_merged")][5]
        assert found[(4, "insee_departement")][3] == "warning"
        assert "hors du département 35 de la commune 35238" in \
            found[(4, "insee_departement")][5]
        assert found[(5, "insee_territory")][5] == (
            "Coordonnées en France métropolitaine, mais la commune 97411 est en La Réunion")
        points = {p["row_number"]: p for p in ingester.points()}
        assert points[2]["commune_code"] is None and points[2]["insee_code"] == "99999"
        assert points[3]["insee_code"] == former and points[3]["commune_code"] == current
        assert points[4]["departement_code"] == "35"
