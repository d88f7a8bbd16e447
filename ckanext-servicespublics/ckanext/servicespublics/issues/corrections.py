"""Accepted point corrections, kept as overrides of the producer's file.

A correction accepted on a report is stored in
``servicespublics_issues_correction`` (resource_id, source_id, fields, the
report it came from, who accepted it) and applied to the point. It stays
*active* until the producer's file agrees with it (the next ingestion retires
it, reason ``source_agrees``) or the producer removes it (reason
``producer``).

For the points ingestion (``ckanext.servicespublics.points``), either, once
the new points of a resource are in ``servicespublics_points_point``::

    from ckanext.servicespublics.issues import corrections

    corrections.reapply_to_points(resource_id)

or, on the rows read from the file before they are written (dicts of standard
point columns, each with its ``source_id``)::

    corrections.apply_overrides(resource_id, rows, commit=True)

(or by hand: :func:`active_overrides`, then :func:`retire_agreed`). All of
them work, and do nothing, when the issues plugin's tables do not exist.
"""
from __future__ import annotations

import datetime
import logging
from typing import Any, Collection, Iterable, Mapping, Optional

import sqlalchemy as sa

import ckan.model as model

log = logging.getLogger(__name__)

__all__ = ["active_overrides", "apply_overrides", "retire_agreed", "reapply_to_points",
           "active_corrections", "point_values", "patch_point", "values_agree",
           "live_ingestion", "POINTS_TABLE"]

POINTS_TABLE = "servicespublics_points_point"
POINTS_RESOURCE_TABLE = "servicespublics_points_resource"
CORRECTION_TABLE = "servicespublics_issues_correction"
# geometry columns the points table may use for the location
_GEOMETRY_COLUMNS = ("geom", "geometry", "the_geom", "location")
_NUMERIC_FIELDS = ("latitude", "longitude")
_DATE_FIELDS = ("opening_date", "closing_date")


def _table_exists(name: str, connection: Any = None) -> bool:
    conn = connection if connection is not None else model.Session
    return conn.execute(
        sa.text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}
    ).scalar()


# ---------------------------------------------------------------- overrides

def active_overrides(resource_id: str) -> dict[str, dict[str, Any]]:
    """The active overrides of a resource's points.

    :returns: ``{source_id: {field: value}}``; when a point has several
        active corrections, the latest wins field by field. Empty when the
        issues tables do not exist.
    """
    result: dict[str, dict[str, Any]] = {}
    for correction in active_corrections(resource_id):
        result.setdefault(correction["source_id"], {}).update(correction["fields"])
    return result


def active_corrections(resource_id: str) -> list[dict[str, Any]]:
    """The active corrections of a resource, oldest first, with their origin
    (``report_id``, ``report_number``, ``accepted_by``, ``created``)."""
    if not _table_exists(CORRECTION_TABLE):
        return []
    rows = model.Session.execute(sa.text(
        "SELECT c.id, c.source_id, c.fields, c.report_id, r.number, "
        "c.accepted_by, c.created, c.applied_ingestion "
        "FROM servicespublics_issues_correction c "
        "JOIN servicespublics_issues_report r ON r.id = c.report_id "
        "WHERE c.resource_id = :rid AND c.state = 'active' "
        "ORDER BY c.created, c.id"), {"rid": resource_id})
    return [{"id": r.id, "source_id": r.source_id, "fields": dict(r.fields),
             "report_id": r.report_id, "report_number": r.number,
             "accepted_by": r.accepted_by, "created": r.created.isoformat(),
             "applied_ingestion": r.applied_ingestion}
            for r in rows]


def _norm(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field in _NUMERIC_FIELDS:
        try:
            return round(float(str(value).replace(",", ".")), 6)
        except ValueError:
            return str(value).strip()
    if isinstance(value, (datetime.date, datetime.datetime)):
        value = value.isoformat()
    text = " ".join(str(value).split())
    if field in _DATE_FIELDS:
        text = text[:10]
    return text.casefold() or None


def values_agree(fields: Mapping[str, Any], source: Mapping[str, Any]) -> bool:
    """Whether a point of the producer's file already has every corrected
    value (whitespace, case and float formatting aside)."""
    return all(_norm(k, v) == _norm(k, source.get(k)) for k, v in fields.items())


def retire_agreed(resource_id: str, source_rows: Mapping[str, Mapping[str, Any]],
                  *, commit: bool = False,
                  only: Optional[Collection[str]] = None) -> list[str]:
    """Retire the active corrections that the producer's file now agrees with.

    :param source_rows: ``{source_id: row}``, the points as read from the
        producer's file, before any override.
    :param only: the ids of the corrections to compare (default: all the
        active corrections of the resource)
    :returns: the ids of the corrections retired (state ``removed``, reason
        ``source_agrees``, with an entry in the report's history).
    """
    if not _table_exists(CORRECTION_TABLE):
        return []
    from .model import Correction, Event

    retired = []
    corrections = model.Session.query(Correction).filter(
        Correction.resource_id == resource_id, Correction.state == "active")
    now = datetime.datetime.utcnow()
    for correction in corrections:
        if only is not None and correction.id not in only:
            continue
        row = source_rows.get(correction.source_id)
        if row is None or not values_agree(correction.fields, row):
            continue
        correction.state = "removed"
        correction.removed = now
        correction.removal_reason = "source_agrees"
        model.Session.add(Event(
            report_id=correction.report_id, actor_role="system",
            action="correction_retired", created=now,
            data={"correction_id": correction.id, "reason": "source_agrees"}))
        retired.append(correction.id)
    model.Session.flush()
    if commit:
        model.Session.commit()
    return retired


def apply_overrides(resource_id: str, rows: Iterable[dict[str, Any]], *,
                    key: str = "source_id", commit: bool = False) -> dict[str, int]:
    """Apply a resource's overrides to the rows read from its file, in place.

    Corrections that the file agrees with are retired first (see
    :func:`retire_agreed`); the others overwrite the row's values.

    :param rows: dicts of standard point columns, each with its ``key``.
    :returns: ``{"applied": n, "retired": m}``.
    """
    rows = list(rows)
    if not _table_exists(CORRECTION_TABLE):
        return {"applied": 0, "retired": 0}
    by_id = {str(row[key]): row for row in rows if row.get(key) is not None}
    retired = retire_agreed(resource_id, by_id)
    applied = 0
    for source_id, fields in active_overrides(resource_id).items():
        row = by_id.get(source_id)
        if row is not None:
            row.update(fields)
            applied += 1
    if commit:
        model.Session.commit()
    return {"applied": applied, "retired": len(retired)}


def reapply_to_points(resource_id: str, *, commit: bool = True) -> dict[str, int]:
    """After an ingestion replaced a resource's points: retire the corrections
    that the new points (straight from the producer's file) agree with, and
    write the others back onto their points.

    Call it once the new points are committed (or in the same transaction,
    through ``model.Session``, with ``commit=False``).

    :returns: ``{"applied": n, "retired": m, "missing": k}`` (``missing``:
        active corrections whose point is not in the file any more; they stay
        active, in case it comes back)
    """
    live = live_ingestion(resource_id)
    # the points of an ingestion that already carry a correction no longer
    # say what the producer's file says: compared again (this ingestion
    # announced twice), they would retire it
    corrections = [c for c in active_corrections(resource_id)
                   if live is None or c["applied_ingestion"] != live]
    if not corrections:
        return {"applied": 0, "retired": 0, "missing": 0}
    # what the file says, before any override is written back
    from_file = {}
    for correction in corrections:
        source_id = correction["source_id"]
        if source_id not in from_file:
            from_file[source_id] = point_values(resource_id, source_id)
    agreed = {sid: values for sid, values in from_file.items() if values is not None}
    retired = set(retire_agreed(resource_id, agreed,
                                only={c["id"] for c in corrections}))
    applied = missing = 0
    written = []
    for correction in corrections:
        if correction["id"] in retired:
            continue
        if from_file.get(correction["source_id"]) is None:
            missing += 1
            continue
        if patch_point(resource_id, correction["source_id"], correction["fields"]):
            applied += 1
            written.append(correction["id"])
    if written and live is not None:
        model.Session.execute(sa.text(
            f"UPDATE {CORRECTION_TABLE} SET applied_ingestion = :live "
            "WHERE id = ANY(:ids)"), {"live": live, "ids": written})
    if commit:
        model.Session.commit()
    return {"applied": applied, "retired": len(retired), "missing": missing}


# ------------------------------------------------------------- points table

def live_ingestion(resource_id: str) -> Optional[str]:
    """The ingestion whose points the resource shows now (None when the
    points plugin's tables are not there or the resource has none)."""
    if not _table_exists(POINTS_RESOURCE_TABLE):
        return None
    return model.Session.execute(sa.text(
        f"SELECT live_ingestion_id FROM {POINTS_RESOURCE_TABLE} "
        "WHERE resource_id = :rid"), {"rid": resource_id}).scalar()


def _points_columns(connection: Any) -> dict[str, str]:
    """Columns of the points table and their types (empty when absent)."""
    rows = connection.execute(sa.text(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
        "FROM pg_attribute a WHERE a.attrelid = to_regclass(:t) "
        "AND a.attnum > 0 AND NOT a.attisdropped"), {"t": POINTS_TABLE})
    return {name: type_ for name, type_ in rows}


def _geometry_column(columns: Mapping[str, str]) -> Optional[str]:
    for name in _GEOMETRY_COLUMNS:
        if name in columns and columns[name].startswith(("geometry", "geography")):
            return name
    return None


def _points_module_function(name: str) -> Any:
    """A function of the points plugin, when it offers one (imported lazily:
    the points plugin may not be installed or loaded)."""
    try:
        from ckanext.servicespublics.points import api  # type: ignore
    except ImportError:
        return None
    return getattr(api, name, None)


def point_values(resource_id: str, source_id: str) -> Optional[dict[str, Any]]:
    """The current values of a point's correctable fields, or None when the
    points table or the point does not exist."""
    from .model import CORRECTION_FIELDS

    getter = _points_module_function("get_point")
    if getter is not None:
        point = getter(resource_id, source_id)
        if point is None:
            return None
        return {k: point.get(k) for k in CORRECTION_FIELDS if k in point}

    conn = model.Session
    if not _table_exists(POINTS_TABLE, conn):
        return None
    columns = _points_columns(conn)
    if "resource_id" not in columns or "source_id" not in columns:
        return None
    selected = [f'"{c}"' for c in CORRECTION_FIELDS if c in columns]
    geom = _geometry_column(columns)
    if geom:
        selected += [f'ST_Y(ST_Transform("{geom}"::geometry, 4326)) AS _lat',
                     f'ST_X(ST_Transform("{geom}"::geometry, 4326)) AS _lon']
    if not selected:
        return None
    row = conn.execute(sa.text(
        f"SELECT {', '.join(selected)} FROM {POINTS_TABLE} "
        "WHERE resource_id = :rid AND source_id = :sid LIMIT 1"),
        {"rid": resource_id, "sid": source_id}).mappings().first()
    if row is None:
        return None
    values = {k: v for k, v in row.items() if not k.startswith("_")}
    if geom:
        values.setdefault("latitude", row["_lat"])
        values.setdefault("longitude", row["_lon"])
    for k, v in list(values.items()):
        if isinstance(v, (datetime.date, datetime.datetime)):
            values[k] = v.isoformat()[:10]
        elif v is not None and not isinstance(v, (str, int, float, bool)):
            values[k] = float(v) if k in _NUMERIC_FIELDS else str(v)
    return values


def patch_point(resource_id: str, source_id: str,
                fields: Mapping[str, Any]) -> bool:
    """Write corrected values to a point, in the current transaction.

    Uses the points plugin's ``api.patch_point(resource_id, source_id,
    fields)`` when it exists; otherwise updates the row of
    ``servicespublics_points_point`` with the columns it has (and its
    geometry from latitude/longitude). Returns whether a point was changed.
    """
    patcher = _points_module_function("patch_point")
    if patcher is not None:
        return bool(patcher(resource_id, source_id, dict(fields)))

    conn = model.Session
    if not _table_exists(POINTS_TABLE, conn):
        return False
    columns = _points_columns(conn)
    if "resource_id" not in columns or "source_id" not in columns:
        return False
    sets, params = [], {"rid": resource_id, "sid": source_id}
    for i, (field, value) in enumerate(fields.items()):
        if field in columns:
            column_type = columns[field]
            sets.append(f'"{field}" = CAST(:v{i} AS {column_type})')
            params[f"v{i}"] = None if value in ("", None) else value
    geom = _geometry_column(columns)
    lat, lon = fields.get("latitude"), fields.get("longitude")
    if geom and lat not in (None, "") and lon not in (None, ""):
        srid = conn.execute(sa.text(
            "SELECT COALESCE(NULLIF(postgis_typmod_srid(a.atttypmod), 0), 4326) "
            "FROM pg_attribute a WHERE a.attrelid = to_regclass(:t) "
            "AND a.attname = :c"), {"t": POINTS_TABLE, "c": geom}).scalar()
        cast = "geography" if columns[geom].startswith("geography") else "geometry"
        sets.append(
            f'"{geom}" = ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), '
            f"{int(srid)})::{cast}")
        params["lat"], params["lon"] = float(lat), float(lon)
    if not sets:
        return False
    result = conn.execute(sa.text(
        f"UPDATE {POINTS_TABLE} SET {', '.join(sets)} "
        "WHERE resource_id = :rid AND source_id = :sid"), params)
    return result.rowcount > 0
