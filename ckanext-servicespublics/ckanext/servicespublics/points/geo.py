"""Where a point may be: France's territories and their coasts.

Each territory (metropolitan France with Corsica, the five overseas
départements, Saint-Pierre-et-Miquelon, Saint-Barthélemy, Saint-Martin,
Wallis-et-Futuna, French Polynesia and New Caledonia) has a bounding box.  A
point outside every box is outside France.

For the territories with large landmasses, ``data/sea_fr.npz`` (built by
``data/build_sea_mask.py`` from the GLOBE 1 km land mask) tells how far a
cell of 1/120 degree is from land: under 5 km (coasts, harbours, small
islands the 1 km grid misses), 5 to 20 km ("probably at sea") or more than
20 km ("at sea").  The Pacific territories are atolls and small islands that
the grid does not resolve: they only get the bounding-box check.
"""
from __future__ import annotations

import os
from typing import NamedTuple, Optional

import numpy as np

__all__ = [
    "TERRITORIES", "TERRITORY_BOXES", "Territory", "territory_of", "territory_of_insee",
    "territory_label", "sea_class", "sea_grid", "SEA_NEAR", "SEA_FAR",
]


class Territory(NamedTuple):
    code: str
    label: str
    #: (min_lon, min_lat, max_lon, max_lat), WGS84
    bbox: tuple[float, float, float, float]
    #: first characters of the INSEE codes of its communes
    insee_prefixes: tuple[str, ...]


#: most common first: the lookup stops at the first box that holds the point
TERRITORIES: tuple[Territory, ...] = (
    Territory("metropole", "France métropolitaine", (-5.25, 41.25, 9.7, 51.2), ()),
    Territory("971", "Guadeloupe", (-61.95, 15.75, -60.9, 16.6), ("971",)),
    Territory("972", "Martinique", (-61.3, 14.35, -60.75, 14.95), ("972",)),
    Territory("973", "Guyane", (-54.65, 2.05, -51.55, 5.85), ("973",)),
    Territory("974", "La Réunion", (55.15, -21.45, 55.9, -20.8), ("974",)),
    Territory("976", "Mayotte", (44.95, -13.05, 45.35, -12.6), ("976",)),
    Territory("975", "Saint-Pierre-et-Miquelon", (-56.5, 46.7, -56.05, 47.15), ("975",)),
    Territory("977", "Saint-Barthélemy", (-62.95, 17.85, -62.75, 17.98), ("977",)),
    Territory("978", "Saint-Martin", (-63.17, 18.0, -62.97, 18.13), ("978",)),
    Territory("986", "Wallis-et-Futuna", (-178.25, -14.4, -176.05, -13.15), ("986",)),
    Territory("987", "Polynésie française", (-155.0, -28.2, -134.2, -7.7), ("987",)),
    Territory("988", "Nouvelle-Calédonie", (158.0, -23.2, 168.5, -17.8), ("988",)),
)
_BY_CODE = {t.code: t for t in TERRITORIES}
_BOXES = tuple((t.code, *t.bbox) for t in TERRITORIES)
#: (code, min_lon, min_lat, max_lon, max_lat) of each territory
TERRITORY_BOXES = _BOXES

#: sea classes of ``sea_class``
SEA_NEAR = 1  # 5 to 20 km from land: probably at sea
SEA_FAR = 2  # more than 20 km from land


def territory_of(lon: float, lat: float) -> Optional[str]:
    """The code of the territory whose box holds the point, or None."""
    for code, x0, y0, x1, y1 in _BOXES:
        if x0 <= lon <= x1 and y0 <= lat <= y1:
            return code
    return None


def territory_of_insee(code: str) -> Optional[Territory]:
    """The territory of a commune from its INSEE code (None if unknown)."""
    if not code or len(code) != 5:
        return None
    if code.startswith("97") or code.startswith("98"):
        return _BY_CODE.get(code[:3])
    return _BY_CODE["metropole"]


def territory_label(code: Optional[str]) -> str:
    territory = _BY_CODE.get(code or "")
    return territory.label if territory else ""


class _SeaMask:
    """Distance classes of 1/120 degree cells, per territory."""

    def __init__(self, path: str):
        self.grids: dict[str, tuple[float, float, float, np.ndarray]] = {}
        with np.load(path) as data:
            for name in data.files:
                if not name.startswith("grid_"):
                    continue
                code = name[len("grid_"):]
                west, north, per_degree = (float(v) for v in data[f"origin_{code}"])
                self.grids[code] = (west, north, per_degree, data[name])

    def classify(self, territory: str, lon: float, lat: float) -> int:
        grid = self.grids.get(territory)
        if grid is None:
            return 0
        west, north, per_degree, cells = grid
        i = int((north - lat) * per_degree)
        j = int((lon - west) * per_degree)
        if 0 <= i < cells.shape[0] and 0 <= j < cells.shape[1]:
            return int(cells[i, j])
        return 0


_MASK: Optional[_SeaMask] = None
MASK_PATH = os.path.join(os.path.dirname(__file__), "data", "sea_fr.npz")


def _mask() -> _SeaMask:
    global _MASK
    if _MASK is None:
        _MASK = _SeaMask(MASK_PATH)
    return _MASK


def sea_class(territory: str, lon: float, lat: float) -> int:
    """0 near land, ``SEA_NEAR`` 5-20 km off the coast, ``SEA_FAR`` beyond."""
    return _mask().classify(territory, lon, lat)


def sea_grid(territory: str) -> Optional[tuple[float, float, float, np.ndarray]]:
    """(west, north, cells per degree, classes) of a territory, or None."""
    return _mask().grids.get(territory)
