"""Run one ingestion in a process of its own and print its memory figures.

    python memory_probe.py FILE SQLALCHEMY_URL MAPPING_JSON

Prints a JSON line: status, rows, and the growth of the peak RSS
(``ru_maxrss``) from just before the ingestion to its end.  Used by
test_ingest.py (a separate process, so that the test's own memory does not
count); the points are deleted afterwards.
"""
from __future__ import annotations

import json
import resource
import sys
import uuid


def main() -> None:
    path, url, mapping = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    import psycopg2

    from ckanext.servicespublics.points import geo, ingest, store

    geo.sea_grid("metropole")  # load the shipped mask before measuring
    conn = psycopg2.connect(url)
    resource_id, ingestion_id = f"memory-{uuid.uuid4()}", str(uuid.uuid4())
    cur = conn.cursor()
    store.start_ingestion(cur, ingestion_id, resource_id, "memory", trigger="test",
                          fingerprint=None, source=path)
    conn.commit()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = ingest.run_ingestion(
        conn, path, resource_id=resource_id, package_id="memory", owner_org=None,
        ingestion_id=ingestion_id, options=ingest.Options(column_mapping=mapping))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cur = conn.cursor()
    store.delete_resource_points(cur, resource_id)
    conn.commit()
    print(json.dumps({"status": result.status, "rows_read": result.rows_read,
                      "rows_ingested": result.rows_ingested,
                      "rss_before_mb": before / 1024, "rss_after_mb": after / 1024,
                      "rss_growth_mb": (after - before) / 1024}))


if __name__ == "__main__":
    main()
