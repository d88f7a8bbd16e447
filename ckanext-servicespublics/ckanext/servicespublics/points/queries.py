"""Reading the points, reports and states (no access check here: callers check)."""
from __future__ import annotations

import datetime
import json
from typing import Any, Optional

import sqlalchemy as sa

import ckan.model as model

from . import store

__all__ = ["computed_fields", "resource_state", "latest_ingestion", "ingestion", "entries",
           "summary", "history", "points", "STATUSES"]

#: validation_status values (a running ingestion shows as pending)
STATUSES = ("pending", "valid", "partial", "invalid", "error")

_INGESTION_COLUMNS = (
    "id", "resource_id", "package_id", "status", "trigger", "source", "started", "finished",
    "seconds", "file_size", "file_hash", "format", "encoding", "delimiter", "crs",
    "rows_read", "rows_ingested", "rows_rejected", "rows_skipped", "errors", "warnings",
    "infos", "entries_truncated", "messages", "summary", "mapping", "extents",
)


def _iso(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return value


def _row(row: Any) -> dict[str, Any]:
    return {k: _iso(v) for k, v in row._mapping.items()}


def resource_state(resource_id: str) -> Optional[dict[str, Any]]:
    row = model.Session.execute(
        sa.text(f"SELECT resource_id, package_id, status, point_count, last_ingestion_id, "
                f"live_ingestion_id, extents, updated FROM {store.STATE_TABLE} "
                "WHERE resource_id = :id"), {"id": resource_id}).first()
    return _row(row) if row else None


def computed_fields(resource_id: str) -> Optional[tuple[str, int]]:
    """(validation_status, point_count) of a resource, or None.

    Read on a connection of its own: ``before_resource_show`` runs inside
    other actions, whose transaction a failing query must not abort.
    """
    try:
        with model.meta.engine.connect() as conn:
            row = conn.execute(
                sa.text(f"SELECT status, point_count FROM {store.STATE_TABLE} "
                        "WHERE resource_id = :id"), {"id": resource_id}).first()
    except sa.exc.SQLAlchemyError:  # tables not migrated yet
        return None
    if row is None:
        return None
    status = row[0] if row[0] in STATUSES else "pending"
    return status, int(row[1])


def ingestion(ingestion_id: str, resource_id: Optional[str] = None
              ) -> Optional[dict[str, Any]]:
    query = (f"SELECT {', '.join(_INGESTION_COLUMNS)} FROM {store.INGESTION_TABLE} "
             "WHERE id = :id")
    params = {"id": ingestion_id}
    if resource_id:
        query += " AND resource_id = :resource_id"
        params["resource_id"] = resource_id
    row = model.Session.execute(sa.text(query), params).first()
    return _row(row) if row else None


def latest_ingestion(resource_id: str) -> Optional[dict[str, Any]]:
    row = model.Session.execute(
        sa.text(f"SELECT {', '.join(_INGESTION_COLUMNS)} FROM {store.INGESTION_TABLE} "
                "WHERE resource_id = :id ORDER BY started DESC LIMIT 1"),
        {"id": resource_id}).first()
    return _row(row) if row else None


def history(resource_id: str) -> list[dict[str, Any]]:
    rows = model.Session.execute(
        sa.text(f"SELECT id, status, started, rows_ingested FROM {store.INGESTION_TABLE} "
                "WHERE resource_id = :id ORDER BY started DESC"), {"id": resource_id}).all()
    return [_row(r) for r in rows]


def entries(ingestion_id: str, *, severity: Optional[str] = None, limit: int = 100,
            offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    where = "ingestion_id = :id"
    params: dict[str, Any] = {"id": ingestion_id, "limit": limit, "offset": offset}
    if severity:
        where += " AND severity = :severity"
        params["severity"] = severity
    total = model.Session.execute(
        sa.text(f"SELECT count(*) FROM {store.ENTRY_TABLE} WHERE {where}"), params).scalar()
    rows = model.Session.execute(
        sa.text(f"SELECT line, column_name AS column, value, severity, code, message "
                f"FROM {store.ENTRY_TABLE} WHERE {where} ORDER BY line NULLS FIRST, id "
                "LIMIT :limit OFFSET :offset"), params).all()
    return int(total or 0), [_row(r) for r in rows]


def summary(resource_id: str, entries_limit: int = 100) -> Optional[dict[str, Any]]:
    """Status, counts, messages and the first entries of the latest ingestion."""
    state = resource_state(resource_id)
    if state is None:
        return None
    latest = latest_ingestion(resource_id)
    out: dict[str, Any] = {
        "resource_id": resource_id,
        "validation_status": state["status"] if state["status"] in STATUSES else "pending",
        "point_count": state["point_count"],
        "running": bool(latest and latest["status"] == "running"),
        "ingestion": latest,
        "entries": [],
        "entries_count": 0,
    }
    if latest:
        out["entries_count"], out["entries"] = entries(latest["id"], limit=entries_limit)
    return out


def points(resource_ids: list[str], *, bbox: Optional[list[float]] = None,
           service_type: Optional[str] = None, limit: int = 1000, offset: int = 0
           ) -> tuple[int, list[dict[str, Any]]]:
    if not resource_ids:
        return 0, []
    where = ["resource_id = ANY(:resources)"]
    params: dict[str, Any] = {"resources": list(resource_ids), "limit": limit,
                              "offset": offset}
    if bbox:
        where.append("geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)")
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
    if service_type:
        where.append("service_type = :service_type")
        params["service_type"] = service_type
    clause = " AND ".join(where)
    total = model.Session.execute(
        sa.text(f"SELECT count(*) FROM {store.POINT_TABLE} WHERE {clause}"), params).scalar()
    rows = model.Session.execute(sa.text(
        f"""SELECT resource_id, package_id, row_number, source_id AS id, name, service_type,
                   address, postcode, insee_code, commune_code, departement_code,
                   region_code, opening_date, closing_date, status, opening_hours, phone,
                   email, website, extra, ST_X(geom) AS longitude, ST_Y(geom) AS latitude
            FROM {store.POINT_TABLE} WHERE {clause}
            ORDER BY resource_id, row_number LIMIT :limit OFFSET :offset"""), params).all()
    out = []
    for row in rows:
        item = _row(row)
        if isinstance(item.get("extra"), str):
            item["extra"] = json.loads(item["extra"])
        out.append(item)
    return int(total or 0), out
