"""Benchmark: ingestion of N service points built from the real files.

    .run/venv/bin/python bench/ingest.py 1000000 [--ini test.ini] [--format csv|jsonl]
                                                  [--chunk-size 5000] [--keep]

Builds a file of N rows by replicating the real France Services list (CSV,
24 columns, opening hours, labelling dates; every copy gets its own id) or
the DILA directory (JSON lines, nested geo fields, value mapping of the
types), ingests it into the database of the ini file (the points tables
must exist: ``ckan -c INI db upgrade -p servicespublics_points``) with the
same code as the jobs worker, and prints the rows per second, the wall
time, the peak memory of the process and the data size.  The bench's points
are deleted at the end (unless ``--keep``).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "points")
FRANCE_SERVICES = os.path.join(DATA, "france_services", "liste-fs-20240801.csv")
DILA = os.path.join(DATA, "dila_annuaire_2016", "par-departement", "*.sjson")

FS_MAPPING = {
    "id": "id_fs", "name": "lib_fs", "service_type": "=france-services",
    "address": ["adresse", "complement_adresse"],
    "opening_hours": {"columns": {"lundi": "h_lundi", "mardi": "h_mardi",
                                  "mercredi": "h_mercredi", "jeudi": "h_jeudi",
                                  "vendredi": "h_vendredi", "samedi": "h_samedi"}},
    "opening_date": {"column": "labellisation_fs", "pattern": r"(\d{2}/\d{2}/\d{4})"},
}
DILA_MAPPING = {
    "id": "id", "name": "nom", "service_type": "type", "insee_code": "codeinsee",
    "latitude": "geo.latitude", "longitude": "geo.longitude",
    "service_type_values": {
        "gendarmerie": "gendarmerie", "commissariat_police": "commissariat",
        "pole_emploi": "france-travail", "caf": "caf", "cpam": "cpam", "mairie": "mairie",
        "prefecture": "prefecture", "sous_pref": "sous-prefecture",
        "tgi": "tribunal-judiciaire", "ti": "tribunal-proximite", "prudhommes": "prudhommes",
        "cour_appel": "cour-appel", "*": None},
}


def _backend_cpu(conn) -> float:
    """CPU seconds used so far by the PostgreSQL backend of ``conn`` (same machine
    only: read from /proc; 0 when it cannot be read)."""
    try:
        with open(f"/proc/{conn.get_backend_pid()}/stat") as stream:
            fields = stream.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_csv(path: str, n: int) -> int:
    import csv

    with open(FRANCE_SERVICES, encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        rows = list(reader)
    id_index = header.index("id_fs")
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for i in range(n):
            row = list(rows[i % len(rows)])
            row[id_index] = str(i + 1)
            writer.writerow(row)
    return n


def build_jsonl(path: str, n: int) -> int:
    lines = []
    for name in sorted(glob.glob(DILA)):
        with open(name, encoding="utf-8") as stream:
            lines.extend(json.loads(line) for line in stream if line.strip())
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            record = dict(lines[i % len(lines)])
            record["id"] = f"{record.get('id')}-{i}"
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="rows to build and ingest")
    parser.add_argument("--ini", default=os.path.join(ROOT, "test.ini"))
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the points afterwards")
    args = parser.parse_args()

    from ckan.cli import load_config
    from ckan.config.environment import load_environment

    conf = load_config(args.ini)
    # the site's configuration and plugins, as in the jobs worker: the
    # service-type vocabulary and the COG (when loaded) are checked too
    load_environment(conf)
    dsn = conf["sqlalchemy.url"]

    import psycopg2

    from ckanext.servicespublics.points import ingest, store
    from ckanext.servicespublics.points.refs import Territories, service_types

    try:
        types = service_types()
    except Exception:
        types = None
    with tempfile.TemporaryDirectory(prefix="bench-points-") as tmp:
        path = os.path.join(tmp, f"points.{args.format}")
        started = time.perf_counter()
        (build_csv if args.format == "csv" else build_jsonl)(path, args.n)
        built = time.perf_counter() - started
        size = os.path.getsize(path)
        print(f"data: {args.n} rows, {args.format}, {size / 1e6:.1f} MB "
              f"(built in {built:.1f} s)", flush=True)

        conn = psycopg2.connect(dsn)
        resource_id, ingestion_id = f"bench-{uuid.uuid4()}", str(uuid.uuid4())
        cur = conn.cursor()
        store.start_ingestion(cur, ingestion_id, resource_id, "bench", trigger="bench",
                              fingerprint=None, source=path)
        conn.commit()
        options = ingest.Options(
            declared_format=args.format,
            column_mapping=FS_MAPPING if args.format == "csv" else DILA_MAPPING,
            service_types=types, territories=Territories(), chunk_size=args.chunk_size)
        rss_before = _rss_mb()
        backend_before = _backend_cpu(conn)
        cpu_before = time.process_time()
        started = time.perf_counter()
        result = ingest.run_ingestion(conn, path, resource_id=resource_id,
                                      package_id="bench", owner_org=None,
                                      ingestion_id=ingestion_id, options=options)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        backend = _backend_cpu(conn) - backend_before
        rss_after = _rss_mb()
        print(f"status: {result.status}; rows read {result.rows_read}, ingested "
              f"{result.rows_ingested}, rejected {result.rows_rejected}, skipped "
              f"{result.rows_skipped}")
        print(f"time: {wall:.1f} s wall ({cpu:.1f} s CPU in Python, {backend:.1f} s CPU in the "
              f"PostgreSQL backend; load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores), "
              f"{result.rows_read / wall:,.0f} rows/s read, "
              f"{result.rows_ingested / wall:,.0f} points/s stored, "
              f"{size / 1e6 / wall:.1f} MB/s")
        print(f"memory: peak RSS {rss_after:.0f} MB (before the ingestion {rss_before:.0f} MB, "
              f"growth {rss_after - rss_before:.0f} MB) for a {size / 1e6:.0f} MB file")
        cur = conn.cursor()
        cur.execute("SELECT pg_total_relation_size(%s)", (store.POINT_TABLE,))
        print(f"table {store.POINT_TABLE}: {cur.fetchone()[0] / 1e6:.0f} MB with indexes")
        if not args.keep:
            store.delete_resource_points(cur, resource_id)
            conn.commit()
        conn.close()
    sys.exit(0 if result.replaced else 1)


if __name__ == "__main__":
    main()
