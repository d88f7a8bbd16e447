"""Benchmark of the national map's statistics at the scale of France.

    .run/venv/bin/python bench/analytics.py [--ini test.ini] [--points 1000000]
                                            [--repeat 7] [--reuse] [--drop]

Builds N service points (default 1,000,000) over the ~35,000 communes: for
each of 25 service types a number of points placed at communes drawn in
proportion to their COG legal population (one town hall per commune), about
1 km around the commune's chef-lieu, with real names of France Services and
real opening dates for part of them, some closed, planned closures and
planned openings.  They are written as CSV files and ingested by the points
plugin's own ingestion (``run_ingestion``) into four datasets of a bench
organisation (three public, one private), then recorded in the points'
history (``history.sync``, timed).  It then times, through the actions as an
anonymous visitor (so with the visibility filter), and prints the median and
p95 of ``--repeat`` runs:

- ``servicespublics_density`` for all départements (one type, one domain,
  every type);
- ``servicespublics_nearest`` for every commune (one type with 30,000 points,
  one with 300,000);
- ``servicespublics_closure_impact`` of 10 points in operation, nationwide.

The COG and the communes' reference points are loaded if missing (from
../shared/data).  ``--reuse`` keeps the bench datasets of an earlier run;
``--drop`` deletes them (and their points) and exits.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
FRANCE_SERVICES = os.path.join(SHARED, "points", "france_services", "liste-fs-20240801.csv")
COG_DIR = os.path.join(SHARED, "territories", "cog-2026_etalab-decoupage-administratif")
ORG = "bench-analytics"

#: points per service type for 1,000,000 (scaled for other sizes); "mairie": one per commune
TYPES = {
    "ecole": 300000, "bureau-poste": 100000, "agence-postale-communale": 60000,
    "college": 60000, "lycee": 40000, "france-services": 30000, "gendarmerie": 30000,
    "bibliotheque": 60000, "centre-secours": 40000, "police-municipale": 30000,
    "ccas": 35000, "pmi": 20000, "caf": 15000, "cpam": 15000, "france-travail": 15000,
    "mission-locale": 15000, "finances-publiques": 15000, "tresorerie": 10000,
    "hopital": 10000, "commissariat": 8000, "relais-poste": 8000, "point-justice": 4000,
    "tribunal-judiciaire": 2000, "sous-prefecture": 2000,
}
MAPPING = {"id": "id", "name": "name", "service_type": "service_type",
           "insee_code": "insee_code", "longitude": "longitude", "latitude": "latitude",
           "opening_date": "opening_date", "closing_date": "closing_date", "status": "status"}


def _stats(values: list[float], cpu: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return (f"median {statistics.median(values) * 1000:7.0f} ms, p95 {p95 * 1000:7.0f} ms, "
            f"min {values[0] * 1000:7.0f} ms; CPU {statistics.median(cpu) * 1000:7.0f} ms "
            f"({len(values)} runs)")


def _backend_cpu(pid: int) -> float:
    """CPU seconds used so far by a PostgreSQL backend (same machine, /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stream:
            fields = stream.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _communes() -> list[tuple[str, int, float, float]]:
    """(code, population, lon, lat) of the communes with a reference point."""
    import json

    from ckanext.servicespublics.analytics import centres

    with gzip.open(centres.SHIPPED, "rt", encoding="utf-8") as stream:
        places = {r["code"]: (float(r["longitude"]), float(r["latitude"]))
                  for r in csv.DictReader(stream)}
    with open(os.path.join(COG_DIR, "communes.json"), encoding="utf-8") as stream:
        cog = json.load(stream)
    return [(c["code"], c.get("population") or 0, *places[c["code"]]) for c in cog
            if c["type"] == "commune-actuelle" and c["code"] in places]


def build_files(folder: str, n: int, rng: random.Random) -> list[str]:
    """Four CSV files (one per bench dataset) with ``n`` points in all."""
    communes = _communes()
    weights = [max(1, pop) for _c, pop, _x, _y in communes]
    with open(FRANCE_SERVICES, encoding="utf-8") as stream:
        fs_names = [r["lib_fs"] for r in csv.DictReader(stream)]
    scale = n / 1_000_000
    counts = {t: max(1, int(c * scale)) for t, c in TYPES.items()}
    counts["mairie"] = max(0, n - sum(counts.values()))
    paths = [os.path.join(folder, f"bench-{i}.csv") for i in range(4)]
    writers, streams = [], []
    for path in paths:
        stream = open(path, "w", encoding="utf-8", newline="")
        streams.append(stream)
        writer = csv.writer(stream)
        writer.writerow(list(MAPPING))
        writers.append(writer)
    number = 0
    for service_type, count in counts.items():
        if service_type == "mairie":
            chosen = [communes[i % len(communes)] for i in range(count)]
        else:
            chosen = rng.choices(communes, weights=weights, k=count)
        for code, _pop, lon, lat in chosen:
            number += 1
            roll = rng.random()
            opening = closing = ""
            status = "open"
            if roll < 0.10:
                opening = f"{rng.randint(2000, 2025)}-{rng.randint(1, 12):02d}-01"
            elif roll < 0.13:
                status, closing = "closed", f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}-01"
            elif roll < 0.14:
                status, closing = "planned_closure", f"{rng.randint(2027, 2029)}-01-01"
            elif roll < 0.145:
                status, opening = "planned_opening", f"{rng.randint(2027, 2029)}-01-01"
            name = (rng.choice(fs_names) if service_type == "france-services"
                    else f"{service_type} {number}")
            writers[number % 4].writerow([
                f"b{number}", name, service_type, code,
                f"{lon + rng.uniform(-0.01, 0.01):.6f}", f"{lat + rng.uniform(-0.007, 0.007):.6f}",
                opening, closing, status])
    for stream in streams:
        stream.close()
    return paths


def _site_context() -> dict:
    import ckan.plugins.toolkit as tk

    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"user": user["name"], "ignore_auth": True}


def _bench_packages() -> list[dict]:
    import ckan.plugins.toolkit as tk

    try:
        org = tk.get_action("organization_show")(_site_context(), {"id": ORG,
                                                                   "include_datasets": False})
    except tk.ObjectNotFound:
        return []
    result = tk.get_action("package_search")(_site_context(), {
        "fq": f"owner_org:{org['id']}", "include_private": True, "rows": 10})
    return sorted(result["results"], key=lambda p: p["name"])


def drop() -> None:
    import ckan.model as model
    import ckan.plugins.toolkit as tk

    from ckanext.servicespublics.analytics import history
    from ckanext.servicespublics.points import store
    from ckanext.servicespublics.points.jobs import raw_cursor

    for package in _bench_packages():
        with raw_cursor() as cur:
            cur.execute(f"SELECT resource_id FROM {store.STATE_TABLE} WHERE package_id = %s",
                        (package["id"],))
            for (resource_id,) in cur.fetchall():
                store.delete_resource_points(cur, resource_id)
        tk.get_action("dataset_purge")(_site_context(), {"id": package["id"]})
    try:
        tk.get_action("organization_purge")(_site_context(), {"id": ORG})
    except tk.ObjectNotFound:
        pass
    history.sync()
    model.Session.commit()


def setup(n: int, rng: random.Random) -> None:
    import ckan.model as model
    import ckan.plugins.toolkit as tk

    from ckanext.servicespublics.analytics import history
    from ckanext.servicespublics.points import ingest, store
    from ckanext.servicespublics.points.refs import Territories, service_types

    org = tk.get_action("organization_create")(_site_context(), {
        "name": ORG, "title": "Banc d'essai de la carte nationale"})
    packages = [tk.get_action("package_create")(_site_context(), {
        "name": f"{ORG}-{i}", "title": f"Banc d'essai {i}", "owner_org": org["id"],
        "private": i == 3}) for i in range(4)]
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as tmp:
        started = time.perf_counter()
        paths = build_files(tmp, n, rng)
        print(f"files: {n:,} points in 4 CSV files "
              f"({sum(os.path.getsize(p) for p in paths) / 1e6:.0f} MB, "
              f"built in {time.perf_counter() - started:.1f} s)", flush=True)
        started = time.perf_counter()
        for path, package in zip(paths, packages):
            resource_id, ingestion_id = str(uuid.uuid4()), str(uuid.uuid4())
            conn = model.meta.engine.raw_connection()
            try:
                cur = conn.cursor()
                store.start_ingestion(cur, ingestion_id, resource_id, package["id"],
                                      trigger="bench", fingerprint=None, source=path)
                conn.commit()
                result = ingest.run_ingestion(
                    conn, path, resource_id=resource_id, package_id=package["id"],
                    owner_org=org["id"], ingestion_id=ingestion_id,
                    options=ingest.Options(column_mapping=MAPPING,
                                           service_types=service_types(),
                                           territories=Territories(), chunk_size=20000))
            finally:
                conn.close()
            print(f"  {package['name']}: {result.status}, {result.rows_ingested:,} points",
                  flush=True)
        print(f"ingestion (points plugin): {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    recorded = history.sync()
    print(f"history.sync of {sum(r.get('points', 0) for r in recorded):,} points "
          f"(first versions): {time.perf_counter() - started:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ini", default=os.path.join(ROOT, "test.ini"))
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the bench datasets of an earlier run if they exist")
    parser.add_argument("--drop", action="store_true", help="delete the bench data and exit")
    args = parser.parse_args()

    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    conf = load_config(args.ini)
    app = make_app(conf)
    with app.test_request_context():
        import sqlalchemy as sa

        import ckan.model as model
        import ckan.plugins.toolkit as tk

        from ckanext.servicespublics import territories
        from ckanext.servicespublics.analytics import centres
        from ckanext.servicespublics.territories import loader

        if args.drop:
            drop()
            print("bench data deleted")
            return
        if not territories.is_loaded():
            loader.load_cog(COG_DIR, echo=lambda _m: None)
            loader.load_boundaries(echo=lambda _m: None)
        centres.ensure_loaded()
        model.Session.commit()
        rng = random.Random(args.seed)
        if not (args.reuse and len(_bench_packages()) == 4):
            drop()
            setup(args.points, rng)
        model.Session.remove()

        count = model.Session.execute(sa.text(
            "SELECT count(*) FROM servicespublics_analytics_point")).scalar()
        size = model.Session.execute(sa.text(
            "SELECT pg_total_relation_size('servicespublics_analytics_point')")).scalar()
        placed = centres.count()
        print(f"\ndata: {count:,} points in the history ({size / 1e6:.0f} MB with indexes), "
              f"{placed:,} communes with a reference point; machine: {os.cpu_count()} cores, "
              f"{platform.python_implementation()} {platform.python_version()}, "
              f"load average {os.getloadavg()[0]:.1f} (shared machine)", flush=True)

        anonymous = {"user": "", "ignore_auth": False}

        def timed(label: str, action: str, params_list: list[dict]) -> list:
            """Wall time, and CPU time (this process + its PostgreSQL backend,
            parallel workers not counted): what an idle machine would take."""
            results, times, cpu = [], [], []
            tk.get_action(action)(dict(anonymous), dict(params_list[0]))  # warm caches
            for i in range(args.repeat):
                params = params_list[i % len(params_list)]
                model.Session.remove()
                backend = model.Session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
                cpu_before = time.process_time() + _backend_cpu(backend)
                started = time.perf_counter()
                results.append(tk.get_action(action)(dict(anonymous), dict(params)))
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() + _backend_cpu(backend) - cpu_before)
            print(f"{label:52} {_stats(times, cpu)}", flush=True)
            return results

        density = timed("density, all départements, france-services",
                        "servicespublics_density",
                        [{"service_type": "france-services", "level": "departement"}])
        print(f"    {density[0]['count']:,} points counted in "
              f"{len(density[0]['territories'])} départements")
        timed("density, all départements, domain education (3 types)",
              "servicespublics_density",
              [{"domain": "education-culture-sport", "level": "departement"}])
        everything = timed("density, all départements, every type",
                           "servicespublics_density", [{"level": "departement"}])
        print(f"    {everything[0]['count']:,} points counted (public datasets)")
        timed("density, all régions, every type", "servicespublics_density",
              [{"level": "region"}])
        timed("density, all EPCI, france-services", "servicespublics_density",
              [{"service_type": "france-services", "level": "epci"}])
        nearest = timed("nearest france-services for every commune",
                        "servicespublics_nearest", [{"service_type": "france-services"}])
        summary = nearest[0]["summary"]
        print(f"    {summary['communes']:,} communes, {summary['services']:,} services; "
              f"mean distance {summary['mean_distance'] / 1000:.1f} km")
        nearest = timed("nearest ecole for every commune", "servicespublics_nearest",
                        [{"service_type": "ecole"}])
        print(f"    {nearest[0]['summary']['services']:,} services")
        timed("nearest 5 france-services from a place (KNN)", "servicespublics_nearest",
              [{"service_type": "france-services", "commune": code}
               for code in ("05061", "35238", "75056", "2A004", "97411")])
        ids = [f["id"] for f in tk.get_action("servicespublics_points_export")(
            dict(anonymous), {"service_type": "france-services", "state": "open",
                              "limit": 2000})["features"]]
        sets = [{"service_type": "france-services", "close": rng.sample(ids, 10)}
                for _ in range(args.repeat)]
        impact = timed("closure impact of 10 france-services, nationwide",
                       "servicespublics_closure_impact", sets)
        print(f"    e.g. {impact[0]['newly_beyond']['population']:,} inhabitants newly "
              f"beyond {impact[0]['threshold'] / 1000:.0f} km, "
              f"{len(impact[0]['communes'])} communes whose nearest service changes")
        timed("evolution 2015-today per département, every type", "servicespublics_evolution",
              [{"date_from": "2015-01-01", "level": "departement"}])
    sys.exit(0)


if __name__ == "__main__":
    main()
