"""Benchmark: map tiles of a 1,000,000-point resource; time until a map is interactive.

    .run/venv/bin/python bench/tiles.py [--ini test.ini] [--points 1000000]
                                        [--view-points 100000] [--samples 200]
                                        [--browser-runs 5] [--keep] [--no-browser]

Builds N points from the real files of ``shared/data/points`` (France
Services, the DILA directory, the education directory of Ille-et-Vilaine:
about 7,000 distinct points of 20 service types) replicated with a random
jitter (Gaussian, sigma 0.05 degree, about 5 km; fixed seed), writes them as a
CSV with the standard columns and ingests it with the points plugin's own
ingestion for a resource of a real CKAN dataset. Then:

1. counts the cluster levels of the map (``layers.build``: what the jobs
   worker does after an ingestion) and prints the time and the table sizes;
2. requests tiles at zoom 5, 8, 12 and 15 through the Flask app (the full
   request: routing, the ``resource_show`` access check, the layer state,
   the SQL, the headers), for an anonymous visitor of a public dataset and for
   an editor (API token) of a private one, and prints the median and p95
   latency, the features and bytes per tile. Tiles are drawn where the points
   are (the tile of a random point, and its neighbours), as a map user sees
   them;
3. the same at zoom 5 and 8 before the cluster levels exist (tiles grouped on
   the fly), for comparison;
4. the name search (``servicespublics_map_search``);
5. serves the app on 127.0.0.1 (werkzeug, threads) and opens the map view of
   a resource of ``--view-points`` points in headless Chromium: time from
   navigation start until the map is interactive (the first ``idle`` event
   of MapLibre once the points' source is there: tiles loaded and drawn),
   median of ``--browser-runs`` runs with a fresh browser profile each.

The machine's load average is printed before and after: the figures are only
comparable at a similar load. The bench's datasets and points are deleted at
the end (unless ``--keep``).
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "points")
FRANCE_SERVICES = os.path.join(DATA, "france_services", "liste-fs-20240801.csv")
DILA = os.path.join(DATA, "dila_annuaire_2016", "par-departement", "*.sjson")
EDUCATION = os.path.join(
    DATA, "education",
    "ille-et-vilaine_fr-en-adresse-et-geolocalisation-etablissements-premier-et-second-degre.csv")
ARTIFACTS = os.path.join(ROOT, "test-artifacts")

DILA_TYPES = {
    "gendarmerie": "gendarmerie", "commissariat_police": "commissariat",
    "pole_emploi": "france-travail", "caf": "caf", "cpam": "cpam", "mairie": "mairie",
    "prefecture": "prefecture", "sous_pref": "sous-prefecture", "tgi": "tribunal-judiciaire",
    "ti": "tribunal-proximite", "prudhommes": "prudhommes", "cour_appel": "cour-appel",
}
COLUMNS = ["id", "name", "service_type", "address", "postcode", "insee_code", "latitude",
           "longitude", "opening_date", "status", "opening_hours", "phone", "email"]
ZOOMS = (5, 8, 12, 15)


# -- data ------------------------------------------------------------------------

def base_points() -> list[dict[str, Any]]:
    """The real points: France Services, DILA (mapped types), schools of Ille-et-Vilaine."""
    points = []
    with open(FRANCE_SERVICES, encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            hours = "; ".join(f"{day} {row['h_' + day]}" for day in (
                "lundi", "mardi", "mercredi", "jeudi", "vendredi") if row.get("h_" + day))
            points.append({
                "name": row["lib_fs"], "service_type": "france-services",
                "address": row["adresse"], "postcode": row["code_postal"],
                "insee_code": row["insee_com"], "latitude": float(row["latitude"]),
                "longitude": float(row["longitude"]), "opening_hours": hours,
                "phone": row["telephone"], "email": row["mail"], "status": "open"})
    for path in sorted(glob.glob(DILA)):
        with open(path, encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                kind = DILA_TYPES.get(record.get("type"))
                geo = record.get("geo") or {}
                if not kind or geo.get("latitude") is None:
                    continue
                address = record.get("writeAddress") or {}
                street = address.get("streetAddress") or []
                points.append({
                    "name": record.get("nom"), "service_type": kind,
                    "address": " ".join(street) if isinstance(street, list) else street,
                    "postcode": address.get("postalCode"), "insee_code": record.get("codeinsee"),
                    "latitude": float(geo["latitude"]), "longitude": float(geo["longitude"]),
                    "phone": record.get("contact_phone"), "email": record.get("contact_email"),
                    "status": "open"})
    with open(EDUCATION, encoding="utf-8-sig", newline="") as stream:
        for row in csv.DictReader(stream, delimiter=";"):
            nature = (row.get("Nature") or "").upper()
            kind = ("college" if "COLLEGE" in nature else "lycee" if "LYCEE" in nature
                    else "ecole" if "ECOLE" in nature else None)
            if not kind or not row.get("Latitude"):
                continue
            points.append({
                "name": row["Appellation officielle"], "service_type": kind,
                "address": row["Adresse"], "postcode": row["Code postal"],
                "insee_code": row["Code commune"], "latitude": float(row["Latitude"]),
                "longitude": float(row["Longitude"]), "opening_date": row["date_ouverture"],
                "status": "open" if row.get("Etat établissement") == "OUVERT" else "closed"})
    return points


def write_points(path: str, n: int, seed: int = 20261122) -> dict[str, int]:
    base = base_points()
    rng = random.Random(seed)
    types: dict[str, int] = {}
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(n):
            point = base[i % len(base)]
            copy = i // len(base)
            lat, lon = point["latitude"], point["longitude"]
            if copy:
                lat = min(max(lat + rng.gauss(0, 0.05), -85), 85)
                lon = lon + rng.gauss(0, 0.05 / max(0.2, math.cos(math.radians(lat))))
            name = point["name"] if not copy else f"{point['name']} ({copy})"
            writer.writerow([
                f"b{i}", name, point["service_type"], point.get("address") or "",
                point.get("postcode") or "", point.get("insee_code") or "",
                f"{lat:.6f}", f"{lon:.6f}", point.get("opening_date") or "",
                point.get("status") or "", point.get("opening_hours") or "",
                point.get("phone") or "", point.get("email") or ""])
            types[point["service_type"]] = types.get(point["service_type"], 0) + 1
    return types


# -- helpers ---------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(lat)
    y = int((1.0 - math.log(math.tan(lat_r) + 1 / math.cos(lat_r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def ingest(conn: Any, path: str, resource: dict[str, Any], package: dict[str, Any]) -> Any:
    from ckanext.servicespublics.points import ingest as ingest_, store
    from ckanext.servicespublics.points.refs import Territories, service_types

    ingestion_id = str(uuid.uuid4())
    cur = conn.cursor()
    store.start_ingestion(cur, ingestion_id, resource["id"], package["id"], trigger="bench",
                          fingerprint=None, source=path)
    conn.commit()
    return ingest_.run_ingestion(
        conn, path, resource_id=resource["id"], package_id=package["id"],
        owner_org=package["owner_org"], ingestion_id=ingestion_id,
        options=ingest_.Options(declared_format="csv", service_types=service_types(),
                                territories=Territories()))


def sample_tiles(session: Any, resource_id: str, z: int, count: int,
                 rng: random.Random) -> list[tuple[int, int, int]]:
    """Tiles where the points are: the tile of a random point, or one of its neighbours."""
    import sqlalchemy as sa

    rows = session.execute(sa.text(
        "SELECT ST_X(geom), ST_Y(geom) FROM servicespublics_points_point "
        "WHERE resource_id = :r ORDER BY random() LIMIT :n"),
        {"r": resource_id, "n": count * 4}).all()
    session.commit()
    rng.shuffle(rows)
    tiles = []
    for lon, lat in rows[:count]:
        x, y = tile_of(lon, lat, z)
        dx, dy = rng.choice((0, 0, 0, -1, 1)), rng.choice((0, 0, 0, -1, 1))
        n = 1 << z
        tiles.append((z, min(max(x + dx, 0), n - 1), min(max(y + dy, 0), n - 1)))
    return tiles


def time_tiles(client: Any, resource_id: str, tiles: list[tuple[int, int, int]],
               headers: dict[str, str]) -> dict[str, Any]:
    import mapbox_vector_tile

    times, sizes, features = [], [], []
    for z, x, y in tiles:
        url = f"/servicespublics/tiles/{resource_id}/{z}/{x}/{y}.pbf"
        started = time.perf_counter()
        res = client.get(url, headers=headers)
        data = res.get_data()
        times.append((time.perf_counter() - started) * 1000)
        assert res.status_code in (200, 204), (url, res.status_code, data[:200])
        sizes.append(len(data))
        if data:
            layer = mapbox_vector_tile.decode(data).get("points") or {"features": []}
            features.append(len(layer["features"]))
        else:
            features.append(0)
    return {"median": statistics.median(times), "p95": percentile(times, 95),
            "max": max(times), "features": statistics.mean(features),
            "max_features": max(features), "kb": statistics.mean(sizes) / 1024,
            "n": len(times)}


def print_tiles(label: str, z: int, stats: dict[str, Any]) -> None:
    print(f"  {label:<26} z{z:<2}: median {stats['median']:6.1f} ms, "
          f"p95 {stats['p95']:6.1f} ms, max {stats['max']:6.1f} ms; "
          f"{stats['features']:7.1f} features/tile (max {stats['max_features']}), "
          f"{stats['kb']:6.1f} kB/tile; {stats['n']} tiles", flush=True)


# -- the browser -----------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, app: Any, port: int):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.thread.join(10)


def chromium(profile: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader",
                 "--window-size=1280,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def time_view(base: str, url: str, runs: int) -> list[float]:
    out = []
    for run in range(runs):
        profile = tempfile.mkdtemp(prefix="bench-chromium-")
        driver = chromium(profile)
        try:
            driver.set_page_load_timeout(60)
            driver.get(base + url)
            deadline = time.time() + 60
            ready = None
            while time.time() < deadline:
                ready = driver.execute_script(
                    "var e = document.querySelector('.sp-map');"
                    "return e && e.getAttribute('data-map-ready');")
                if ready:
                    break
                time.sleep(0.05)
            if not ready:
                raise RuntimeError("the map did not become interactive within 60 s")
            rendered = driver.execute_script(
                "return window.servicespublicsMaps[0].queryRenderedFeatures("
                "{layers: ['sp-clusters', 'sp-points']}).length")
            steps = driver.execute_script("""
var nav = performance.getEntriesByType('navigation')[0];
var lib = performance.getEntriesByType('resource').filter(function (e) {
  return e.name.indexOf('maplibre-gl.js') >= 0; })[0];
var t = window.servicespublicsMapTiming || {};
return [nav.responseEnd, lib ? lib.responseEnd : -1, nav.domContentLoadedEventEnd,
        t.init || -1, t.load || -1, t.tiles || 0, t.firstTile || -1, t.lastTile || -1,
        t.ready || -1];""")
            print("  run %d: page received %.0f ms, map library %.0f, DOM ready %.0f, "
                  "module started %.0f, map loaded %.0f, %d tiles from %.0f to %.0f, "
                  "interactive (tiles drawn) %.0f ms" % (run + 1, *steps), flush=True)
            out.append(float(ready))
            if run == 0:
                os.makedirs(ARTIFACTS, exist_ok=True)
                driver.save_screenshot(os.path.join(ARTIFACTS, "bench-view-100k.png"))
                print(f"  (first run: {rendered} features drawn; screenshot "
                      f"test-artifacts/bench-view-100k.png)", flush=True)
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
    return out


# -- main ------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ini", default=os.path.join(ROOT, "test.ini"))
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--view-points", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200, help="tiles per zoom level")
    parser.add_argument("--browser-runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    conf = load_config(args.ini)
    # the page's scripts ask the site's URL for their translations: serve there
    port = free_port()
    conf["ckan.site_url"] = f"http://127.0.0.1:{port}"
    plugins = conf.get("ckan.plugins") or ""
    wanted = ["servicespublics", "servicespublics_search", "servicespublics_points",
              "servicespublics_map"]
    conf["ckan.plugins"] = " ".join(dict.fromkeys(plugins.split() + wanted))
    app = make_app(conf)
    flask_app = app._wsgi_app if hasattr(app, "_wsgi_app") else app

    import ckan.model as model
    from ckan.tests import helpers

    from ckanext.servicespublics.mapview import layers

    rng = random.Random(7)
    print(f"bench/tiles.py: {args.points:,} points (view: {args.view_points:,}); {load()}",
          flush=True)
    created: list[str] = []
    tmp = tempfile.mkdtemp(prefix="bench-tiles-")
    try:
        with flask_app.test_request_context():
            site_user = helpers.call_action("get_site_user")
            ctx = {"user": site_user["name"], "ignore_auth": True}
            suffix = uuid.uuid4().hex[:8]
            editor = helpers.call_action("user_create", dict(ctx), name=f"bench-{suffix}",
                                         email=f"bench-{suffix}@example.org",
                                         password="bench-password-123")
            token = helpers.call_action("api_token_create", {"user": editor["name"]},
                                        user=editor["name"], name="bench")["token"]
            org = helpers.call_action("organization_create", dict(ctx),
                                      name=f"bench-org-{suffix}", title="Bench",
                                      users=[{"name": editor["name"], "capacity": "editor"}])

            def dataset(name: str, private: bool) -> tuple[dict[str, Any], dict[str, Any]]:
                package = helpers.call_action(
                    "package_create", dict(ctx), name=f"{name}-{suffix}", owner_org=org["id"],
                    private=private, title=f"Bench {name}")
                created.append(package["id"])
                resource = helpers.call_action(
                    "resource_create", dict(ctx), package_id=package["id"], format="CSV",
                    name="Points", url="https://bench.invalid/points.csv", role="point_file")
                package = helpers.call_action("package_show", dict(ctx), id=package["id"])
                return package, resource

            big_package, big = dataset("bench-tiles-1m", private=False)
            view_package, view_resource = dataset("bench-tiles-100k", private=False)
            import ckan.lib.jobs as jobs_lib

            jobs_lib.get_queue().empty()  # the ingestion jobs of the hooks: done here

        conn = model.meta.engine.raw_connection()
        try:
            path = os.path.join(tmp, "points.csv")
            started = time.perf_counter()
            types = write_points(path, args.points)
            print(f"data: {args.points:,} points, {len(types)} service types, "
                  f"{os.path.getsize(path) / 1e6:.0f} MB CSV (built in "
                  f"{time.perf_counter() - started:.1f} s)", flush=True)
            started = time.perf_counter()
            result = ingest(conn, path, big, big_package)
            print(f"ingestion (points plugin): {result.rows_ingested:,} points in "
                  f"{time.perf_counter() - started:.1f} s ({result.status})", flush=True)
            path = os.path.join(tmp, "view.csv")
            write_points(path, args.view_points, seed=99)
            result = ingest(conn, path, view_resource, view_package)
            print(f"view resource: {result.rows_ingested:,} points", flush=True)
        finally:
            conn.close()
            shutil.rmtree(tmp, ignore_errors=True)
        model.Session.remove()

        # no request context around the client's requests: flask-login would keep
        # the first request's user in the shared application context
        client = flask_app.test_client()
        import sqlalchemy as sa

        import ckan.lib.jobs as jobs_lib

        print("tiles before the cluster levels are counted (grouped on the fly):")
        with helpers.changed_config("ckanext.servicespublics.map.build_sync_max_points", 0):
            for z in (5, 8):
                tiles = sample_tiles(model.Session, big["id"], z, 10, rng)
                print_tiles("anonymous, public", z, time_tiles(client, big["id"], tiles, {}))
        jobs_lib.get_queue().empty()
        started = time.perf_counter()
        built = layers.build(big["id"])
        print(f"cluster levels (layers.build, 0 to {layers.cluster_max_zoom()}): "
              f"{time.perf_counter() - started:.1f} s for {built['point_count']:,} points",
              flush=True)
        cells = model.Session.execute(sa.text(
            "SELECT count(*) FROM servicespublics_map_cell WHERE layer_id = :l"),
            {"l": built["layer_id"]}).scalar()
        sizes = model.Session.execute(sa.text(
            "SELECT pg_total_relation_size('servicespublics_map_cell'), "
            "pg_total_relation_size('servicespublics_points_point')")).first()
        model.Session.commit()
        print(f"  {cells:,} cells; tables: cells {sizes[0] / 1e6:.0f} MB, "
              f"points {sizes[1] / 1e6:.0f} MB (all resources)", flush=True)
        layers.build(view_resource["id"])

        print(f"tiles ({args.samples} per zoom level, after 20 warm-up requests; "
              f"{load()}):", flush=True)
        time_tiles(client, big["id"], sample_tiles(model.Session, big["id"], 8, 20, rng), {})
        for z in ZOOMS:
            tiles = sample_tiles(model.Session, big["id"], z, args.samples, rng)
            print_tiles("anonymous, public", z, time_tiles(client, big["id"], tiles, {}))
        from ckanext.servicespublics.mapview import tiles as tiles_module

        print("tile SQL only (layers.state + tiles.render: no HTTP, no access check):")
        for z in ZOOMS:
            times = []
            for _z, x, y in sample_tiles(model.Session, big["id"], z, args.samples, rng):
                started = time.perf_counter()
                tiles_module.render(layers.state(big["id"]), z, x, y)
                model.Session.commit()
                times.append((time.perf_counter() - started) * 1000)
            print(f"  z{z:<2}: median {statistics.median(times):6.1f} ms, "
                  f"p95 {percentile(times, 95):6.1f} ms", flush=True)
        with flask_app.test_request_context():
            helpers.call_action("package_patch", dict(ctx), id=big_package["id"], private=True)
        model.Session.remove()
        for z in ZOOMS:
            tiles = sample_tiles(model.Session, big["id"], z, args.samples, rng)
            print_tiles("editor (token), private", z,
                        time_tiles(client, big["id"], tiles, {"Authorization": token}))
        res = client.get(f"/servicespublics/tiles/{big['id']}/5/16/11.pbf")
        assert res.status_code == 403, res.status_code

        times = []
        for text in ("mairie", "france services de", "gendarmerie (12", "college",
                     "valserhone", "commissariat de police", "zzzz", "ecole (3"):
            started = time.perf_counter()
            res = client.get("/api/3/action/servicespublics_map_search",
                             query_string={"resource_id": big["id"], "q": text},
                             headers={"Authorization": token})
            assert res.status_code == 200, res.get_data(as_text=True)
            times.append((time.perf_counter() - started) * 1000)
        print(f"name search over {args.points:,} points: median "
              f"{statistics.median(times):.0f} ms, max {max(times):.0f} ms "
              f"({len(times)} queries)", flush=True)

        with flask_app.test_request_context():
            views = helpers.call_action("resource_view_list", dict(ctx), id=view_resource["id"])
            view = next((v for v in views if v["view_type"] == "servicespublics_map"), None)
            if view is None:
                view = helpers.call_action("resource_view_create", dict(ctx),
                                           resource_id=view_resource["id"],
                                           view_type="servicespublics_map", title="Carte")
        view_url = (f"/dataset/{view_package['name']}/resource/{view_resource['id']}"
                    f"/view/{view['id']}")

        if not args.no_browser:
            with LiveServer(app, port) as server:
                base = f"http://127.0.0.1:{server.port}"
                runs = time_view(base, view_url, args.browser_runs)
                print(f"view of {args.view_points:,} points interactive (headless Chromium, "
                      f"SwiftShader WebGL, navigation start to the first idle map): median "
                      f"{statistics.median(runs):.0f} ms, runs "
                      f"{', '.join(f'{r:.0f}' for r in runs)} ms; {load()}", flush=True)
    finally:
        if not args.keep and created:
            with flask_app.test_request_context():
                from ckanext.servicespublics.points import store

                for package_id in created:
                    try:
                        package = helpers.call_action("package_show", {"ignore_auth": True},
                                                      id=package_id)
                        with model.meta.engine.begin() as conn:
                            raw = conn.connection.cursor()
                            for resource in package["resources"]:
                                store.delete_resource_points(raw, resource["id"])
                                layers_drop(resource["id"])
                        helpers.call_action("dataset_purge", {"ignore_auth": True},
                                            id=package_id)
                    except Exception as e:  # keep cleaning the others
                        print(f"cleanup of {package_id} failed: {e}", file=sys.stderr)
    print(f"done; {load()}")


def layers_drop(resource_id: str) -> None:
    from ckanext.servicespublics.mapview import layers

    layers.drop(resource_id)


if __name__ == "__main__":
    main()
