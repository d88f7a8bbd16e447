"""Harvest throughput: a first full run, a run without change and an
incremental run with 1% changed, against a portal of N datasets on loopback.

    .run/venv/bin/python bench/harvest.py N [--portal datagouv|opendatasoft|both]
        [--ini CKAN_INI] [--changed 0.01] [--workers CPUS] [--keep]

The portal serves N datasets cloned from the real recorded responses of
harvesters/recordings/ (data.gouv.fr API v1 records with their resources, or
OpenDataSoft Explore v2.1 records). Each run goes through the same stages as
the harvest queues (gather, fetch, import into PostgreSQL and the search
index), in this process, like ``ckan servicespublics harvest run-once``.
The datasets, jobs and objects are removed at the end (``--keep`` to keep
them). Use a throwaway database: the ini's (default $CKAN_INI).
"""
from __future__ import annotations

import argparse
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
                                                     "udata") for i in range(n)])
    else:
        templates = load("opendatasoft/datasets.json")
        portal = OdsPortal(server, datasets=[clone(templates[i % len(templates)], i, "ods")
                                             for i in range(n)])
    return server, portal


def _change(portal, kind: str, share: float) -> int:
    step = max(1, round(1 / share))
    changed = 0
    for i, d in enumerate(portal.datasets):
        if i % step:
            continue
        changed += 1
        if kind == "datagouv":
            d["last_modified"] = "2030-01-01T00:00:00+00:00"
            d["title"] += " (modifié)"
        else:
            d["metas"]["default"]["modified"] = "2030-01-01T00:00:00+00:00"
            d["metas"]["default"]["title"] = f"{d['metas']['default'].get('title')} (modifié)"
    return changed


def _cpu() -> float:
    """CPU seconds of this process and its finished workers."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bench(kind: str, n: int, share: float, keep: bool, workers: int) -> dict:
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
        import json

        source = tk.get_action("harvest_source_create")(_context(), {
            "name": f"bench-{stamp}-{kind}", "title": f"Bench {kind}", "url": portal.base,
            "source_type": kind, "owner_org": org["id"], "config": json.dumps(config)})
        figures = {"portal": kind, "n": n}
        for label, prepare in (("first", None), ("unchanged", None),
                               ("incremental", lambda: _change(portal, kind, share))):
            changed = prepare() if prepare else None
            model.Session.remove()
            cpu = _cpu()
            started = time.perf_counter()
            result = run_source(source["id"], workers=workers)
            elapsed = time.perf_counter() - started
            cpu = _cpu() - cpu
            counts = result["counts"]
            figures[label] = {"seconds": round(elapsed, 2), "counts": counts,
                              "cpu": round(cpu, 2), "load": os.getloadavg()[0],
                              "gather_errors": len(result["gather_errors"])}
            if changed is not None:
                figures[label]["changed"] = changed
            print(f"  {kind} N={n} {label:<11} {elapsed:8.2f} s  (harvester CPU {cpu:.2f} s, "
                  f"load {os.getloadavg()[0]:.1f})  {counts}"
                  + (f"  {n / elapsed:.1f} datasets/s" if label == "first" else ""),
                  flush=True)
        if not keep:
            tk.get_action("harvest_source_clear")(_context(), {"id": source["id"]})
            tk.get_action("harvest_source_delete")(_context(), {"id": source["id"],
                                                                "clear": True})
            tk.get_action("organization_purge")(_context(), {"id": org["id"]})
        return figures
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
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="fetch/import processes (default: one per CPU)")
    args = parser.parse_args()

    import logging

    app = _app(args.ini, args.plugins)
    logging.getLogger("ckan").setLevel(logging.WARNING)
    logging.getLogger("ckanext").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with app._wsgi_app.test_request_context():
        _migrate(args.plugins)
        print(f"harvest benchmark: N={args.n}, {os.cpu_count()} CPU(s), "
              f"{args.workers} worker(s), ini {args.ini}")
        kinds = ("datagouv", "opendatasoft") if args.portal == "both" else (args.portal,)
        results = [bench(kind, args.n, args.changed, args.keep, args.workers)
                   for kind in kinds]
    print()
    print(f"{'portal':<13}{'N':>7}{'first run s':>13}{'datasets/s':>12}"
          f"{'CPU ms/dataset':>16}{'no change s':>13}{'1% changed s':>14}")
    for r in results:
        first = r["first"]["seconds"]
        print(f"{r['portal']:<13}{r['n']:>7}{first:>13.2f}{r['n'] / first:>12.1f}"
              f"{1000 * r['first']['cpu'] / r['n']:>16.1f}"
              f"{r['unchanged']['seconds']:>13.2f}{r['incremental']['seconds']:>14.2f}")


if __name__ == "__main__":
    main()
