"""Impact of closures on a small hand-built case in the Hautes-Alpes: four
CAF offices placed at the chefs-lieux of Gap, Briançon, Embrun and (planned)
Laragne-Montéglin; the expected figures are computed here by haversine from
the communes' reference points and COG populations."""
from __future__ import annotations

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import helpers

from .conftest import centres, cog_communes, haversine, ingest, marks, write_csv

pytestmark = marks()

THRESHOLD = 10000.0
PLACES = {"gap": "05061", "briancon": "05023", "embrun": "05046", "laragne": "05070"}


@pytest.fixture
def offices(public_dataset, tmp_path):
    places = centres()
    rows = []
    for key, code in PLACES.items():
        lon, lat = places[code]
        planned = key == "laragne"
        rows.append({"id": key, "name": f"CAF {key}", "service_type": "caf",
                     "longitude": lon, "latitude": lat, "insee_code": code,
                     "status": "planned_opening" if planned else "open",
                     "opening_date": "2030-01-01" if planned else ""})
    path = write_csv(str(tmp_path / "caf.csv"), rows)
    ingest(path, public_dataset, column_mapping={
        "id": "id", "name": "name", "service_type": "service_type", "longitude": "longitude",
        "latitude": "latitude", "insee_code": "insee_code", "status": "status",
        "opening_date": "opening_date"})
    export = helpers.call_action("servicespublics_points_export", service_type="caf",
                                 state="open,planned_opening")
    return {f["properties"]["source_id"]: f["id"] for f in export["features"]}


def _expected(open_keys: list[str], extra: list[tuple[float, float]] = ()):
    places = centres()
    communes = {c: v for c, v in cog_communes().items() if v["departement"] == "05"}
    points = [places[PLACES[k]] for k in open_keys] + list(extra)
    return {code: (min(haversine(*places[code], *p) for p in points), c["population"])
            for code, c in communes.items()}


def _check(result, before, after):
    newly = [c for c in before if before[c][0] <= THRESHOLD < after[c][0]]
    assert result["newly_beyond"]["communes"] == len(newly)
    assert result["newly_beyond"]["population"] == sum(before[c][1] for c in newly)
    for key, values in (("before", before), ("after", after)):
        far = [c for c in values if values[c][0] > THRESHOLD]
        assert result[key]["communes_beyond"] == len(far), key
        assert result[key]["population_beyond"] == sum(values[c][1] for c in far), key
    changed = {c for c in before if abs(before[c][0] - after[c][0]) > 0.5}
    rows = {r["code"]: r for r in result["communes"]}
    assert set(rows) == changed
    for code in changed:
        assert rows[code]["distance_before"] == pytest.approx(before[code][0], abs=0.5)
        assert rows[code]["distance_after"] == pytest.approx(after[code][0], abs=0.5)
        assert rows[code]["beyond_after"] == (after[code][0] > THRESHOLD)
    return newly


class TestClosureImpact:
    def test_closing_gap(self, offices):
        result = helpers.call_action("servicespublics_closure_impact", close=[offices["gap"]],
                                     territory="05", threshold_km=10)
        before = _expected(["gap", "briancon", "embrun"])
        after = _expected(["briancon", "embrun"])
        newly = _check(result, before, after)
        assert "05061" in newly  # Gap itself
        assert result["newly_beyond"]["population"] > 40000
        assert [p["name"] for p in result["closed"]] == ["CAF gap"]
        gap = next(r for r in result["communes"] if r["code"] == "05061")
        assert gap["distance_before"] == 0 and gap["nearest_after"]["name"] == "CAF embrun"

    def test_closing_gap_and_opening_the_planned_office(self, offices):
        result = helpers.call_action(
            "servicespublics_closure_impact", close=str(offices["gap"]),
            open=str(offices["laragne"]), territory="05", territory_level="departement")
        _check(result, _expected(["gap", "briancon", "embrun"]),
               _expected(["briancon", "embrun", "laragne"]))
        assert [p["name"] for p in result["opened"]] == ["CAF laragne"]

    def test_a_new_office_in_the_same_place_changes_nothing(self, offices):
        lon, lat = centres()["05061"]
        result = helpers.call_action(
            "servicespublics_closure_impact", close=[offices["gap"]], territory="05",
            add=[{"longitude": lon, "latitude": lat, "name": "Nouvelle CAF"}])
        assert result["newly_beyond"] == {"communes": 0, "population": 0}
        assert result["communes"] == []
        assert result["before"] == result["after"]

    @pytest.mark.parametrize("params, field", [
        ({}, "close"),
        ({"close": "laragne"}, "close"),   # planned: not in service
        ({"open": "briancon"}, "open"),    # in service: cannot open
        ({"close": "gap", "open": "gap"}, "open"),
        ({"close": 999999}, "close"),
        ({"close": "abc"}, "close"),
        ({"close": "gap", "threshold_km": "-1"}, "threshold_km"),
        ({"close": "gap", "add": [{"longitude": 200, "latitude": 44}]}, "add"),
    ])
    def test_invalid_parameters(self, offices, params, field):
        data = {k: (offices.get(v, v) if isinstance(v, str) and k in ("close", "open") else v)
                for k, v in params.items()}
        with pytest.raises(tk.ValidationError) as e:
            helpers.call_action("servicespublics_closure_impact", **data)
        assert field in e.value.error_dict
