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

import contextlib
import contextvars
import datetime as dt
import functools
import hashlib
import json
import logging
import re
import time
from typing import Any, Iterable, Iterator, Optional

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
    BUCKET_COLUMNS,
    COUNTS_TABLE,
    DATE_COLUMNS,
    STRING_COLUMNS,
    TABLE,
    TS_CONFIG,
    WEIGHT_A,
    WEIGHT_B,
    WEIGHT_C,
    is_valid_field_name,
)
from . import memindex
from .lucene import MUST, Compiler, conjuncts, min_should_match, qf_fields

log = logging.getLogger(__name__)

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
    if isinstance(spatial, str) and len(spatial) <= 20_000:
        return _extent_wkt_of_text(spatial)
    return _extent_wkt_of(spatial)


@functools.lru_cache(maxsize=512)
def _extent_wkt_of_text(spatial: str) -> Optional[str]:
    # many datasets share an extent (a commune, a département): parse once
    return _extent_wkt_of(spatial)


def _extent_wkt_of(spatial: Any) -> Optional[str]:
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


#: the same row for many documents at once (psycopg2's execute_values)
_BULK_UPSERT = f"""
INSERT INTO {TABLE} ({", ".join(_COLUMNS)}) VALUES %s
ON CONFLICT (index_id) DO UPDATE SET
{", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c != "index_id")}
"""
_BULK_TEMPLATE = f"""(%(index_id)s, %(id)s, %(site_id)s, %(name)s, %(entity_type)s,
 %(dataset_type)s, %(state)s, %(capacity)s, %(organization)s, %(owner_org)s,
 %(license_id)s, %(title_string)s, %(tags)s::text[], %(groups)s::text[],
 %(res_format)s::text[], %(permission_labels)s::text[], %(metadata_created)s,
 %(metadata_modified)s, %(indexed_ts)s, %(doc)s::jsonb, %(data_dict)s,
 %(validated_data_dict)s,
 setweight(to_tsvector('{TS_CONFIG}', %(text_A)s), 'A')
 || setweight(to_tsvector('{TS_CONFIG}', %(text_B)s), 'B')
 || setweight(to_tsvector('{TS_CONFIG}', %(text_C)s), 'C')
 || setweight(to_tsvector('{TS_CONFIG}', %(text_D)s), 'D'),
 ST_GeomFromText(%(extent)s, 4326))"""

#: rows of the documents added while :func:`collect_documents` is active
_collected: contextvars.ContextVar[Optional[list[dict[str, Any]]]] = \
    contextvars.ContextVar("servicespublics_search_collected", default=None)


@contextlib.contextmanager
def collect_documents() -> Iterator[list[dict[str, Any]]]:
    """Keep the documents CKAN adds in a list instead of writing each one,
    for :func:`write_rows` to write them together (bulk rebuild)."""
    rows: list[dict[str, Any]] = []
    token = _collected.set(rows)
    try:
        yield rows
    finally:
        _collected.reset(token)


def write_rows(rows: list[dict[str, Any]], table: Optional[str] = None) -> None:
    """Write many document rows with one statement, in the session's
    transaction (the last row wins when a document comes twice).

    ``table``: a fresh table that a full rebuild fills (plain INSERTs, it
    has no index yet) instead of upserting into the search table.
    """
    if not rows:
        return
    import psycopg2
    from psycopg2.extras import execute_values

    unique = list({row["index_id"]: row for row in rows}.values())
    sql = _BULK_UPSERT if table is None else \
        f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES %s"
    raw = model.Session.connection().connection.dbapi_connection
    try:
        with raw.cursor() as cur:
            execute_values(cur, sql, unique, template=_BULK_TEMPLATE,
                           page_size=len(unique))
    except psycopg2.Error as e:
        raise SearchIndexError(f"PostgreSQL search index error: {e}") from e


class PostgresSolrConnection:
    """The subset of ``pysolr.Solr`` that CKAN uses, on PostgreSQL."""

    url = "postgresql:servicespublics_search"

    def __init__(self, decode_dates: bool = True):
        self.decode_dates = decode_dates

    # -- writing ----------------------------------------------------------
    def add(self, docs: list[dict[str, Any]], commit: Any = None, **kwargs: Any) -> None:
        rows = [document_row(doc) for doc in docs]
        collected = _collected.get()
        if collected is not None:
            collected.extend(rows)
            return
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
    def _read(self, sql: str, params: dict[str, Any], tuned: bool = False) -> list[Any]:
        """Run a read in a savepoint that is always rolled back.

        Rolling back keeps a failing query from poisoning the caller's
        transaction, and undoes the ``SET LOCAL`` of ``tuned`` reads: no JIT
        (compiling costs more than these queries take) and enough memory to
        keep the matched rows and facet counts out of temporary files.
        """
        if tuned:
            # in the same round trip, before the query is planned
            sql = f"{_TUNE}; {sql}"
            params = dict(params, _work_mem=config.get(
                "ckanext.servicespublics.search.work_mem"))
        nested = model.Session.begin_nested()
        try:
            return list(model.Session.execute(sa.text(sql), params).fetchall())
        except ProgrammingError as e:
            if "does not exist" in str(e.orig) and TABLE in str(e.orig):
                raise SearchError(
                    f"The search table {TABLE} is missing: run `ckan db upgrade`"
                ) from e
            raise SearchError(f"PostgreSQL search error: {e.orig}") from e
        except DBAPIError as e:
            raise SearchError(f"PostgreSQL search error: {e.orig}") from e
        finally:
            if nested.is_active:
                nested.rollback()

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
        """Solr's ``select``: the page of documents, the number of matches and
        the facet counts.

        When the page is ordered by relevance, one statement selects the
        matching rows once, ranks each of them once and takes the page, the
        count and the facets from them; the documents of the page are read
        afterwards, by key. Otherwise the page is a plain ``ORDER BY ...
        LIMIT`` that PostgreSQL can walk along an index (the score, if asked
        for, is computed for the rows of the page only), and the count and
        facets are one statement over the matching rows.
        """
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
        fq_where: list[str] = []
        fq_raw: list[str] = []
        for fq in _as_list(params.get("fq")) + _as_list(params.get("fq_list")):
            if isinstance(fq, str) and fq.strip():
                fq_raw.append(fq)
                sql = compiler.lucene(fq, "fq")
                if sql:
                    fq_where.append(sql)
        where.extend(fq_where)
        where_sql = " AND ".join(f"({w})" for w in where) if where else "TRUE"
        sql_params = compiler.params

        if compiler.rank_queries:
            sql_params["rank_q"] = " | ".join(f"({r})" for r in compiler.rank_queries)
            rank = (f"ts_rank('{RANK_WEIGHTS}', d.tsv, CAST(:rank_q AS tsquery))")
        else:
            rank = "1.0"
        order = self._order_items(params.get("sort"), rank, sql_params)

        try:
            rows = max(0, int(params.get("rows", 10)))
            start = max(0, int(params.get("start", 0)))
        except (TypeError, ValueError):
            raise SearchQueryError("'rows' and 'start' must be integers") from None
        fl = _parse_fl(params.get("fl"))
        select_cols, wants_score = self._select(fl)

        facet_names: list[str] = []
        if str(params.get("facet", "true")).lower() != "false":
            facet_names = [str(n) for n in _as_list(params.get("facet.field"))]
        limit = int(params.get("facet.limit") or 50)
        mincount = max(1, int(params.get("facet.mincount") or 1))
        facets = _Facets(facet_names, limit, mincount, sql_params)

        hits: Optional[int] = None
        facet_fields: dict[str, list[Any]] = {name: [] for name in facet_names}
        docs: list[dict[str, Any]] = []
        from_memory = None
        # ``*:*`` goes to memory only with a clicked facet: a filter on
        # other columns than the buckets' (CKAN's own filters on visibility,
        # type and site are answered by the kept counts)
        if rows and memindex.enabled() and (compiler.rank_queries or (
                q in ("*:*", "*") and fq_raw
                and not set(_COLUMN_RE.findall(where_sql)) <= set(BUCKET_COLUMNS))):
            from_memory = self._from_memory(
                q, def_type, params, compiler, fq_raw, fq_where, order, rows, start,
                select_cols, fl, wants_score, facets)
        if from_memory is not None:
            docs, hits, facet_fields = from_memory
        elif rows and any(expr == _SCORE for expr, _ in order):
            docs, hits, facet_fields = self._ranked(
                where_sql, sql_params, rank, order, rows, start, select_cols, fl,
                wants_score, facets)
        else:
            # without facets, one row more than the page tells whether the
            # page holds every match: then the count needs no statement
            # (package_show's cache looks a dataset up by name or id)
            extra = 0 if facet_names else 1
            if rows:
                # the score only for the rows of the page
                score = rank if wants_score else "1.0"
                order_sql = ", ".join(
                    f"{rank if expr == _SCORE else expr} {direction}"
                    for expr, direction in order)
                result = self._read(
                    f"SELECT {select_cols}, {score} AS score FROM {TABLE} d "
                    f"WHERE d.index_id IN (SELECT d.index_id FROM {TABLE} d "
                    f"WHERE {where_sql} ORDER BY {order_sql} "
                    f"LIMIT {rows + extra} OFFSET {start}) "
                    f"ORDER BY {order_sql}", sql_params, tuned=True)
                found = len(result)
                docs = [self._doc(r, fl, wants_score) for r in result[:rows]]
                # the count comes for free when the page is not full
                if found < rows + extra and (found or start == 0):
                    hits = start + found
            if facet_names or hits is None:
                counted = self._precounted(where_sql, facets)
                if counted is None:
                    counted = self._count_and_facets(where_sql, facets)
                hits, facet_fields = counted
        if self.decode_dates:  # as pysolr does by default
            docs = [solr_datetime_decoder(d) for d in docs]
        qtime = int((time.monotonic() - started) * 1000)
        return Results(docs, int(hits or 0), facet_fields, qtime)

    def _ranked(self, where_sql: str, params: dict[str, Any], rank: str,
                order: list[tuple[str, str]], rows: int, start: int, select_cols: str,
                fl: list[str], wants_score: bool, facets: "_Facets",
                ) -> tuple[list[dict[str, Any]], int, dict[str, list[Any]]]:
        """A page ordered by relevance, with the count and the facets.

        The matching rows are ranked once, in a materialised CTE that also
        keeps the sort keys and the facet columns; the page, the count and
        each facet are taken from it in the same statement.
        """
        keys: list[str] = []
        on_m: list[str] = []
        for expr, direction in order:
            if expr == _SCORE:
                on_m.append(f"score {direction}")
            elif expr == "d.index_id":
                on_m.append(f"index_id {direction}")
            else:
                keys.append(f"{expr} AS o{len(keys)}")
                on_m.append(f"o{len(keys) - 1} {direction}")
        columns = (["d.index_id", f"{rank} AS score"] + keys
                   + sorted(facets.columns - {"d.index_id"}))
        on_m_sql = ", ".join(on_m)
        branches = [
            f"(SELECT 0 AS f, p.index_id AS v, row_number() OVER (ORDER BY {on_m_sql}) AS c, "
            f"p.score AS s FROM p)",
            "(SELECT -1, NULL, count(*), NULL FROM m)",
        ] + [f"(SELECT {f}, v, c, NULL FROM ({branch}) b{f})"
             for f, branch in facets.branches()]
        sql = (f"WITH m AS MATERIALIZED (SELECT {', '.join(columns)} FROM {TABLE} d "
               f"WHERE {where_sql}), "
               f"p AS MATERIALIZED (SELECT * FROM m ORDER BY {on_m_sql} "
               f"LIMIT {rows} OFFSET {start}) " + " UNION ALL ".join(branches))
        page: list[tuple[int, str, float]] = []
        hits = 0
        counts: list[tuple[int, Any, int]] = []
        for f, value, count, score in self._read(sql, facets.params, tuned=True):
            if f == 0:
                page.append((int(count), value, score))
            elif f == -1:
                hits = int(count)
            else:
                counts.append((f, value, count))
        docs: list[dict[str, Any]] = []
        if page:
            result = self._read(
                f"SELECT {select_cols}, d.index_id AS _index_id FROM {TABLE} d "
                "WHERE d.index_id = ANY(:ids)", {"ids": [v for _, v, _ in page]})
            by_id = {r._mapping["_index_id"]: r for r in result}
            for _, index_id, score in sorted(page):
                row = by_id.get(index_id)
                if row is not None:
                    doc = self._doc(row, fl, False)
                    if wants_score:
                        doc["score"] = float(score)
                    docs.append(doc)
        return docs, hits, facets.collect(counts)

    def _from_memory(self, q: str, def_type: str, params: dict[str, Any],
                     compiler: Compiler, fq_raw: list[str], fq_where: list[str],
                     order: list[tuple[str, str]], rows: int, start: int,
                     select_cols: str, fl: list[str], wants_score: bool,
                     facets: "_Facets",
                     ) -> Optional[tuple[list[dict[str, Any]], int, dict[str, list[Any]]]]:
        """The answer of the in-memory index (see :mod:`.memindex`), or None
        when the query is not one it answers or it cannot answer now."""
        plan = _memory_plan(q, def_type, params, compiler, fq_raw, order, facets)
        if plan is None:
            return None
        lexemes, required, bucket_sql, filters, then = plan
        sql_params = compiler.params
        # the page is read with every filter, as SQL would apply them
        fq_sql = " AND ".join(f"({w})" for w in fq_where)
        nested = model.Session.begin_nested()
        try:
            with memindex._index.lock:
                index = memindex.ensure(model.Session)
                if index is None:
                    memindex.STATS["fallback"] += 1
                    return None
                allowed = None
                if bucket_sql:
                    allowed = {
                        tuple(tuple(v or ()) if c == "permission_labels" else v
                              for c, v in zip(BUCKET_COLUMNS, r))
                        for r in model.Session.execute(sa.text(
                            f"SELECT DISTINCT {', '.join(f'd.{c}' for c in BUCKET_COLUMNS)} "
                            f"FROM {COUNTS_TABLE} d WHERE d.field = '' AND ({bucket_sql})"),
                            sql_params)}
                else:
                    allowed = set(index.buckets)
                for name in list(facets.names) + [f[0] for f in filters]:
                    if name not in index.columns:
                        index.add_column(model.Session, name)
                page, hits, counted = index.answer(
                    lexemes, required, allowed, then, start, rows, facets.names,
                    filters)
            docs: list[dict[str, Any]] = []
            if page:
                # the filters again, on the rows themselves
                result = model.Session.execute(sa.text(
                    f"SELECT {select_cols}, d.index_id AS _index_id FROM {TABLE} d "
                    f"WHERE d.index_id = ANY(:_ids) AND ({fq_sql or 'TRUE'})"),
                    dict(sql_params, _ids=[k for k, _ in page])).fetchall()
                by_id = {r._mapping["_index_id"]: r for r in result}
                if len(by_id) != len(page):
                    log.warning("Search memory index out of step: rebuilding it")
                    index.ready = False
                    memindex.STATS["fallback"] += 1
                    return None
                for index_id, score in page:
                    doc = self._doc(by_id[index_id], fl, False)
                    if wants_score:
                        doc["score"] = score
                    docs.append(doc)
        except Exception:  # never worse than SQL: it answers instead
            log.exception("Search memory index unavailable")
            memindex.STATS["fallback"] += 1
            return None
        finally:
            if nested.is_active:
                nested.rollback()
        counts = [(f, value, count)
                  for f, name in enumerate(facets.names, start=1)
                  for value, count in counted[name].items()]
        memindex.STATS["served"] += 1
        return docs, hits, facets.collect(counts, limit=True)

    def _order_items(self, sort: Optional[str], rank: str,
                     params: dict[str, Any]) -> list[tuple[str, str]]:
        """``sort`` as (SQL expression, direction) pairs; the score is
        :data:`_SCORE`, ranked with ``rank``; the key breaks the last ties."""
        items = [s.strip() for s in (sort or "score desc").split(",") if s.strip()]
        out: list[tuple[str, str]] = []
        for i, item in enumerate(items or ["score desc"]):
            parts = item.split()
            if len(parts) != 2 or parts[1].lower() not in ("asc", "desc") \
                    or not is_valid_field_name(parts[0]):
                raise SearchQueryError('Invalid "sort" parameter')
            name, direction = parts[0], parts[1].upper()
            if name == "score":
                if rank != "1.0":  # without text, every score is equal
                    out.append((_SCORE, direction))
            elif name in DATE_COLUMNS:
                out.append((f"d.{DATE_COLUMNS[name]}", f"{direction} NULLS LAST"))
            elif name in STRING_COLUMNS:
                col = STRING_COLUMNS[name]
                out.append((f"NULLIF(d.{col}, '') COLLATE \"C\"", f"{direction} NULLS LAST"))
            else:
                params[f"sort{i}"] = name
                value = f"(d.doc ->> :sort{i})"
                out.append((f"servicespublics_search_num({value})", f"{direction} NULLS LAST"))
                out.append((f"{value} COLLATE \"C\"", f"{direction} NULLS LAST"))
        out.append(("d.index_id", ""))
        return out

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
            if key not in ("doc", "score", "_index_id") and value is not None:
                full[key] = value
        if "*" in fl:
            out = dict(full)
        else:
            out = {k: full[k] for k in fl if k in full}
        if wants_score:
            out["score"] = float(data["score"])
        return out

    def _precounted(self, where_sql: str, facets: "_Facets",
                    ) -> Optional[tuple[int, dict[str, list[Any]]]]:
        """The count and facets from the kept counts, when they can answer.

        ``servicespublics_search_facet_count`` has, per bucket of documents
        (same site, type, state, capacity, dataset type, organisation and
        permission labels), the number of documents and of each value of the
        counted fields. When the filters read only those columns they match
        whole buckets, and the same SQL condition run on the buckets selects
        exactly the counts to add up. Anything else (text, other fields,
        dates) is counted over the matching documents.
        """
        if not config.get("ckanext.servicespublics.search.kept_counts"):
            return None
        columns = facets.counted_columns()
        if columns is None:
            return None
        if not set(_COLUMN_RE.findall(where_sql)) <= set(BUCKET_COLUMNS):
            return None
        params = dict(facets.params, _fields=[""] + sorted(set(columns)))
        rows = self._read(
            f"SELECT d.field, d.value, sum(d.n) FROM {COUNTS_TABLE} d "
            f"WHERE ({where_sql}) AND d.field = ANY(:_fields) "
            "GROUP BY d.field, d.value HAVING sum(d.n) > 0", params, tuned=True)
        total = 0
        by_field: dict[str, list[tuple[Any, int]]] = {}
        for field, value, count in rows:
            if field == "":
                total = int(count)
            else:
                by_field.setdefault(field, []).append((value, int(count)))
        counts = []
        for f, column in enumerate(columns, start=1):
            counts.extend((f, value, count) for value, count in by_field.get(column, []))
        return total, facets.collect(counts, limit=True)

    def _count_and_facets(self, where_sql: str, facets: "_Facets",
                          ) -> tuple[int, dict[str, list[Any]]]:
        """The number of matches and every facet in one statement.

        The matching rows are selected once (a materialised CTE with only the
        columns the facets need, which the covering index of the search table
        can give without reading the table); each facet is a grouped count
        over them.
        """
        if not facets.names:
            rows = self._read(f"SELECT count(*) FROM {TABLE} d WHERE {where_sql}",
                              facets.params, tuned=True)
            return int(rows[0][0]), {}
        columns = sorted(facets.columns) or ["d.index_id"]
        branches = ["(SELECT 0 AS f, NULL::text AS v, count(*) AS c FROM m)"] + [
            f"(SELECT {f}, v, c FROM ({branch}) b{f})" for f, branch in facets.branches()]
        sql = (f"WITH m AS MATERIALIZED (SELECT {', '.join(columns)} "
               f"FROM {TABLE} d WHERE {where_sql}) " + " UNION ALL ".join(branches))
        total = 0
        counts = []
        for f, value, count in self._read(sql, facets.params, tuned=True):
            if f == 0:
                total = int(count)
            else:
                counts.append((f, value, count))
        return total, facets.collect(counts)


#: the fields whose values are counted in each bucket of the kept facet
#: counts (see :meth:`_precounted`)
COUNTED_COLUMNS = ("organization", "owner_org", "license_id", "dataset_type",
                   "tags", "groups", "res_format")
#: a column of the document table in compiled SQL (always ``d.<column>``)
_COLUMN_RE = re.compile(r"\bd\.([A-Za-z_][A-Za-z0-9_]*)")
#: the score in an ordering (ranked in SQL by the caller)
_SCORE = "<score>"
#: settings of the tuned reads (undone with their savepoint)
_TUNE = ("SELECT set_config('jit', 'off', true), "
         "set_config('work_mem', :_work_mem, true)")


class _Facets:
    """Solr's ``facet.field`` counts as grouped counts over the matching rows
    ``m``: a column is grouped on directly, an array column is unnested, any
    other field is read from the document."""

    def __init__(self, names: list[str], limit: int, mincount: int,
                 params: dict[str, Any]):
        self.names = names
        self.params = dict(params)
        self.limit = int(limit)
        self.limit_sql = f"LIMIT {int(limit)}" if limit >= 0 else ""
        self.mincount = int(mincount)
        self.columns: set[str] = set()
        self._values: list[str] = []
        for i, name in enumerate(names, start=1):
            if not is_valid_field_name(name):
                raise SearchQueryError(f"Invalid facet field: {name!r}")
            if name in ARRAY_COLUMNS:
                col = ARRAY_COLUMNS[name]
                self.columns.add(f"d.{col}")
                self._values.append(f"SELECT unnest(m.{col}) AS v FROM m")
            elif name in STRING_COLUMNS:
                col = STRING_COLUMNS[name]
                self.columns.add(f"d.{col}")
                self._values.append(f"SELECT m.{col} AS v FROM m")
            else:
                self.columns.add("d.doc")
                self.params[f"facet{i}"] = name
                self._values.append(
                    "SELECT DISTINCT m.index_id, y AS v FROM m, "
                    f"servicespublics_search_values(m.doc -> :facet{i}) y")
                self.columns.add("d.index_id")

    def branches(self) -> list[tuple[int, str]]:
        """(facet number, SQL of its counts): value ``v`` and count ``c``."""
        return [
            (i, f"SELECT x.v, count(*) AS c FROM ({values}) x GROUP BY x.v "
                f"HAVING x.v <> '' AND count(*) >= {self.mincount} "
                f"ORDER BY 2 DESC, x.v COLLATE \"C\" {self.limit_sql}")
            for i, values in enumerate(self._values, start=1)
        ]

    def counted_columns(self) -> Optional[list[str]]:
        """The kept-count field of each facet, or None if one has none."""
        columns = []
        for name in self.names:
            column = ARRAY_COLUMNS.get(name) or STRING_COLUMNS.get(name)
            if column not in COUNTED_COLUMNS:
                return None
            columns.append(column)
        return columns

    def collect(self, counts: list[tuple[int, Any, int]],
                limit: bool = False) -> dict[str, list[Any]]:
        """Solr's ``facet_fields``: per field, value and count alternately,
        by decreasing count, then by value (code point order, as
        ``COLLATE "C"`` on UTF-8); with ``limit``, ``facet.mincount`` and
        ``facet.limit`` are applied here rather than in SQL."""
        facets: dict[str, list[Any]] = {name: [] for name in self.names}
        for f, value, count in sorted(counts, key=lambda x: (x[0], -int(x[2]), x[1])):
            items = facets[self.names[f - 1]]
            if limit and (count < self.mincount
                          or 0 <= self.limit <= len(items) // 2):
                continue
            items.extend([value, int(count)])
        return facets


def _memory_plan(q: str, def_type: str, params: dict[str, Any], compiler: Compiler,
                 fq_raw: list[str], order: list[tuple[str, str]], facets: _Facets,
                 ) -> Optional[tuple[list[str], int, str, list[tuple[str, str, bool]],
                                     list[tuple[str, bool]]]]:
    """What the in-memory index needs to answer this query: the lexemes and
    how many must match, the SQL of the filters on bucket columns, the
    filters it answers itself (facet field, value, required or excluded) and
    the orderings after the score; None if it is not a query it answers."""
    everything = q in ("*:*", "*")
    if everything:
        # the listing with facets clicked: without them, the kept counts answer
        lexemes: list[str] = []
        required = 0
    else:
        terms = _memory_terms(q, def_type, params, compiler.rank_queries)
        if terms is None:
            return None
        lexemes, required = terms
    split = _split_filters(compiler, fq_raw, params.get("q.op") or "AND")
    if split is None:
        return None
    bucket_sql, filters = split
    if everything and not filters:
        return None
    if not order or order[-1] != ("d.index_id", ""):
        return None
    if not everything:
        if order[0] != (_SCORE, "DESC"):
            return None
        order = order[1:]
    dates = {"d.metadata_modified": "modified", "d.metadata_created": "created"}
    then: list[tuple[str, bool]] = []
    for expr, direction in order[:-1]:
        if expr not in dates or direction not in ("DESC NULLS LAST", "ASC NULLS LAST"):
            return None
        then.append((dates[expr], direction.startswith("DESC")))
    for name in facets.names:
        column = memindex.FACET_ALIASES.get(name, name)
        if name in STRING_COLUMNS and column not in memindex.SCALAR_FACETS:
            return None  # identifiers and titles: one value per document
    return lexemes, required, bucket_sql, filters, then


def _memory_terms(q: str, def_type: str, params: dict[str, Any],
                  rank_queries: list[str]) -> Optional[tuple[list[str], int]]:
    """The lexeme of each word of ``q`` and how many of them a dataset must
    have, if ``q`` is plain words that the in-memory index answers."""
    if not memindex.plain_words(q):
        return None
    found = [memindex.analysed_lexeme(r) for r in rank_queries]
    lexemes = [lexeme for lexeme in found if lexeme is not None]
    if not lexemes or len(lexemes) != len(found):
        return None
    n = len(lexemes)
    if def_type == "dismax" and not _looks_like_lucene(q):
        if "text" not in qf_fields(params.get("qf")):
            return None
        # as Compiler.dismax: at least one, at most all
        return lexemes, min(max(min_should_match(n, params.get("mm")), 1), n)
    if def_type in ("lucene", "dismax") and params.get("df") in (None, "", "text"):
        return lexemes, n if (params.get("q.op") or "AND").upper() == "AND" else 1
    return None


def _split_filters(compiler: Compiler, fq_raw: list[str], q_op: str,
                   ) -> Optional[tuple[str, list[tuple[str, str, bool]]]]:
    """The filters as SQL on bucket columns (visibility, type, organisation)
    and ``field:value`` clauses on facet fields that the in-memory index
    answers (a facet the visitor clicked); None if some clause is neither."""
    bucket: list[str] = []
    filters: list[tuple[str, str, bool]] = []
    for fq in fq_raw:
        clauses = conjuncts(fq, q_op)
        if clauses is None:
            clauses = [(MUST, None, None, fq)]
        for occur, field, value, text in clauses:
            key = None
            if field is not None and value is not None:
                column = ARRAY_COLUMNS.get(field) or STRING_COLUMNS.get(field)
                if column not in BUCKET_COLUMNS:
                    key = memindex.filter_field(field, value)
            if key is not None:
                filters.append((key, value, occur == MUST))
                continue
            sql = compiler.lucene(text, "fq")
            if sql:
                bucket.append(sql)
    bucket_sql = " AND ".join(f"({w})" for w in bucket)
    if not set(_COLUMN_RE.findall(bucket_sql)) <= set(BUCKET_COLUMNS):
        return None
    return bucket_sql, filters


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


def _rebuild(*args: Any, **kwargs: Any) -> Any:
    from .rebuild import rebuild

    return rebuild(*args, **kwargs)


def original(name: str) -> Any:
    """CKAN's own function that :func:`install` replaced."""
    return _ORIGINALS[name]


_TARGETS = (
    ("ckan.lib.search", "rebuild", _rebuild),
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
