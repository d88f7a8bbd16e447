"""Benchmark of the PostgreSQL search engine at scale.

    .run/venv/bin/python bench/search.py 100000 [--ini test.ini] [--db NAME]

Builds a catalogue of N datasets in bulk (SQL inserts into CKAN's tables, not
one API call per dataset) with realistic text taken from the real files in
../shared/data (France Services, the DILA directory, the education directory,
data.gouv.fr datasets): titles, descriptions, tags, organisations, groups,
resource formats, spatial extents from the département boundaries, and about
10% private datasets. It then indexes the whole catalogue with CKAN's own
``search.rebuild()`` (what ``ckan search-index rebuild`` runs; the rate is
printed, and CKAN's one-dataset-at-a-time path on a sample for comparison)
and times the queries of issue #3, printing median and p95 latency for each,
with N, the machine and its load. Word queries with facets are answered by
the in-memory index (``search/memindex.py``) when it is on (the default): its
build time and memory are printed, and the same queries answered by SQL alone
for comparison.

It uses a database of its own (default ``servicespublics_bench``, created
beforehand with ``./dev.sh testdb servicespublics_bench`` in the checkout
that runs the services) so that it never touches the test or demo databases.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import sqlalchemy as sa

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
FORMATS = ["CSV", "CSV", "CSV", "JSON", "GeoJSON", "XLSX", "PDF", "ZIP", "SHP"]
LICENSES = ["other-open", "odc-odbl", "cc-by", "other-open", "notspecified"]


def _read_sources(rng: random.Random) -> dict[str, list]:
    """Real words: titles, descriptions and tags from the shared data."""
    titles, notes, tags, communes = [], [], set(), []
    with open(os.path.join(SHARED, "points/france_services/liste-fs-20240801.csv"),
              encoding="utf-8") as f:
        for row in csv.DictReader(f):
            titles.append(row["lib_fs"])
            communes.append(row["lib_com"])
            notes.append(f"{row['lib_fs']}, {row['adresse']} {row['code_postal']} "
                         f"{row['lib_com']}. {row['type_fs']} {row['format_fs']}.")
    folder = os.path.join(SHARED, "points/dila_annuaire_2016/par-departement")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                titles.append(rec.get("nom") or "")
                tags.add(rec.get("type") or "annuaire")
                notes.append(" ".join(filter(None, [
                    rec.get("nom"), rec.get("commentaire"), rec.get("writeAddress")
                    if isinstance(rec.get("writeAddress"), str) else None])))
    with open(os.path.join(SHARED, "points/education/"
                           "ille-et-vilaine_fr-en-annuaire-education.csv"),
              encoding="utf-8-sig") as f:
        for row in csv.DictReader(f, delimiter=";"):
            titles.append(row["Nom_etablissement"])
            tags.add(row["Type_etablissement"])
    with open(os.path.join(SHARED, "api/udata/fixtures_results.json"), encoding="utf-8") as f:
        for ds in json.load(f)["datasets"]:
            titles.append(ds.get("title") or ds.get("name") or "")
            notes.append(ds.get("description") or "")
            tags.update(ds.get("tags") or [])
    deps = []
    boundaries = "territories/france-geojson/departements-version-simplifiee.geojson"
    with open(os.path.join(SHARED, boundaries), encoding="utf-8") as f:
        from shapely.geometry import shape
        for feat in json.load(f)["features"]:
            minx, miny, maxx, maxy = shape(feat["geometry"]).bounds
            deps.append((feat["properties"].get("nom"), (minx, miny, maxx, maxy)))
    titles = [t for t in titles if t]
    rng.shuffle(titles)
    return {"titles": titles, "notes": [n for n in notes if n], "tags": sorted(tags),
            "communes": communes, "departements": deps}


def _bbox_geojson(b):
    minx, miny, maxx, maxy = b
    return json.dumps({"type": "Polygon", "coordinates": [[
        [minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]]})


def build(n: int, rng: random.Random, engine, orgs: dict[str, tuple[str, str]],
          groups: list[str], user_id: str) -> None:
    """Insert N datasets with resources, tags, groups and extras in bulk
    (no indexing: the rebuild that follows indexes them)."""
    from psycopg2.extras import execute_values

    src = _read_sources(rng)
    tag_ids = {t: str(uuid.uuid4()) for t in src["tags"][:400]}
    raw = engine.raw_connection()
    cur = raw.cursor()
    execute_values(cur, "INSERT INTO tag (id, name) VALUES %s ON CONFLICT DO NOTHING",
                   [(i, t[:100]) for t, i in tag_ids.items() if len(t) >= 2])
    tag_list = [t for t in tag_ids if len(t) >= 2]
    org_ids = list(orgs)
    now = dt.datetime.utcnow()
    batch = 5000
    for start in range(0, n, batch):
        pkgs, res, ptags, members = [], [], [], []
        for i in range(start, min(n, start + batch)):
            pid = str(uuid.uuid4())
            title = rng.choice(src["titles"])
            dep_name, bbox = rng.choice(src["departements"])
            title = f"{title} ({dep_name})"
            modified = now - dt.timedelta(days=rng.randint(0, 2000), seconds=i)
            # CKAN 2.12 keeps extras in a JSONB column of package
            extras = json.dumps({"spatial": _bbox_geojson(bbox)})
            pkgs.append((pid, f"jeu-{i:07d}", title[:400], rng.choice(src["notes"])[:4000],
                         rng.choice(org_ids), rng.random() < 0.10, "active", "dataset",
                         rng.choice(LICENSES), modified - dt.timedelta(days=30), modified,
                         user_id, f"https://www.data.gouv.fr/fr/datasets/{pid}/", extras))
            for r in range(rng.randint(1, 3)):
                fmt = rng.choice(FORMATS)
                res.append((str(uuid.uuid4()), pid, f"https://exemple.gouv.fr/{pid}/{r}",
                            fmt, f"{rng.choice(src['communes'])} {fmt}", r, "active",
                            modified, modified, "", "{}"))
            for t in rng.sample(tag_list, rng.randint(1, 4)):
                ptags.append((str(uuid.uuid4()), pid, tag_ids[t], "active"))
            if rng.random() < 0.3:
                for group_id in rng.sample(groups, rng.randint(1, 2)):
                    members.append((str(uuid.uuid4()), pid, group_id, "package",
                                    "public", "active"))
        execute_values(cur, """INSERT INTO package (id, name, title, notes, owner_org,
            private, state, type, license_id, metadata_created, metadata_modified,
            creator_user_id, url, extras) VALUES %s""", pkgs)
        execute_values(cur, """INSERT INTO resource (id, package_id, url, format, name,
            position, state, created, metadata_modified, url_type, extras)
            VALUES %s""", res)
        execute_values(cur, "INSERT INTO package_tag (id, package_id, tag_id, state) "
                       "VALUES %s", ptags)
        if members:
            execute_values(cur, "INSERT INTO member (id, table_id, group_id, table_name, "
                           "capacity, state) VALUES %s", members)
        raw.commit()
        print(f"  inserted {min(n, start + batch)}/{n} datasets", flush=True)
    cur.close()
    raw.close()


def timed(fn, repeat: int) -> list[float]:
    out = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


@contextlib.contextmanager
def _setting(key: str, value):
    import ckan.plugins.toolkit as tk

    saved = tk.config.get(key)
    tk.config[key] = value
    try:
        yield
    finally:
        tk.config[key] = saved


def _rss_mb() -> float:
    """Resident memory of this process, in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.machine()}, {os.cpu_count()} cores, load average {load} "
            f"(1, 5, 15 min), Python {platform.python_version()}")


def _ticks(pid: int, children: bool) -> int:
    """utime + stime of a process (and of its reaped children) in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15 if children else 13])


def _postgres_ticks(postmaster: int) -> int:
    """CPU of the PostgreSQL cluster: the postmaster, its exited backends
    (reaped: counted in its children's times) and the running ones."""
    total = _ticks(postmaster, True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                total += _ticks(int(entry), False)
        except OSError:
            continue
    return total


@contextlib.contextmanager
def cpu_meter(engine):
    """CPU seconds used by this process and its children (the rebuild's
    workers) and by PostgreSQL's processes while the block runs; ``None``
    for PostgreSQL when its processes cannot be read (another machine)."""
    import resource

    out: dict[str, object] = {}
    postmaster = None
    try:
        with engine.connect() as conn:
            backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with open(f"/proc/{backend}/stat") as f:
                postmaster = int(f.read().rsplit(")", 1)[1].split()[1])
        _postgres_ticks(postmaster)
    except (OSError, ValueError) as e:
        print(f"    (PostgreSQL's CPU cannot be read: {e})")
        postmaster = None
    hz = os.sysconf("SC_CLK_TCK")

    def python() -> float:
        return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
                   for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))

    py0 = python()
    pg0 = _postgres_ticks(postmaster) if postmaster else None
    try:
        yield out
    finally:
        out["python"] = python() - py0
        out["postgres"] = ((_postgres_ticks(postmaster) - pg0) / hz
                           if postmaster and pg0 is not None else None)


def report(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[max(0, int(round(0.95 * len(ms))) - 1)]
    print(f"  {label:<44} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms"
          f"   (n={len(ms)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=10000)
    parser.add_argument("--ini", default=os.path.join(ROOT, "test.ini"))
    parser.add_argument("--db", default="servicespublics_bench")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--rebuild-sample", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true",
                        help="keep an existing catalogue of the same size")
    parser.add_argument("--skip-rebuild", action="store_true",
                        help="with --reuse: query the index as it is")
    args = parser.parse_args()

    ini = tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False)
    ini.write(f"""[app:main]
use = config:{args.ini}
sqlalchemy.url = postgresql://servicespublics_test:servicespublics_test@127.0.0.1:55432/{args.db}
ckan.plugins = servicespublics servicespublics_search
ckan.site_id = bench
ckan.redis.url = redis://127.0.0.1:56379/7
ckan.search.rows_max = 10000
""")
    ini.close()

    from ckan.cli import load_config
    from ckan.config.middleware import make_app

    conf = load_config(ini.name)
    app = make_app(conf)
    flask_app = app._wsgi_app if hasattr(app, "_wsgi_app") else app.apps["flask_app"]._wsgi_app
    ctx = flask_app.test_request_context()
    ctx.push()

    import ckan.lib.search as search
    import ckan.model as model
    import ckan.plugins.toolkit as tk
    from ckan.model import meta

    model.repo.init_db()
    subprocess.run([sys.executable, "-c", "from ckan.cli.cli import ckan; ckan()",
                    "-c", ini.name, "db", "upgrade"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rng = random.Random(42)
    existing = model.Session.query(model.Package).count()
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    admin = {"user": site_user["name"], "ignore_auth": True}
    print(f"N = {args.n} datasets; machine: {machine()}")
    built = False
    if not (args.reuse and existing == args.n):
        print(f"Building a catalogue of {args.n} datasets (bulk SQL)...")
        t0 = time.perf_counter()
        model.Session.remove()
        with meta.engine.begin() as conn:
            conn.exec_driver_sql(
                "TRUNCATE package, resource, package_tag, member, "
                "servicespublics_search_document CASCADE")
            conn.exec_driver_sql('DELETE FROM "group"')
        orgs = {}
        for name, title in [
                ("anct", "Agence nationale de la cohésion des territoires"),
                ("dila", "Direction de l'information légale et administrative"),
                ("ministere-interieur", "Ministère de l'Intérieur"),
                ("education-nationale", "Ministère de l'Éducation nationale"),
                ("france-travail", "France Travail"), ("cnaf", "Caisse nationale des "
                                                       "allocations familiales"),
                ("la-poste", "La Poste"), ("justice", "Ministère de la Justice")] + [
                (f"prefecture-{d:02d}", f"Préfecture {d:02d}") for d in range(1, 41)]:
            org_id = tk.get_action("organization_create")(
                dict(admin), {"name": name, "title": title})["id"]
            orgs[org_id] = (name, title)
        groups = [tk.get_action("group_create")(dict(admin), {
            "name": f"theme-{name}", "title": title})["id"] for name, title in [
                ("securite", "Sécurité"), ("sante", "Santé"), ("education", "Éducation"),
                ("emploi", "Emploi"), ("justice", "Justice"), ("territoires", "Territoires"),
                ("social", "Action sociale"), ("transports", "Transports")]]
        model.Session.commit()
        build(args.n, rng, meta.engine, orgs, groups, site_user["id"])
        print(f"  built in {time.perf_counter() - t0:.1f} s")
        built = True
    if built or not args.skip_rebuild:
        workers = tk.config.get("ckanext.servicespublics.search.rebuild_workers") \
            or os.cpu_count()
        print(f"Indexing the whole catalogue with search.rebuild() "
              f"({workers} worker processes)...")
        model.Session.remove()
        with cpu_meter(meta.engine) as cpu:
            t0 = time.perf_counter()
            search.rebuild(quiet=True)
            elapsed = time.perf_counter() - t0
        print(f"  search.rebuild() (ckan search-index rebuild): {args.n} datasets in "
              f"{elapsed:.1f} s = {args.n / elapsed:.0f} datasets/s "
              f"(including the final VACUUM ANALYZE)")
        pg_cpu = cpu["postgres"]
        print(f"    CPU per dataset: Python {cpu['python'] * 1000 / args.n:.2f} ms, "
              + (f"PostgreSQL {pg_cpu * 1000 / args.n:.2f} ms"
                 if pg_cpu is not None else "PostgreSQL not measured")
              + " (compare these on a shared machine)")
        sample = [r[0] for r in model.Session.query(model.Package.id)
                  .limit(args.rebuild_sample)]
        t0 = time.perf_counter()
        search.rebuild(package_ids=sample, quiet=True)  # CKAN's own, one at a time
        elapsed = time.perf_counter() - t0
        print(f"  CKAN's per-dataset path (package_show + one INSERT each) on "
              f"{len(sample)} datasets: {len(sample) / elapsed:.0f} datasets/s")
        model.Session.execute(sa.text("ANALYZE servicespublics_search_document"))
        model.Session.commit()

    # the in-memory index of each web process, built at its first word query
    # with facets (in the background above 20,000 datasets)
    from ckanext.servicespublics.search import memindex

    if tk.config.get("ckanext.servicespublics.search.memory_index"):
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        if not memindex.wait_ready(model.Session):
            print("  in-memory index: not built (SQL answers every query)")
        else:
            print(f"  in-memory index (words and facet values, per web process): "
                  f"built in {time.perf_counter() - t0:.1f} s, "
                  f"+{_rss_mb() - rss0:.0f} MB resident")
        model.Session.rollback()

    # a member of one organisation, for include_private
    member = model.User.get("bench-member")
    if member is None:
        tk.get_action("user_create")({"ignore_auth": True}, {
            "name": "bench-member", "email": "m@example.org", "password": "bench-pass-1234"})
        member = model.User.get("bench-member")
        org = model.Session.query(model.Group).filter_by(name="anct").one()
        tk.get_action("organization_member_create")(
            {"ignore_auth": True, "user": site_user["name"]},
            {"id": org.id, "username": "bench-member", "role": "editor"})
        model.Session.commit()

    def anon(data):
        return tk.get_action("package_search")({"user": "", "auth_user_obj": None}, data)

    def as_member(data):
        return tk.get_action("package_search")(
            {"user": member.name, "auth_user_obj": member}, data)

    words = ["gendarmerie", "mairie", "france services", "école", "lycée", "caf",
             "préfecture", "tribunal", "bretagne", "poste", "hôpital", "collège",
             "accueil", "emploi", "justice", "corse", "nord", "paris", "services",
             "agence"]
    facets = json.dumps(["organization", "tags", "res_format", "license_id", "groups"])
    total = anon({"q": "*:*", "rows": 0})["count"]
    print(f"\nQueries (anonymous unless said; {total} public datasets of {args.n}; "
          f"{args.repeat} runs each):")
    report("word query", timed(lambda i: anon({"q": words[i % len(words)]}), args.repeat))
    report("word query + 5 facet fields", timed(
        lambda i: anon({"q": words[i % len(words)], "facet.field": facets}), args.repeat))
    with _setting("ckanext.servicespublics.search.memory_index", False):
        report("word query + 5 facet fields, SQL (no memory index)", timed(
            lambda i: anon({"q": words[i % len(words)], "facet.field": facets}),
            max(5, args.repeat // 2)))
    report("word + a clicked facet + 5 facet fields", timed(
        lambda i: anon({"q": words[i % len(words)], "facet.field": facets,
                        "fq": f'res_format:"{["CSV", "JSON", "XLSX"][i % 3]}"'}),
        args.repeat))
    report("*:* + a clicked facet + 5 facet fields", timed(
        lambda i: anon({"q": "*:*", "facet.field": facets,
                        "fq": f'organization:"{["anct", "dila", "ministere-interieur"][i % 3]}"'}),
        args.repeat))
    report("fq organization + tag", timed(lambda i: anon(
        {"fq": f"organization:{['anct', 'dila', 'ministere-interieur'][i % 3]} "
               f"tags:{['mairie', 'gendarmerie', 'caf'][i % 3]}"}), args.repeat))
    report("*:* + 5 facet fields", timed(
        lambda i: anon({"q": "*:*", "facet.field": facets}), args.repeat))
    with _setting("ckanext.servicespublics.search.kept_counts", False):
        report("*:* + 5 facet fields, counted (no kept counts)", timed(
            lambda i: anon({"q": "*:*", "facet.field": facets}), max(5, args.repeat // 4)))
    report("deep page (start=5000)", timed(
        lambda i: anon({"q": "*:*", "start": 5000 + i, "rows": 20}), args.repeat))
    report("member query, include_private", timed(lambda i: as_member(
        {"q": words[i % len(words)], "include_private": True}), args.repeat))
    report("ext_bbox (Bretagne)", timed(lambda i: anon(
        {"q": "*:*", "extras": {"ext_bbox": f"{-4.8 + i * 0.01},47.3,-1.0,48.9"}}),
        args.repeat))

    def autocomplete(i):
        return tk.get_action("package_autocomplete")(
            {"user": "", "auth_user_obj": None}, {"q": words[i % len(words)][:4]})
    report("autocomplete (4 letters)", timed(autocomplete, args.repeat))
    pg = model.Session.execute(sa.text(
        "SELECT current_setting('server_version'), current_setting('shared_buffers')"
    )).one()
    print(f"\nN = {args.n} datasets; machine: {machine()}; "
          f"PostgreSQL {pg[0]} on 127.0.0.1 (shared_buffers {pg[1]})")
    ctx.pop()
    os.unlink(ini.name)


if __name__ == "__main__":
    sys.exit(main())
