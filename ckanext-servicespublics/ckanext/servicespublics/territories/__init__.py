"""The territorial reference: COG communes, EPCI, départements and régions.

Python API for every plugin of the extension (the tables are filled by
``ckan servicespublics territories load`` and ``load-boundaries``)::

    from ckanext.servicespublics import territories

    territories.get("35238")                    # Rennes
    territories.get("53", level="region")       # Bretagne ("53" is also Mayenne)
    territories.resolve_commune("35001")        # a former code -> the current commune
    territories.search("saint-malo")            # by name (prefix, accents ignored)...
    territories.search("35", level="departement")   # ...or by code
    territories.children("53", level="region")  # the départements of Bretagne
    territories.population("35")                # legal population (population municipale)

A territory is a dict: ``level`` (``region``, ``departement``, ``epci``,
``commune`` or ``arrondissement_municipal``), ``code``, ``name``, ``label``
(``"Rennes (35)"``), ``departement``, ``region``, ``epci``, ``commune`` (for
an arrondissement municipal: its commune), ``kind`` (EPCI legal form),
``zone`` (``metro``, ``drom``, ``com``), ``population``, ``postcodes`` and
``has_boundary``.  Functions read through CKAN's session, so they see what the
current transaction sees.
"""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Iterable, Optional

import sqlalchemy as sa

from ckan.model import meta

from .model import FORMER_CODE, TERRITORY

#: levels stored in the reference, from the largest to the smallest
LEVELS = ("region", "departement", "epci", "commune", "arrondissement_municipal")
#: the levels a dataset's territorial coverage can name (``national`` has no code)
COVERAGE_LEVELS = ("commune", "epci", "departement", "region", "national")
#: ``get(code)`` without a level: which level wins when a code exists at several
#: ("01" is both the Ain département and the Guadeloupe région)
LOOKUP_ORDER = ("commune", "arrondissement_municipal", "epci", "departement", "region")
#: a pseudo-code for the whole country (territorial coverage ``national``)
NATIONAL = "FR"

CODE_PATTERNS = {
    "commune": re.compile(r"^(\d{5}|2[AB]\d{3})$"),
    "arrondissement_municipal": re.compile(r"^\d{5}$"),
    "epci": re.compile(r"^\d{9}$"),
    "departement": re.compile(r"^(\d{2}|2[AB]|97\d|98\d)$"),
    "region": re.compile(r"^(\d{2}|97\d|98\d)$"),
}
_CODE_LIKE = re.compile(r"^(\d|2[AB])[0-9AB]*$")

_COLUMNS = ("level, code, name, kind, commune, epci, departement, region, zone, "
            "chef_lieu, population, postcodes, geom IS NOT NULL AS has_boundary")
_LEVEL_RANK = ("CASE level WHEN 'region' THEN 0 WHEN 'departement' THEN 1 "
               "WHEN 'epci' THEN 2 WHEN 'commune' THEN 3 ELSE 4 END")


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def normalize_name(value: str) -> str:
    """Lowercase, no accents, words separated by one space ("L'Haÿ-les-Roses"
    -> "l hay les roses")."""
    value = (value or "").replace("œ", "oe").replace("Œ", "Oe").replace("æ", "ae") \
        .replace("Æ", "Ae")
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    return _NOT_ALNUM.sub(" ", value).strip()


def _normalize_query(q: str) -> str:
    words = normalize_name(q).split()
    abbreviations = {"st": "saint", "ste": "sainte"}
    return " ".join(abbreviations.get(w, w) for w in words)


def normalize_code(code: Any) -> str:
    """A code as stored: no surrounding spaces, Corsica's A/B in capitals."""
    return str(code).strip().upper() if code is not None else ""


def label(row: dict[str, Any]) -> str:
    """How a territory is named in lists: "Rennes (35)", "Bretagne"."""
    if row["level"] in ("commune", "arrondissement_municipal"):
        return f"{row['name']} ({row['departement']})" if row.get("departement") \
            else row["name"]
    if row["level"] == "departement":
        return f"{row['name']} ({row['code']})"
    return row["name"]


def _dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["postcodes"] = list(data.get("postcodes") or [])
    data["label"] = label(data)
    return data


def _rows(sql: str, **params: Any) -> list[dict[str, Any]]:
    return [_dict(r) for r in meta.Session.execute(sa.text(sql), params)]


def is_loaded() -> bool:
    """Whether the reference holds any territory (``territories load`` ran)."""
    return meta.Session.execute(
        sa.text(f"SELECT EXISTS (SELECT 1 FROM {TERRITORY})")).scalar()


def counts() -> dict[str, int]:
    """How many territories of each level, boundaries and former codes."""
    result = {level: 0 for level in LEVELS}
    for level, n in meta.Session.execute(
            sa.text(f"SELECT level, count(*) FROM {TERRITORY} GROUP BY level")):
        result[level] = n
    result["boundaries"] = meta.Session.execute(
        sa.text(f"SELECT count(*) FROM {TERRITORY} WHERE geom IS NOT NULL")).scalar()
    result["former_codes"] = meta.Session.execute(
        sa.text(f"SELECT count(*) FROM {FORMER_CODE}")).scalar()
    return result


def get(code: Any, level: Optional[str] = None) -> Optional[dict[str, Any]]:
    """The territory with this code (at this level), or None.

    Without a level, a code that exists at several levels is taken in the
    order of ``LOOKUP_ORDER`` (commune first, région last).
    """
    code = normalize_code(code)
    if not code:
        return None
    if level is not None:
        rows = _rows(f"SELECT {_COLUMNS} FROM {TERRITORY} WHERE level = :level "
                     "AND code = :code", level=level, code=code)
        return rows[0] if rows else None
    rows = {r["level"]: r for r in _rows(
        f"SELECT {_COLUMNS} FROM {TERRITORY} WHERE code = :code", code=code)}
    for candidate in LOOKUP_ORDER:
        if candidate in rows:
            return rows[candidate]
    return None


def get_many(codes: Iterable[Any], level: str) -> dict[str, dict[str, Any]]:
    """The territories of one level with these codes, by code."""
    codes = [normalize_code(c) for c in codes if normalize_code(c)]
    if not codes:
        return {}
    return {r["code"]: r for r in _rows(
        f"SELECT {_COLUMNS} FROM {TERRITORY} WHERE level = :level "
        "AND code = ANY(:codes)", level=level, codes=codes)}


def former_codes(codes: Iterable[Any]) -> dict[str, str]:
    """Former commune codes among ``codes``, mapped to the current code."""
    codes = [normalize_code(c) for c in codes if normalize_code(c)]
    if not codes:
        return {}
    return dict(meta.Session.execute(
        sa.text(f"SELECT code, current_code FROM {FORMER_CODE} WHERE code = ANY(:codes)"),
        {"codes": codes}).all())


def resolve_commune(code: Any) -> Optional[dict[str, Any]]:
    """The current commune for a commune code, following merges.

    A current code gives its commune (or arrondissement municipal: Paris,
    Lyon and Marseille's have their own codes, and the dict names their
    ``commune``); the code of a commune that merged into a commune nouvelle
    gives the commune nouvelle, with ``former_code`` set to the code asked
    for. Unknown codes give None.
    """
    code = normalize_code(code)
    if not CODE_PATTERNS["commune"].match(code):
        return None
    for level in ("commune", "arrondissement_municipal"):
        found = get(code, level)
        if found:
            return found
    current = former_codes([code]).get(code)
    if current is None:
        return None
    found = get(current, "commune")
    if found:
        found["former_code"] = code
    return found


def search(q: Any, level: Optional[str] = None, limit: int = 10) -> list[dict[str, Any]]:
    """Territories whose name starts with ``q`` (or one of whose words does),
    accents, case and punctuation ignored, or whose code, former code or
    postcode is ``q`` (code prefixes too).

    Exact names and codes come first, then larger territories and, within a
    level, the most populated.
    """
    q = str(q or "").strip()
    limit = max(1, min(int(limit), 100))
    if not q:
        return []
    level_sql = " AND level = :level" if level else ""
    code = normalize_code(q)
    if _CODE_LIKE.match(code):
        return _rows(f"""
SELECT {_COLUMNS} FROM (
  SELECT t.*, CASE WHEN t.code = :code THEN 0
                   WHEN f.code IS NOT NULL THEN 1
                   WHEN :code = ANY(t.postcodes) THEN 2 ELSE 3 END AS rank
  FROM {TERRITORY} t
  LEFT JOIN {FORMER_CODE} f ON f.current_code = t.code AND f.code = :code
       AND t.level = 'commune'
  WHERE (t.code LIKE :prefix OR f.code IS NOT NULL OR :code = ANY(t.postcodes))
) t WHERE true {level_sql}
ORDER BY rank, {_LEVEL_RANK}, code
LIMIT :limit""", code=code, prefix=code + "%", level=level, limit=limit)

    name = _normalize_query(q)
    if not name:
        return []
    return _rows(f"""
SELECT {_COLUMNS} FROM (
  SELECT *, CASE WHEN name_search = :name THEN 0
                 WHEN name_search LIKE :prefix THEN 1 ELSE 2 END AS rank
  FROM {TERRITORY}
  WHERE (name_search LIKE :prefix OR name_search LIKE :word){level_sql}
) t
ORDER BY rank, CASE WHEN rank = 0 THEN {_LEVEL_RANK} ELSE 0 END,
         population DESC NULLS LAST, name
LIMIT :limit""", name=name, prefix=name + "%", word="% " + name + "%", level=level,
                 limit=limit)


def children(code: Any, level: Optional[str] = None) -> list[dict[str, Any]]:
    """The territories one level down: a région's départements, a
    département's communes, an EPCI's member communes, a commune's
    arrondissements municipaux (sorted by code)."""
    parent = get(code, level)
    if parent is None:
        return []
    where = {
        "region": "level = 'departement' AND region = :code",
        "departement": "level = 'commune' AND departement = :code",
        "epci": "level = 'commune' AND epci = :code",
        "commune": "level = 'arrondissement_municipal' AND commune = :code",
    }.get(parent["level"])
    if where is None:
        return []
    return _rows(f"SELECT {_COLUMNS} FROM {TERRITORY} WHERE {where} ORDER BY code",
                 code=parent["code"])


def population(code: Any, level: Optional[str] = None) -> Optional[int]:
    """The legal population (population municipale) of a territory."""
    found = get(code, level)
    return found["population"] if found else None


def geometry(code: Any, level: Optional[str] = None) -> Optional[dict[str, Any]]:
    """The boundary of a territory as a GeoJSON geometry, if loaded."""
    found = get(code, level)
    if found is None or not found["has_boundary"]:
        return None
    value = meta.Session.execute(sa.text(
        f"SELECT ST_AsGeoJSON(geom, 5) FROM {TERRITORY} WHERE level = :level "
        "AND code = :code"), {"level": found["level"], "code": found["code"]}).scalar()
    return json.loads(value) if value else None


def extent(level: str, codes: Iterable[Any]) -> Optional[str]:
    """The bounding box of these territories' boundaries, as a GeoJSON
    polygon string, when every one of them has a boundary loaded."""
    codes = sorted({normalize_code(c) for c in codes if normalize_code(c)})
    if not codes or level not in LEVELS:
        return None
    row = meta.Session.execute(sa.text(f"""
SELECT count(*) AS n, ST_XMin(ST_Extent(geom)) AS xmin, ST_YMin(ST_Extent(geom)) AS ymin,
       ST_XMax(ST_Extent(geom)) AS xmax, ST_YMax(ST_Extent(geom)) AS ymax
FROM {TERRITORY} WHERE level = :level AND code = ANY(:codes) AND geom IS NOT NULL"""),
        {"level": level, "codes": codes}).one()
    if row.n != len(codes) or row.xmin is None:
        return None
    xmin, ymin, xmax, ymax = (round(v, 5) for v in (row.xmin, row.ymin, row.xmax, row.ymax))
    return json.dumps({"type": "Polygon", "coordinates": [[
        [xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax], [xmin, ymin]]]})


def parents(level: str, codes: Iterable[Any]) -> dict[str, list[str]]:
    """The régions and départements that territories of one level lie in
    (an EPCI through its member communes), sorted by code."""
    codes = [normalize_code(c) for c in codes if normalize_code(c)]
    result: dict[str, list[str]] = {"regions": [], "departements": []}
    if not codes:
        return result
    if level == "region":
        sql = f"SELECT code AS region, NULL AS departement FROM {TERRITORY} " \
              "WHERE level = 'region' AND code = ANY(:codes)"
    elif level == "epci":
        sql = f"SELECT region, departement FROM {TERRITORY} " \
              "WHERE level = 'commune' AND epci = ANY(:codes)"
    elif level in ("departement", "commune", "arrondissement_municipal"):
        sql = f"SELECT region, departement FROM {TERRITORY} " \
              "WHERE level = :level AND code = ANY(:codes)"
    else:
        return result
    regions, departements = set(), set()
    for region, departement in meta.Session.execute(
            sa.text(sql), {"level": level, "codes": codes}):
        if region:
            regions.add(region)
        if departement:
            departements.add(departement)
    result["regions"] = sorted(regions)
    result["departements"] = sorted(departements)
    return result


def labels(level: str, codes: Iterable[Any]) -> dict[str, str]:
    """Labels of territories of one level, by code (unknown codes are left out)."""
    return {code: row["label"] for code, row in get_many(codes, level).items()}
