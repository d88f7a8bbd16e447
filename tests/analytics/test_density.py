"""Density of services per 10,000 inhabitants, checked against the real files."""
from __future__ import annotations

import pytest

from ckan.tests import helpers

from .conftest import FRANCE_SERVICES, cog_communes, marks, read_csv

pytestmark = marks()


def _expected_per_departement() -> tuple[dict[str, int], dict[str, int]]:
    """France Services per département and populations, from the files alone."""
    communes = cog_communes()
    population: dict[str, int] = {}
    for commune in communes.values():
        population[commune["departement"]] = (population.get(commune["departement"], 0)
                                              + (commune.get("population") or 0))
    counts: dict[str, int] = {}
    for row in read_csv(FRANCE_SERVICES):
        counts[row["insee_dep"]] = counts.get(row["insee_dep"], 0) + 1
    return counts, population


class TestDensity:
    def test_france_services_per_departement(self, france_services):
        counts, population = _expected_per_departement()
        result = helpers.call_action("servicespublics_density", service_type="france-services",
                                     level="departement")
        rows = {r["code"]: r for r in result["territories"]}
        for code in ("35", "05", "2A", "75", "971"):
            assert rows[code]["count"] == counts[code], code
            assert rows[code]["population"] == population[code], code
            assert rows[code]["per_10000"] == pytest.approx(
                counts[code] * 10000 / population[code], abs=1e-4), code
        # Ille-et-Vilaine by hand: 1,109,588 inhabitants (COG 2026)
        assert rows["35"]["count"] == counts["35"]
        assert result["count"] == sum(counts.values())
        ranks = [r["rank"] for r in result["territories"] if r["rank"] is not None]
        assert ranks == list(range(1, len(ranks) + 1))
        values = [r["per_10000"] for r in result["territories"] if r["rank"] is not None]
        assert values == sorted(values, reverse=True)
        assert len(result["breaks"]) == 5 and result["breaks"][-1] == values[0]
