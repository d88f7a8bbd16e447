"""Word queries with facets answered from memory, exactly as PostgreSQL would.

A word query with facets is the search page's everyday request, and the
costliest one for PostgreSQL: a broad word ("services", "mairie") matches
half of a 100,000-dataset catalogue, and ranking those rows (``ts_rank``
reads every matching text vector) and counting five facets over them take a
few hundred milliseconds however the table is laid out. Solr answers it from
in-memory postings and per-document value columns; so does this module:

- per lexeme of the documents' text vectors, the documents that have it and
  what the lexeme adds to ``ts_rank`` (computed from the weights of its
  positions, in the same single-precision steps as PostgreSQL's
  ``calc_rank_or``, so the scores are bit-for-bit PostgreSQL's);
- per document, its visibility bucket (the columns the permission filters
  read, as in the kept facet counts), its dates and the values of the
  facet fields asked for.

What it answers, and nothing else (everything else goes to SQL): ``q`` made
of plain words (dismax with ``mm``, or Lucene with ``q.op``), each analysed
into one lexeme; ``fq`` that reads only bucket columns (visibility, type,
organisation: the filters are run on the bucket table, so their meaning is
PostgreSQL's); ranking by score, then optionally a date, then the key; facet
fields that are columns or document fields.

It is kept in step with the table in the reader's own snapshot: before each
query, one statement returns the rows written by transactions the index may
not have seen (``changed_xid``) and the documents deleted since (the removal
log), see the migration ``f7b2d4e6a813``. A request that has itself written
to the database (an uncommitted transaction) is answered by SQL. The page's
documents are read from the table with the filters applied again: should the
memory ever disagree, SQL answers and the index is rebuilt.

Building the index reads every text vector: about 10 s per 100,000 datasets,
done in a background thread for large catalogues (SQL answers meanwhile).
"""
from __future__ import annotations

import functools
import io
import logging
import re
import threading
import time
from typing import Any, Iterable, Optional

import numpy as np
import sqlalchemy as sa

from ckan.common import config

from .fields import BUCKET_COLUMNS, REMOVAL_TABLE, TABLE

log = logging.getLogger(__name__)

#: scalar and array columns a facet may be counted on
SCALAR_FACETS = ("organization", "owner_org", "license_id", "dataset_type",
                 "state", "capacity", "site_id", "entity_type")
ARRAY_FACETS = ("tags", "groups", "res_format", "permission_labels")
#: Solr field names that are another column's name
FACET_ALIASES = {"type": "dataset_type"}
#: ``ts_rank`` weights of D, C, B, A (backend.RANK_WEIGHTS), in single precision
WEIGHTS = {"D": np.float32(0.05), "C": np.float32(0.1), "B": np.float32(0.4),
           "A": np.float32(1.0)}
#: catalogues up to this size are indexed in the request that needs it
SYNC_BUILD = 20_000
#: a process that has not looked for this long starts over (the removal log
#: keeps a day)
MAX_IDLE = 12 * 3600
#: a single quoted lexeme, as ``plainto_tsquery`` prints a one-word query
_LEXEME_RE = re.compile(r"^'((?:[^']|'')+)'$")
#: a plain word: letters and digits, possibly with inner apostrophes
_WORD_RE = re.compile(r"^[^\W_]+(?:['’][^\W_]+)*$")
#: a null date (sorted last either way); negating it cannot overflow
_NULL_LAST = np.iinfo(np.int64).min + 1

STATS = {"served": 0, "fallback": 0, "builds": 0}


@functools.lru_cache(maxsize=4096)
def term_weight(weights: str) -> float:
    """What one lexeme with these position weights (in position order) adds
    to ``ts_rank``'s sum, in double precision: PostgreSQL's ``calc_rank_or``
    step by step, in ``float`` where it computes in ``float``."""
    resj = np.float32(0.0)
    wjm = np.float32(-1.0)
    jm = 0
    for j, letter in enumerate(weights):
        w = WEIGHTS.get(letter, WEIGHTS["D"])
        resj = np.float32(resj + np.float32(w / np.float32((j + 1) * (j + 1))))
        if w > wjm:
            wjm = w
            jm = j
    inner = np.float32(np.float32(wjm + resj)
                       - np.float32(wjm / np.float32((jm + 1) * (jm + 1))))
    return float(inner) / 1.64493406685


def _key(index_id: str) -> int:
    """An integer that sorts like the key (hex digests; else a prefix)."""
    try:
        return int(index_id[:15], 16)
    except ValueError:
        raw = index_id.encode()[:7].ljust(7, b"\0")
        return int.from_bytes(raw, "big")


class _Column:
    """The values of one facet field per document: codes in a flat array
    with the document of each entry (the documents as of the last build),
    plus the documents changed since, kept apart."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.code: dict[str, int] = {}
        self.entry_doc = np.zeros(0, np.int32)
        self.entry_value = np.zeros(0, np.int32)
        self.changed: dict[int, list[int]] = {}

    def codes(self, values: Iterable[str]) -> list[int]:
        out = []
        for v in values:
            if v is None or v == "":
                continue
            c = self.code.get(v)
            if c is None:
                c = self.code[v] = len(self.values)
                self.values.append(v)
            out.append(c)
        return list(dict.fromkeys(out))

    def load(self, docs: list[int], values: list[list[str]]) -> None:
        pairs = [(d, c) for d, vs in zip(docs, values) for c in self.codes(vs)]
        self.entry_doc = np.fromiter((p[0] for p in pairs), np.int32, len(pairs))
        self.entry_value = np.fromiter((p[1] for p in pairs), np.int32, len(pairs))
        self.changed = {}

    def having(self, value: str, n: int, in_base: np.ndarray) -> np.ndarray:
        """Which of the first ``n`` documents have ``value``."""
        mask = np.zeros(n, bool)
        code = self.code.get(value)
        if code is None:
            return mask
        mask[self.entry_doc[self.entry_value == code]] = True
        mask &= in_base[:n]
        for doc, codes in self.changed.items():
            if code in codes:
                mask[doc] = True
        return mask

    def count(self, matched: np.ndarray, in_base: np.ndarray) -> dict[str, int]:
        """Documents per value among ``matched`` (``in_base``: matched and
        held as of the last build)."""
        keep = in_base[self.entry_doc]
        counts = np.bincount(self.entry_value[keep], minlength=len(self.values))
        for doc, codes in self.changed.items():
            if matched[doc]:
                for c in codes:
                    counts[c] += 1
        nonzero = np.flatnonzero(counts)
        return {self.values[i]: int(counts[i]) for i in nonzero}


class MemoryIndex:
    """The documents of one database's search table, for one process."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.identity: Optional[tuple[str, int]] = None
        self.horizon: Optional[str] = None
        self.checked = 0.0
        self.building = False
        self.broken: Optional[str] = None
        self.failed_at = 0.0
        self._clear()

    def _clear(self) -> None:
        self.ready = False
        self.ids: list[str] = []
        self.ord_of: dict[str, int] = {}
        self.size = 0
        self.alive = np.zeros(0, bool)
        self.in_base = np.zeros(0, bool)
        self.version = np.zeros(0, np.int64)  # changed_xid of the version held
        self.bucket = np.zeros(0, np.int32)
        self.buckets: dict[tuple, int] = {}
        self.modified = np.zeros(0, np.int64)
        self.created = np.zeros(0, np.int64)
        self.keys = np.zeros(0, np.int64)
        # postings of the last build, by lexeme code: [start, end) of
        # lex_docs, and the weights pattern of each (its term in
        # pattern_terms); lexemes are found by hash (see _load_postings)
        self.lex_start = np.zeros(1, np.int64)
        self.lex_docs = np.zeros(0, np.int32)
        self.lex_patterns = np.zeros(0, np.uint16)
        self.pattern_terms = np.zeros(0, np.float64)
        self.lex_hashes = np.zeros(0, np.uint64)
        self.lex_hash_codes = np.zeros(0, np.int32)
        self.lex_bytes = b""
        self.lex_offsets = np.zeros(1, np.int64)
        # documents changed since: lexeme -> {doc: term}
        self.changed_terms: dict[str, dict[int, float]] = {}
        self.changed_lexemes: dict[int, list[str]] = {}
        self.columns: dict[str, _Column] = {}
        self.changed_since_build = 0

    # -- growing per-document arrays ----------------------------------------
    def _grow(self, n: int) -> None:
        if n <= len(self.alive):
            return
        cap = max(n, 2 * len(self.alive), 1024)
        for name, fill in (("alive", False), ("in_base", False), ("version", 0),
                           ("bucket", 0), ("modified", _NULL_LAST),
                           ("created", _NULL_LAST), ("keys", 0)):
            old = getattr(self, name)
            new = np.full(cap, fill, dtype=old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)

    def _bucket(self, row: Any) -> int:
        key = tuple(row[c] if c != "permission_labels" else tuple(row[c] or ())
                    for c in BUCKET_COLUMNS)
        code = self.buckets.get(key)
        if code is None:
            code = self.buckets[key] = len(self.buckets)
        return code

    # -- building -----------------------------------------------------------
    _DOC_SQL = (
        f"SELECT index_id, {', '.join(BUCKET_COLUMNS)}, "
        "(extract(epoch FROM metadata_modified) * 1000000)::bigint AS modified, "
        "(extract(epoch FROM metadata_created) * 1000000)::bigint AS created, "
        "changed_xid::text::bigint AS version FROM " + TABLE)

    def build(self, connection: Any) -> None:
        """Read the whole table (one snapshot) into fresh structures."""
        started = time.monotonic()
        connection.execute(sa.text(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        head = connection.execute(sa.text(
            "SELECT current_database(), to_regclass(:t)::oid::bigint, "
            "pg_snapshot_xmin(pg_current_snapshot())::text"), {"t": TABLE}).one()
        rows = connection.execute(sa.text(
            self._DOC_SQL + " ORDER BY index_id COLLATE \"C\"")).mappings().all()
        postings = self._read_postings(connection)
        columns = list(self.columns)
        values = {name: [v for _, v in self._read_column(connection, name)]
                  for name in columns}
        with self.lock:
            self._clear()
            self._load_docs(rows)
            for name, value in postings.items():
                setattr(self, name, value)
            for name in columns:
                column = self.columns[name] = _Column()
                column.load(list(range(len(rows))), values[name])
            self.identity = (head[0], int(head[1]))
            self.horizon = head[2]
            self.checked = time.monotonic()
            self.ready = True
            STATS["builds"] += 1
        _release_freed_memory()
        log.info("Search memory index: %d documents, %d lexemes in %.1f s",
                 len(rows), len(self.lex_start) - 1, time.monotonic() - started)

    def _load_docs(self, rows: list[Any]) -> None:
        n = len(rows)
        self._grow(n)
        self.ids = [r["index_id"] for r in rows]
        self.ord_of = {i: n_ for n_, i in enumerate(self.ids)}
        self.size = n
        for i, r in enumerate(rows):
            self._set_doc(i, r)
        self.in_base[:n] = True

    def _set_doc(self, i: int, r: Any) -> None:
        self.alive[i] = True
        self.bucket[i] = self._bucket(r)
        self.modified[i] = _NULL_LAST if r["modified"] is None else r["modified"]
        self.created[i] = _NULL_LAST if r["created"] is None else r["created"]
        self.keys[i] = _key(r["index_id"])
        self.version[i] = r["version"]

    def _read_postings(self, connection: Any) -> dict[str, Any]:
        """Every (document, lexeme, weights) of the text vectors, grouped by
        lexeme, as flat arrays.

        The five million postings of 100,000 datasets come as integers
        only: PostgreSQL hashes each lexeme and weights pattern (64 bits),
        and the distinct lexemes and patterns, far fewer, come once with
        their hash. Creating a Python string per posting would cost
        seconds and leave the process hundreds of MB larger. Lexemes are
        then found by a hash of our own in a sorted array and checked
        against their bytes (a dict of 800,000 strings takes four times the
        memory)."""
        import pandas as pd

        def copy(sql: str, names: list[str], dtype: dict[str, Any]) -> Any:
            buffer = io.StringIO()
            raw = connection.connection.dbapi_connection
            with raw.cursor() as cur:
                cur.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", buffer)
            buffer.seek(0)
            frame = pd.read_csv(buffer, header=None, names=names, dtype=dtype,
                                keep_default_na=False, na_filter=False)
            buffer.close()
            return frame

        vectors = f"(SELECT tsv FROM {TABLE}) x, unnest(x.tsv) u"
        lexemes = copy(f"SELECT l, hashtextextended(l, 0) FROM (SELECT DISTINCT "
                       f"u.lexeme AS l FROM {vectors}) y",
                       ["lexeme", "hash"], {"lexeme": object, "hash": np.int64})
        patterns = copy(f"SELECT w, hashtextextended(w, 0) FROM (SELECT DISTINCT "
                        f"array_to_string(u.weights, '') AS w FROM {vectors}) y",
                        ["weights", "hash"], {"weights": object, "hash": np.int64})
        frame = copy(
            "SELECT x.n, hashtextextended(u.lexeme, 0), "
            "hashtextextended(array_to_string(u.weights, ''), 0) "
            "FROM (SELECT row_number() OVER (ORDER BY index_id COLLATE \"C\") - 1 "
            f"AS n, tsv FROM {TABLE}) x, unnest(x.tsv) u",
            ["doc", "lexeme", "weights"],
            {"doc": np.int32, "lexeme": np.int64, "weights": np.int64})
        out: dict[str, Any] = {}
        if frame.empty:
            return out
        for table in (lexemes, patterns):
            if table["hash"].duplicated().any():
                raise ValueError("two lexemes or weight patterns share a hash")

        def codes(hashes: np.ndarray, table: Any) -> np.ndarray:
            known = table["hash"].to_numpy()
            by_hash = np.argsort(known)
            return by_hash[np.searchsorted(known[by_hash], hashes)]

        lex_codes = codes(frame["lexeme"].to_numpy(), lexemes)
        pattern_codes = codes(frame["weights"].to_numpy(), patterns)
        docs = frame["doc"].to_numpy()
        del frame
        order = np.argsort(lex_codes, kind="stable")
        out["lex_docs"] = docs[order].astype(np.int32)
        code_type = np.uint16 if len(patterns) < 65_536 else np.int32
        out["lex_patterns"] = pattern_codes[order].astype(code_type)
        out["pattern_terms"] = np.array(
            [term_weight(p) for p in patterns["weights"]], np.float64)
        del docs, order, pattern_codes
        counts = np.bincount(lex_codes, minlength=len(lexemes))
        out["lex_start"] = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        del lex_codes, counts
        values = lexemes["lexeme"].to_numpy(dtype=object)
        hashes = pd.util.hash_array(values)
        by_hash = np.argsort(hashes)
        out["lex_hashes"] = hashes[by_hash]
        out["lex_hash_codes"] = by_hash.astype(np.int32)
        encoded = [v.encode() for v in values]
        out["lex_bytes"] = b"".join(encoded)
        out["lex_offsets"] = np.concatenate(
            ([0], np.cumsum([len(e) for e in encoded]))).astype(np.int64)
        return out

    def _lexeme_code(self, lexeme: str) -> Optional[int]:
        import pandas as pd

        if not len(self.lex_hashes):
            return None
        h = pd.util.hash_array(np.array([lexeme], dtype=object))[0]
        raw = lexeme.encode()
        i = int(np.searchsorted(self.lex_hashes, h))
        while i < len(self.lex_hashes) and self.lex_hashes[i] == h:
            code = int(self.lex_hash_codes[i])
            if self.lex_bytes[self.lex_offsets[code]:self.lex_offsets[code + 1]] == raw:
                return code
            i += 1
        return None

    def _read_column(self, connection: Any, name: str,
                     ids: Optional[list[str]] = None) -> list[tuple[str, list[str]]]:
        """(key, values of facet field ``name``) per document, in key order."""
        column = FACET_ALIASES.get(name, name)
        if column in SCALAR_FACETS:
            expr = f"ARRAY[d.{column}]"
        elif column in ARRAY_FACETS:
            expr = f"d.{column}"
        else:
            expr = ("ARRAY(SELECT DISTINCT y FROM "
                    "servicespublics_search_values(d.doc -> :field) y)")
        sql = f"SELECT d.index_id, {expr} AS v FROM {TABLE} d"
        params: dict[str, Any] = {"field": name}
        if ids is not None:
            sql += " WHERE d.index_id = ANY(:ids)"
            params["ids"] = ids
        sql += " ORDER BY d.index_id COLLATE \"C\""
        return [(r[0], list(r[1] or [])) for r in connection.execute(sa.text(sql), params)]

    # -- keeping up ---------------------------------------------------------
    def refresh(self, session: Any) -> bool:
        """Catch up with the table as the session's next statement sees it.
        False if the index cannot answer for this session now."""
        head = session.execute(sa.text(f"""
SELECT current_database(), to_regclass(:t)::oid::bigint,
       pg_current_xact_id_if_assigned() IS NOT NULL,
       pg_snapshot_xmin(pg_current_snapshot())::text,
       ARRAY(SELECT index_id || ' ' || changed_xid::text FROM {TABLE}
             WHERE changed_xid >= CAST(:h AS xid8)),
       ARRAY(SELECT DISTINCT r.index_id FROM {REMOVAL_TABLE} r
             WHERE r.removed_xid >= CAST(:h AS xid8) AND NOT EXISTS (
               SELECT 1 FROM {TABLE} d WHERE d.index_id = r.index_id))
"""), {"t": TABLE, "h": self.horizon or "0"}).one()
        database, oid, writing, xmin, changed, removed = head
        if writing:
            return False  # its own uncommitted writes: SQL sees them, we must not
        if ((database, oid) != self.identity or "*" in removed
                or time.monotonic() - self.checked > MAX_IDLE):
            self.ready = False
            return False
        todo: list[str] = []
        for item in changed:
            index_id, _, xid = item.rpartition(" ")
            i = self.ord_of.get(index_id)
            if i is None or not self.alive[i] or self.version[i] != int(xid):
                todo.append(index_id)
        if len(todo) > max(5000, self.size // 5):
            self.ready = False  # a rebuild: start over
            return False
        for index_id in removed:
            self._remove(index_id)
        if todo:
            self._apply(session, todo)
        self.horizon = xmin
        self.checked = time.monotonic()
        if self.changed_since_build > max(5000, self.size // 10):
            self.ready = False  # rebuild the postings in the background
            return False
        return True

    def _remove(self, index_id: str) -> None:
        i = self.ord_of.get(index_id)
        if i is None or not self.alive[i]:
            return
        self.alive[i] = False
        self._forget_changed(i)
        self.in_base[i] = False

    def _forget_changed(self, i: int) -> None:
        for lexeme in self.changed_lexemes.pop(i, []):
            docs = self.changed_terms.get(lexeme)
            if docs is not None:
                docs.pop(i, None)
                if not docs:
                    del self.changed_terms[lexeme]
        for column in self.columns.values():
            column.changed.pop(i, None)

    def _apply(self, session: Any, ids: list[str]) -> None:
        rows = session.execute(sa.text(self._DOC_SQL + " WHERE index_id = ANY(:ids)"),
                               {"ids": ids}).mappings().all()
        postings = session.execute(sa.text(
            f"SELECT d.index_id, u.lexeme, array_to_string(u.weights, '') "
            f"FROM {TABLE} d, unnest(d.tsv) u WHERE d.index_id = ANY(:ids)"),
            {"ids": ids}).all()
        values = {name: dict(self._read_column(session, name, ids=ids))
                  for name in self.columns}
        by_doc: dict[str, dict[str, float]] = {}
        for index_id, lexeme, weights in postings:
            by_doc.setdefault(index_id, {})[lexeme] = term_weight(weights)
        present = set()
        for r in rows:
            index_id = r["index_id"]
            present.add(index_id)
            i = self.ord_of.get(index_id)
            if i is None:
                i = self.size
                self._grow(i + 1)
                self.ids.append(index_id)
                self.ord_of[index_id] = i
                self.size += 1
            self._forget_changed(i)
            self.in_base[i] = False
            self._set_doc(i, r)
            terms = by_doc.get(index_id, {})
            self.changed_lexemes[i] = list(terms)
            for lexeme, term in terms.items():
                self.changed_terms.setdefault(lexeme, {})[i] = term
            for name, column in self.columns.items():
                column.changed[i] = column.codes(values[name].get(index_id, []))
            self.changed_since_build += 1
        for index_id in set(ids) - present:
            self._remove(index_id)

    def add_column(self, session: Any, name: str) -> None:
        """Start keeping facet field ``name`` (read for every document)."""
        column = _Column()
        base_docs, base_values = [], []
        for index_id, values in self._read_column(session, name):
            i = self.ord_of.get(index_id)
            if i is None or not self.alive[i]:
                continue  # not seen yet: the next refresh brings it
            if self.in_base[i]:
                base_docs.append(i)
                base_values.append(values)
            else:
                column.changed[i] = column.codes(values)
        changed = column.changed
        column.load(base_docs, base_values)
        column.changed = changed
        self.columns[name] = column

    # -- answering ----------------------------------------------------------
    def postings(self, lexeme: str) -> tuple[np.ndarray, np.ndarray]:
        code = self._lexeme_code(lexeme)
        if code is None:
            docs = np.zeros(0, np.int32)
            terms = np.zeros(0, np.float64)
        else:
            a, b = self.lex_start[code], self.lex_start[code + 1]
            docs = self.lex_docs[a:b]
            terms = self.pattern_terms[self.lex_patterns[a:b]]
            keep = self.in_base[docs]
            if not keep.all():
                docs, terms = docs[keep], terms[keep]
        changed = self.changed_terms.get(lexeme)
        if changed:
            docs = np.concatenate((docs, np.fromiter(changed.keys(), np.int32)))
            terms = np.concatenate((terms, np.fromiter(changed.values(), np.float64)))
        return docs, terms

    def answer(self, lexemes: list[str], required: int, allowed: set[tuple],
               order: list[tuple[str, bool]], start: int, rows: int,
               facets: list[str], filters: Iterable[tuple[str, str, bool]] = (),
               ) -> tuple[list[tuple[str, float]], int, dict[str, dict[str, int]]]:
        """The page (key, score), the number of matches and the facet counts;
        ``filters``: (facet field, value, required or excluded)."""
        n = self.size
        hits = np.zeros(n, np.int16)
        found = {}
        for lexeme in lexemes:
            if lexeme not in found:
                found[lexeme] = self.postings(lexeme)
            hits[found[lexeme][0]] += 1
        allowed_codes = np.zeros(len(self.buckets), bool)
        for key, code in self.buckets.items():
            if key in allowed:
                allowed_codes[code] = True
        matched = (hits >= required) & self.alive[:n] & allowed_codes[self.bucket[:n]]
        for name, value, wanted in filters:
            having = self.columns[name].having(value, n, self.in_base)
            matched &= having if wanted else ~having
        # ts_rank over the distinct lexemes, in the order PostgreSQL sorts
        # them (bytes), summed in single precision as it does
        unique = sorted(found, key=lambda s: s.encode())
        if unique:
            score = np.zeros(n, np.float32)
            for lexeme in unique:
                docs, terms = found[lexeme]
                score[docs] = (score[docs].astype(np.float64) + terms).astype(np.float32)
            score = score / np.float32(len(unique))
        else:
            # no words: every document matches, with SQL's constant score
            score = np.ones(n, np.float32)
        total = int(matched.sum())
        page: list[tuple[str, float]] = []
        if rows and start < total:
            which = np.flatnonzero(matched)
            s = score[which]
            want = start + rows
            if len(which) > want:
                # only the documents that can be among the first ``want``
                cut = np.partition(-s, want - 1)[want - 1]
                keep = -s <= cut
                which, s = which[keep], s[keep]
            keys = [self.keys[which]]
            for column, descending in reversed(order):
                values = getattr(self, column)[which]
                if descending:
                    # NULLS LAST: the null marker is the smallest value
                    values = np.where(values == _NULL_LAST, np.iinfo(np.int64).max,
                                      -values)
                else:
                    values = np.where(values == _NULL_LAST, np.iinfo(np.int64).max,
                                      values)
                keys.append(values)
            keys.append(-s.astype(np.float64))
            ranked = which[np.lexsort(keys)]
            # equal integer keys (never for digests): compare the full keys
            chosen = [(int(i), _as_returned(score[i])) for i in ranked[:want + 1]]
            chosen.sort(key=lambda x: self._sort_key(x[0], x[1], order))
            page = [(self.ids[i], sc) for i, sc in chosen[start:want]]
        counts = {}
        in_base = matched & self.in_base[:n]
        for name in facets:
            counts[name] = self.columns[name].count(matched, in_base)
        return page, total, counts

    def _sort_key(self, i: int, score: float, order: list[tuple[str, bool]]) -> tuple:
        parts: list[Any] = [-score]
        for column, descending in order:
            v = int(getattr(self, column)[i])
            if v == _NULL_LAST:
                parts.append((1, 0))
            else:
                parts.append((0, -v if descending else v))
        parts.append(self.ids[i].encode())
        return tuple(parts)


def _as_returned(score: np.float32) -> float:
    """A ``real`` as psycopg2 returns it: PostgreSQL prints the shortest
    decimal that reads back as the same single-precision number, and
    Python reads that decimal as a double."""
    return float(str(np.float32(score)))


def _release_freed_memory() -> None:
    """Give the memory freed after a build back to the system (glibc keeps
    it otherwise, and the process would stay at its peak)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


_index = MemoryIndex()


def enabled() -> bool:
    return bool(config.get("ckanext.servicespublics.search.memory_index"))


def _build_in_background(url_engine: Any) -> None:
    def run() -> None:
        try:
            with url_engine.connect() as connection:
                with connection.begin():
                    _index.build(connection)
        except Exception as e:  # SQL keeps answering
            log.warning("Search memory index not built: %s", e)
            _index.broken = str(e)
            _index.failed_at = time.monotonic()
        finally:
            _index.building = False

    _index.building = True
    _index.broken = None
    threading.Thread(target=run, name="servicespublics-search-memory",
                     daemon=True).start()


def ensure(session: Any) -> Optional[MemoryIndex]:
    """The index, up to date for this session, or None (SQL answers)."""
    index = _index
    with index.lock:
        if index.building:
            return None
        if index.ready:
            if index.refresh(session):
                return index
            if index.ready or index.building:
                return None
        if time.monotonic() - index.failed_at < 300:
            return None  # the last build failed: not again at every query
        # (re)build: small catalogues now, large ones in the background
        engine = session.get_bind()
        estimate = session.execute(sa.text(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class "
            "WHERE oid = to_regclass(:t)"), {"t": TABLE}).scalar()
        if estimate is None:
            return None
        if estimate > SYNC_BUILD:
            _build_in_background(engine)
            return None
        try:
            with engine.connect() as connection:
                with connection.begin():
                    index.build(connection)
        except Exception:
            index.failed_at = time.monotonic()
            raise
        if not index.refresh(session):
            return None
        return index


def wait_ready(session: Any, timeout: float = 600.0) -> bool:
    """Build the index now if needed and wait for it (benchmarks, warm-up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ensure(session) is not None:
            return True
        if _index.broken:
            return False
        time.sleep(0.2)
    return False


def filter_field(name: str, value: str) -> Optional[str]:
    """The facet field whose values answer the filter ``name:value`` (the
    document has that value, as the SQL of the Lucene compiler means it), or
    None if that filter must be run by SQL."""
    from .fields import (ARRAY_COLUMNS, BBOX_FIELD, DATE_COLUMNS, NGRAM_FIELDS,
                         STRING_COLUMNS, TEXT_COLUMNS, is_date_field, is_text_field,
                         is_valid_field_name)

    column = FACET_ALIASES.get(name, name)
    if column in SCALAR_FACETS or column in ARRAY_FACETS:
        return name
    if (name in STRING_COLUMNS or name in ARRAY_COLUMNS or name in DATE_COLUMNS
            or name in NGRAM_FIELDS or name in TEXT_COLUMNS or name == BBOX_FIELD
            or name in ("text", "*") or is_text_field(name) or is_date_field(name)
            or not is_valid_field_name(name)):
        return None
    # a document field: SQL also matches numbers and booleans written as
    # JSON literals, and the values kept here are their text
    literal = value.strip().lower()
    if (not value or literal in ("true", "false", "null") or value[:1] in "{["
            or re.match(r"^-?\d+(\.\d+)?$", literal)):
        return None
    return name


def analysed_lexeme(tsquery: str) -> Optional[str]:
    """The lexeme of a one-lexeme tsquery text (``'servic'``), else None."""
    match = _LEXEME_RE.match(tsquery.strip())
    return match.group(1).replace("''", "'") if match else None


def plain_words(q: str) -> bool:
    words = q.split()
    return bool(words) and all(
        _WORD_RE.match(w) and w not in ("AND", "OR", "NOT") for w in words)
