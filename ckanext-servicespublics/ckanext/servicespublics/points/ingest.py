"""Ingestion of one point file into PostGIS, in a stream, in one transaction.

``run_ingestion`` reads the file (``readers``), maps its columns to the
standard ones (``mapping``), checks every row and streams the rows it keeps
into ``servicespublics_points_point`` with a single ``COPY`` fed by a
generator: the file is never in memory, PostgreSQL indexes a chunk while
Python reads the next one.  The previous points of the resource are deleted
in the same transaction, only when the new file gave at least one point;
otherwise the transaction is rolled back and the previous points stay.

This module needs neither a CKAN app nor a request: the jobs, the CLI, the
benchmark and the tests call it with a DB-API connection.
"""
from __future__ import annotations

import datetime
import json
import logging
import operator
import queue
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Protocol

from . import geo, store
from .mapping import (
    STANDARD_COLUMNS, ColumnSpec, Mapping, MappingError, detect, normalize_name,
    parse_mapping,
)
from .readers import FileError, Source, open_source, prescan
from .report import Report

log = logging.getLogger(__name__)

__all__ = ["Options", "Result", "run_ingestion", "normalize_crs", "parse_date",
           "TerritoryRefs", "STATUSES"]

STATUSES = ("open", "closed", "planned_opening", "planned_closure")
_STATUS_SYNONYMS = {
    "open": "open", "ouvert": "open", "ouverte": "open", "actif": "open",
    "active": "open", "en_service": "open", "en_activite": "open", "oui": "open",
    "1": "open", "o": "open",
    "closed": "closed", "ferme": "closed", "fermee": "closed", "inactif": "closed",
    "inactive": "closed", "ferme_definitivement": "closed", "non": "closed", "0": "closed",
    "planned_opening": "planned_opening", "a_ouvrir": "planned_opening",
    "ouverture_prochaine": "planned_opening", "en_projet": "planned_opening",
    "projet": "planned_opening", "en_construction": "planned_opening",
    "ouverture_programmee": "planned_opening",
    "planned_closure": "planned_closure", "a_fermer": "planned_closure",
    "fermeture_prochaine": "planned_closure", "fermeture_programmee": "planned_closure",
}
_CRS_NAMES = {
    "wgs84": "EPSG:4326", "wgs_84": "EPSG:4326", "crs84": "EPSG:4326",
    "lambert93": "EPSG:2154", "lambert_93": "EPSG:2154", "rgf93": "EPSG:2154",
    "l93": "EPSG:2154", "webmercator": "EPSG:3857", "pseudo_mercator": "EPSG:3857",
}
_SKIP = object()
NULL = "\\N"
_EWKB = struct.Struct("<BIIdd")
_EWKB_HEAD = (1, 0x20000001, 4326)
_INSEE_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
_POSTCODE_RE = re.compile(r"^\d{5}$")
_EMAIL_RE = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")
_DATE_FORMATS = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.+\-Z]*)?$"), "ymd"),
    (re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T][0-9:]*)?$"), "dmy"),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), "ymd"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "ymd"),
)
_DATE_SEARCH = re.compile(r"(?<!\d)(?:(\d{1,2})/(\d{1,2})/(\d{4})|(\d{4})-(\d{2})-(\d{2}))(?!\d)")
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r\x00]")
_ENCODE = json.encoder.encode_basestring  # a str as a JSON string (C)
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_TEXT_COLUMNS = ("id", "name", "address", "postcode", "insee_code", "phone", "email",
                 "website", "opening_hours")

COPY_COLUMNS = (
    "resource_id", "package_id", "owner_org", "ingestion_id", "row_number", "source_id",
    "name", "service_type", "address", "postcode", "insee_code", "commune_code",
    "departement_code", "region_code", "geom", "opening_date", "closing_date", "status",
    "opening_hours", "phone", "email", "website", "extra",
)


class TerritoryRefs(Protocol):
    """The communes of the COG (see ``refs.Territories``)."""

    available: bool

    def commune(self, code: str) -> Optional[tuple[str, Optional[str], Optional[str]]]:
        """(current commune code, département code, région code) or None."""


@dataclass
class Options:
    declared_format: Optional[str] = None
    encoding: Optional[str] = None
    delimiter: Optional[str] = None
    crs: Optional[str] = None
    column_mapping: Any = None
    #: used when no column gives the service type (a dataset of one type)
    default_service_type: Optional[str] = None
    #: code -> labels ({"fr": ..., "en": ...} or a text); None: not checked
    service_types: Optional[dict[str, Any]] = None
    territories: Optional[TerritoryRefs] = None
    chunk_size: int = 5000
    max_entries: int = 10000


@dataclass
class Result:
    status: str = "error"
    rows_read: int = 0
    rows_ingested: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0
    file_size: Optional[int] = None
    file_hash: Optional[str] = None
    format: Optional[str] = None
    encoding: Optional[str] = None
    delimiter: Optional[str] = None
    crs: Optional[str] = None
    mapping: dict[str, str] = field(default_factory=dict)
    #: territory code -> [min_lon, min_lat, max_lon, max_lat]
    extents: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    report: Report = field(default_factory=Report)

    @property
    def replaced(self) -> bool:
        return self.status in ("valid", "partial")


def normalize_crs(value: Any) -> Optional[str]:
    """"2154", "epsg:2154", "urn:ogc:def:crs:EPSG::2154", "Lambert-93" -> "EPSG:2154"."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    digits = text.rsplit(":", 1)[-1].strip()
    if digits.isdigit():
        return f"EPSG:{int(digits)}"
    return _CRS_NAMES.get(normalize_name(text).replace("_", "")) or \
        _CRS_NAMES.get(normalize_name(text))


def _ymd(year: int, month: int, day: int) -> Optional[str]:
    if not 1500 <= year <= 2200:
        return None
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_date(text: str, fmt: Optional[str] = None) -> Optional[str]:
    """An ISO date from dd/mm/yyyy, yyyy-mm-dd, … or a text holding one; None if none."""
    text = text.strip()
    if fmt:
        try:
            return datetime.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            return None
    for pattern, order in _DATE_FORMATS:
        m = pattern.match(text)
        if m:
            a, b, c = (int(g) for g in m.groups())
            return _ymd(a, b, c) if order == "ymd" else _ymd(c, b, a)
    m = _DATE_SEARCH.search(text)
    if m:
        if m.group(1):
            return _ymd(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return _ymd(int(m.group(4)), int(m.group(5)), int(m.group(6)))
    return None


def _parse_float(text: Any) -> Optional[float]:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        text = str(text).strip().replace("\u00a0", "").replace(" ", "")
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            if text.count(",") == 1 and "." not in text:
                try:
                    value = float(text.replace(",", "."))
                except ValueError:
                    raise ValueError(text) from None
            else:
                raise ValueError(text) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _insee_key(text: str) -> str:
    """An INSEE code as looked up: upper case, the zero Excel drops put back."""
    code = text.strip().upper()
    return "0" + code if code.isdigit() and len(code) == 4 else code


def _text(value: Any) -> str:
    """A JSON value as text ("" for nothing)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return ", ".join(t for t in (_text(v) for v in value) if t)
    return json.dumps(value, ensure_ascii=False)


def _escape(value: Optional[str]) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if _NEEDS_ESCAPE.search(value):
        return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r").replace("\x00", ""))
    return value


def _lookup_values(values: dict[str, Optional[str]]) -> Callable[[str], Any]:
    """A value mapping, exact first, then ignoring case and accents."""
    loose = {normalize_name(k): v for k, v in values.items() if k != "*"}
    has_default = "*" in values
    default = values.get("*")

    def convert(text: str) -> Any:
        if text in values and text != "*":
            target = values[text]
        else:
            key = normalize_name(text)
            if key in loose:
                target = loose[key]
            elif has_default and text:
                target = default
            else:
                return text
        return _SKIP if target is None else target

    return convert


class _Extractor:
    """Compiles the mapping into one function per standard column."""

    def __init__(self, source: Source, mapping: Mapping):
        self.source = source
        self.table = source.kind == "table"
        self.index = {name: i for i, name in enumerate(source.columns)} if self.table else {}

    def column_getter(self, path: str) -> Callable[[Any], str]:
        if self.table:
            i = self.index[path]
            return lambda row: row[i].strip()
        if "." not in path:
            return lambda obj: _text(obj.get(path))
        parts = path.split(".")

        def nested(obj: Any) -> str:
            if path in obj:  # a key with a dot in its name
                return _text(obj[path])
            for part in parts:
                if not isinstance(obj, dict):
                    return ""
                obj = obj.get(part)
            return _text(obj)

        return nested

    def compile(self, spec: ColumnSpec) -> Callable[[Any], Any]:
        if spec.constant is not None:
            constant = spec.constant
            fn: Callable[[Any], Any] = lambda rec: constant  # noqa: E731
        elif len(spec.columns) == 1:
            fn = self.column_getter(spec.columns[0])
        elif self.table:
            fetch = operator.itemgetter(*(self.index[c] for c in spec.columns))
            separator = spec.separator or ", "
            strip = str.strip
            if spec.labels:
                labels = [f"{label} : " for label in spec.labels]

                def fn(rec: Any) -> str:
                    return separator.join([label + v for label, v in
                                           zip(labels, map(strip, fetch(rec))) if v])
            else:
                def fn(rec: Any) -> str:
                    return separator.join(filter(None, map(strip, fetch(rec))))
        else:
            getters = [self.column_getter(c) for c in spec.columns]
            separator = spec.separator or ", "
            if spec.labels:
                pairs = list(zip(spec.labels, getters))

                def fn(rec: Any) -> str:
                    return separator.join(f"{label} : {v}" for label, g in pairs
                                          if (v := g(rec)))
            else:
                def fn(rec: Any) -> str:
                    return separator.join(v for g in getters if (v := g(rec)))
        if spec.pattern is not None:
            pattern, base = spec.pattern, fn

            def fn(rec: Any) -> str:
                text = base(rec)
                m = pattern.search(text) if text else None
                if m is None:
                    return ""
                return (m.group(1) if m.groups() else m.group(0)) or ""
        if spec.default is not None:
            default, base2 = spec.default, fn

            def fn(rec: Any) -> str:
                return base2(rec) or default
        if spec.values:
            convert, base3 = _lookup_values(spec.values), fn

            def fn(rec: Any) -> Any:
                text = base3(rec)
                return convert(text) if text or "*" in spec.values else text
        return fn


def _source_label(spec: Optional[ColumnSpec], name: str) -> str:
    """The column named in report entries: the source's own name."""
    if spec is None or not spec.columns:
        return name
    return spec.columns[0] if len(spec.columns) == 1 else "+".join(spec.columns)


class _Processor:
    """Checks the rows and writes them as COPY text, chunk by chunk."""

    def __init__(self, source: Source, mapping: Mapping, options: Options, report: Report,
                 result: Result, prefix: str,
                 progress: Optional[Callable[[Optional[int]], None]] = None):
        self.source = source
        self.mapping = mapping
        self.options = options
        self.report = report
        self.result = result
        self.prefix = prefix
        self.progress = progress
        self.skipped: dict[tuple[str, str], int] = {}
        self._transformers: dict[str, Any] = {}
        self._insee_cache: dict[str, tuple[Any, ...]] = {}
        self._date_cache: dict[tuple[str, Optional[str]], Optional[str]] = {}
        self._type_cache: dict[str, Optional[str]] = {}
        self._status_cache: dict[str, Optional[str]] = {}
        self._no_boundary: set[str] = set()
        self._boundary_checked = False
        self._prepare()

    # ------------------------------------------------------------------ setup
    def _prepare(self) -> None:
        source, mapping, options, report = self.source, self.mapping, self.options, self.report
        if source.kind == "table":
            missing = [c for spec in mapping.specs.values() for c in spec.columns
                       if c not in source.columns]
            if missing:
                shown = ", ".join(source.columns[:30])
                raise FileError(
                    "mapping_column_missing",
                    "Colonne(s) de column_mapping absente(s) du fichier : "
                    f"{', '.join(dict.fromkeys(missing))} (colonnes du fichier : {shown})")
        else:
            for spec in mapping.specs.values():
                for column in spec.columns:
                    if source.columns and column not in source.columns \
                            and column.split(".")[0] not in source.columns:
                        report.message(
                            "warning", "mapping_column_absent",
                            f"Le champ « {column} » n'apparaît pas dans les 100 premiers "
                            "objets du fichier")
        detected = detect(mapping, source.columns)
        if detected:
            report.message(
                "info", "mapping_detected",
                "Colonnes reconnues d'après leur nom : " + ", ".join(
                    f"{name} ← {mapping.specs[name].columns[0]}" for name in detected))
        specs = mapping.specs
        extractor = _Extractor(source, mapping)
        self.get = {name: extractor.compile(spec) for name, spec in specs.items()}
        self.labels = {name: _source_label(specs.get(name), name)
                       for name in (*STANDARD_COLUMNS, "crs", "coordinates")}
        self.formats = {name: spec.format for name, spec in specs.items()}

        crs = normalize_crs(options.crs) if options.crs else None
        if options.crs and crs is None:
            raise FileError("crs_invalid",
                            f"Système de coordonnées inconnu : « {options.crs} » "
                            "(exemples : EPSG:4326, EPSG:2154)")
        if source.crs and not options.crs:
            crs = source.crs
        self.crs = crs or "EPSG:4326"
        if self.crs != "EPSG:4326":
            self._transformer(self.crs)  # fails now when the CRS is unknown
        self.result.crs = self.crs

        has_geometry = source.format == "geojson" or source.has_geometry
        self.has_geometry = has_geometry
        has_latlon = "latitude" in specs and "longitude" in specs
        has_xy = "x" in specs and "y" in specs
        has_coordinates = "coordinates" in specs
        if not (has_geometry or has_latlon or has_xy or has_coordinates):
            names = ", ".join(source.columns[:30])
            raise FileError(
                "coordinates_columns_missing",
                "Aucune colonne de coordonnées reconnue : indiquez latitude et longitude "
                "(ou x et y avec le champ crs) dans column_mapping (colonnes du fichier : "
                f"{names})")
        # projected coordinates win when the resource says the file is projected
        self.use_xy_first = has_xy and (self.crs != "EPSG:4326" or not has_latlon)
        self.has_latlon = has_latlon
        self.has_xy = has_xy
        self.has_coordinates = has_coordinates
        self.row_crs = "crs" in specs

        if "service_type" not in specs and options.default_service_type:
            specs["service_type"] = ColumnSpec(target="service_type",
                                               constant=options.default_service_type)
            self.get["service_type"] = extractor.compile(specs["service_type"])
            report.message("info", "service_type_default",
                           "Type de service du jeu de données appliqué à tous les points : "
                           f"{options.default_service_type}")
        self.service_types = options.service_types
        if self.service_types is None:
            report.message("warning", "service_types_not_checked",
                           "Vocabulaire des types de service indisponible : types non vérifiés")
        else:
            self._type_labels = {}
            for code, labels in self.service_types.items():
                self._type_labels[normalize_name(code)] = code
                texts = labels.values() if isinstance(labels, dict) else [labels]
                for text in texts:
                    if isinstance(text, str) and text:
                        self._type_labels.setdefault(normalize_name(text), code)
        self.sea_check = True
        territories = options.territories
        self.territories = territories if territories is not None and territories.available \
            else None
        if "insee_code" in specs and self.territories is None:
            report.message("warning", "insee_not_checked",
                           "Référentiel des communes (COG) non chargé : codes INSEE non "
                           "vérifiés (ni communes fusionnées, ni départements, ni régions)")
        # extra: the unmapped source columns
        used = {c for spec in specs.values() for c in spec.columns}
        extra = mapping.extra
        standard_here = set(STANDARD_COLUMNS)
        self.extra_specs = [(name, self.get[name]) for name in specs
                            if name not in standard_here and name not in ("crs", "coordinates")]
        if extra is False:
            self.extra_columns: list[str] = []
        elif isinstance(extra, list):
            self.extra_columns = [c for c in extra if c in source.columns or
                                  source.kind == "object"]
        else:
            self.extra_columns = [c for c in source.columns if c not in used]
        self.extra_exclude = {c for c in used if "." not in c}
        self.result.mapping = mapping.as_dict()
        self._fast_paths()

    def _fast_paths(self) -> None:
        """Precomputed getters: one C call fetches the simple columns of a CSV row."""
        specs = self.mapping.specs
        table = self.source.kind == "table"
        index = {name: i for i, name in enumerate(self.source.columns)} if table else {}
        simple: list[tuple[str, int]] = []
        self._complex: list[tuple[str, Callable[[Any], Any]]] = []
        for name, spec in specs.items():
            if (table and spec.constant is None and len(spec.columns) == 1
                    and spec.pattern is None and spec.default is None and not spec.values):
                simple.append((name, index[spec.columns[0]]))
            else:
                self._complex.append((name, self.get[name]))
        self._simple_names = tuple(name for name, _ in simple)
        positions = [i for _, i in simple]
        if not positions:
            self._simple_get: Callable[[Any], tuple[str, ...]] = lambda row: ()
        elif len(positions) == 1:
            only = positions[0]
            self._simple_get = lambda row: (row[only],)
        else:
            self._simple_get = operator.itemgetter(*positions)
        self._extra_pairs = [(_ENCODE(c) + ":", index[c]) for c in self.extra_columns
                             if c in index]
        self._extra_spec_keys = [(_ENCODE(name) + ":", name) for name, _ in self.extra_specs]
        self._fast_latlon = self.has_latlon and not self.use_xy_first
        self._types = self.service_types
        if self.sea_check:
            self._sea_grids = {code: geo.sea_grid(code) for code, *_ in geo.TERRITORY_BOXES}

    def _transformer(self, crs: str):
        transformer = self._transformers.get(crs)
        if transformer is None:
            from pyproj import Transformer
            from pyproj.exceptions import CRSError
            try:
                transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
            except CRSError as e:
                raise FileError("crs_invalid",
                                f"Système de coordonnées inconnu : « {crs} » "
                                "(exemples : EPSG:4326, EPSG:2154)") from e
            self._transformers[crs] = transformer
        return transformer

    # ------------------------------------------------------------------ values
    def _date(self, line: int, name: str, text: str) -> Optional[str]:
        key = (text, self.formats.get(name))
        if key in self._date_cache:
            value = self._date_cache[key]
        else:
            value = parse_date(text, key[1])
            if len(self._date_cache) < 50000:
                self._date_cache[key] = value
        if value is None:
            fmt = key[1]
            expected = f"format {fmt}" if fmt else "formats : jj/mm/aaaa, aaaa-mm-jj"
            self.report.add(line, self.labels[name], text, "warning", "date_invalid",
                            f"Date illisible : « {text} » ({expected})")
        return value

    def _status(self, line: int, text: str) -> Optional[str]:
        if text in self._status_cache:
            value = self._status_cache[text]
        else:
            value = _STATUS_SYNONYMS.get(normalize_name(text))
            self._status_cache[text] = value
        if value is None:
            self.report.add(line, self.labels["status"], text, "warning", "status_unknown",
                            f"Statut inconnu : « {text} » (valeurs comprises : ouvert, fermé, "
                            "à ouvrir, à fermer, ou open, closed, planned_opening, "
                            "planned_closure)")
        return value

    def _service_type(self, text: str) -> Optional[str]:
        if self.service_types is None:
            return text
        if text in self.service_types:
            return text
        if text in self._type_cache:
            return self._type_cache[text]
        code = self._type_labels.get(normalize_name(text))
        if code is None:
            # "Gendarmeries" -> "gendarmerie", "Lycées" -> "lycee"
            key = normalize_name(text)
            if key.endswith("s"):
                code = self._type_labels.get(key[:-1])
        if len(self._type_cache) < 10000:
            self._type_cache[text] = code
        return code

    def _insee(self, line: int, text: str) -> tuple[Optional[str], Optional[str],
                                                      Optional[str], Optional[str]]:
        """(insee_code, commune, département, région) of a source value."""
        cached = self._insee_cache.get(text)
        if cached is None:
            cached = self._resolve_insee(text)
            if len(self._insee_cache) < 200000:
                self._insee_cache[text] = cached
        code, commune, dep, reg, entries = cached
        column = self.labels["insee_code"]
        for severity, kind, message in entries:
            self.report.add(line, column, text, severity, kind, message)
        return code, commune, dep, reg

    def _resolve_insee(self, text: str) -> tuple[Any, ...]:
        entries: list[tuple[str, str, str]] = []
        code = text.strip().upper()
        if code.isdigit() and len(code) == 4:
            padded = _insee_key(code)
            entries.append(("info", "insee_padded",
                            f"Code INSEE complété d'un zéro initial : « {text} » → {padded}"))
            code = padded
        if not _INSEE_RE.match(code):
            entries.append(("warning", "insee_invalid",
                            f"Code INSEE mal formé : « {text} » (5 caractères attendus, "
                            "par exemple 35238 ou 2A004)"))
            return text, None, None, None, entries
        dep = code[:3] if code.startswith(("97", "98")) else code[:2]
        if self.territories is None:
            return code, None, dep, None, entries
        try:
            found = self.territories.commune(code)
        except Exception:  # the referential must not break an ingestion
            log.exception("INSEE code lookup failed for %s", code)
            found = None
        if found is None:
            entries.append(("warning", "insee_unknown",
                            f"Code INSEE inconnu du COG : « {code} »"))
            return code, None, dep, None, entries
        current, dep_found, reg_found = found
        if current and current != code:
            entries.append(("info", "insee_merged",
                            f"Ancienne commune « {code} » : rattachée à la commune actuelle "
                            f"{current}"))
        return code, current, dep_found or dep, reg_found, entries

    # ------------------------------------------------------------------ rows
    def chunks(self) -> Iterator[str]:
        """COPY text, one chunk of rows at a time."""
        size = self.options.chunk_size
        batch: list[tuple[int, Any]] = []
        for item in self.source.records():
            batch.append(item)
            if len(batch) >= size:
                text = self._chunk(batch)
                batch = []
                if self.progress is not None:
                    self.progress(self.source.position())
                if text:
                    yield text
        if batch:
            text = self._chunk(batch)
            if text:
                yield text
        if self.progress is not None:
            self.progress(self.source.position())

    def _skip(self, name: str, rec: Any) -> None:
        spec = self.mapping.specs.get(name)
        raw = ""
        if spec is not None and spec.columns:
            getter = _Extractor(self.source, self.mapping).column_getter(spec.columns[0])
            raw = getter(rec)
        key = (name, raw)
        self.skipped[key] = self.skipped.get(key, 0) + 1

    def _chunk(self, batch: list[tuple[int, Any]]) -> str:
        kept = self._values(batch)
        self._prefetch(kept)
        row_fn = self._row
        pending: list[list[Any]] = []
        projected: dict[str, list[int]] = {}
        rejected = 0
        for line, rec, values in kept:
            row = row_fn(line, rec, values)
            if row is None:
                rejected += 1
                continue
            if row[1] is not None:  # projected coordinates, transformed below
                projected.setdefault(row[1], []).append(len(pending))
            pending.append(row)
        self.result.rows_rejected += rejected
        for crs, indexes in projected.items():
            self._project(pending, crs, indexes)
        return self._emit(pending)

    def _values(self, batch: list[tuple[int, Any]]) -> list[tuple[int, Any, dict[str, Any]]]:
        """The mapped values of each row; rows left out by a value mapping are counted."""
        result = self.result
        names, simple_get, complex_ = self._simple_names, self._simple_get, self._complex
        strip = str.strip
        kept: list[tuple[int, Any, dict[str, Any]]] = []
        read = rejected = skipped = 0
        for line, rec in batch:
            read += 1
            if rec is None:
                rejected += 1
                continue
            values = dict(zip(names, map(strip, simple_get(rec))))
            skip = None
            for name, fn in complex_:
                value = fn(rec)
                if value is _SKIP:
                    skip = name
                    break
                values[name] = value
            if skip is not None:
                skipped += 1
                self._skip(skip, rec)
                continue
            kept.append((line, rec, values))
        result.rows_read += read
        result.rows_skipped += skipped
        result.rows_rejected += rejected
        return kept

    def _prefetch(self, kept: list[tuple[int, Any, dict[str, Any]]]) -> None:
        """Look the chunk's new INSEE codes up at once."""
        if self.territories is None or not hasattr(self.territories, "prefetch"):
            return
        found = {_insee_key(v["insee_code"]) for _, _, v in kept if v.get("insee_code")}
        found.difference_update(self._insee_cache)
        if found:
            try:
                self.territories.prefetch(found)
            except Exception:  # single lookups will follow
                log.warning("Batch lookup of INSEE codes failed", exc_info=True)

    def _emit(self, pending: list[list[Any]]) -> str:
        """COPY text of the rows whose place is right; the others are reported."""
        result = self.result
        out = []
        prefix = self.prefix
        extents = result.extents
        place = self._place
        pack = _EWKB.pack
        ingested = rejected = 0
        by_departement: dict[str, list[list[Any]]] = {}
        check_departements = self.territories is not None
        for row in pending:
            line = row[0]
            if line is None:
                rejected += 1
                continue
            lon, lat = row[4], row[5]
            territory = place(row, lon, lat)
            if territory is None:
                rejected += 1
                continue
            if row[8] is not None and row[8].code != territory:
                self._other_territory(row, territory)
            box = extents.get(territory)
            if box is None:
                extents[territory] = [lon, lat, lon, lat]
            else:
                box[0], box[1] = min(box[0], lon), min(box[1], lat)
                box[2], box[3] = max(box[2], lon), max(box[3], lat)
            out.append(f"{prefix}{line}\t{row[6]}{pack(1, 0x20000001, 4326, lon, lat).hex()}"
                       f"{row[7]}")
            ingested += 1
            if check_departements and row[10] is not None:
                by_departement.setdefault(row[10], []).append(row)
        result.rows_rejected += rejected
        result.rows_ingested += ingested
        if by_departement:
            self._check_departements(by_departement)
        return "".join(out)

    def _other_territory(self, row: list[Any], territory: str) -> None:
        self.report.add(
            row[0], self.labels["insee_code"], row[9], "warning", "insee_territory",
            f"Coordonnées en {geo.territory_label(territory)}, mais la commune "
            f"{row[9]} est en {row[8].label}")

    def _check_departements(self, rows: dict[str, list[list[Any]]]) -> None:
        """Warn about points away from their commune's département (boundaries loaded)."""
        import shapely

        for code, items in rows.items():
            boundary = self.territories.departement_boundary(code)
            if boundary is None:
                self._no_boundary.add(code)
                continue
            self._boundary_checked = True
            inside = shapely.contains_xy(boundary, [r[4] for r in items],
                                         [r[5] for r in items])
            for row, ok in zip(items, inside):
                if not ok:
                    self.report.add(
                        row[0], self._coordinate_columns(), f"{row[5]:g}, {row[4]:g}",
                        "warning", "insee_departement",
                        f"Coordonnées ({row[5]:g}, {row[4]:g}) hors du département {code} de "
                        f"la commune {row[9]} : erreur de coordonnées ou de code INSEE ?")

    def _project(self, pending: list[list[Any]], crs: str, indexes: list[int]) -> None:
        try:
            transformer = self._transformer(crs)
        except FileError:
            for i in indexes:
                row = pending[i]
                self.report.add(row[0], self.labels["crs"], crs, "error", "crs_invalid",
                                f"Système de coordonnées inconnu : « {crs} »")
                row[0] = None
            return
        xs = [pending[i][2] for i in indexes]
        ys = [pending[i][3] for i in indexes]
        lons, lats = transformer.transform(xs, ys)
        for i, lon, lat in zip(indexes, lons, lats):
            row = pending[i]
            row[4], row[5] = float(lon), float(lat)

    def _coordinates(self, line: int, rec: Any, values: dict[str, Any]
                     ) -> Optional[tuple[Optional[str], float, float]]:
        """(crs or None for WGS84, x or lon, y or lat); None: rejected (reported)."""
        if self._fast_latlon:
            try:
                return None, float(values["longitude"]), float(values["latitude"])
            except (ValueError, TypeError, KeyError):
                pass
        report, labels = self.report, self.labels
        if self.has_geometry and isinstance(rec, dict) and rec.get("@geometry") is not None:
            return self._geometry(line, rec["@geometry"])

        def number(name: str) -> Optional[float]:
            text = values.get(name) or ""
            try:
                return _parse_float(text)
            except ValueError:
                report.add(line, labels[name], text, "error", "coordinates_invalid",
                           f"Coordonnée illisible : « {text} » n'est pas un nombre")
                raise

        order = ("xy", "latlon") if self.use_xy_first else ("latlon", "xy")
        try:
            for kind in order:
                if kind == "latlon" and self.has_latlon:
                    lat, lon = number("latitude"), number("longitude")
                    if lat is not None and lon is not None:
                        return None, lon, lat
                elif kind == "xy" and self.has_xy:
                    x, y = number("x"), number("y")
                    if x is not None and y is not None:
                        crs = self.crs
                        if self.row_crs:
                            row_crs = values.get("crs")
                            if row_crs:
                                crs = normalize_crs(row_crs) or row_crs
                        return (None if crs == "EPSG:4326" else crs), x, y
            if self.has_coordinates:
                text = values.get("coordinates") or ""
                if text:
                    parts = [p for p in re.split(r"[,;\s]+", text.strip("[]() ")) if p]
                    if len(parts) == 2:
                        try:
                            return None, float(parts[1]), float(parts[0])
                        except ValueError:
                            pass
                    report.add(line, labels["coordinates"], text, "error",
                               "coordinates_invalid",
                               f"Coordonnées illisibles : « {text} » (attendu « latitude, "
                               "longitude »)")
                    return None
        except ValueError:
            return None
        report.add(line, self._coordinate_columns(), None, "error", "coordinates_missing",
                   "Coordonnées absentes")
        return None

    def _coordinate_columns(self) -> str:
        labels = self.labels
        if self.has_latlon and not self.use_xy_first:
            return f"{labels['latitude']}/{labels['longitude']}"
        if self.has_xy:
            return f"{labels['x']}/{labels['y']}"
        if self.has_coordinates:
            return labels["coordinates"]
        return "geometry"

    def _geometry(self, line: int, geometry: Any
                  ) -> Optional[tuple[Optional[str], float, float]]:
        crs = None if self.crs == "EPSG:4326" else self.crs
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        try:
            if kind == "Point":
                return crs, float(coords[0]), float(coords[1])
            if kind == "MultiPoint" and coords:
                if len(coords) > 1:
                    self.report.add(line, "geometry", kind, "warning", "geometry_not_point",
                                    f"MultiPoint de {len(coords)} points : seul le premier "
                                    "est gardé")
                return crs, float(coords[0][0]), float(coords[0][1])
            if kind in ("Polygon", "MultiPolygon", "LineString", "MultiLineString"):
                from shapely.geometry import shape
                point = shape(geometry).representative_point()
                self.report.add(line, "geometry", kind, "warning", "geometry_not_point",
                                f"Géométrie {kind} : un point à l'intérieur est gardé")
                return crs, point.x, point.y
        except (TypeError, ValueError, IndexError, AttributeError):
            pass
        self.report.add(line, "geometry", str(geometry)[:80], "error", "geometry_invalid",
                        "Géométrie GeoJSON illisible ou vide")
        return None

    def _row(self, line: int, rec: Any, values: dict[str, Any]) -> Optional[list[Any]]:
        """[line, crs, x, y, lon, lat, head, tail, insee territory, insee code] or None.

        ``head`` is the COPY text before the geometry, ``tail`` after it.
        None: the row is rejected (and reported).
        """
        coords = self._coordinates(line, rec, values)
        if coords is None:
            return None
        get = values.get
        report, labels = self.report, self.labels
        rejected = False
        # service type
        stype = get("service_type")
        if stype:
            types = self._types
            if types is not None and stype not in types:
                code = self._service_type(stype)
                if code is None:
                    report.add(line, labels["service_type"], stype, "error",
                               "service_type_unknown",
                               f"Type de service inconnu : « {stype} » : ajoutez-le à la "
                               "correspondance de valeurs (service_type_values) ou au "
                               "vocabulaire")
                    rejected = True
                stype = code
        else:
            stype = None
            report.add(line, labels["service_type"], None, "warning", "service_type_missing",
                       "Type de service absent")
        name = get("name") or None
        if name is None:
            report.add(line, labels["name"], None, "warning", "name_missing", "Nom absent")
        # INSEE code and territories
        insee = get("insee_code") or None
        commune = dep = reg = insee_territory = None
        if insee:
            insee, commune, dep, reg = self._insee(line, insee)
            insee_territory = geo.territory_of_insee(commune or insee or "")
        postcode = get("postcode") or None
        if postcode and (len(postcode) != 5 or not postcode.isdigit()):
            postcode = self._postcode(line, postcode)
        email = get("email") or None
        if email and not _EMAIL_RE.match(email):
            email = self._email(line, email)
        # dates and status
        opening = get("opening_date")
        opening = self._date(line, "opening_date", opening) if opening else None
        closing = get("closing_date")
        closing = self._date(line, "closing_date", closing) if closing else None
        if opening and closing and closing < opening:
            report.add(line, labels["closing_date"], closing, "warning", "date_order",
                       f"Date de fermeture ({closing}) antérieure à la date d'ouverture "
                       f"({opening})")
        status = get("status")
        status = self._status(line, status) if status else None
        if rejected:
            return None
        extra = self._extra(rec, values)
        texts = (get("id") or None, name, stype, get("address") or None, postcode, insee,
                 commune, dep, reg)
        after = (get("opening_hours") or None, get("phone") or None, email,
                 get("website") or None)
        if _NEEDS_ESCAPE.search("".join(filter(None, texts + after))):
            head = "\t".join(map(_escape, texts))
            after_text = "\t".join(map(_escape, after))
        else:
            head = "\t".join([t or NULL for t in texts])
            after_text = "\t".join([t or NULL for t in after])
        tail = (f"\t{opening or NULL}\t{closing or NULL}\t{status or NULL}\t{after_text}\t"
                f"{_escape(extra)}\n")
        crs, x, y = coords
        if crs is None:
            return [line, None, x, y, x, y, head + "\t", tail, insee_territory, insee, dep]
        return [line, crs, x, y, None, None, head + "\t", tail, insee_territory, insee, dep]

    def _postcode(self, line: int, postcode: str) -> str:
        if postcode.isdigit() and len(postcode) == 4:
            return "0" + postcode
        self.report.add(line, self.labels["postcode"], postcode, "warning", "postcode_invalid",
                        f"Code postal mal formé : « {postcode} » (5 chiffres attendus)")
        return postcode

    def _email(self, line: int, email: str) -> str:
        if email.lower().startswith("mailto:"):
            email = email[7:]
        for part in re.split(r"[;,\s]+", email):
            if part.strip("-/|") and not _EMAIL_RE.match(part):
                self.report.add(line, self.labels["email"], email, "warning", "email_invalid",
                                f"Adresse électronique invalide : « {part} »")
                break
        return email

    def _extra(self, rec: Any, values: dict[str, Any]) -> Optional[str]:
        parts: list[str]
        if self.source.kind == "table":
            parts = [key + _ENCODE(value) for key, i in self._extra_pairs
                     if (value := rec[i].strip())]
        else:
            parts = []
            if self.mapping.extra is not False:
                only = self.extra_columns if isinstance(self.mapping.extra, list) else None
                exclude = self.extra_exclude
                for key, value in rec.items():
                    if key in exclude or key.startswith("@") or value in (None, "", [], {}):
                        continue
                    if only is not None and key not in only:
                        continue
                    parts.append(_ENCODE(key) + ":" + _DUMPS(value))
        for key, name in self._extra_spec_keys:
            value = values.get(name)
            if value:
                parts.append(key + _ENCODE(value))
        if not parts:
            return None
        return "{" + ",".join(parts) + "}"

    def _place(self, row: list[Any], lon: float, lat: float) -> Optional[str]:
        """The territory of a point, or None (rejected, reported)."""
        if -5.25 <= lon <= 9.7 and 41.25 <= lat <= 51.2:
            territory = "metropole"
        else:
            territory = None
        if territory is None or not (lat == lat and lon == lon):
            return self._place_slow(row, lon, lat)
        if self.sea_check:
            grid = self._sea_grids.get(territory)
            if grid is not None:
                west, north, per_degree, cells = grid
                i = int((north - lat) * per_degree)
                j = int((lon - west) * per_degree)
                if 0 <= i < cells.shape[0] and 0 <= j < cells.shape[1] and cells[i, j]:
                    return self._place_slow(row, lon, lat)
        return territory

    def _place_slow(self, row: list[Any], lon: float, lat: float) -> Optional[str]:
        line = row[0]
        report, labels = self.report, self.labels
        projected = row[1] is not None
        if projected:
            columns = f"{labels['x']}/{labels['y']}"
            shown = f"x={row[2]:g}, y={row[3]:g} ({row[1]})"
        elif self.has_geometry and not self.has_latlon:
            columns = "geometry"
            shown = f"{lat:g}, {lon:g}"
        else:
            columns = self._coordinate_columns()
            shown = f"{lat:g}, {lon:g}"
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            hint = ""
            if not projected and 0 < lon < 1.3e6 and 6.0e6 < lat < 7.2e6:
                hint = (" : ce sont des coordonnées Lambert-93 ? Indiquez crs = EPSG:2154 et "
                        "les colonnes x et y")
            elif not projected and 0 < lat < 1.3e6 and 6.0e6 < lon < 7.2e6:
                hint = " : des coordonnées Lambert-93 inversées ?"
            report.add(line, columns, shown, "error", "coordinates_range",
                       f"Coordonnées hors plage ({shown}){hint}")
            return None
        territory = geo.territory_of(lon, lat)
        if territory is None:
            swapped = geo.territory_of(lat, lon)
            if swapped is not None and not projected:
                report.add(line, columns, shown, "error", "coordinates_swapped",
                           f"Latitude et longitude inversées ? ({shown}) tombe hors de France, "
                           f"({lon:g}, {lat:g}) serait en {geo.territory_label(swapped)}")
            else:
                report.add(line, columns, shown, "error", "coordinates_outside",
                           f"Point hors de France ({shown})")
            return None
        sea = geo.sea_class(territory, lon, lat) if self.sea_check else 0
        if sea == geo.SEA_FAR:
            report.add(line, columns, shown, "error", "point_at_sea",
                       f"Point en mer, à plus de 20 km des côtes ({shown})")
            return None
        if sea == geo.SEA_NEAR:
            report.add(line, columns, shown, "warning", "point_near_sea",
                       f"Point probablement en mer, à plus de 5 km des côtes ({shown})")
        return territory

    def final_messages(self) -> None:
        if self.territories is not None and self._no_boundary and not self._boundary_checked:
            self.report.message(
                "info", "boundaries_not_loaded",
                "Limites des départements non chargées : la cohérence entre coordonnées et "
                "code INSEE n'est pas vérifiée")

    def skipped_message(self) -> Optional[str]:
        if not self.skipped:
            return None
        total = sum(self.skipped.values())
        parts = sorted(self.skipped.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"« {value or '(vide)'} » × {n}" for (_, value), n in parts[:15])
        more = f" et {len(parts) - 15} autre(s) valeur(s)" if len(parts) > 15 else ""
        names = sorted({name for name, _ in self.skipped})
        return (f"{total} ligne(s) écartée(s) par la correspondance de valeurs "
                f"({', '.join(names)}) : {shown}{more}")


class _QueueStream:
    """The file-like object COPY reads, fed through a queue by another thread."""

    def __init__(self, chunks: "queue.Queue[Optional[bytes]]"):
        self._chunks = chunks
        self._buffer = b""
        self._offset = 0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while self._offset >= len(self._buffer):
            if self._done:
                return b""
            data = self._chunks.get()
            if data is None:
                self._done = True
                return b""
            self._buffer, self._offset = data, 0
        if size is None or size < 0:
            size = len(self._buffer)
        start = self._offset
        self._offset = start + size
        return self._buffer[start:self._offset]

    readline = read


def _copy(cur, chunks: Iterator[str]) -> None:
    """COPY the chunks, the database working on one while Python makes the next.

    A thread sends (psycopg2 lets go of the GIL while libpq writes), this one
    reads and checks the file: on two cores, both go at once.
    """
    pipe: "queue.Queue[Optional[bytes]]" = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def send() -> None:
        try:
            cur.copy_expert(_copy_sql(), _QueueStream(pipe), size=1 << 18)
        except BaseException as e:  # noqa: B036 - handed over to the caller
            failure.append(e)
            while True:  # unblock the producer until it sees the failure
                try:
                    if pipe.get(timeout=0.1) is None:
                        break
                except queue.Empty:
                    break

    sender = threading.Thread(target=send, name="servicespublics-points-copy", daemon=True)
    sender.start()
    try:
        for text in chunks:
            data = text.encode("utf-8")
            while not failure:
                try:
                    pipe.put(data, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if failure:
                break
    finally:
        while sender.is_alive():
            try:
                pipe.put(None, timeout=0.5)
                break
            except queue.Full:
                continue
        sender.join()
    if failure:
        raise failure[0]


def _copy_sql() -> str:
    return (f"COPY {store.POINT_TABLE} ({', '.join(COPY_COLUMNS)}) FROM STDIN "
            "WITH (FORMAT text)")


def run_ingestion(conn, path: str, *, resource_id: str, package_id: str,
                  owner_org: Optional[str], ingestion_id: str, options: Options,
                  progress: Optional[Callable[[Optional[int]], None]] = None,
                  fingerprint: Optional[str] = None) -> Result:
    """Ingest ``path`` for a resource; write the points, the report and the state.

    ``conn`` is a DB-API (psycopg2) connection; the function commits.  The
    ingestion row ``ingestion_id`` must exist (``store.start_ingestion``).
    """
    started = time.monotonic()
    report = Report(options.max_entries)
    result = Result(report=report)
    source: Optional[Source] = None
    processor: Optional[_Processor] = None
    cur = conn.cursor()
    try:
        scan = prescan(path)
        result.file_size, result.file_hash = scan.size, scan.sha256
        mapping = parse_mapping(options.column_mapping)
        source = open_source(path, scan, declared_format=options.declared_format,
                             encoding=options.encoding, delimiter=options.delimiter,
                             sheet=mapping.sheet, report=report)
        result.format = source.format
        result.encoding = getattr(getattr(source, "_file", None), "encoding", None)
        result.delimiter = source.delimiter
        _describe_source(source, report, options)
        prefix = "\t".join(_escape(v) for v in (resource_id, package_id, owner_org,
                                                 ingestion_id)) + "\t"
        processor = _Processor(source, mapping, options, report, result, prefix, progress)
        _copy(cur, processor.chunks())
        processor.final_messages()
        message = processor.skipped_message()
        if message:
            report.message("info", "rows_skipped", message)
        if result.rows_read == 0:
            raise FileError("file_empty", "Le fichier ne contient aucune ligne de données")
        if result.rows_ingested == 0:
            conn.rollback()
            result.status = "invalid"
            if result.rows_skipped == result.rows_read:
                report.message("error", "no_points",
                               "Aucun point gardé : toutes les lignes ont été écartées par la "
                               "correspondance de valeurs ; les points précédents sont conservés")
            else:
                report.message("error", "no_points",
                               "Aucun point valide : toutes les lignes ont été rejetées (voir "
                               "le détail) ; les points précédents sont conservés")
        else:
            store.report_duplicates(cur, resource_id, ingestion_id, report,
                                    processor.labels.get("id", "id"))
            store.delete_previous(cur, resource_id, ingestion_id)
            result.status = "partial" if result.rows_rejected else "valid"
    except (FileError, MappingError) as e:
        conn.rollback()
        result.status = "error"
        code = getattr(e, "code", "mapping_invalid")
        report.message("error", code, getattr(e, "message", str(e)))
    except Exception as e:
        conn.rollback()
        log.exception("Ingestion %s of resource %s failed", ingestion_id, resource_id)
        result.status = "error"
        report.message("error", "internal_error",
                       f"Erreur inattendue pendant l'import : {type(e).__name__}: {e}")
    finally:
        if source is not None:
            source.close()
    result.seconds = time.monotonic() - started
    if not result.replaced:
        # the COPY is rolled back: the report goes in a transaction of its own
        conn.rollback()
    store.finish_ingestion(cur, ingestion_id, resource_id, package_id, result,
                           fingerprint=fingerprint)
    conn.commit()
    return result


def _describe_source(source: Source, report: Report, options: Options) -> None:
    encoding = getattr(getattr(source, "_file", None), "encoding", None)
    if encoding and encoding not in ("utf-8-sig", "utf-8") and not options.encoding:
        names = {"cp1252": "windows-1252", "latin-1": "iso-8859-1 (latin-1)"}
        report.message("info", "encoding_detected",
                       f"Encodage détecté : {names.get(encoding, encoding)}")
    if getattr(source, "detected", False):
        from .readers import DELIMITER_NAMES
        name = DELIMITER_NAMES.get(source.delimiter or "", source.delimiter)
        report.message("info", "delimiter_detected", f"Séparateur détecté : {name}")
