"""The history of the service points across the versions of their resources.

The points plugin replaces a resource's points at each ingestion.  ``sync``
records each new version: it compares the live points of a resource with
its history, by point identity (the point's ``id`` in the file, or else a
hash of its type, name and position), and

- marks the points that are no longer there as disappeared at the version's
  date (they count as closed then, unless they carry their own closing date);
- adds the new ones, appeared at that date (they count as opened then, unless
  they carry their own opening date; the points of the first version recorded
  for a resource did not "appear": they were there);
- updates the others (name, type, place, dates, status), noting the date a
  status went from planned to open (``opened_on``) or to closed
  (``closed_on``).

A version's date is the day it was ingested.  ``sync`` runs after each
ingestion (``servicespublics_points_replaced`` signal, when the points plugin
sends it), before each statistic (``pending`` is a cheap check), and from
``ckan servicespublics analytics sync``.  The history of a resource whose
points were deleted (resource or dataset deleted) is deleted too.
"""
from __future__ import annotations

import datetime
import logging
from typing import Any, Iterable, Optional

import ckan.model as model

from .model import LIVE_INGESTION, LIVE_POINT, LIVE_STATE, POINT, VERSION

log = logging.getLogger(__name__)

__all__ = ["sync", "pending", "point_key_sql", "on_points_replaced", "refresh", "sync_job"]

_LOCK = 815_207_302  # pg_advisory_lock key of the synchronisation

#: the identity of a point in SQL, over the live points table aliased ``p``
point_key_sql = (
    "COALESCE(NULLIF(btrim(p.source_id), ''), 'h:' || md5(COALESCE(p.service_type, '') || '|' "
    "|| lower(COALESCE(p.name, '')) || '|' || round(ST_X(p.geom)::numeric, 4) || '|' "
    "|| round(ST_Y(p.geom)::numeric, 4)))")

_PENDING_SQL = f"""
SELECT s.resource_id FROM {LIVE_STATE} s
LEFT JOIN LATERAL (SELECT v.ingestion_id FROM {VERSION} v WHERE v.resource_id = s.resource_id
                   ORDER BY v.id DESC LIMIT 1) v ON true
WHERE s.live_ingestion_id IS NOT NULL AND s.live_ingestion_id IS DISTINCT FROM v.ingestion_id
UNION ALL
SELECT DISTINCT v.resource_id FROM {VERSION} v
WHERE NOT EXISTS (SELECT 1 FROM {LIVE_STATE} s WHERE s.resource_id = v.resource_id
                  AND s.live_ingestion_id IS NOT NULL)
"""


#: the attributes of the points still there, from their live row
_UPDATE_SQL = f"""
UPDATE {POINT} h SET
  point_id = l.id, package_id = %s, source_id = l.source_id, name = l.name,
  service_type = l.service_type, commune_code = l.commune_code,
  departement_code = l.departement_code, region_code = l.region_code, geom = l.geom,
  opening_date = l.opening_date, closing_date = l.closing_date, status = l.status,
  opened_on = CASE WHEN h.status = 'planned_opening'
                    AND l.status IN ('open', 'planned_closure') THEN %s
                   ELSE h.opened_on END,
  closed_on = CASE WHEN l.status = 'closed' AND h.status IS DISTINCT FROM 'closed' THEN %s
                   WHEN l.status = 'closed' THEN h.closed_on
                   ELSE NULL END
FROM servicespublics_analytics_live l
WHERE h.resource_id = %s AND h.disappeared_on IS NULL AND h.point_key = l.point_key"""


def pending(cur: Any = None) -> list[str]:
    """Resources whose live points are not the last version recorded."""
    if cur is not None:
        cur.execute(_PENDING_SQL)
        return [r[0] for r in cur.fetchall()]
    import sqlalchemy as sa
    return [r[0] for r in model.Session.execute(sa.text(_PENDING_SQL))]


def _record(cur: Any, resource_id: str, refresh: bool = False) -> Optional[dict[str, Any]]:
    """Record the live version of one resource; None when there was nothing to do.

    With ``refresh``, a version already recorded has its points' attributes
    read again (the points were corrected in place, e.g. by a moderated
    report)."""
    cur.execute(
        f"""SELECT s.package_id, s.live_ingestion_id, COALESCE(i.finished, i.started, s.updated)
            FROM {LIVE_STATE} s LEFT JOIN {LIVE_INGESTION} i ON i.id = s.live_ingestion_id
            WHERE s.resource_id = %s AND s.live_ingestion_id IS NOT NULL""", (resource_id,))
    row = cur.fetchone()
    if row is None:
        cur.execute(f"DELETE FROM {POINT} WHERE resource_id = %s", (resource_id,))
        gone = cur.rowcount
        cur.execute(f"DELETE FROM {VERSION} WHERE resource_id = %s", (resource_id,))
        return {"resource_id": resource_id, "deleted": gone} if gone or cur.rowcount else None
    package_id, ingestion_id, when = row
    cur.execute(f"SELECT ingestion_id FROM {VERSION} WHERE resource_id = %s "
                "ORDER BY id DESC LIMIT 1", (resource_id,))
    last = cur.fetchone()
    same_version = last is not None and last[0] == ingestion_id
    if same_version and not refresh:
        return None
    first = last is None
    when = when or datetime.datetime.utcnow()
    version_date = when.date()

    cur.execute("DROP TABLE IF EXISTS servicespublics_analytics_live")
    cur.execute(f"""
CREATE TEMP TABLE servicespublics_analytics_live ON COMMIT DROP AS
SELECT k.*, k.base_key || CASE WHEN k.n > 1 THEN '#' || k.n ELSE '' END AS point_key
FROM (
  SELECT p.id, NULLIF(btrim(p.source_id), '') AS source_id, p.name, p.service_type,
         p.commune_code, p.departement_code, p.region_code, p.geom, p.opening_date,
         p.closing_date, p.status, {point_key_sql} AS base_key,
         row_number() OVER (PARTITION BY {point_key_sql} ORDER BY p.row_number, p.id) AS n
  FROM {LIVE_POINT} p WHERE p.resource_id = %s AND p.ingestion_id = %s
) k""", (resource_id, ingestion_id))
    cur.execute("CREATE INDEX ON servicespublics_analytics_live (point_key)")
    cur.execute("ANALYZE servicespublics_analytics_live")
    cur.execute("SELECT count(*) FROM servicespublics_analytics_live")
    live_count = cur.fetchone()[0]

    if same_version:
        # changed in place: a status that changes now dates from today
        today = datetime.date.today()
        cur.execute(_UPDATE_SQL, (package_id, today, today, resource_id))
        updated = cur.rowcount
        cur.execute("DROP TABLE servicespublics_analytics_live")
        return {"resource_id": resource_id, "ingestion_id": ingestion_id, "refreshed": updated}
    cur.execute(f"""
UPDATE {POINT} h SET disappeared_on = %s, point_id = NULL
WHERE h.resource_id = %s AND h.disappeared_on IS NULL
  AND NOT EXISTS (SELECT 1 FROM servicespublics_analytics_live l
                  WHERE l.point_key = h.point_key)""", (version_date, resource_id))
    disappeared = cur.rowcount
    cur.execute(_UPDATE_SQL, (package_id, version_date, version_date, resource_id))
    cur.execute(f"""
INSERT INTO {POINT} (resource_id, package_id, point_key, point_id, source_id, name,
                     service_type, commune_code, departement_code, region_code, geom,
                     opening_date, closing_date, status, appeared_on)
SELECT %s, %s, l.point_key, l.id, l.source_id, l.name, l.service_type, l.commune_code,
       l.departement_code, l.region_code, l.geom, l.opening_date, l.closing_date, l.status,
       %s
FROM servicespublics_analytics_live l
WHERE NOT EXISTS (SELECT 1 FROM {POINT} h WHERE h.resource_id = %s
                  AND h.disappeared_on IS NULL AND h.point_key = l.point_key)""",
                (resource_id, package_id, None if first else version_date, resource_id))
    appeared = 0 if first else cur.rowcount
    cur.execute(
        f"""INSERT INTO {VERSION} (resource_id, package_id, ingestion_id, version_date,
                                   recorded, point_count, appeared, disappeared, first)
            VALUES (%s, %s, %s, %s, now() at time zone 'utc', %s, %s, %s, %s)""",
        (resource_id, package_id, ingestion_id, version_date, live_count, appeared,
         disappeared, first))
    cur.execute("DROP TABLE servicespublics_analytics_live")
    return {"resource_id": resource_id, "ingestion_id": ingestion_id,
            "version_date": version_date.isoformat(), "points": live_count,
            "appeared": appeared, "disappeared": disappeared, "first": first}


def sync(resource_ids: Optional[Iterable[str]] = None, refresh: bool = False
         ) -> list[dict[str, Any]]:
    """Record the new versions (of these resources, or of every resource that
    has one); returns what was recorded, one dict per resource.  With
    ``refresh``, the points of these resources are read again even if their
    version is already recorded."""
    conn = model.meta.engine.raw_connection()
    results = []
    try:
        dbapi = conn.driver_connection
        dbapi.rollback()
        dbapi.set_session(autocommit=True)
        cur = dbapi.cursor()
        # one synchronisation at a time (the web processes and the jobs worker)
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))
        try:
            # each resource in a snapshot of its own: its state and points agree
            dbapi.set_session(isolation_level="REPEATABLE READ", autocommit=False)
            todo = pending(cur) if resource_ids is None else list(dict.fromkeys(resource_ids))
            dbapi.commit()
            for resource_id in todo:
                try:
                    result = _record(cur, resource_id, refresh)
                    dbapi.commit()
                except Exception:
                    dbapi.rollback()
                    log.exception("Could not record the points history of resource %s",
                                  resource_id)
                    continue
                if result:
                    results.append(result)
        finally:
            dbapi.rollback()
            dbapi.set_session(isolation_level="DEFAULT", autocommit=True)
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK,))
            dbapi.set_session(autocommit=False)
            cur.close()
    finally:
        conn.close()
    for result in results:
        log.info("Points history of resource %s: %s", result["resource_id"], result)
    return results


def refresh() -> None:
    """Before a statistic: record the new versions now when they are small,
    else in the background (``ckan jobs worker``), the statistic then using
    the history recorded so far."""
    todo = pending()
    if not todo:
        return
    import sqlalchemy as sa

    import ckan.plugins.toolkit as tk

    size = model.Session.execute(sa.text(
        f"SELECT COALESCE(sum(point_count), 0) FROM {LIVE_STATE} "
        "WHERE resource_id = ANY(:ids)"), {"ids": todo}).scalar()
    if size <= tk.config.get("ckanext.servicespublics.analytics.sync_max_points"):
        sync(todo)
        return
    try:
        tk.enqueue_job(sync_job, [todo], title="servicespublics analytics: points history",
                       rq_kwargs={"timeout": 3600})
    except Exception:  # no Redis: the next request tries again
        log.exception("Could not enqueue the points history of %s", todo)


def sync_job(resource_ids: list[str]) -> int:
    """The background job of ``refresh``."""
    return len(sync(resource_ids))


def on_points_replaced(sender: Any, **kwargs: Any) -> None:
    """Receiver of ``servicespublics_points_replaced`` (an ingestion replaced a
    resource's points) and ``servicespublics_points_corrected`` (points were
    changed in place): record them now."""
    resource_id = kwargs.get("resource_id") or sender
    if not isinstance(resource_id, str):
        return
    try:
        sync([resource_id], refresh=True)
    except Exception:
        log.exception("Could not record the points history of resource %s", resource_id)
