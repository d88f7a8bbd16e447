"""Loading the territorial reference.

``load_cog`` reads the JSON files of the npm package
``@etalab/decoupage-administratif`` (``communes.json``, ``epci.json``,
``departements.json``, ``regions.json``: COG 2026 with INSEE legal
populations, version 6.0.0) and replaces the territories and the former
commune codes in one transaction, keeping the boundaries already loaded.

``load_boundaries`` reads GeoJSON FeatureCollections whose features carry a
``code`` (and ``nom``) property, such as the IGN Admin Express files of
france-geojson, and stores each feature's geometry on the territory with that
code. Without a path it loads the simplified département and région
boundaries shipped in ``territories/data`` (see ``data/ATTRIBUTION.md``).

Both read and check everything before writing: a bad file changes nothing.
"""
from __future__ import annotations

import glob
import io
import json
import logging
import os
from typing import Any, Callable, Optional

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk

from . import LEVELS, normalize_name
from .model import FORMER_CODE, TERRITORY

log = logging.getLogger(__name__)

SOURCE_CONFIG_KEY = "ckanext.servicespublics.territories.source"
NPM_DATA = os.path.join("node_modules", "@etalab", "decoupage-administratif", "data")
COG_FILES = ("regions.json", "departements.json", "epci.json", "communes.json")
DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
SHIPPED_BOUNDARIES = (
    (os.path.join(DATA_DIR, "regions.geojson"), "region"),
    (os.path.join(DATA_DIR, "departements.geojson"), "departement"),
)

Echo = Optional[Callable[[str], None]]


class TerritoryLoadError(Exception):
    """A source is missing or invalid; nothing was written."""


def default_source() -> Optional[str]:
    """Where ``territories load`` reads without ``--source``: the setting
    ``ckanext.servicespublics.territories.source``, else the npm package
    installed by ``npm ci`` in the checkout (or the current directory)."""
    configured = tk.config.get(SOURCE_CONFIG_KEY)
    if configured:
        return configured
    candidates = []
    here = os.path.dirname(os.path.abspath(__file__))
    while True:
        candidates.append(os.path.join(here, NPM_DATA))
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    candidates.append(os.path.join(os.getcwd(), NPM_DATA))
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, "communes.json")):
            return candidate
    return None


def _read_json_list(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except OSError as e:
        raise TerritoryLoadError(f"Cannot read {path}: {e.strerror or e}") from e
    except ValueError as e:
        raise TerritoryLoadError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, list):
        raise TerritoryLoadError(f"{path}: expected a JSON list of territories")
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not item.get("code") or not item.get("nom"):
            raise TerritoryLoadError(
                f"{path}: item {i} has no code or no nom: {json.dumps(item)[:200]}")
    return data


def _population(value: Any) -> Optional[int]:
    return int(value) if isinstance(value, (int, float)) else None


def _row(level: str, code: str, name: str, **values: Any) -> dict[str, Any]:
    row = {"level": level, "code": code, "name": name, "name_search": normalize_name(name),
           "kind": None, "commune": None, "epci": None, "departement": None,
           "region": None, "zone": None, "chef_lieu": None, "population": None,
           "postcodes": []}
    row.update(values)
    return row


def read_cog(source: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The territory rows and former-code rows built from the source folder."""
    if not os.path.isdir(source):
        raise TerritoryLoadError(f"{source} is not a folder of decoupage-administratif "
                                 f"JSON files ({', '.join(COG_FILES)})")
    data = {}
    for name in COG_FILES:
        path = os.path.join(source, name)
        if not os.path.isfile(path):
            raise TerritoryLoadError(f"{path} is missing: the source folder must hold "
                                     f"{', '.join(COG_FILES)}")
        data[name] = _read_json_list(path)

    epci_of: dict[str, str] = {}
    epci_members: dict[str, list[dict[str, Any]]] = {}
    for epci in data["epci.json"]:
        members = epci.get("membres") or []
        epci_members[epci["code"]] = members
        for member in members:
            epci_of[member["code"]] = epci["code"]

    communes: dict[str, dict[str, Any]] = {}
    arrondissements, formers = [], {}
    former_names: dict[str, str] = {}
    for item in data["communes.json"]:
        kind = item.get("type")
        if kind == "commune-actuelle":
            communes[item["code"]] = _row(
                "commune", item["code"], item["nom"], departement=item.get("departement"),
                region=item.get("region"), epci=epci_of.get(item["code"]),
                zone=item.get("zone"), population=_population(item.get("population")),
                postcodes=sorted(set(item.get("codesPostaux") or [])))
            for former in item.get("anciensCodes") or []:
                formers[former] = item["code"]
        elif kind == "arrondissement-municipal":
            arrondissements.append(_row(
                "arrondissement_municipal", item["code"], item["nom"],
                commune=item.get("commune"), departement=item.get("departement"),
                region=item.get("region"), epci=epci_of.get(item.get("commune")),
                zone=item.get("zone"), population=_population(item.get("population")),
                postcodes=sorted(set(item.get("codesPostaux") or []))))
        elif kind in ("commune-deleguee", "commune-associee"):
            former_names.setdefault(item["code"], item["nom"])
    if not communes:
        raise TerritoryLoadError(f"{source}/communes.json lists no commune-actuelle")

    totals: dict[tuple[str, str], int] = {}
    for commune in communes.values():
        for level in ("departement", "region"):
            key = (level, commune[level])
            totals[key] = totals.get(key, 0) + (commune["population"] or 0)

    rows = []
    for item in data["regions.json"]:
        rows.append(_row("region", item["code"], item["nom"], region=item["code"],
                         zone=item.get("zone"), chef_lieu=item.get("chefLieu"),
                         population=totals.get(("region", item["code"]))))
    for item in data["departements.json"]:
        rows.append(_row("departement", item["code"], item["nom"],
                         departement=item["code"], region=item.get("region"),
                         zone=item.get("zone"), chef_lieu=item.get("chefLieu"),
                         population=totals.get(("departement", item["code"]))))
    for item in data["epci.json"]:
        members = [communes[m["code"]] for m in epci_members[item["code"]]
                   if m.get("code") in communes]
        # an EPCI may span départements: it is placed where most of its
        # inhabitants live
        main = max(members, key=lambda c: c["population"] or 0) if members else {}
        rows.append(_row("epci", item["code"], item["nom"], kind=item.get("type"),
                         departement=main.get("departement"), region=main.get("region"),
                         zone=main.get("zone"),
                         population=_population(item.get("populationMunicipale"))))
    rows.extend(communes.values())
    rows.extend(arrondissements)

    former_rows = [{"code": code, "current_code": current, "name": former_names.get(code)}
                   for code, current in sorted(formers.items()) if code not in communes]
    return rows, former_rows


_TERRITORY_COLUMNS = ("level", "code", "name", "name_search", "kind", "commune", "epci",
                      "departement", "region", "zone", "chef_lieu", "population",
                      "postcodes")


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, list):
        value = "{" + ",".join('"' + str(v).replace('"', "") + '"' for v in value) + "}"
    return (str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")
            .replace("\r", " "))


def _copy(conn: sa.Connection, table: str, columns: tuple[str, ...],
          rows: list[dict[str, Any]]) -> None:
    """Bulk-insert rows with PostgreSQL's COPY, in the connection's transaction."""
    if not rows:
        return
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(row[c]) for c in columns))
        buffer.write("\n")
    buffer.seek(0)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
    finally:
        cursor.close()


def load_cog(source: Optional[str] = None, echo: Echo = None) -> dict[str, int]:
    """Replace the territories and former codes with those of ``source``
    (default: ``default_source()``); boundaries already loaded are kept."""
    echo = echo or log.info
    source = source or default_source()
    if not source:
        raise TerritoryLoadError(
            "No source for the territories: install the npm package "
            "@etalab/decoupage-administratif (npm ci), set "
            f"{SOURCE_CONFIG_KEY} or pass --source")
    rows, former_rows = read_cog(source)
    echo(f"Lecture de {source} : {len(rows)} territoires, "
         f"{len(former_rows)} anciens codes de communes")

    with model.meta.engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TEMP TABLE servicespublics_boundaries ON COMMIT DROP AS "
            f"SELECT level, code, geom FROM {TERRITORY} WHERE geom IS NOT NULL"))
        conn.execute(sa.text(f"DELETE FROM {TERRITORY}"))
        _copy(conn, TERRITORY, _TERRITORY_COLUMNS, rows)
        conn.execute(sa.text(
            f"UPDATE {TERRITORY} t SET geom = b.geom FROM servicespublics_boundaries b "
            "WHERE t.level = b.level AND t.code = b.code"))
        conn.execute(sa.text(f"DELETE FROM {FORMER_CODE}"))
        _copy(conn, FORMER_CODE, ("code", "current_code", "name"), former_rows)
    model.Session.expire_all()
    counts = {level: 0 for level in LEVELS}
    for row in rows:
        counts[row["level"]] += 1
    counts["former_codes"] = len(former_rows)
    return counts


# ------------------------------------------------------------------ boundaries

def _feature_code(properties: dict[str, Any]) -> Optional[str]:
    for key in ("code", "code_insee", "insee", "INSEE_COM", "INSEE_DEP", "INSEE_REG",
                "siren", "SIREN_EPCI"):
        value = properties.get(key)
        if value not in (None, ""):
            return str(value).strip().upper()
    return None


def _feature_name(properties: dict[str, Any]) -> str:
    for key in ("nom", "name", "NOM", "NOM_COM", "NOM_DEP", "NOM_REG"):
        if properties.get(key):
            return str(properties[key])
    return ""


def _srid(collection: dict[str, Any], path: str) -> int:
    name = ((collection.get("crs") or {}).get("properties") or {}).get("name")
    if not name or name.upper().endswith(("CRS84", "EPSG::4326", "EPSG:4326")):
        return 4326
    digits = name.rsplit(":", 1)[-1]
    if not digits.isdigit():
        raise TerritoryLoadError(f"{path}: unknown coordinate system {name!r}")
    return int(digits)


def read_boundaries(path: str) -> tuple[list[tuple[str, str, str]], int]:
    """(code, name, GeoJSON geometry) of each polygon feature, and its SRID."""
    try:
        with open(path, encoding="utf-8") as stream:
            collection = json.load(stream)
    except OSError as e:
        raise TerritoryLoadError(f"Cannot read {path}: {e.strerror or e}") from e
    except ValueError as e:
        raise TerritoryLoadError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise TerritoryLoadError(f"{path}: expected a GeoJSON FeatureCollection")
    features = []
    for i, feature in enumerate(collection.get("features") or []):
        properties = (feature or {}).get("properties") or {}
        geom = (feature or {}).get("geometry") or {}
        code = _feature_code(properties)
        if not code:
            raise TerritoryLoadError(f"{path}: feature {i} has no code property")
        if geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise TerritoryLoadError(
                f"{path}: feature {i} ({code}) is a {geom.get('type')}, not a polygon")
        features.append((code, _feature_name(properties), json.dumps(geom)))
    if not features:
        raise TerritoryLoadError(f"{path}: no feature")
    return features, _srid(collection, path)


def guess_level(features: list[tuple[str, str, str]], path: str) -> str:
    """The level of a boundary file, from its codes and names: "11" is both
    a région (Île-de-France) and a département (Aude), the names decide."""
    codes = [code for code, _name, _geom in features]
    if all(len(c) == 9 and c.isdigit() for c in codes):
        return "epci"
    if all(len(c) == 5 for c in codes):
        return "commune"
    scores = {}
    for level in ("region", "departement"):
        rows = model.Session.execute(sa.text(
            f"SELECT code, name_search FROM {TERRITORY} WHERE level = :level "
            "AND code = ANY(:codes)"), {"level": level, "codes": codes}).all()
        known = dict(rows)
        scores[level] = sum(
            1 for code, name, _geom in features
            if code in known and (not name or normalize_name(name) == known[code]))
    best = max(scores, key=scores.get)
    other = "departement" if best == "region" else "region"
    if scores[best] == 0 or scores[best] == scores[other]:
        raise TerritoryLoadError(
            f"{path}: cannot tell whether its features are régions or départements; "
            "pass --level")
    return best


def load_boundaries(path: Optional[str] = None, level: Optional[str] = None,
                    echo: Echo = None) -> dict[str, Any]:
    """Store the boundaries of a GeoJSON file (or of every ``*.geojson`` of a
    folder) on the territories; without a path, the shipped simplified
    département and région boundaries."""
    echo = echo or log.info
    if level is not None and level not in LEVELS:
        raise TerritoryLoadError(f"Unknown level {level!r} (one of {', '.join(LEVELS)})")
    if not model.Session.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {TERRITORY})")).scalar():
        raise TerritoryLoadError(
            "The territories are not loaded: run `ckan servicespublics territories load` first")
    if path is None:
        files = list(SHIPPED_BOUNDARIES)
    elif os.path.isdir(path):
        files = [(f, level) for f in sorted(
            glob.glob(os.path.join(path, "*.geojson")) + glob.glob(os.path.join(path, "*.json")))]
        if not files:
            raise TerritoryLoadError(f"{path}: no .geojson file in this folder")
    elif os.path.isfile(path):
        files = [(path, level)]
    else:
        raise TerritoryLoadError(f"{path}: no such file or folder")

    batches = []
    for file_path, file_level in files:
        features, srid = read_boundaries(file_path)
        file_level = file_level or guess_level(features, file_path)
        batches.append((file_path, file_level, features, srid))

    result: dict[str, Any] = {"updated": 0, "unknown": []}
    update = sa.text(f"""
UPDATE {TERRITORY} SET geom = ST_Multi(ST_CollectionExtract(ST_MakeValid(
    ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:geom), :srid), 4326)), 3))
WHERE level = :level AND code = :code""")
    with model.meta.engine.begin() as conn:
        for file_path, file_level, features, srid in batches:
            updated = 0
            for code, _name, geom in features:
                n = conn.execute(update, {"geom": geom, "srid": srid, "level": file_level,
                                          "code": code}).rowcount
                if n:
                    updated += n
                else:
                    result["unknown"].append(code)
            result["updated"] += updated
            result[file_level] = result.get(file_level, 0) + updated
            echo(f"{os.path.basename(file_path)} : {updated} contours de niveau {file_level}")
    model.Session.expire_all()
    if result["unknown"]:
        echo(f"Codes absents du référentiel (ignorés) : {', '.join(result['unknown'][:20])}"
             + (" …" if len(result["unknown"]) > 20 else ""))
    return result


def simplify_boundaries(source: str, target: str, tolerance: float = 0.003,
                        precision: float = 0.0001) -> int:
    """Write a lighter copy of a GeoJSON boundary file (Douglas-Peucker
    simplification of each feature, coordinates rounded to ``precision``
    degrees); returns the number of features."""
    import shapely
    from shapely.geometry import mapping, shape

    try:
        with open(source, encoding="utf-8") as stream:
            collection = json.load(stream)
    except (OSError, ValueError) as e:
        raise TerritoryLoadError(f"Cannot read {source}: {e}") from e
    features = []
    for feature in collection.get("features") or []:
        geom = shape(feature["geometry"]).simplify(tolerance, preserve_topology=True)
        geom = shapely.make_valid(shapely.set_precision(geom, precision))
        properties = {k: feature["properties"][k] for k in ("code", "nom")
                      if k in (feature.get("properties") or {})}
        features.append({"type": "Feature", "properties": properties,
                         "geometry": mapping(geom)})
    with open(target, "w", encoding="utf-8") as stream:
        json.dump({"type": "FeatureCollection", "features": features}, stream,
                  ensure_ascii=False, separators=(",", ":"))
    return len(features)
