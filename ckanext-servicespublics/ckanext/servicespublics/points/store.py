"""SQL of the ingestions, on a DB-API (psycopg2) cursor.

The tables are created by the plugin's alembic migration
(``migration/servicespublics_points``); ``model.py`` declares them for
SQLAlchemy.  These functions are what the ingestion, the jobs, the CLI and
the benchmark share; none of them commits.
"""
from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from .ingest import Result
    from .report import Report

POINT_TABLE = "servicespublics_points_point"
INGESTION_TABLE = "servicespublics_points_ingestion"
ENTRY_TABLE = "servicespublics_points_entry"
STATE_TABLE = "servicespublics_points_resource"

#: ingestions kept per resource (with their entries), besides the live one
KEEP_INGESTIONS = 10

__all__ = [
    "POINT_TABLE", "INGESTION_TABLE", "ENTRY_TABLE", "STATE_TABLE", "start_ingestion",
    "finish_ingestion", "report_duplicates", "delete_previous", "request",
    "delete_resource_points",
]


def request(cur, resource_id: str, package_id: str, fingerprint: Optional[str]) -> bool:
    """Record that the resource needs an ingestion of this fingerprint.

    Returns False when this fingerprint was already requested (nothing to do).
    """
    cur.execute(
        f"""INSERT INTO {STATE_TABLE} AS s
              (resource_id, package_id, requested_fingerprint, status, point_count, updated)
            VALUES (%s, %s, %s, 'pending', 0, now() at time zone 'utc')
            ON CONFLICT (resource_id) DO UPDATE
              SET requested_fingerprint = EXCLUDED.requested_fingerprint,
                  package_id = EXCLUDED.package_id,
                  status = 'pending',
                  updated = EXCLUDED.updated
              WHERE s.requested_fingerprint IS DISTINCT FROM EXCLUDED.requested_fingerprint
            RETURNING resource_id""",
        (resource_id, package_id, fingerprint))
    return cur.fetchone() is not None


def start_ingestion(cur, ingestion_id: str, resource_id: str, package_id: str, *,
                    trigger: str, fingerprint: Optional[str], source: Optional[str]) -> None:
    cur.execute(
        f"""INSERT INTO {STATE_TABLE} AS s (resource_id, package_id, status, point_count,
                                            updated)
            VALUES (%s, %s, 'pending', 0, now() at time zone 'utc')
            ON CONFLICT (resource_id) DO UPDATE SET package_id = EXCLUDED.package_id""",
        (resource_id, package_id))
    cur.execute(
        f"""INSERT INTO {INGESTION_TABLE}
              (id, resource_id, package_id, status, trigger, fingerprint, source, started)
            VALUES (%s, %s, %s, 'running', %s, %s, %s, now() at time zone 'utc')""",
        (ingestion_id, resource_id, package_id, trigger, fingerprint, source))
    cur.execute(
        f"UPDATE {STATE_TABLE} SET last_ingestion_id = %s, status = 'pending' "
        "WHERE resource_id = %s", (ingestion_id, resource_id))


def report_duplicates(cur, resource_id: str, ingestion_id: str, report: "Report",
                      column: str) -> None:
    """A warning for each row whose source id was already used on an earlier row."""
    cur.execute(
        f"""SELECT row_number, source_id, first_row FROM (
              SELECT row_number, source_id,
                     min(row_number) OVER (PARTITION BY source_id) AS first_row
              FROM {POINT_TABLE}
              WHERE resource_id = %s AND ingestion_id = %s AND source_id IS NOT NULL
            ) d WHERE row_number > first_row ORDER BY row_number""",
        (resource_id, ingestion_id))
    for line, source_id, first in cur:
        report.add(line, column, source_id, "warning", "id_duplicate",
                   f"Identifiant « {source_id} » en double (déjà ligne {first})")


def delete_previous(cur, resource_id: str, ingestion_id: str) -> None:
    cur.execute(f"DELETE FROM {POINT_TABLE} WHERE resource_id = %s AND ingestion_id <> %s",
                (resource_id, ingestion_id))


def delete_resource_points(cur, resource_id: str) -> None:
    """Forget a resource: its points, reports and state."""
    cur.execute(f"DELETE FROM {POINT_TABLE} WHERE resource_id = %s", (resource_id,))
    cur.execute(f"DELETE FROM {INGESTION_TABLE} WHERE resource_id = %s", (resource_id,))
    cur.execute(f"DELETE FROM {STATE_TABLE} WHERE resource_id = %s", (resource_id,))


def _copy_entries(cur, ingestion_id: str, entries: list[tuple[Any, ...]]) -> None:
    if not entries:
        return
    from .ingest import _escape

    out = io.StringIO()
    for line, column, value, severity, code, message in entries:
        out.write("\t".join((
            ingestion_id, "\\N" if line is None else str(line), _escape(column),
            _escape(value), severity, code, _escape(message))))
        out.write("\n")
    out.seek(0)
    cur.copy_expert(
        f"COPY {ENTRY_TABLE} (ingestion_id, line, column_name, value, severity, code, "
        "message) FROM STDIN WITH (FORMAT text)", out)


def finish_ingestion(cur, ingestion_id: str, resource_id: str, package_id: str,
                     result: "Result", *, fingerprint: Optional[str] = None) -> None:
    report = result.report
    cur.execute(
        f"""UPDATE {INGESTION_TABLE} SET
              status = %s, finished = now() at time zone 'utc', seconds = %s,
              file_size = %s, file_hash = %s, format = %s, encoding = %s, delimiter = %s,
              crs = %s, rows_read = %s, rows_ingested = %s, rows_rejected = %s,
              rows_skipped = %s, errors = %s, warnings = %s, infos = %s,
              entries_truncated = %s, messages = %s, summary = %s, mapping = %s,
              extents = %s
            WHERE id = %s""",
        (result.status, result.seconds, result.file_size, result.file_hash, result.format,
         result.encoding, result.delimiter, result.crs, result.rows_read,
         result.rows_ingested if result.replaced else 0, result.rows_rejected,
         result.rows_skipped, report.counts["error"], report.counts["warning"],
         report.counts["info"], report.truncated, json.dumps(report.messages),
         json.dumps(report.summary()), json.dumps(result.mapping),
         json.dumps(result.extents), ingestion_id))
    _copy_entries(cur, ingestion_id, report.entries)
    if result.replaced:
        cur.execute(
            f"""UPDATE {STATE_TABLE} SET status = %s, point_count = %s,
                  live_ingestion_id = %s, extents = %s, ingested_fingerprint = %s,
                  updated = now() at time zone 'utc'
                WHERE resource_id = %s""",
            (result.status, result.rows_ingested, ingestion_id, json.dumps(result.extents),
             fingerprint, resource_id))
    else:
        cur.execute(
            f"""UPDATE {STATE_TABLE} SET status = %s, ingested_fingerprint = %s,
                  updated = now() at time zone 'utc'
                WHERE resource_id = %s""",
            (result.status, fingerprint, resource_id))
    cur.execute(
        f"""DELETE FROM {INGESTION_TABLE} i
            WHERE i.resource_id = %s
              AND i.id NOT IN (SELECT id FROM {INGESTION_TABLE} WHERE resource_id = %s
                               ORDER BY started DESC LIMIT {KEEP_INGESTIONS})
              AND i.id IS DISTINCT FROM (SELECT live_ingestion_id FROM {STATE_TABLE}
                                         WHERE resource_id = %s)""",
        (resource_id, resource_id, resource_id))
