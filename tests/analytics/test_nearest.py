"""Nearest services: distances checked against a haversine computed here
from the real France Services file and the communes' reference points."""
from __future__ import annotations

import pytest

import ckan.plugins.toolkit as tk
from ckan.tests import helpers

from .conftest import FRANCE_SERVICES, centres, cog_communes, haversine, marks, read_csv

pytestmark = marks()

def fs_points() -> list[tuple[str, float, float]]:
    return [(r["id_fs"], float(r["longitude"]), float(r["latitude"]))
            for r in read_csv(FRANCE_SERVICES)]


class TestNearestFromAPlace:
    def test_from_a_commune(self, france_services):
        lon, lat = centres()["05061"]  # Gap
        expected = sorted((haversine(lon, lat, x, y), fid) for fid, x, y in fs_points())
        result = helpers.call_action("servicespublics_nearest", service_type="france-services",
                                     commune="05061", limit=5)
        assert result["from"]["commune"]["name"] == "Gap"
        assert (result["from"]["longitude"], result["from"]["latitude"]) == \
            pytest.approx((lon, lat))
        got = result["services"]
        assert [s["source_id"] for s in got] == [fid for _d, fid in expected[:5]]
        for service, (distance, _fid) in zip(got, expected):
            assert service["distance"] == pytest.approx(distance, abs=0.5)
            assert service["service_type"] == "france-services"

    def test_from_a_clicked_place(self, france_services):
        lon, lat = -1.6778, 48.1173  # Rennes, place de la Mairie
        expected = sorted((haversine(lon, lat, x, y), fid) for fid, x, y in fs_points())
        result = helpers.call_action("servicespublics_nearest", longitude=str(lon),
                                     latitude=str(lat), limit="3")
        assert [s["source_id"] for s in result["services"]] == [f for _d, f in expected[:3]]
        assert [s["distance"] for s in result["services"]] == pytest.approx(
            [d for d, _f in expected[:3]], abs=0.5)
        assert result["from"]["commune"] is None

    def test_a_former_commune_code_measures_from_the_current_commune(self, france_services):
        # 01015 Arboys en Bugey absorbed 01340 (Saint-Bois)
        result = helpers.call_action("servicespublics_nearest", commune="01340", limit=1)
        assert result["from"]["commune"]["code"] == "01015"

    @pytest.mark.parametrize("params, field", [
        ({"longitude": "2.3"}, "latitude"),
        ({"latitude": "95", "longitude": "2"}, "latitude"),
        ({"commune": "99999"}, "commune"),
        ({"commune": "05061", "longitude": "6", "latitude": "44"}, "commune"),
        ({"commune": "05061", "limit": "0"}, "limit"),
        ({"commune": "05061", "limit": "500"}, "limit"),
        ({"commune": "05061", "service_type": "boulangerie"}, "service_type"),
        ({"commune": "05061", "domain": "loisirs"}, "domain"),
        ({"commune": "05061", "organization": "nobody"}, "organization"),
        ({"commune": "05061", "date": "2024-02-30"}, "date"),
    ])
    def test_invalid_parameters(self, params, field):
        with pytest.raises(tk.ValidationError) as e:
            helpers.call_action("servicespublics_nearest", **params)
        assert field in e.value.error_dict


class TestNearestPerCommune:
    def test_every_commune_of_a_departement(self, france_services):
        points = fs_points()
        places = centres()
        communes = {c: v for c, v in cog_communes().items() if v["departement"] == "05"}
        result = helpers.call_action("servicespublics_nearest", service_type="france-services",
                                     territory="05", threshold_km="10")
        rows = {r["code"]: r for r in result["communes"]}
        assert set(rows) == set(communes)
        far_population = 0
        for code, commune in communes.items():
            lon, lat = places[code]
            distance, fid = min((haversine(lon, lat, x, y), fid) for fid, x, y in points)
            assert rows[code]["distance"] == pytest.approx(distance, abs=0.5), code
            assert rows[code]["population"] == commune["population"]
            if distance > 10000:
                far_population += commune["population"]
        summary = result["summary"]
        assert summary["communes"] == len(communes)
        assert summary["services"] == len(points)
        assert summary["population_beyond"] == far_population
        assert 0 < far_population < sum(c["population"] for c in communes.values())
        weighted = sum(rows[c]["distance"] * communes[c]["population"] for c in communes) \
            / sum(c["population"] for c in communes.values())
        assert summary["mean_distance"] == pytest.approx(weighted, abs=0.1)

    def test_all_communes_of_france(self, france_services):
        result = helpers.call_action("servicespublics_nearest", service_type="france-services",
                                     include_communes=False)
        summary = result["summary"]
        assert "communes" not in result
        # every commune with a reference point (the shipped chefs-lieux)
        assert summary["communes"] + summary["communes_without_position"] == 34969
        assert summary["communes_without_position"] < 100
        assert 0 < summary["population_beyond"] < summary["population"]
