"""A Solr-protocol connection backed by PostgreSQL.

CKAN 2.12 has no search-backend interface: every path that searches or
indexes (``package_search``, ``PackageSearchQuery`` used directly for group
counts and tag pages, the ``package_show`` cache, ``ckan search-index``,
``search.clear_all``) ends in ``make_connection()`` and talks to the object it
returns as to ``pysolr.Solr``: ``search()``, ``add()``, ``delete()`` and
``commit()``.  This module provides that object on top of the
``servicespublics_search_document`` table, and :func:`install` points CKAN's
``make_connection`` (and the start-up schema check) at it.  CKAN's own code
keeps building the documents, the permission-label filters and the facet
structures, so both backends answer alike.

Index writes go through CKAN's SQLAlchemy session: a dataset and its search
document are committed in the same transaction, so the index never drifts
from the database.  Reads run inside a savepoint so that a failing query
cannot poison the caller's transaction.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from typing import Any, Iterable, Optional

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, ProgrammingError

import ckan.model as model
from ckan.common import config
from ckan.lib.search.common import (
    SearchError,
    SearchIndexError,
    SearchQueryError,
    solr_datetime_decoder,
)

from .fields import (
    ARRAY_COLUMNS,
    BLOB_FIELDS,
    DATE_COLUMNS,
    STRING_COLUMNS,
    TS_CONFIG,
    WEIGHT_A,
    WEIGHT_B,
    WEIGHT_C,
    is_valid_field_name,
)
from .lucene import Compiler

log = logging.getLogger(__name__)

TABLE = "servicespublics_search_document"
#: ts_rank weights for D, C, B, A: a title match outranks a description match
RANK_WEIGHTS = "{0.05, 0.1, 0.4, 1.0}"
#: a tsvector holds at most 1 MB: cap each weighted text
MAX_TEXT = 200_000
#: fields that are identifiers or technical values, kept out of the text
_NOT_TEXT = {
    "id", "index_id", "site_id", "entity_type", "dataset_type", "type", "state",
    "capacity", "owner_org", "permission_labels", "metadata_created",
    "metadata_modified", "indexed_ts", "license_id", "private", "creator_user_id",
    "num_resources", "num_tags", "title_string", "res_url", "url", "urls",
    "res_type", "res_format", "spatial", "version", "data_dict",
    "validated_data_dict", "ckan_url", "download_url", "plugin_data",
}
_COLUMNS = (
    "index_id", "id", "site_id", "name", "entity_type", "dataset_type", "state",
    "capacity", "organization", "owner_org", "license_id", "title_string", "tags",
    "groups", "res_format", "permission_labels", "metadata_created",
    "metadata_modified", "indexed_ts", "doc", "data_dict", "validated_data_dict",
    "tsv", "extent",
)


class Results:
    """What ``pysolr.Solr.search`` returns, as far as CKAN reads it."""

    def __init__(self, docs: list[dict[str, Any]], hits: int,
                 facet_fields: dict[str, list[Any]], qtime: int = 0):
        self.docs = docs
        self.hits = hits
        self.facets = {"facet_fields": facet_fields}
        self.qtime = qtime
        self.debug: dict[str, Any] = {}
        self.highlighting: dict[str, Any] = {}
        self.grouped: dict[str, Any] = {}
        self.spellcheck: dict[str, Any] = {}
        self.stats: dict[str, Any] = {}
        self.nextCursorMark = None
        self.raw_response = {
            "responseHeader": {"status": 0, "QTime": qtime},
            "response": {"numFound": hits, "start": 0, "docs": docs},
            "facet_counts": self.facets,
        }

    def __len__(self) -> int:
        return len(self.docs)

    def __iter__(self):
        return iter(self.docs)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


def _texts(value: Any) -> list[str]:
    out = []
    for item in _as_list(value):
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            continue
        elif isinstance(item, (list, tuple)):
            out.extend(_texts(item))
    return out


def _parse_dt(value: Any) -> Optional[dt.datetime]:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _solr_date(value: Any) -> Any:
    """Dates as Solr returns them: UTC, millisecond precision, ``Z``."""
    parsed = _parse_dt(value)
    if parsed is None:
        return value
    parsed = parsed.astimezone(dt.timezone.utc)
    text = parsed.strftime("%Y-%m-%dT%H:%M:%S")
    millis = parsed.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def _extent_wkt(spatial: Any) -> Optional[str]:
    """The dataset's ``spatial`` GeoJSON (ckanext-spatial) as WKT, if valid."""
    if not spatial:
        return None
    try:
        from shapely.geometry import shape
        from shapely.validation import make_valid

        geojson = json.loads(spatial) if isinstance(spatial, str) else spatial
        geom = shape(geojson)
        if geom.is_empty:
            return None
        if not geom.is_valid:
            geom = make_valid(geom)
        minx, miny, maxx, maxy = geom.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            return None
        return geom.wkt
    except Exception:  # invalid GeoJSON must not block indexing
        log.warning("Ignoring invalid spatial extent: %.200r", spatial)
        return None


def _spatial(doc: dict[str, Any], dataset: Any) -> Any:
    """The dataset's ``spatial`` GeoJSON. ckanext-spatial's ``spatial_query``
    takes it out of the document it indexes (into Solr's bbox fields): then it
    is read from the dataset itself, as CKAN dictized it (``data_dict``)."""
    found = doc.get("spatial") or doc.get("extras_spatial")
    if found or not isinstance(dataset, dict):
        return found
    if dataset.get("spatial"):
        return dataset["spatial"]
    for extra in dataset.get("extras") or []:
        if isinstance(extra, dict) and extra.get("key") == "spatial":
            return extra.get("value")
    return None


def _dedupe(values: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        if v is None or v == "":
            continue
        seen.setdefault(str(v), None)
    return list(seen)


def document_row(doc: dict[str, Any]) -> dict[str, Any]:
    """Turn the Solr document CKAN built into a row of the search table."""
    doc = dict(doc)
    blobs = {k: doc.pop(k, None) for k in BLOB_FIELDS}
    for key, value in list(doc.items()):
        if (key in DATE_COLUMNS or key.endswith("_date")) and isinstance(value, str):
            doc[key] = _solr_date(value)
    site_id = doc.get("site_id") or config.get("ckan.site_id")
    index_id = doc.get("index_id") or hashlib.md5(
        f"{doc.get('id')}{site_id}".encode()).hexdigest()
    organization_title = ""
    dataset: dict[str, Any] = {}
    if blobs["data_dict"]:
        try:
            dataset = json.loads(blobs["data_dict"])
            org = dataset.get("organization") or {}
            organization_title = org.get("title") or ""
        except (ValueError, AttributeError):
            dataset = {}

    weighted: dict[str, list[str]] = {"A": [], "B": [], "C": [], "D": []}
    for key in WEIGHT_A:
        weighted["A"].extend(_texts(doc.get(key)))
    if doc.get("name"):
        weighted["A"].append(str(doc["name"]).replace("-", " ").replace("_", " "))
    for key in WEIGHT_B:
        weighted["B"].extend(_texts(doc.get(key)))
    weighted["B"].append(organization_title)
    for key in WEIGHT_C:
        weighted["C"].extend(_texts(doc.get(key)))
    taken = set(WEIGHT_A) | set(WEIGHT_B) | set(WEIGHT_C)
    for key, value in doc.items():
        if key in taken or key in _NOT_TEXT:
            continue
        if key.startswith("vocab_"):
            weighted["B"].extend(_texts(value))
        elif key.startswith("res_extras_") or key.endswith("_date") or key.endswith("_id"):
            continue
        else:
            weighted["C"].extend(_texts(value))
    for key in ("res_url", "url"):
        weighted["D"].extend(_texts(doc.get(key)))

    row = {
        "index_id": index_id,
        "id": doc.get("id") or "",
        "site_id": site_id or "",
        "name": doc.get("name") or "",
        "entity_type": doc.get("entity_type") or "package",
        "dataset_type": doc.get("dataset_type") or doc.get("type") or "",
        "state": doc.get("state") or "",
        "capacity": doc.get("capacity") or "",
        "organization": doc.get("organization") or "",
        "owner_org": doc.get("owner_org") or "",
        "license_id": doc.get("license_id") or "",
        "title_string": doc.get("title_string") or "",
        "tags": _dedupe(_as_list(doc.get("tags"))),
        "groups": _dedupe(_as_list(doc.get("groups"))),
        "res_format": _dedupe(_as_list(doc.get("res_format"))),
        "permission_labels": _dedupe(_as_list(doc.get("permission_labels"))),
        "metadata_created": _parse_dt(doc.get("metadata_created")),
        "metadata_modified": _parse_dt(doc.get("metadata_modified")),
        "indexed_ts": dt.datetime.now(dt.timezone.utc),
        "doc": json.dumps(doc, default=str),
        "data_dict": blobs["data_dict"],
        "validated_data_dict": blobs["validated_data_dict"],
        "extent": _extent_wkt(_spatial(doc, dataset)),
    }
    for weight, texts in weighted.items():
        row[f"text_{weight}"] = " \n ".join(t for t in texts if t)[:MAX_TEXT]
    return row


_UPSERT = sa.text(f"""
INSERT INTO {TABLE} ({", ".join(_COLUMNS)})
VALUES (:index_id, :id, :site_id, :name, :entity_type, :dataset_type, :state,
        :capacity, :organization, :owner_org, :license_id, :title_string,
        CAST(:tags AS text[]), CAST(:groups AS text[]), CAST(:res_format AS text[]),
        CAST(:permission_labels AS text[]), :metadata_created, :metadata_modified,
        :indexed_ts, CAST(:doc AS jsonb), :data_dict, :validated_data_dict,
        setweight(to_tsvector('{TS_CONFIG}', :text_A), 'A')
        || setweight(to_tsvector('{TS_CONFIG}', :text_B), 'B')
        || setweight(to_tsvector('{TS_CONFIG}', :text_C), 'C')
        || setweight(to_tsvector('{TS_CONFIG}', :text_D), 'D'),
        ST_GeomFromText(:extent, 4326))
ON CONFLICT (index_id) DO UPDATE SET
{", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c != "index_id")}
""")


class PostgresSolrConnection:
    """The subset of ``pysolr.Solr`` that CKAN uses, on PostgreSQL."""

    url = "postgresql:servicespublics_search"

    def __init__(self, decode_dates: bool = True):
        self.decode_dates = decode_dates

    # -- writing ----------------------------------------------------------
    def add(self, docs: list[dict[str, Any]], commit: Any = None, **kwargs: Any) -> None:
        rows = [document_row(doc) for doc in docs]
        try:
            model.Session.execute(_UPSERT, rows)
        except DBAPIError as e:
            raise SearchIndexError(f"PostgreSQL search index error: {e.orig}") from e

    def delete(self, id: Any = None, q: Optional[str] = None,
               commit: Any = None, **kwargs: Any) -> None:
        if id is not None:
            ids = _as_list(id)
            model.Session.execute(
                sa.text(f"DELETE FROM {TABLE} WHERE index_id = ANY(:ids)"), {"ids": ids})
            return
        if q is None:
            raise SearchError("delete needs an id or a query")
        compiler = Compiler(self._analyze)
        where = compiler.lucene(q, "q") or "TRUE"
        try:
            model.Session.execute(
                sa.text(f"DELETE FROM {TABLE} d WHERE {where}"), compiler.params)
        except DBAPIError as e:
            raise SearchIndexError(f"PostgreSQL search index error: {e.orig}") from e

    def commit(self, **kwargs: Any) -> None:
        model.Session.commit()

    def optimize(self, **kwargs: Any) -> None:
        model.Session.execute(sa.text(f"ANALYZE {TABLE}"))

    # -- reading ----------------------------------------------------------
    def _read(self, sql: str, params: dict[str, Any]) -> list[Any]:
        try:
            with model.Session.begin_nested():
                return list(model.Session.execute(sa.text(sql), params).fetchall())
        except ProgrammingError as e:
            if "does not exist" in str(e.orig) and TABLE in str(e.orig):
                raise SearchError(
                    f"The search table {TABLE} is missing: run `ckan db upgrade`"
                ) from e
            raise SearchError(f"PostgreSQL search error: {e.orig}") from e
        except DBAPIError as e:
            raise SearchError(f"PostgreSQL search error: {e.orig}") from e

    def _analyze(self, terms: list[tuple[str, str]]) -> list[str]:
        functions = {"plain": "plainto_tsquery", "phrase": "phraseto_tsquery",
                     "prefix": "to_tsquery"}
        selects, params = [], {}
        for i, (kind, text) in enumerate(terms):
            if kind == "prefix":
                params[f"t{i}"] = text + ":*"
            else:
                params[f"t{i}"] = text
            selects.append(f"{functions[kind]}('{TS_CONFIG}', :t{i})::text")
        row = self._read("SELECT " + ", ".join(selects), params)[0]
        return [value or "" for value in row]

    def search(self, q: Optional[str] = None, **kwargs: Any) -> Results:
        started = time.monotonic()
        params = dict(kwargs)
        if q is None:
            q = params.pop("q", None)
        q = (q or "").strip() or "*:*"
        compiler = Compiler(self._analyze, params.get("q.op") or "AND",
                            params.get("df") or "text")
        where: list[str] = []

        def_type = params.get("defType") or "lucene"
        if q not in ("*:*", "*"):
            if def_type == "dismax" and not _looks_like_lucene(q):
                sql = compiler.dismax(q, params.get("qf"), params.get("mm"))
            else:
                sql = compiler.lucene(q, "q", ranking=True)
            if sql:
                where.append(sql)
        for fq in _as_list(params.get("fq")) + _as_list(params.get("fq_list")):
            if isinstance(fq, str) and fq.strip():
                sql = compiler.lucene(fq, "fq")
                if sql:
                    where.append(sql)
        where_sql = " AND ".join(f"({w})" for w in where) if where else "TRUE"
        sql_params = compiler.params

        if compiler.rank_queries:
            sql_params["rank_q"] = " | ".join(f"({r})" for r in compiler.rank_queries)
            rank = (f"ts_rank('{RANK_WEIGHTS}', d.tsv, CAST(:rank_q AS tsquery))")
        else:
            rank = "1.0"
        order_by = self._order_by(params.get("sort"), rank, sql_params)

        try:
            rows = max(0, int(params.get("rows", 10)))
            start = max(0, int(params.get("start", 0)))
        except (TypeError, ValueError):
            raise SearchQueryError("'rows' and 'start' must be integers") from None
        fl = _parse_fl(params.get("fl"))
        select_cols, wants_score = self._select(fl)
        docs: list[dict[str, Any]] = []
        if rows:
            result = self._read(
                f"SELECT {select_cols}, {rank} AS score FROM {TABLE} d "
                f"WHERE {where_sql} ORDER BY {order_by} LIMIT {rows} OFFSET {start}",
                sql_params,
            )
            docs = [self._doc(r, fl, wants_score) for r in result]
            if self.decode_dates:  # as pysolr does by default
                docs = [solr_datetime_decoder(d) for d in docs]
        # the count comes for free when the page is not full
        hits: Optional[int] = None
        if rows and (len(docs) < rows) and (docs or start == 0):
            hits = start + len(docs)

        facet_names: list[str] = []
        if str(params.get("facet", "true")).lower() != "false":
            facet_names = [str(n) for n in _as_list(params.get("facet.field"))]
        limit = int(params.get("facet.limit") or 50)
        mincount = max(1, int(params.get("facet.mincount") or 1))
        facet_fields: dict[str, list[Any]] = {name: [] for name in facet_names}
        if facet_names or hits is None:
            counted, facet_fields = self._count_and_facets(
                where_sql, sql_params, facet_names, limit, mincount)
            hits = counted if hits is None else hits
        qtime = int((time.monotonic() - started) * 1000)
        return Results(docs, int(hits), facet_fields, qtime)

    def _order_by(self, sort: Optional[str], rank: str, params: dict[str, Any]) -> str:
        items = [s.strip() for s in (sort or "score desc").split(",") if s.strip()]
        clauses = []
        for i, item in enumerate(items or ["score desc"]):
            parts = item.split()
            if len(parts) != 2 or parts[1].lower() not in ("asc", "desc") \
                    or not is_valid_field_name(parts[0]):
                raise SearchQueryError('Invalid "sort" parameter')
            name, direction = parts[0], parts[1].upper()
            if name == "score":
                if rank != "1.0":  # without text, every score is equal
                    clauses.append(f"{rank} {direction}")
            elif name in DATE_COLUMNS:
                clauses.append(f"d.{DATE_COLUMNS[name]} {direction} NULLS LAST")
            elif name in STRING_COLUMNS:
                col = STRING_COLUMNS[name]
                clauses.append(f"NULLIF(d.{col}, '') COLLATE \"C\" {direction} NULLS LAST")
            else:
                params[f"sort{i}"] = name
                value = f"(d.doc ->> :sort{i})"
                clauses.append(
                    f"servicespublics_search_num({value}) {direction} NULLS LAST, "
                    f"{value} COLLATE \"C\" {direction} NULLS LAST")
        clauses.append("d.index_id")
        return ", ".join(clauses)

    @staticmethod
    def _select(fl: list[str]) -> tuple[str, bool]:
        wants_score = "score" in fl or "*" in fl
        cols = {"d.id", "d.name"}
        fields = set(fl) - {"score"}
        if "*" in fields or fields - set(STRING_COLUMNS) - set(BLOB_FIELDS):
            cols.add("d.doc")
        for blob in BLOB_FIELDS:
            if blob in fields or "*" in fields:
                cols.add(f"d.{blob}")
        for name in fields & set(STRING_COLUMNS):
            cols.add(f"d.{STRING_COLUMNS[name]} AS {name}")
        return ", ".join(sorted(cols)), wants_score

    @staticmethod
    def _doc(row: Any, fl: list[str], wants_score: bool) -> dict[str, Any]:
        data = row._mapping
        full: dict[str, Any] = {}
        if "doc" in data and data["doc"] is not None:
            full.update(data["doc"])
        for key, value in data.items():
            if key not in ("doc", "score") and value is not None:
                full[key] = value
        if "*" in fl:
            out = dict(full)
        else:
            out = {k: full[k] for k in fl if k in full}
        if wants_score:
            out["score"] = float(data["score"])
        return out

    def _count_and_facets(self, where_sql: str, params: dict[str, Any],
                          names: list[str], limit: int, mincount: int,
                          ) -> tuple[int, dict[str, list[Any]]]:
        """The number of matches and every facet in one statement.

        The matching rows are selected once (a materialised CTE with only the
        columns the facets need); each facet is a grouped count over them.
        """
        params = dict(params)
        columns = {"d.index_id"}
        branches = ["(SELECT 0 AS f, NULL::text AS v, count(*) AS c FROM m)"]
        limit_sql = f"LIMIT {int(limit)}" if limit >= 0 else ""
        for i, name in enumerate(names, start=1):
            if not is_valid_field_name(name):
                raise SearchQueryError(f"Invalid facet field: {name!r}")
            if name in ARRAY_COLUMNS:
                col = ARRAY_COLUMNS[name]
                columns.add(f"d.{col}")
                source = f"CROSS JOIN LATERAL unnest(m.{col}) AS x(v)"
            elif name in STRING_COLUMNS:
                col = STRING_COLUMNS[name]
                columns.add(f"d.{col}")
                source = f"CROSS JOIN LATERAL (SELECT m.{col}) AS x(v)"
            else:
                columns.add("d.doc")
                params[f"facet{i}"] = name
                source = ("CROSS JOIN LATERAL (SELECT DISTINCT y FROM "
                          f"servicespublics_search_values(m.doc -> :facet{i}) y) AS x(v)")
            branches.append(
                f"(SELECT {i}, x.v, count(*) FROM m {source} "
                f"WHERE x.v IS NOT NULL AND x.v <> '' GROUP BY x.v "
                f"HAVING count(*) >= {int(mincount)} "
                f"ORDER BY 3 DESC, x.v COLLATE \"C\" {limit_sql})")
        sql = (f"WITH m AS MATERIALIZED (SELECT {', '.join(sorted(columns))} "
               f"FROM {TABLE} d WHERE {where_sql}) "
               + " UNION ALL ".join(branches))
        total = 0
        facets: dict[str, list[Any]] = {name: [] for name in names}
        for f, value, count in self._read(sql, params):
            if f == 0:
                total = int(count)
            else:
                facets[names[f - 1]].extend([value, int(count)])
        return total, facets


def _looks_like_lucene(q: str) -> bool:
    """Dismax queries with boolean operators or groups are read as Lucene."""
    return any(t in q.split() for t in ("AND", "OR", "NOT", "&&", "||")) or "(" in q


def _parse_fl(fl: Any) -> list[str]:
    if not fl:
        return ["*"]  # Solr's default: every stored field
    if isinstance(fl, (list, tuple)):
        fl = " ".join(fl)
    return [f for f in str(fl).replace(",", " ").split() if f]


# -- installation into CKAN's search module ----------------------------------
_ORIGINALS: dict[str, Any] = {}


def active() -> bool:
    """True while the plugin is loaded and configured for PostgreSQL.

    The replacements below stay in CKAN's search module once installed and
    check this at every call, so unloading the plugin (as CKAN's test
    fixtures do between tests) gives CKAN its Solr connection back at once.
    """
    import ckan.plugins as p

    return (p.plugin_loaded("servicespublics_search")
            and config.get("ckanext.servicespublics.search.backend") == "postgres")


class RoutedConnection:
    """What ``make_connection()`` returns once the backend is installed.

    Code may keep a connection for a long time (CKAN's own tests create one
    in ``setup_class``), so the choice between PostgreSQL and Solr is made
    at every call rather than when the connection is created.
    """

    def __init__(self, decode_dates: bool = True):
        self._decode_dates = decode_dates

    def _target(self) -> Any:
        if active():
            return PostgresSolrConnection(self._decode_dates)
        return _ORIGINALS["ckan.lib.search.common.make_connection"](self._decode_dates)

    @property
    def url(self) -> str:
        return self._target().url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


def make_connection(decode_dates: bool = True) -> Any:
    return RoutedConnection(decode_dates)


def is_available() -> bool:
    if not active():
        return _ORIGINALS["ckan.lib.search.common.is_available"]()
    try:
        PostgresSolrConnection()._read(f"SELECT 1 FROM {TABLE} LIMIT 1", {})
    except SearchError as e:
        log.warning("PostgreSQL search is not available: %s", e)
        return False
    return True


def check_schema_version(schema_file: Optional[str] = None) -> bool:
    """Start-up check, in place of CKAN's Solr schema version check.

    It runs before CKAN binds its engine, so it opens a short-lived one; a
    missing database or table is only a warning (``ckan db init`` must run).
    """
    if not active():
        return _ORIGINALS["ckan.lib.search.check_solr_schema_version"](schema_file)
    url = config.get("sqlalchemy.url")
    if not url:
        return False
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar()
    except Exception as e:  # no database yet
        log.warning("Could not check the PostgreSQL search table: %s", e)
        return False
    finally:
        engine.dispose()
    if not exists:
        log.warning("The search table %s does not exist yet: run `ckan db upgrade`", TABLE)
        return False
    return True


_TARGETS = (
    ("ckan.lib.search.common", "make_connection", make_connection),
    ("ckan.lib.search.index", "make_connection", make_connection),
    ("ckan.lib.search.query", "make_connection", make_connection),
    ("ckan.lib.search", "make_connection", make_connection),
    ("ckan.lib.search.common", "is_available", is_available),
    ("ckan.lib.search", "is_available", is_available),
    ("ckan.lib.search", "check_solr_schema_version", check_schema_version),
)


def install() -> None:
    """Route CKAN's search module through this backend (idempotent)."""
    import importlib

    for module_name, attr, replacement in _TARGETS:
        module = importlib.import_module(module_name)
        current = getattr(module, attr)
        if current is not replacement:
            _ORIGINALS.setdefault(f"{module_name}.{attr}", current)
            setattr(module, attr, replacement)
