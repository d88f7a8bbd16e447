"""The statistics of the national map, in SQL over the points' history.

Every function takes a ``Scope`` (the datasets the caller may count, the
service types, the territory, the date: ``scope.py``) and reads through
CKAN's session.  Distances are great-circle distances on the sphere
(``nearest.EARTH_RADIUS``, as PostGIS' ``geography`` without spheroid and
``ST_DistanceSphere``), in metres; the communes are placed at their
reference point (``centres.py``).
"""
from __future__ import annotations

import datetime
import math
from typing import Any, Iterator, Optional

import numpy as np
import sqlalchemy as sa

import ckan.model as model

from . import nearest as nn
from .model import COMMUNE, LIVE_POINT, POINT, TERRITORY
from .scope import EPCI_JOIN, LEVEL_COLUMNS, Scope, active, state_sql

__all__ = ["density", "evolution", "nearest_services", "nearest_by_commune",
           "closure_impact", "export_rows", "EXPORT_COLUMNS", "LEVEL_RANK", "classes"]

LEVEL_RANK = {"region": 0, "departement": 1, "epci": 2, "commune": 3,
              "arrondissement_municipal": 4}


def _rows(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in model.Session.execute(sa.text(sql), params)]


def _per_10000(count: int, population: Optional[int]) -> Optional[float]:
    if not population:
        return None
    return round(count * 10000.0 / population, 4)


def classes(values: list[float], n: int = 5) -> list[float]:
    """Upper limits of ``n`` classes of equal counts (quantiles), deduplicated."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return []
    breaks = []
    for i in range(1, n + 1):
        position = min(len(values) - 1, max(0, math.ceil(i * len(values) / n) - 1))
        value = round(values[position], 4)
        if not breaks or value > breaks[-1]:
            breaks.append(value)
    return breaks


def _listing_scope(level: str, territory: Optional[dict[str, Any]], params: dict[str, Any]
                   ) -> tuple[str, Optional[dict[str, Any]]]:
    """Which territories of ``level`` are listed, and the territory the points
    are counted in: within a territory, the finer levels are listed; a level
    as coarse as the territory gives the one that contains it."""
    if territory is None:
        return "true", None
    t_level = territory["level"]
    if t_level == "arrondissement_municipal":
        t_level = "commune"
        territory = {**territory, "level": "commune", "code": territory.get("commune")}
    if LEVEL_RANK[level] <= LEVEL_RANK[t_level]:
        code = territory["code"] if level == t_level else territory.get(level)
        params["list_code"] = code
        return "t.code = :list_code", ({"level": level, "code": code} if code else territory)
    params["list_code"] = territory["code"]
    return f"t.{t_level} = :list_code", territory


def density(scope: Scope, level: str) -> dict[str, Any]:
    """Services in operation per 10,000 inhabitants, per territory of ``level``."""
    params: dict[str, Any] = {"level": level, "date": scope.date}
    listing, counted_in = _listing_scope(level, scope.territory, params)
    counting = Scope(scope.packages, scope.service_types, counted_in, scope.date)
    where = counting.where(params)
    join = EPCI_JOIN if level == "epci" else ""
    counts = {r["code"]: r["n"] for r in _rows(f"""
SELECT {LEVEL_COLUMNS[level]} AS code, count(*) AS n
FROM {POINT} h {join}
WHERE {where} AND {active()}
GROUP BY 1""", params)}
    territories = _rows(f"""
SELECT t.code, t.name, t.population, t.departement, t.region
FROM {TERRITORY} t WHERE t.level = :level AND {listing}
ORDER BY t.code""", params)
    listed = set()
    rows = []
    for t in territories:
        listed.add(t["code"])
        count = counts.get(t["code"], 0)
        rows.append({"code": t["code"], "name": t["name"], "population": t["population"],
                     "departement": t["departement"], "region": t["region"],
                     "count": count, "per_10000": _per_10000(count, t["population"])})
    ranked = sorted((r for r in rows if r["per_10000"] is not None),
                    key=lambda r: (-r["per_10000"], r["code"]))
    for rank, row in enumerate(ranked, start=1):
        row["rank"] = rank
    for row in rows:
        row.setdefault("rank", None)
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))
    counted = sum(r["count"] for r in rows)
    population = sum(r["population"] or 0 for r in rows)
    return {
        "level": level,
        "date": scope.date.isoformat(),
        "count": counted,
        "population": population,
        "per_10000": _per_10000(counted, population),
        # points counted in no listed territory (no commune, abroad, another territory)
        "unassigned": sum(n for code, n in counts.items() if code not in listed)
        if counted_in is None else counts.get(None, 0),
        "breaks": classes([r["per_10000"] for r in rows]),
        "territories": rows,
    }


def _interval(date_from: datetime.date, date_to: datetime.date, interval: Optional[str]) -> str:
    if interval in ("month", "year"):
        return interval
    return "month" if (date_to - date_from).days <= 3 * 366 else "year"


def _periods(date_from: datetime.date, date_to: datetime.date, unit: str
             ) -> list[tuple[datetime.date, datetime.date]]:
    """(first day, last day) of each month or year from ``date_from`` (excluded)
    to ``date_to``."""
    periods = []
    start = date_from + datetime.timedelta(days=1)
    while start <= date_to:
        if unit == "year":
            end = datetime.date(start.year, 12, 31)
        else:
            nxt = datetime.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
            end = nxt - datetime.timedelta(days=1)
        end = min(end, date_to)
        periods.append((start, end))
        start = end + datetime.timedelta(days=1)
    return periods


def evolution(scope: Scope, date_from: datetime.date, date_to: datetime.date, level: str,
              interval: Optional[str] = None, today: Optional[datetime.date] = None
              ) -> dict[str, Any]:
    """Openings and closures between two dates, per territory and over time."""
    today = today or datetime.date.today()
    params: dict[str, Any] = {"level": level, "d1": date_from, "d2": date_to,
                              "today": today}
    listing, counted_in = _listing_scope(level, scope.territory, params)
    counting = Scope(scope.packages, scope.service_types, counted_in, scope.date)
    where = counting.where(params)
    join = EPCI_JOIN if level == "epci" else ""
    lived = "h.active_from < h.active_until"
    opened = f"h.active_from > :d1 AND h.active_from <= :d2 AND {lived}"
    closed = f"h.active_until > :d1 AND h.active_until <= :d2 AND {lived}"
    columns = f"""
  count(*) FILTER (WHERE {active(':d1')}) AS count_from,
  count(*) FILTER (WHERE {active(':d2')}) AS count_to,
  count(*) FILTER (WHERE {opened} AND h.active_from <= :today) AS openings,
  count(*) FILTER (WHERE {opened} AND h.active_from > :today) AS planned_openings,
  count(*) FILTER (WHERE {opened} AND h.active_from <= :today AND h.opening_date IS NULL)
    AS openings_from_versions,
  count(*) FILTER (WHERE {closed} AND h.active_until <= :today) AS closures,
  count(*) FILTER (WHERE {closed} AND h.active_until > :today) AS planned_closures,
  count(*) FILTER (WHERE {closed} AND h.active_until <= :today AND h.closing_date IS NULL)
    AS closures_from_versions"""
    overlap = "h.active_from <= :d2 AND h.active_until > :d1"
    by_code = {r.pop("code"): r for r in _rows(f"""
SELECT {LEVEL_COLUMNS[level]} AS code, {columns}
FROM {POINT} h {join}
WHERE {where} AND {overlap}
GROUP BY 1""", params)}
    keys = ("count_from", "count_to", "openings", "planned_openings", "openings_from_versions",
            "closures", "planned_closures", "closures_from_versions")
    territories = _rows(f"""
SELECT t.code, t.name, t.population FROM {TERRITORY} t
WHERE t.level = :level AND {listing} ORDER BY t.code""", params)
    rows = []
    for t in territories:
        values = by_code.get(t["code"]) or dict.fromkeys(keys, 0)
        row = {"code": t["code"], "name": t["name"], "population": t["population"],
               **{k: values[k] for k in keys}}
        row["net"] = row["count_to"] - row["count_from"]
        rows.append(row)
    totals = {k: sum(r[k] for r in by_code.values()) for k in keys}
    totals["net"] = totals["count_to"] - totals["count_from"]
    totals["undated_closed"] = model.Session.execute(sa.text(f"""
SELECT count(*) FROM {POINT} h WHERE {where} AND h.status = 'closed'
  AND h.active_from = 'infinity'::date"""), params).scalar()

    unit = _interval(date_from, date_to, interval)
    events = {}
    for kind, column, condition in (("openings", "h.active_from", opened),
                                    ("closures", "h.active_until", closed)):
        for r in _rows(f"""
SELECT date_trunc(:unit, {column})::date AS period, count(*) AS n
FROM {POINT} h WHERE {where} AND {condition} GROUP BY 1""", {**params, "unit": unit}):
            events.setdefault(r["period"], {"openings": 0, "closures": 0})[kind] = r["n"]
    series = []
    current = totals["count_from"]
    for start, end in _periods(date_from, date_to, unit):
        key = datetime.date(start.year, 1, 1) if unit == "year" else start.replace(day=1)
        found = events.get(key, {"openings": 0, "closures": 0})
        current += found["openings"] - found["closures"]
        series.append({"period": str(start.year) if unit == "year"
                       else f"{start.year}-{start.month:02d}",
                       "start": start.isoformat(), "end": end.isoformat(),
                       "openings": found["openings"], "closures": found["closures"],
                       "count": current, "future": start > today})
    return {"level": level, "date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
            "interval": unit, "totals": totals, "territories": rows, "series": series}


# -- nearest services -------------------------------------------------------------

_POINT_COLUMNS = """h.id, h.name, h.service_type, h.status, h.commune_code, h.departement_code,
  h.package_id, h.resource_id, h.source_id, ST_X(h.geom) AS longitude, ST_Y(h.geom) AS latitude"""


def _point_dict(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["longitude"] = round(row["longitude"], 6)
    row["latitude"] = round(row["latitude"], 6)
    return row


def commune_position(code: str) -> Optional[tuple[float, float]]:
    row = model.Session.execute(sa.text(
        f"SELECT ST_X(geom), ST_Y(geom) FROM {COMMUNE} WHERE code = :code"),
        {"code": code}).first()
    return (row[0], row[1]) if row else None


def nearest_services(scope: Scope, lon: float, lat: float, limit: int = 5
                     ) -> list[dict[str, Any]]:
    """The ``limit`` nearest services in operation from a place (KNN on geography)."""
    params: dict[str, Any] = {"date": scope.date, "lon": lon, "lat": lat, "limit": limit}
    where = scope.where(params, territory=False)
    place = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography"
    rows = _rows(f"""
SELECT {_POINT_COLUMNS}, ST_Distance(h.geom::geography, {place}, false) AS distance
FROM {POINT} h
WHERE {where} AND {active()}
ORDER BY h.geom::geography <-> {place}
LIMIT :limit""", params)
    result = [_point_dict(r) for r in rows]
    for row in result:
        row["distance"] = round(row["distance"], 1)
    result.sort(key=lambda r: (r["distance"], r["id"]))
    return result


def _candidates(scope: Scope, *, details: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any], list[Any]]:
    """(ids, lon, lat) of the services in operation (anywhere: the nearest
    service of a commune may be across a border), and with ``details`` their
    names and types."""
    params: dict[str, Any] = {"date": scope.date}
    where = scope.where(params, territory=False)
    more = ", array_agg(h.name), array_agg(h.service_type)" if details else ", NULL, NULL"
    # arrays in one row: far cheaper than one Python row per point
    ids, lon, lat, names, types = model.Session.execute(sa.text(f"""
SELECT array_agg(h.id), array_agg(ST_X(h.geom)), array_agg(ST_Y(h.geom)){more}
FROM {POINT} h WHERE {where} AND {active()}"""), params).one()
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), [], []
    return (np.array(ids, dtype=np.int64), np.array(lon, dtype=np.float64),
            np.array(lat, dtype=np.float64), names or [], types or [])


#: the communes and their reference points, kept per process with the
#: fingerprint of the tables they come from
_COMMUNES: dict[str, Any] = {}


def _communes(territory: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    """The communes (of a territory), with population and reference point;
    fresh dicts (callers add their own keys)."""
    fingerprint = tuple(model.Session.execute(sa.text(f"""
SELECT (SELECT count(*) FROM {COMMUNE}), (SELECT sum(ST_X(geom) + ST_Y(geom)) FROM {COMMUNE}),
       (SELECT count(*) FROM {TERRITORY} WHERE level = 'commune'),
       (SELECT sum(population) FROM {TERRITORY} WHERE level = 'commune'),
       (SELECT count(DISTINCT epci) FROM {TERRITORY} WHERE level = 'commune')""")).one())
    if _COMMUNES.get("fingerprint") != fingerprint:
        _COMMUNES["rows"] = _rows(f"""
SELECT t.code, t.name, t.departement, t.region, t.epci, t.population,
       ST_X(c.geom) AS longitude, ST_Y(c.geom) AS latitude
FROM {TERRITORY} t LEFT JOIN {COMMUNE} c ON c.code = t.code
WHERE t.level = 'commune' ORDER BY t.code""", {})
        _COMMUNES["fingerprint"] = fingerprint
    rows = _COMMUNES["rows"]
    if territory is not None:
        level, code = territory["level"], territory["code"]
        if level == "arrondissement_municipal":
            level, code = "commune", territory.get("commune") or code
        column = "code" if level == "commune" else level
        rows = [r for r in rows if r[column] == code]
    return [{k: r[k] for k in ("code", "name", "departement", "population", "longitude",
                               "latitude")} for r in rows]


def _names(ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    return {r["id"]: _point_dict(r) for r in _rows(
        f"SELECT {_POINT_COLUMNS} FROM {POINT} h WHERE h.id = ANY(:ids)", {"ids": ids})}


def _summary(distance: np.ndarray, population: np.ndarray, threshold_m: float
             ) -> dict[str, Any]:
    """Distances (m, rounded; inf: no service) of communes and their populations."""
    placed = np.isfinite(distance)
    d, pop = distance[placed], population[placed]
    total = int(pop.sum())
    beyond = d > threshold_m
    ordered = np.sort(d)
    return {
        "communes": int(placed.sum()),
        "population": total,
        "mean_distance": round(float((pop * d).sum()) / total, 1) if total else None,
        "median_distance": round(float(ordered[len(ordered) // 2]), 1) if len(d) else None,
        "max_distance": round(float(ordered[-1]), 1) if len(d) else None,
        "communes_beyond": int(beyond.sum()),
        "population_beyond": int(pop[beyond].sum()),
    }


def _nearest_index(communes: list[dict[str, Any]], lon: np.ndarray, lat: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of the placed communes, the index of their nearest point
    (-1: none) and its distance (m)."""
    placed = np.array([i for i, c in enumerate(communes) if c["longitude"] is not None],
                      dtype=np.int64)
    if not len(placed) or not len(lon):
        return placed, np.full(len(placed), -1, dtype=np.int64), np.full(len(placed), np.inf)
    queries = nn.unit_vectors([communes[i]["longitude"] for i in placed],
                              [communes[i]["latitude"] for i in placed])
    index, distance = nn.nearest(nn.unit_vectors(lon, lat), queries)
    return placed, index, distance


def _nearest_for(communes: list[dict[str, Any]], ids: np.ndarray, lon: np.ndarray,
                 lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of the placed communes, their nearest id and distance (m)."""
    placed, index, distance = _nearest_index(communes, lon, lat)
    if not len(ids):
        return placed, index, distance
    return placed, np.where(index >= 0, ids[np.maximum(index, 0)], -1), distance


def nearest_by_commune(scope: Scope, threshold_m: float, with_communes: bool = True
                       ) -> dict[str, Any]:
    """For each commune (of the scope's territory), the distance to its
    nearest service in operation, and a summary weighted by population."""
    ids, lon, lat, names, types = _candidates(scope, details=True)
    communes = _communes(scope.territory)
    placed, index, distance = _nearest_index(communes, lon, lat)
    for position, i in enumerate(placed):
        commune = communes[i]
        j = int(index[position])
        if j >= 0:
            commune["distance"] = round(float(distance[position]), 1)
            commune["nearest"] = {"id": int(ids[j]), "name": names[j],
                                  "service_type": types[j],
                                  "longitude": round(float(lon[j]), 6),
                                  "latitude": round(float(lat[j]), 6)}
    for commune in communes:
        commune.setdefault("distance", None)
        commune.setdefault("nearest", None)
    summary = _summary(np.round(distance, 1), np.array(
        [communes[i]["population"] or 0 for i in placed], dtype=np.int64), threshold_m)
    summary["services"] = int(len(ids))
    summary["communes_without_position"] = sum(1 for c in communes if c["longitude"] is None)
    summary["threshold"] = threshold_m
    result: dict[str, Any] = {"date": scope.date.isoformat(), "summary": summary}
    if with_communes:
        result["communes"] = communes
    return result


def closure_impact(scope: Scope, close_ids: list[int], open_ids: list[int],
                   added: list[dict[str, Any]], threshold_m: float) -> dict[str, Any]:
    """What closing services (and opening others) changes for each commune's
    nearest service: distances before and after, and the population whose
    nearest service becomes farther than ``threshold_m``.

    ``close_ids`` must be services in operation at the scope's date,
    ``open_ids`` points not in operation then (planned openings); ``added``
    are places ({"longitude", "latitude", "name"}) of hypothetical services.
    """
    ids, lon, lat, _names_, _types = _candidates(scope)
    communes = _communes(scope.territory)
    placed, before_ids, before = _nearest_for(communes, ids, lon, lat)

    # after: only the communes whose nearest service closes look again,
    # among the services that stay; then the openings may come nearer
    after_ids, after = before_ids.copy(), before.copy()
    closing = np.isin(before_ids, np.array(close_ids, dtype=np.int64))
    if closing.any():
        keep = ~np.isin(ids, np.array(close_ids, dtype=np.int64))
        queries = nn.unit_vectors([communes[i]["longitude"] for i in placed[closing]],
                                  [communes[i]["latitude"] for i in placed[closing]])
        index, distance = nn.nearest(nn.unit_vectors(lon[keep], lat[keep]), queries)
        after_ids[closing] = np.where(index >= 0, ids[keep][np.maximum(index, 0)], -1)
        after[closing] = distance
    opened = _names(open_ids)
    extra_ids = list(open_ids) + [-n for n in range(1, len(added) + 1)]
    extra_places = [(opened[pid]["longitude"], opened[pid]["latitude"]) for pid in open_ids] \
        + [(p["longitude"], p["latitude"]) for p in added]
    if extra_places and len(placed):
        queries = nn.unit_vectors([communes[i]["longitude"] for i in placed],
                                  [communes[i]["latitude"] for i in placed])
        for pid, (x, y) in zip(extra_ids, extra_places):
            point = nn.unit_vectors([x], [y])[0]
            distance = nn.chord_to_metres(np.sqrt(((queries - point) ** 2).sum(axis=1)))
            nearer = distance < after
            after_ids[nearer] = pid  # hypothetical services have negative ids
            after[nearer] = distance[nearer]

    before, after = np.round(before, 1), np.round(after, 1)
    population = np.array([communes[i]["population"] or 0 for i in placed], dtype=np.int64)
    summary_before = _summary(before, population, threshold_m)
    summary_after = _summary(after, population, threshold_m)
    beyond_before = ~np.isfinite(before) | (before > threshold_m)
    beyond_after = ~np.isfinite(after) | (after > threshold_m)
    # the communes whose nearest service gets farther or nearer
    changed = np.flatnonzero(before != after)
    names = _names(sorted({int(v) for v in np.concatenate(
        [before_ids[changed], after_ids[changed]]) if v > 0}))
    hypothetical = {-n: {"id": None, "name": p.get("name") or None,
                         "longitude": p["longitude"], "latitude": p["latitude"]}
                    for n, p in enumerate(added, start=1)}

    def describe(position: int, ids_: np.ndarray, distance: np.ndarray
                 ) -> Optional[dict[str, Any]]:
        if not np.isfinite(distance[position]):
            return None
        pid = int(ids_[position])
        found = hypothetical.get(pid) if pid < 0 else names.get(pid)
        if not found:
            return None
        return {"id": found["id"], "name": found["name"], "longitude": found["longitude"],
                "latitude": found["latitude"]}

    def metres(value: float) -> Optional[float]:
        return float(value) if np.isfinite(value) else None

    rows = []
    for position in changed:
        c = communes[placed[position]]
        rows.append({
            "code": c["code"], "name": c["name"], "departement": c["departement"],
            "population": c["population"], "longitude": c["longitude"],
            "latitude": c["latitude"],
            "distance_before": metres(before[position]),
            "distance_after": metres(after[position]),
            "nearest_before": describe(position, before_ids, before),
            "nearest_after": describe(position, after_ids, after),
            "beyond_before": bool(beyond_before[position]),
            "beyond_after": bool(beyond_after[position]),
        })
    def farther(row: dict[str, Any]) -> float:
        after_, before_ = row["distance_after"], row["distance_before"]
        return (math.inf if after_ is None else after_) - (0 if before_ is None else before_)

    # the communes whose nearest service moves away the most first
    rows.sort(key=lambda r: (-farther(r), r["code"]))
    newly = beyond_after[changed] & ~beyond_before[changed]
    no_longer = beyond_before[changed] & ~beyond_after[changed]
    changed_population = population[changed]
    closed = _names(close_ids)
    return {
        "date": scope.date.isoformat(),
        "threshold": threshold_m,
        "closed": [closed[i] for i in close_ids if i in closed],
        "opened": [opened[i] for i in open_ids if i in opened]
        + [{"id": None, "name": p.get("name"), "longitude": p["longitude"],
            "latitude": p["latitude"]} for p in added],
        "before": summary_before,
        "after": summary_after,
        "newly_beyond": {"communes": int(newly.sum()),
                         "population": int(changed_population[newly].sum())},
        "no_longer_beyond": {"communes": int(no_longer.sum()),
                             "population": int(changed_population[no_longer].sum())},
        "communes": rows,
    }


def check_points(scope: Scope, ids: list[int], *, in_service: bool) -> list[int]:
    """Ids among ``ids`` that are not (or are, with ``in_service=False``) services
    in operation of the scope (an unknown id and a point the caller may not
    see are answered alike)."""
    if not ids:
        return []
    params: dict[str, Any] = {"date": scope.date, "ids": ids}
    where = scope.where(params, territory=False)
    condition = active() if in_service else f"NOT {active()}"
    found = set(model.Session.execute(sa.text(f"""
SELECT h.id FROM {POINT} h WHERE h.id = ANY(:ids) AND {where} AND {condition}"""),
        params).scalars())
    return [i for i in ids if i not in found]


# -- export ------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "id", "name", "service_type", "state", "status", "address", "postcode", "commune_code",
    "departement_code", "region_code", "latitude", "longitude", "opening_date",
    "closing_date", "opening_hours", "phone", "email", "website", "source_id", "dataset",
    "organization", "resource_id",
)


def export_rows(scope: Scope, states: tuple[str, ...], *, limit: Optional[int] = None,
                offset: int = 0, bbox: Optional[tuple[float, float, float, float]] = None,
                batch: int = 5000) -> Iterator[dict[str, Any]]:
    """The points of the scope in one of ``states`` on the scope's date, with
    their details (from the live points; a point gone from its file keeps
    what the history knows), ordered by id, fetched in batches."""
    params: dict[str, Any] = {"date": scope.date, "states": list(states)}
    where = scope.where(params)
    if bbox is not None:
        params.update(dict(zip(("xmin", "ymin", "xmax", "ymax"), bbox)))
        where += " AND h.geom && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)"
    sql = f"""
SELECT * FROM (
  SELECT h.id, h.name, h.service_type, {state_sql()} AS state, h.status, p.address,
         p.postcode, h.commune_code, h.departement_code, h.region_code,
         round(ST_Y(h.geom)::numeric, 6) AS latitude, round(ST_X(h.geom)::numeric, 6) AS longitude,
         h.opening_date, h.closing_date, p.opening_hours, p.phone, p.email, p.website,
         h.source_id, pk.name AS dataset, g.name AS organization, h.resource_id
  FROM {POINT} h
  LEFT JOIN {LIVE_POINT} p ON p.id = h.point_id
  LEFT JOIN package pk ON pk.id = h.package_id
  LEFT JOIN "group" g ON g.id = pk.owner_org
  WHERE {where} AND h.id > :after
) x WHERE x.state = ANY(:states)
ORDER BY x.id LIMIT :batch"""
    after, sent = 0, 0
    remaining = limit
    skip = offset
    while True:
        size = batch if remaining is None else min(batch, remaining + skip)
        if size <= 0:
            return
        rows = _rows(sql, {**params, "after": after, "batch": size})
        if not rows:
            return
        after = rows[-1]["id"]
        for row in rows:
            if skip:
                skip -= 1
                continue
            for key in ("opening_date", "closing_date"):
                if row[key] is not None:
                    row[key] = row[key].isoformat()
            for key in ("latitude", "longitude"):
                row[key] = float(row[key])
            yield row
            sent += 1
            if remaining is not None:
                remaining -= 1
                if remaining <= 0:
                    return
        if len(rows) < size:
            return


def count_points(scope: Scope, states: tuple[str, ...]) -> int:
    params: dict[str, Any] = {"date": scope.date, "states": list(states)}
    where = scope.where(params)
    return model.Session.execute(sa.text(f"""
SELECT count(*) FROM {POINT} h WHERE {where} AND {state_sql()} = ANY(:states)"""),
        params).scalar()
