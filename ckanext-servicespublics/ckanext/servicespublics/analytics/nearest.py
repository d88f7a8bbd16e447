"""Exact nearest neighbours on the sphere, for many places at once (numpy).

PostGIS' KNN operator answers one place in a fraction of a millisecond, but
the distance from each of the 35,000 communes to its nearest service is
35,000 index descents.  Here the services and the places become unit
vectors; the straight-line (chord) distance between unit vectors grows with
the great-circle distance, so the nearest by chord is the nearest on the
sphere.  The services are bucketed in a grid of cubes of side ``h``: a place
whose nearest service found in the 27 cubes around its own is within ``h``
has its true nearest (any closer service would be in those cubes); the
others are searched again with a grid four times coarser, and so on.

Distances are great-circle distances on the sphere of radius ``EARTH_RADIUS``
(the mean radius PostGIS uses for ``geography`` without spheroid and for
``ST_DistanceSphere``), in metres.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

__all__ = ["EARTH_RADIUS", "unit_vectors", "nearest", "chord_to_metres", "haversine"]

EARTH_RADIUS = 6371008.7714
#: the first grid's side is about the spacing of the points over an area
#: the size of metropolitan France (m²), within these bounds (m); then x4
_AREA = 550_000e6
_FIRST_CELL = (1000.0, 50000.0)
#: how many (place, service) pairs are compared at a time
_MAX_PAIRS = 4_000_000
_OFFSETS = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)],
                    dtype=np.int64)
_BASE = np.int64(1 << 21)


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lam, phi = np.radians(np.asarray(lon, dtype=np.float64)), np.radians(
        np.asarray(lat, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))


def chord_to_metres(chord: np.ndarray) -> np.ndarray:
    return 2.0 * EARTH_RADIUS * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (for one pair)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS * math.asin(min(1.0, math.sqrt(a)))


def _keys(cells: np.ndarray) -> np.ndarray:
    cells = cells + (_BASE // 2)
    return (cells[..., 0] * _BASE + cells[..., 1]) * _BASE + cells[..., 2]


def _pass(points: np.ndarray, queries: np.ndarray, h: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest point among the 27 cells around each query (index -1: none)."""
    point_keys = _keys(np.floor(points / h).astype(np.int64))
    order = np.argsort(point_keys, kind="stable")
    sorted_keys = point_keys[order]
    unique, starts, counts = np.unique(sorted_keys, return_index=True, return_counts=True)
    best_index = np.full(len(queries), -1, dtype=np.int64)
    best_d2 = np.full(len(queries), np.inf)
    query_cells = np.floor(queries / h).astype(np.int64)
    step = max(1, _MAX_PAIRS // max(1, int(27 * max(1.0, counts.mean()))))
    for begin in range(0, len(queries), step):
        cells = query_cells[begin:begin + step]
        keys = _keys(cells[:, None, :] + _OFFSETS[None, :, :])  # (m, 27)
        where = np.searchsorted(unique, keys)
        where = np.clip(where, 0, len(unique) - 1)
        found = unique[where] == keys
        run_starts = np.where(found, starts[where], 0).ravel()
        run_counts = np.where(found, counts[where], 0).ravel()
        total = int(run_counts.sum())
        if total == 0:
            continue
        query_of_run = np.repeat(np.arange(len(cells)), 27)
        pair_query = np.repeat(query_of_run, run_counts)
        offsets_in_run = np.arange(total) - np.repeat(np.cumsum(run_counts) - run_counts,
                                                      run_counts)
        pair_point = order[np.repeat(run_starts, run_counts) + offsets_in_run]
        diff = points[pair_point] - queries[begin + pair_query]
        d2 = np.einsum("ij,ij->i", diff, diff)
        # pairs are grouped by query: the minimum of each group
        has_pairs = np.bincount(pair_query, minlength=len(cells)) > 0
        group_starts = np.searchsorted(pair_query, np.arange(len(cells))[has_pairs])
        minima = np.minimum.reduceat(d2, group_starts)
        mins_per_pair = np.repeat(minima, np.diff(np.append(group_starts, total)))
        is_min = d2 == mins_per_pair
        first = np.unique(pair_query[is_min], return_index=True)[1]
        winners = np.flatnonzero(is_min)[first]
        targets = begin + pair_query[winners]
        best_index[targets] = pair_point[winners]
        best_d2[targets] = d2[winners]
    return best_index, best_d2


def nearest(points: np.ndarray, queries: np.ndarray, first_cell_m: Optional[float] = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """For each query (unit vector), the index of its nearest point and the
    great-circle distance in metres (-1 and inf when there is no point)."""
    m = len(queries)
    best_index = np.full(m, -1, dtype=np.int64)
    best_chord = np.full(m, np.inf)
    if m == 0 or len(points) == 0:
        return best_index, best_chord
    todo = np.arange(m)
    if first_cell_m is None:
        spacing = 1.5 * math.sqrt(_AREA / len(points))
        first_cell_m = min(max(spacing, _FIRST_CELL[0]), _FIRST_CELL[1])
    h = first_cell_m / EARTH_RADIUS
    while len(todo) and h < 0.5:
        index, d2 = _pass(points, queries[todo], h)
        chord = np.sqrt(d2)
        done = chord <= h
        best_index[todo[done]] = index[done]
        best_chord[todo[done]] = chord[done]
        todo = todo[~done]
        h *= 4.0
    if len(todo):  # far from everything: compare with every point
        for i in todo:
            diff = points - queries[i]
            d2 = np.einsum("ij,ij->i", diff, diff)
            j = int(np.argmin(d2))
            best_index[i], best_chord[i] = j, math.sqrt(d2[j])
    distance = np.where(best_index >= 0, chord_to_metres(np.where(
        np.isfinite(best_chord), best_chord, 0.0)), np.inf)
    return best_index, distance
