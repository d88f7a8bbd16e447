"""The communes' reference points, from which distances are measured.

``load`` replaces them with those of a CSV file (``code``, ``longitude``,
``latitude``, optional ``source``; gzipped or not) or of a GeoJSON
FeatureCollection of points with a ``code`` property; without a path, the
shipped ``data/communes-centres.csv.gz`` (the communes' chefs-lieux, see
``data/ATTRIBUTION.md``).  ``ensure_loaded`` loads the shipped file when the
table is empty, so that a new site needs no extra step.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
from typing import Any, Callable, Optional

import sqlalchemy as sa

import ckan.model as model

from .model import COMMUNE

log = logging.getLogger(__name__)

SHIPPED = os.path.join(os.path.dirname(__file__), "data", "communes-centres.csv.gz")
_LOCK = 815_207_301  # pg_advisory_xact_lock key of the loading

Echo = Optional[Callable[[str], None]]

__all__ = ["CentreLoadError", "load", "ensure_loaded", "read", "count", "SHIPPED"]


class CentreLoadError(Exception):
    """The file is missing or invalid; nothing was written."""


def _open_text(path: str) -> io.TextIOBase:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig", newline="")


def _number(value: Any, low: float, high: float) -> Optional[float]:
    try:
        number = float(str(value).strip().replace(",", "."))
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def read(path: str) -> list[tuple[str, float, float, str]]:
    """(code, longitude, latitude, source) of every commune of the file."""
    if not os.path.isfile(path):
        raise CentreLoadError(f"{path}: no such file")
    default_source = os.path.basename(path)
    rows: dict[str, tuple[str, float, float, str]] = {}
    try:
        with _open_text(path) as stream:
            head = stream.read(1)
            while head.isspace():
                head = stream.read(1)
            text = head + stream.read()
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as e:
        raise CentreLoadError(f"Cannot read {path}: {e}") from e
    if text.startswith("{"):
        try:
            collection = json.loads(text)
        except ValueError as e:
            raise CentreLoadError(f"{path} is not valid JSON: {e}") from e
        for i, feature in enumerate((collection or {}).get("features") or []):
            properties = (feature or {}).get("properties") or {}
            geometry = (feature or {}).get("geometry") or {}
            code = str(properties.get("code") or "").strip().upper()
            coords = geometry.get("coordinates") or []
            if not code or geometry.get("type") != "Point" or len(coords) < 2:
                raise CentreLoadError(
                    f"{path}: feature {i} needs a code property and a Point geometry")
            lon, lat = _number(coords[0], -180, 180), _number(coords[1], -90, 90)
            if lon is None or lat is None:
                raise CentreLoadError(f"{path}: feature {i} ({code}) has invalid coordinates")
            rows[code] = (code, lon, lat, str(properties.get("source") or default_source))
    else:
        reader = csv.DictReader(io.StringIO(text))
        fields = {f.strip().lower(): f for f in reader.fieldnames or []}
        missing = [f for f in ("code", "longitude", "latitude") if f not in fields]
        if missing:
            raise CentreLoadError(
                f"{path}: missing column(s) {', '.join(missing)} (expected code, longitude, "
                "latitude and optionally source)")
        for line, row in enumerate(reader, start=2):
            code = str(row.get(fields["code"]) or "").strip().upper()
            lon = _number(row.get(fields["longitude"]), -180, 180)
            lat = _number(row.get(fields["latitude"]), -90, 90)
            if not code or lon is None or lat is None:
                raise CentreLoadError(f"{path}, line {line}: invalid code or coordinates")
            source = row.get(fields["source"]) if "source" in fields else None
            rows[code] = (code, lon, lat, source or default_source)
    if not rows:
        raise CentreLoadError(f"{path}: no commune")
    return list(rows.values())


def count() -> int:
    return model.Session.execute(sa.text(f"SELECT count(*) FROM {COMMUNE}")).scalar()


def load(path: Optional[str] = None, echo: Echo = None) -> int:
    """Replace the communes' reference points with those of ``path``."""
    echo = echo or log.info
    path = path or SHIPPED
    rows = read(path)
    buffer = io.StringIO()
    for code, lon, lat, source in rows:
        source = source.replace("\t", " ").replace("\n", " ").replace("\\", "/")
        buffer.write(f"{code}\tSRID=4326;POINT({lon!r} {lat!r})\t{source}\n")
    buffer.seek(0)
    with model.meta.engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
        conn.execute(sa.text(f"DELETE FROM {COMMUNE}"))
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.copy_expert(f"COPY {COMMUNE} (code, geom, source) FROM STDIN", buffer)
        finally:
            cursor.close()
    echo(f"{len(rows)} points de référence de communes chargés depuis {path}")
    return len(rows)


def ensure_loaded() -> None:
    """Load the shipped reference points if the table is empty."""
    empty = not model.Session.execute(
        sa.text(f"SELECT EXISTS (SELECT 1 FROM {COMMUNE})")).scalar()
    if not empty:
        return
    with model.meta.engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
        if conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {COMMUNE})")).scalar():
            return
    load(SHIPPED, echo=lambda _m: None)
