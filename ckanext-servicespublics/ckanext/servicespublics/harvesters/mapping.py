"""Mapping of remote portal metadata to the catalogue's datasets.

Pure functions, shared by the data.gouv.fr and OpenDataSoft harvesters:
licences, frequencies, territories, HTML descriptions, tags, formats,
mapping rules (which remote datasets are about service points) and the
recognition of service-point files among resources.
"""
from __future__ import annotations

import datetime
import re
import unicodedata
from typing import Any, Iterable

SERVICE_POINTS_TYPE = "service-points"

DOMAINS = (
    "securite", "justice", "sante-social", "education-culture-sport",
    "emploi-travail", "finances-publiques", "services-deconcentres",
    "accueil-proximite", "interet-general",
)
TERRITORY_LEVELS = ("commune", "epci", "departement", "region", "national")
FREQUENCIES = (
    "continuous", "daily", "weekly", "monthly", "quarterly", "semiannual",
    "annual", "punctual", "irregular", "unknown",
)


def _(text: str) -> str:
    """The translation of a message of the source configuration checks."""
    import ckan.plugins.toolkit as tk

    return tk._(text)


class MappingError(ValueError):
    """A remote record that cannot be turned into a dataset at all."""


# ------------------------------------------------------------------ values


def as_text(value: Any) -> str:
    """A string for a scalar, "" for None; lists/dicts are not text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value).strip()
    raise TypeError(f"expected text, got {type(value).__name__}")


def as_list(value: Any) -> list:
    """A list for a list, a one-item list for a scalar, [] for None."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (str, int, float)):
        return [value]
    raise TypeError(f"expected a list, got {type(value).__name__}")


def parse_datetime(value: Any) -> datetime.datetime | None:
    """Naive UTC datetime from an ISO 8601 string (any offset), or None."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date, got {type(value).__name__}")
    text = value.strip().replace("Z", "+00:00")
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    # "+02" (PostgreSQL style) -> "+02:00"
    text = re.sub(r"([+-]\d\d)$", r"\1:00", text)
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise TypeError(f"not an ISO date: {value!r}")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return parsed


def iso_date(value: Any) -> str | None:
    parsed = parse_datetime(value)
    return parsed.date().isoformat() if parsed else None


def iso_datetime(value: Any) -> str | None:
    parsed = parse_datetime(value)
    return parsed.isoformat() if parsed else None


def _fold(text: str) -> str:
    """Lower case, no accents, single spaces: for comparing labels."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text).strip().lower()


# ------------------------------------------------------------------ licences

_LICENSE_IDS = {
    # data.gouv.fr licence ids
    "lov2": "lov2",
    "fr-lo": "fr-lo",  # Licence Ouverte 1.0
    "notspecified": "notspecified",
    "odc-odbl": "odc-odbl",
    "odc-by": "odc-by",
    "odc-pddl": "odc-pddl",
    "cc-by": "cc-by",
    "cc-by-sa": "cc-by-sa",
    "cc-zero": "cc-zero",
    "other-open": "other-open",
    "other-pd": "other-pd",
    "other-at": "other-at",
    "other-closed": "other-closed",
}

# (pattern on the folded label, CKAN licence id), first match wins
_LICENSE_LABELS = (
    (r"licence ouverte|open licen[cs]e|etalab|\blo ?v?2|\blov2\b", "lov2"),
    (r"odbl|open database licen[cs]e", "odc-odbl"),
    (r"pddl|public domain dedication", "odc-pddl"),
    (r"\bodc[- ]by\b|open data commons attribution", "odc-by"),
    (r"cc[- ]?0|cc[- ]zero|public domain", "cc-zero"),
    (r"(cc[- ]by|creative commons).*(nc|non[- ]?commercial)", "cc-nc"),
    (r"(cc[- ]by|creative commons).*(sa|share[- ]?alike)", "cc-by-sa"),
    (r"cc[- ]by|creative commons", "cc-by"),
    (r"licen[cs]e|open|ouvert|libre", "other-open"),
)


def map_license(value: Any) -> str:
    """A CKAN licence id for a data.gouv.fr licence id or a free label
    (OpenDataSoft): ``lov2``, ``odc-odbl``, ``cc-by``…, ``other-open`` for a
    recognisable but unlisted open licence, ``notspecified`` otherwise."""
    try:
        text = as_text(value)
    except TypeError:
        return "notspecified"
    if not text:
        return "notspecified"
    if text.lower() in _LICENSE_IDS:
        return _LICENSE_IDS[text.lower()]
    folded = _fold(text)
    for pattern, license_id in _LICENSE_LABELS:
        if re.search(pattern, folded):
            return license_id
    return "other-open" if folded not in ("", "none", "inconnue", "unknown") else "notspecified"


# ------------------------------------------------------------------ frequency

_FREQUENCY_ALIASES = {
    # udata codes that are finer than the catalogue's list
    "hourly": "continuous", "fourtimesaday": "continuous",
    "threetimesaday": "continuous", "semidaily": "continuous",
    "semiweekly": "daily", "threetimesaweek": "daily", "fourtimesaweek": "daily",
    "biweekly": "weekly", "semimonthly": "weekly", "threetimesamonth": "weekly",
    "bimonthly": "monthly", "threetimesayear": "quarterly",
    "biennial": "irregular", "triennial": "irregular", "quinquennial": "irregular",
    # DCAT / Dublin Core frequency URIs (last path segment) and labels
    "continuous": "continuous", "daily": "daily", "weekly": "weekly",
    "monthly": "monthly", "quarterly": "quarterly", "semiannual": "semiannual",
    "annual": "annual", "punctual": "punctual", "irregular": "irregular",
    "unknown": "unknown", "annual_2": "semiannual", "biannual": "semiannual",
    "never": "punctual", "not_planned": "punctual", "as_needed": "irregular",
    "update_cont": "continuous", "other": "unknown",
    "quotidienne": "daily", "quotidien": "daily", "hebdomadaire": "weekly",
    "mensuelle": "monthly", "mensuel": "monthly", "trimestrielle": "quarterly",
    "semestrielle": "semiannual", "annuelle": "annual", "annuel": "annual",
    "ponctuelle": "punctual", "irreguliere": "irregular", "temps reel": "continuous",
}


def map_frequency(value: Any) -> str:
    try:
        text = as_text(value)
    except TypeError:
        return "unknown"
    if not text:
        return "unknown"
    key = _fold(text.rstrip("/").rsplit("/", 1)[-1])
    for candidate in (key, key.replace(" ", "_"), re.sub(r"[\s_-]", "", key)):
        if candidate in _FREQUENCY_ALIASES:
            return _FREQUENCY_ALIASES[candidate]
    return "unknown"


# ------------------------------------------------------------------ territory

_LEVEL_ORDER = {"national": 0, "region": 1, "departement": 2, "epci": 3, "commune": 4}
_ZONE_LEVELS = {
    "fr:commune": "commune", "fr:arrondissement": "commune",
    "fr:epci": "epci", "fr:departement": "departement", "fr:region": "region",
    "fr:pays": "national", "country": "national", "fr:collectivite": "departement",
}
_CODE_PATTERNS = {
    "commune": re.compile(r"^(\d[0-9AB]\d{3})$"),
    "epci": re.compile(r"^(\d{9})$"),
    "departement": re.compile(r"^(\d{2}|2A|2B|97\d)$"),
    "region": re.compile(r"^(\d{2})$"),
}


def map_zones(zones: Iterable[Any]) -> tuple[str | None, list[str]]:
    """udata spatial zones (``fr:commune:35238``, ``fr:departement:35@…``,
    ``fr:region:53``, ``country:fr``) to (``territory_level``,
    ``territory_codes``): the coarsest level present and its codes."""
    found: dict[str, list[str]] = {}
    for zone in zones:
        if not isinstance(zone, str):
            continue
        zone = zone.split("@", 1)[0].strip()
        if zone in ("country:fr", "fr:pays:fr", "country-group:france", "fr"):
            found.setdefault("national", [])
            continue
        prefix, _, code = zone.rpartition(":")
        level = _ZONE_LEVELS.get(prefix.lower())
        if not level:
            continue
        if level == "national":
            if code.lower() == "fr":
                found.setdefault("national", [])
            continue
        code = code.upper()
        if _CODE_PATTERNS[level].match(code) and code not in found.get(level, []):
            found.setdefault(level, []).append(code)
    if not found:
        return None, []
    level = min(found, key=lambda lv: _LEVEL_ORDER[lv])
    return level, sorted(found[level])


# ------------------------------------------------------------------ text

_HTML_RE = re.compile(
    r"<\s*(p|br|div|span|ul|ol|li|a|b|i|em|strong|h[1-6]|table|tr|td|img|blockquote)\b",
    re.IGNORECASE)


def html_to_markdown(text: Any) -> str:
    """Markdown for an HTML description (OpenDataSoft); Markdown and plain
    text (data.gouv.fr) are returned as they are."""
    text = as_text(text)
    if not text or not _HTML_RE.search(text):
        return text
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    markdown = MarkdownConverter(heading_style="ATX", bullets="-").convert_soup(soup)
    markdown = markdown.replace("\xa0", " ")
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


_TAG_BAD = re.compile(r"[^\w\s\-.]", re.UNICODE)


def clean_tag(value: Any) -> str | None:
    """A CKAN-valid tag (letters, digits, space, -, _, .; 2 to 100
    characters) or None."""
    try:
        text = as_text(value)
    except TypeError:
        return None
    text = re.sub(r"\s+", " ", _TAG_BAD.sub(" ", text)).strip(" -.")
    if len(text) < 2:
        return None
    return text[:100].strip()


def clean_tags(values: Iterable[Any]) -> list[dict]:
    seen: dict[str, str] = {}
    for value in values:
        tag = clean_tag(value)
        if tag and tag.lower() not in seen:
            seen[tag.lower()] = tag
    return [{"name": t} for t in seen.values()]


_FORMATS = {
    "csv": "CSV", "geojson": "GeoJSON", "json": "JSON", "xlsx": "XLSX",
    "xls": "XLS", "ods": "ODS", "zip": "ZIP", "pdf": "PDF", "shp": "SHP",
    "shapefile": "SHP", "xml": "XML", "kml": "KML", "gpx": "GPX",
    "parquet": "Parquet", "txt": "TXT", "html": "HTML", "page web": "HTML",
    "www": "HTML", "web page": "HTML", "gtfs": "GTFS", "jsonl": "JSONL",
    "ndjson": "JSONL", "doc": "DOC", "docx": "DOCX", "rdf": "RDF", "ttl": "TTL",
    "application/pdf": "PDF", "application/zip": "ZIP", "text/csv": "CSV",
    "application/json": "JSON", "application/geo+json": "GeoJSON",
    "application/vnd.ms-excel": "XLS", "application/xls": "XLS",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "text/html": "HTML", "text/plain": "TXT", "application/xml": "XML",
}


def map_format(value: Any) -> str:
    try:
        text = as_text(value)
    except TypeError:
        return ""
    key = text.lower().lstrip(".")
    return _FORMATS.get(key, text.upper() if len(text) <= 10 else "")


# ------------------------------------------------------------------ rules

RULE_KEYS = {"match", "service_types", "domain", "territory_level",
             "territory_codes", "point_file_pattern"}
MATCH_KEYS = {"tags", "keywords", "themes", "title", "organizations", "ids", "any"}


def known_service_types() -> set[str] | None:
    """The service-type codes of the catalogue's vocabulary (extensible by
    config), when the ``servicespublics_dataset`` plugin is loaded."""
    import ckan.plugins as p

    if not p.plugin_loaded("servicespublics_dataset"):
        return None
    try:
        from ckanext.servicespublics.dataset import vocabulary
    except ImportError:
        return None
    return set(vocabulary.codes("service_types"))


def validate_rules(rules: Any) -> list[dict]:
    """Check the ``mapping_rules`` of a source config; raise ValueError with
    a precise message."""
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise ValueError(_("mapping_rules must be a list of rules"))
    for i, rule in enumerate(rules, 1):
        where = f"mapping_rules[{i}]"
        if not isinstance(rule, dict):
            raise ValueError(_("{where} must be an object").format(where=where))
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise ValueError(_("{where}: unknown key(s) {names} (allowed: {allowed})").format(
                where=where, names=", ".join(sorted(unknown)),
                allowed=", ".join(sorted(RULE_KEYS))))
        _validate_match(rule.get("match"), where)
        types = rule.get("service_types")
        if not (isinstance(types, list) and types and all(
                isinstance(t, str) and re.match(r"^[a-z0-9][a-z0-9-]*$", t) for t in types)):
            raise ValueError(_("{where}.service_types must be a non-empty list of "
                               "service-type codes such as {example}").format(
                where=where, example='["gendarmerie", "france-services"]'))
        known = known_service_types()
        unknown = [t for t in types if known is not None and t not in known]
        if unknown:
            raise ValueError(_("{where}.service_types: unknown code(s) {codes} "
                               "(known: {known})").format(
                where=where, codes=", ".join(unknown), known=", ".join(sorted(known))))
        domain = rule.get("domain")
        if domain not in DOMAINS:
            raise ValueError(_("{name} must be one of: {choices} (got {value})").format(
                name=f"{where}.domain", choices=", ".join(DOMAINS), value=repr(domain)))
        level = rule.get("territory_level")
        if level is not None and level not in TERRITORY_LEVELS:
            raise ValueError(_("{name} must be one of: {choices} (got {value})").format(
                name=f"{where}.territory_level", choices=", ".join(TERRITORY_LEVELS),
                value=repr(level)))
        codes = rule.get("territory_codes")
        if codes is not None and not (isinstance(codes, list)
                                      and all(isinstance(c, str) for c in codes)):
            raise ValueError(_("{name} must be a list of strings (got {value})").format(
                name=f"{where}.territory_codes", value=repr(codes)))
        pattern = rule.get("point_file_pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as e:
                raise ValueError(_("{name} is not a valid regular expression: {error}")
                                 .format(name=f"{where}.point_file_pattern", error=e))
    return rules


def _validate_match(match: Any, where: str) -> None:
    if not isinstance(match, dict) or not match:
        raise ValueError(_("{where}.match must be a non-empty object with any of: "
                           "{allowed}").format(where=where,
                                               allowed=", ".join(sorted(MATCH_KEYS))))
    unknown = set(match) - MATCH_KEYS
    if unknown:
        raise ValueError(_("{where}: unknown key(s) {names} (allowed: {allowed})").format(
            where=f"{where}.match", names=", ".join(sorted(unknown)),
            allowed=", ".join(sorted(MATCH_KEYS))))
    for key, value in match.items():
        if key == "any":
            if value is not True:
                raise ValueError(_("{name} must be true or false (got {value})").format(
                    name=f"{where}.match.any", value=repr(value)))
        elif key == "title":
            if not isinstance(value, str):
                raise ValueError(_("{name} must be a string (got {value})").format(
                    name=f"{where}.match.title", value=repr(value)))
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(_("{name} is not a valid regular expression: {error}")
                                 .format(name=f"{where}.match.title", error=e))
        elif not (isinstance(value, list) and value
                  and all(isinstance(v, str) and v for v in value)):
            raise ValueError(_("{name} must be a non-empty list of strings").format(
                name=f"{where}.match.{key}"))


def match_rules(rules: list[dict], facts: dict) -> dict | None:
    """Apply the mapping rules to the facts of a remote dataset.

    ``facts``: ``id``, ``title``, ``tags``, ``themes``, ``organization`` (ids and
    slugs). Every matching rule adds its service types; the first matching
    rule gives the domain, the territory and the point-file pattern. None
    when no rule matches (the dataset is not about service points).
    """
    if not rules:
        return None
    result: dict | None = None
    tags = {_fold(t) for t in facts.get("tags", [])}
    themes = {_fold(t) for t in facts.get("themes", [])}
    orgs = {_fold(o) for o in facts.get("organization", []) if o}
    for rule in rules:
        match = rule["match"]
        ok = True
        for key, value in match.items():
            wanted = {_fold(v) for v in value} if isinstance(value, list) else None
            if key in ("tags", "keywords"):
                ok = bool(wanted & tags)
            elif key == "themes":
                ok = bool(wanted & themes)
            elif key == "organizations":
                ok = bool(wanted & orgs)
            elif key == "ids":
                ok = facts.get("id") in value or facts.get("slug") in value
            elif key == "title":
                ok = bool(re.search(value, facts.get("title", ""), re.IGNORECASE))
            if not ok:
                break
        if not ok:
            continue
        if result is None:
            result = {"service_types": [], "domain": rule.get("domain"),
                      "territory_level": rule.get("territory_level"),
                      "territory_codes": rule.get("territory_codes"),
                      "point_file_pattern": rule.get("point_file_pattern")}
        for code in rule.get("service_types", []):
            if code not in result["service_types"]:
                result["service_types"].append(code)
        if result["domain"] is None:
            result["domain"] = rule.get("domain")
    return result


# ------------------------------------------------------------------ point files

_LAT = re.compile(r"^(lat|latitude|y_?wgs84|lat_?wgs84|y_latitude|coord_?y)$", re.I)
_LON = re.compile(r"^(lon|lng|long|longitude|x_?wgs84|lon_?wgs84|x_longitude|coord_?x)$", re.I)
_LATLON = re.compile(r"^(geo_?point(_2d)?|coordonnees|coordinates|latlon|lat_?lon|position)$", re.I)


def columns_have_coordinates(columns: Iterable[str], formats: Iterable[str] = ()) -> bool:
    """Whether tabular columns (names, and csv-detective formats when known)
    hold point coordinates."""
    names = [as_text(c) for c in columns]
    formats = [as_text(f) for f in formats]
    if any(f.startswith("latlon") for f in formats):
        return True
    if any(f.startswith("latitude") for f in formats) and any(
            f.startswith("longitude") for f in formats):
        return True
    if any(_LATLON.match(n) for n in names):
        return True
    return any(_LAT.match(n) for n in names) and any(_LON.match(n) for n in names)
