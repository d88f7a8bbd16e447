"""Harvest throughput: a first full run, a run without change and an
incremental run with 1% changed, against a portal of N datasets on loopback.

    .run/venv/bin/python bench/harvest.py N [--portal datagouv|opendatasoft|both]
        [--ini CKAN_INI] [--changed 0.01] [--rounds 1] [--workers CPUS] [--keep]
        [--json FILE] [--ckan-alone]

The portal serves N datasets cloned from the real recorded responses of
harvesters/recordings/ (data.gouv.fr API v1 records with their resources, or
OpenDataSoft Explore v2.1 records). Each run goes through the same stages as
the harvest queues (gather, fetch, import into PostgreSQL and the search
index), like ``ckan servicespublics harvest run-once --workers``.
The datasets, jobs and objects are removed at the end (``--keep`` to keep
them). Use a throwaway database: the ini's (default $CKAN_INI).

CPU time is given for this process (gather, job bookkeeping, and the portal,
which runs in it), for the workers (fetch and import) and, when PostgreSQL
runs on this machine, for its backends serving the database. On a machine
shared with other work, the CPU time per dataset is the steadier figure:
datasets/s on C idle cores is at most C / (CPU s per dataset).

``--ckan-alone`` creates the same datasets with ``package_create`` alone, one
after the other, without the harvester: CKAN's own share of the cost.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLUGINS = ("activity harvest datagouv_harvester opendatasoft_harvester servicespublics "
           "servicespublics_search")


def _app(ini: str, plugins: str):
    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    config = load_config(ini)
    config["ckan.plugins"] = plugins
    return make_app(config)


def _migrate(plugins: str) -> None:
    from ckan.cli.db import _run_migrations
    import ckan.model as model

    engine = model.meta.engine
    model.repo.init_db()
    for plugin in plugins.split():
        try:
            _run_migrations(plugin)
        except Exception:  # no migrations for that plugin
            pass
    # the migrations leave the session bound to a pool-less engine: give it
    # back CKAN's own (a connection pool, as in the web app and the workers)
    model.init_model(engine)


def _portal(kind: str, n: int):
    from pytest_httpserver import HTTPServer

    import importlib.util

    # tests/harvesters/portals.py, by path ("tests" is a common package name)
    spec = importlib.util.spec_from_file_location(
        "servicespublics_bench_portals", ROOT / "tests" / "harvesters" / "portals.py")
    portals = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = portals
    spec.loader.exec_module(portals)
    OdsPortal, UdataPortal = portals.OdsPortal, portals.UdataPortal
    clone, load = portals.clone, portals.load

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    if kind == "datagouv":
        templates = load("datagouv/datasets.json")
        portal = UdataPortal(server, datasets=[clone(templates[i % len(templates)], i,
                                                     "udata") for i in range(n)],
                             fixed_ids=True)
    else:
        templates = load("opendatasoft/datasets.json")
        portal = OdsPortal(server, datasets=[clone(templates[i % len(templates)], i, "ods")
                                             for i in range(n)])
    return server, portal


def _change(portal, kind: str, share: float, round_: int = 0) -> int:
    """Change ``share`` of the datasets (other ones at each round)."""
    step = max(1, round(1 / share))
    date = f"2030-01-{1 + round_ % 28:02d}T00:00:00+00:00"
    changed = 0
    for i, d in enumerate(portal.datasets):
        if (i - round_) % step:
            continue
        changed += 1
        if kind == "datagouv":
            d["last_modified"] = date
            d["title"] += " (modifié)"
        else:
            d["metas"]["default"]["modified"] = date
            d["metas"]["default"]["title"] = f"{d['metas']['default'].get('title')} (modifié)"
    return changed


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process (gather, job bookkeeping, the portal's
    server threads) and of its finished workers (fetch and import)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


class PostgresCpu:
    """CPU seconds of the PostgreSQL backends serving the benchmark's
    database, when the server runs on this machine: its processes are
    sampled in /proc (``postgres: <user> <database> <client>``) while a run
    lasts. None elsewhere."""

    def __init__(self, database: str, interval: float = 0.2):
        import threading

        self.marker = f" {database} ".encode()
        self.interval = interval
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.tick = os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read()
                if not cmdline.startswith(b"postgres: ") or self.marker not in cmdline:
                    continue
                with open(f"/proc/{pid}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            seconds = (int(fields[11]) + int(fields[12])) / self.tick
            self.first.setdefault(int(pid), seconds)
            self.last[int(pid)] = seconds

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._sample()
        self.before = dict(self.first)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self._sample()

    @property
    def seconds(self) -> float | None:
        if not self.last:
            return None
        # backends that started during the run count from zero
        return sum(v - self.before.get(pid, 0.0) for pid, v in self.last.items())


def bench(kind: str, n: int, share: float, keep: bool, workers: int,
          rounds: int = 1) -> dict:
    import ckan.model as model
    import ckan.plugins.toolkit as tk

    from ckanext.servicespublics.harvesters.runner import _context, run_source

    server, portal = _portal(kind, n)
    try:
        stamp = time.strftime("%H%M%S")
        org = tk.get_action("organization_create")(_context(), {"name": f"bench-{stamp}-{kind}"})
        config = {"page_size": 100}
        if kind == "datagouv":
            config["tabular_api_url"] = ""
        source = tk.get_action("harvest_source_create")(_context(), {
            "name": f"bench-{stamp}-{kind}", "title": f"Bench {kind}", "url": portal.base,
            "source_type": kind, "owner_org": org["id"], "config": json.dumps(config)})
        figures = {"portal": kind, "n": n}
        runs = [("first", None), ("unchanged", None)] + [
            ("incremental" + (f" {r + 1}" if r else ""),
             lambda r=r: _change(portal, kind, share, r)) for r in range(rounds)]
        for label, prepare in runs:
            changed = prepare() if prepare else None
            model.Session.remove()
            own, workers_cpu = _cpu()
            with PostgresCpu(model.meta.engine.url.database) as pg:
                started = time.perf_counter()
                result = run_source(source["id"], workers=workers)
                elapsed = time.perf_counter() - started
            own, workers_cpu = (a - b for a, b in zip(_cpu(), (own, workers_cpu)))
            cpu = own + workers_cpu
            counts = result["counts"]
            figures[label] = {"seconds": round(elapsed, 2), "counts": counts,
                              "cpu": round(cpu, 2), "cpu_main": round(own, 2),
                              "cpu_workers": round(workers_cpu, 2),
                              "cpu_postgres": None if pg.seconds is None
                              else round(pg.seconds, 2),
                              "load": os.getloadavg()[0],
                              "gather_errors": len(result["gather_errors"])}
            if changed is not None:
                figures[label]["changed"] = changed
            pg_text = "" if pg.seconds is None else f", PostgreSQL {pg.seconds:.2f} s"
            print(f"  {kind} N={n} {label:<13} {elapsed:8.2f} s  (harvester CPU {cpu:.2f} s: "
                  f"main {own:.2f} s, workers {workers_cpu:.2f} s{pg_text}; "
                  f"load {os.getloadavg()[0]:.1f})  {counts}"
                  + (f"  {n / elapsed:.1f} datasets/s" if label == "first" else ""),
                  flush=True)
        incremental = sorted((f for k, f in figures.items() if k.startswith("incremental")),
                             key=lambda f: f["seconds"])
        figures["incremental_median"] = incremental[len(incremental) // 2]
        if not keep:
            tk.get_action("harvest_source_clear")(_context(), {"id": source["id"]})
            tk.get_action("harvest_source_delete")(_context(), {"id": source["id"],
                                                                "clear": True})
            tk.get_action("organization_purge")(_context(), {"id": org["id"]})
        return figures
    finally:
        server.stop()


def ckan_alone(kind: str, n: int) -> dict:
    """The same datasets, mapped by the harvester, created one after the
    other in this process through ``package_create`` (validation, plugins,
    activity, search index), without any harvest machinery, remote request
    or harvest object: what CKAN itself costs per dataset."""
    import uuid

    import ckan.model as model
    import ckan.plugins.toolkit as tk
    from ckan.lib.munge import munge_title_to_name

    from ckanext.harvest import queue
    from ckanext.servicespublics.harvesters.runner import _context

    server, portal = _portal(kind, n)
    try:
        harvester = queue.get_harvester(kind)
        config = harvester.parse_config(json.dumps({"tabular_api_url": ""} if kind == "datagouv"
                                                   else {}))
        stamp = time.strftime("%H%M%S")
        org = tk.get_action("organization_create")(_context(), {"name": f"alone-{stamp}-{kind}"})
        packages = []
        for i, remote in enumerate(portal.datasets):
            package = harvester._map(remote, config, portal.base).package
            package.pop("_owned_extras")
            hint = munge_title_to_name(package.pop("_name_hint"))[:80].strip("-")
            package.update(id=str(uuid.uuid4()), name=f"alone-{stamp}-{i}-{hint}",
                           owner_org=org["id"])
            packages.append(package)
        context = dict(_context(), return_id_only=True)
        model.Session.remove()
        own, _ = _cpu()
        with PostgresCpu(model.meta.engine.url.database) as pg:
            started = time.perf_counter()
            for package in packages:
                tk.get_action("package_create")(dict(context), package)
            elapsed = time.perf_counter() - started
        cpu = _cpu()[0] - own
        print(f"  {kind} N={n} package_create alone {elapsed:8.2f} s  (CPU {cpu:.2f} s, "
              f"PostgreSQL {pg.seconds or 0:.2f} s; load {os.getloadavg()[0]:.1f})  "
              f"{1000 * cpu / n:.1f} + {1000 * (pg.seconds or 0) / n:.1f} ms/dataset",
              flush=True)
        for package in packages:
            tk.get_action("dataset_purge")(_context(), {"id": package["id"]})
        tk.get_action("organization_purge")(_context(), {"id": org["id"]})
        return {"portal": kind, "n": n, "seconds": round(elapsed, 2), "cpu": round(cpu, 2),
                "cpu_postgres": pg.seconds, "load": os.getloadavg()[0]}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="datasets in the remote catalogue")
    parser.add_argument("--portal", default="both",
                        choices=("datagouv", "opendatasoft", "both"))
    parser.add_argument("--ini", default=os.environ.get("CKAN_INI", str(ROOT / "test.ini")))
    parser.add_argument("--plugins", default=PLUGINS)
    parser.add_argument("--changed", type=float, default=0.01,
                        help="share of datasets changed for the incremental run")
    parser.add_argument("--rounds", type=int, default=1,
                        help="incremental runs, each with other datasets changed")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="fetch/import processes (default: one per CPU)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--ckan-alone", action="store_true",
                        help="only create the same datasets with package_create, one "
                             "after the other, without the harvester: CKAN's own cost")
    args = parser.parse_args()

    import logging

    app = _app(args.ini, args.plugins)
    logging.getLogger("ckan").setLevel(logging.WARNING)
    logging.getLogger("ckanext").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with app._wsgi_app.test_request_context():
        _migrate(args.plugins)
        import ckan.model as model

        existing = model.Session.query(model.Package).filter(
            model.Package.type != "harvest").count()
        print(f"harvest benchmark: N={args.n}, {os.cpu_count()} CPU(s), "
              f"{args.workers} worker(s), ini {args.ini}; the database already holds "
              f"{existing} dataset(s)")
        kinds = ("datagouv", "opendatasoft") if args.portal == "both" else (args.portal,)
        if args.ckan_alone:
            results = [ckan_alone(kind, args.n) for kind in kinds]
            if args.json:
                Path(args.json).write_text(json.dumps(results, indent=2))
            return
        results = [bench(kind, args.n, args.changed, args.keep, args.workers, args.rounds)
                   for kind in kinds]
    print()
    changed = f"{args.changed:.0%} changed s" + (" (median)" if args.rounds > 1 else "")
    print(f"{'portal':<13}{'N':>7}{'first run s':>13}{'datasets/s':>12}"
          f"{'CPU ms/dataset':>16}{'PG ms/dataset':>15}{'no change s':>13}"
          f"{changed:>{len(changed) + 2}}{'(CPU s)':>9}")
    for r in results:
        first = r["first"]["seconds"]
        pg = r["first"]["cpu_postgres"]
        print(f"{r['portal']:<13}{r['n']:>7}{first:>13.2f}{r['n'] / first:>12.1f}"
              f"{1000 * r['first']['cpu'] / r['n']:>16.1f}"
              f"{'-' if pg is None else format(1000 * pg / r['n'], '.1f'):>15}"
              f"{r['unchanged']['seconds']:>13.2f}"
              f"{r['incremental_median']['seconds']:>{len(changed) + 2}.2f}"
              f"{r['incremental_median']['cpu']:>9.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
