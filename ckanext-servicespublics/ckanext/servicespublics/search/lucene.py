"""Lucene/Solr query syntax compiled to parameterised PostgreSQL.

The queries CKAN, its UI, API clients and extensions send (``q``, ``fq``,
``qf``, ``mm``, ``q.op``, ``defType``) are parsed with luqum and turned into a
SQL boolean expression over the search table.  User text only ever reaches
PostgreSQL as bound parameters; field names are checked against a strict
pattern and also travel as parameters (``doc -> :f``).

Text terms are analysed by PostgreSQL itself (French stemming, unaccent) in
one round trip before the SQL is assembled, so that a term that analyses to
nothing (a stop word) is dropped from its boolean clause as Solr drops it.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from luqum import tree as lt
from luqum.exceptions import ParseError
from luqum.parser import parser as _luqum_parser

from ckan.lib.search.common import SearchQueryError

from . import datemath
from .fields import (
    ARRAY_COLUMNS,
    BBOX_FIELD,
    NGRAM_FIELDS,
    DATE_COLUMNS,
    STRING_COLUMNS,
    TEXT_COLUMNS,
    is_date_field,
    is_text_field,
    is_valid_field_name,
)

MUST, SHOULD, MUST_NOT = "must", "should", "must_not"
_parse_lock = threading.Lock()
_WILDCARD_RE = re.compile(r"(?<!\\)[*?]")
_ESCAPE_RE = re.compile(r"\\(.)")
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
_POSITION_RE = re.compile(r"position (\d+)")

#: (kind, text) -> tsquery text; kinds: plain, phrase, prefix
Analyzer = Callable[[list[tuple[str, str]]], list[str]]


def parse(query: str, param: str = "q") -> lt.Item:
    """Parse Lucene syntax, raising a precise SearchQueryError."""
    try:
        with _parse_lock:
            return _luqum_parser.parse(query)
    except (ParseError, Exception) as e:  # luqum raises several types
        message = str(e)
        pos = _POSITION_RE.search(message)
        where = f" at position {pos.group(1)}" if pos else " at the end of the query"
        raise SearchQueryError(
            f"Invalid query syntax in '{param}'{where}: {message} (query: {query!r})"
        ) from None


def conjuncts(query: str, q_op: str = "AND", param: str = "fq",
              ) -> Optional[list[tuple[str, Optional[str], Optional[str], str]]]:
    """The clauses a filter requires all of, when it is a conjunction: per
    clause (occur, field, value, source text); field and value are None
    unless the clause is ``field:word`` or ``field:"phrase"`` without
    wildcards. None when the filter is not a conjunction."""
    node = parse(query, param)
    if isinstance(node, lt.AndOperation):
        children = list(node.children)
    elif isinstance(node, lt.UnknownOperation) and (q_op or "AND").upper() == "AND":
        children = list(node.children)
    elif isinstance(node, (lt.OrOperation, lt.UnknownOperation)):
        return None
    else:
        children = [node]
    out: list[tuple[str, Optional[str], Optional[str], str]] = []
    for child in children:
        occur, item = MUST, child
        while isinstance(item, (lt.Plus, lt.Not, lt.Prohibit)):
            occur = MUST if isinstance(item, lt.Plus) else MUST_NOT
            item = item.a
        field = value = None
        if isinstance(item, lt.SearchField):
            expr = item.expr
            if isinstance(expr, lt.Phrase):
                field, value = unescape(item.name), unescape(expr.value[1:-1])
            elif isinstance(expr, lt.Word) and not _WILDCARD_RE.search(expr.value):
                field, value = unescape(item.name), unescape(expr.value)
        out.append((occur, field, value, str(child).strip()))
    return out


def unescape(value: str) -> str:
    return _ESCAPE_RE.sub(r"\1", value)


def min_should_match(count: int, spec: Optional[str]) -> int:
    """Solr's ``mm`` for ``count`` optional clauses (e.g. ``2<-1 5<80%``)."""
    if not spec:
        return count
    spec = re.sub(r"\s*<\s*", "<", spec.strip())
    if "<" in spec:
        result = count
        for condition in spec.split():
            upper, _, value = condition.partition("<")
            if count <= int(upper):
                return result
            result = min_should_match(count, value)
        return result
    if spec.endswith("%"):
        calc = int(count * int(spec[:-1]) / 100)
        result = count + calc if spec.startswith("-") else calc
    else:
        calc = int(spec)
        result = count + calc if calc < 0 else calc
    return max(0, min(count, result))


@dataclass
class Compiled:
    """A SQL boolean expression with its parameters and ranking tsqueries."""

    sql: str
    params: dict[str, Any]
    rank_queries: list[str] = field(default_factory=list)


class Compiler:
    """Compile one request (q and fq) into SQL, sharing one parameter set."""

    def __init__(self, analyzer: Analyzer, q_op: str = "AND", df: str = "text"):
        self.analyzer = analyzer
        self.q_op = (q_op or "AND").upper()
        self.df = df or "text"
        self.params: dict[str, Any] = {}
        self.rank_queries: list[str] = []
        self._terms: list[tuple[str, str]] = []
        self._analyzed: Optional[list[str]] = None
        self._term_index = 0
        self._ranking = False

    # -- parameters -------------------------------------------------------
    def _p(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    # -- text analysis in two passes ---------------------------------------
    def _tsquery(self, kind: str, text: str) -> Optional[str]:
        """Return the SQL of an analysed tsquery, or None if it is empty."""
        if self._analyzed is None:
            self._terms.append((kind, text))
            return "TRUE"
        value = self._analyzed[self._term_index]
        self._term_index += 1
        if not value:
            return None
        if self._ranking:
            self.rank_queries.append(value)
        return f"CAST({self._p(value)} AS tsquery)"

    def compile(self, build: Callable[[], Optional[str]]) -> Optional[str]:
        """Run ``build`` twice: collect text terms, analyse them, compile."""
        self._analyzed = None
        self._terms = []
        saved = dict(self.params)
        build()
        self.params = saved
        self._analyzed = self.analyzer(self._terms) if self._terms else []
        self._term_index = 0
        return build()

    # -- entry points -----------------------------------------------------
    def lucene(self, query: str, param: str, ranking: bool = False) -> Optional[str]:
        node = parse(query, param)

        def build() -> Optional[str]:
            self._ranking = ranking
            try:
                return self._node(node, None)
            finally:
                self._ranking = False

        return self.compile(build)

    def dismax(self, query: str, qf: Optional[str], mm: Optional[str]) -> Optional[str]:
        """Solr's dismax: words over the ``qf`` fields, ``mm`` of them required."""
        tokens = re.findall(r'([+\-]?)("[^"]*"|[^\s"]+)', query)
        fields = qf_fields(qf)

        def clause(term: str) -> Optional[str]:
            phrase = term.startswith('"')
            text = term.strip('"') if phrase else term
            text = re.sub(r'[\\(){}\[\]^~:!]', " ", text).strip()
            if not text:
                return None
            if "text" in fields:
                return self._text_match(None, text, "phrase" if phrase else "plain")
            parts = [
                self._leaf(f, text, phrase=phrase, allow_wildcard=False) for f in fields
            ]
            parts = [p for p in parts if p]
            return "(" + " OR ".join(parts) + ")" if parts else None

        def build() -> Optional[str]:
            self._ranking = True
            must, should, must_not = [], [], []
            for sign, term in tokens:
                if term in ("AND", "OR", "&&", "||"):
                    continue
                sql = clause(term)
                if sql is None:
                    continue
                {"+": must, "-": must_not}.get(sign, should).append(sql)
            self._ranking = False
            required = min_should_match(len(should), mm) if should else 0
            if should and not must:
                required = max(required, 1)
            parts = list(must)
            if should and required >= len(should):
                parts.extend(should)
            elif should and required == 1:
                parts.append("(" + " OR ".join(should) + ")")
            elif should and required > 1:
                counted = " + ".join(f"(CASE WHEN {s} THEN 1 ELSE 0 END)" for s in should)
                parts.append("(" + " OR ".join(should) + ")")
                parts.append(f"(({counted}) >= {int(required)})")
            if must_not:
                parts.append("NOT COALESCE((" + " OR ".join(must_not) + "), FALSE)")
            return " AND ".join(parts) if parts else None

        return self.compile(build)

    # -- tree walk --------------------------------------------------------
    def _node(self, node: lt.Item, fieldname: Optional[str]) -> Optional[str]:
        if isinstance(node, lt.SearchField):
            name = node.name
            if name == "*":
                if isinstance(node.expr, lt.Word) and node.expr.value == "*":
                    return "TRUE"
                raise SearchQueryError("'*' can only be used as '*:*'")
            name = unescape(name)
            if not is_valid_field_name(name):
                raise SearchQueryError(f"Invalid field name: {name!r}")
            return self._node(node.expr, name)
        if isinstance(node, (lt.Group, lt.FieldGroup)):
            return self._node(node.expr, fieldname)
        if isinstance(node, lt.AndOperation):
            return self._bool(MUST, node.children, fieldname)
        if isinstance(node, lt.OrOperation):
            return self._bool(SHOULD, node.children, fieldname)
        if isinstance(node, lt.UnknownOperation):
            occur = MUST if self.q_op == "AND" else SHOULD
            return self._bool(occur, node.children, fieldname)
        if isinstance(node, (lt.Plus, lt.Not, lt.Prohibit)):
            return self._bool(MUST, [node], fieldname)
        if isinstance(node, lt.Boost):
            return self._node(node.expr, fieldname)
        if isinstance(node, lt.Fuzzy):
            return self._node(node.term, fieldname)
        if isinstance(node, lt.Proximity):
            words = unescape(node.term.value.strip('"'))
            return self._leaf(fieldname, words, phrase=False, allow_wildcard=False)
        if isinstance(node, lt.Range):
            return self._range(fieldname, node)
        if isinstance(node, lt.Phrase):
            return self._leaf(fieldname, unescape(node.value[1:-1]), phrase=True)
        if isinstance(node, lt.Word):
            value = node.value
            if fieldname is None and value == "*":
                return "TRUE"
            return self._leaf(fieldname, value, phrase=False)
        if isinstance(node, lt.Regex):
            raise SearchQueryError(
                f"Regular expression queries are not supported: {node.value!r}"
            )
        raise SearchQueryError(f"Unsupported query element: {node!s}")

    def _bool(self, default: str, children: Any, fieldname: Optional[str]) -> Optional[str]:
        must: list[str] = []
        should: list[str] = []
        must_not: list[str] = []
        for child in children:
            occur = default
            while isinstance(child, (lt.Plus, lt.Not, lt.Prohibit)):
                occur = MUST if isinstance(child, lt.Plus) else MUST_NOT
                child = child.a
            if occur == MUST_NOT:
                saved, self._ranking = self._ranking, False
                sql = self._node(child, fieldname)
                self._ranking = saved
            else:
                sql = self._node(child, fieldname)
            if sql is None:
                continue
            {MUST: must, SHOULD: should, MUST_NOT: must_not}[occur].append(sql)
        parts = list(must)
        if should and not must:
            parts.append(should[0] if len(should) == 1 else "(" + " OR ".join(should) + ")")
        if must_not:
            parts.append("NOT COALESCE((" + " OR ".join(must_not) + "), FALSE)")
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    # -- leaves -----------------------------------------------------------
    def _text_match(self, fieldname: Optional[str], text: str, kind: str) -> Optional[str]:
        query = self._tsquery(kind, text)
        if query is None or query == "TRUE":
            return query
        if fieldname in (None, "text", self.df):
            return f"(d.tsv @@ {query})"
        if fieldname in TEXT_COLUMNS:
            # the field's own vector, stored and indexed
            return f"(d.{TEXT_COLUMNS[fieldname]} @@ {query})"
        # the field's words are in tsv too: index first, then the exact field
        return (
            f"(d.tsv @@ {query} AND to_tsvector('servicespublics_fr', "
            f"COALESCE(d.doc ->> {self._p(fieldname)}, '')) @@ {query})"
        )

    def _leaf(self, fieldname: Optional[str], raw: str, phrase: bool,
              allow_wildcard: bool = True) -> Optional[str]:
        wildcard = allow_wildcard and not phrase and bool(_WILDCARD_RE.search(raw))
        value = raw if phrase else unescape(raw)
        name = fieldname or self.df
        if wildcard and raw == "*":
            return self._exists(name)
        if name == BBOX_FIELD:
            return self._bbox(value)
        if name in NGRAM_FIELDS:
            return self._ngram(NGRAM_FIELDS[name], value)
        if name == "text" or name == self.df or is_text_field(name):
            if wildcard:
                head = _WILDCARD_RE.split(raw)[0]
                words = _WORD_RE.findall(unescape(head))
                if not words:
                    return self._exists(name)
                parts = []
                if len(words) > 1:
                    parts.append(self._text_match(name, " ".join(words[:-1]), "plain"))
                parts.append(self._text_match(name, words[-1], "prefix"))
                parts = [p for p in parts if p]
                return " AND ".join(parts) if parts else None
            return self._text_match(name, value, "phrase" if phrase else "plain")
        if is_date_field(name):
            return self._date_range(name, value, value, True, True)
        if wildcard:
            pattern = _like_pattern(raw)
            if name in STRING_COLUMNS:
                return f"(d.{STRING_COLUMNS[name]} LIKE {self._p(pattern)})"
            if name in ARRAY_COLUMNS:
                return (f"EXISTS (SELECT 1 FROM unnest(d.{ARRAY_COLUMNS[name]}) v "
                        f"WHERE v LIKE {self._p(pattern)})")
            return (f"EXISTS (SELECT 1 FROM servicespublics_search_values(d.doc -> "
                    f"{self._p(name)}) v WHERE v LIKE {self._p(pattern)})")
        if name in STRING_COLUMNS:
            return f"(d.{STRING_COLUMNS[name]} = {self._p(value)})"
        if name in ARRAY_COLUMNS:
            return f"(d.{ARRAY_COLUMNS[name]} @> ARRAY[{self._p(value)}]::text[])"
        f = self._p(name)
        v = self._p(value)
        alternatives = [
            f"d.doc @> jsonb_build_object({f}, {v})",
            f"d.doc @> jsonb_build_object({f}, jsonb_build_array({v}))",
        ]
        literal = value.lower() if value.lower() in ("true", "false") else value
        if literal in ("true", "false") or _NUMBER_RE.match(literal):
            j = self._p(literal)
            alternatives += [
                f"d.doc @> jsonb_build_object({f}, CAST({j} AS jsonb))",
                f"d.doc @> jsonb_build_object({f}, jsonb_build_array(CAST({j} AS jsonb)))",
            ]
        return "(" + " OR ".join(alternatives) + ")"

    def _bbox(self, value: str) -> str:
        """Datasets whose spatial extent intersects ``minx,miny,maxx,maxy``."""
        bbox = parse_bbox(value)
        params = ", ".join(self._p(v) for v in bbox)
        return f"ST_Intersects(d.extent, ST_MakeEnvelope({params}, 4326))"

    def _ngram(self, column: str, value: str) -> Optional[str]:
        """Solr's ``*_ngram`` fields: every word is a substring of the field,
        ignoring case and accents (served by a trigram index)."""
        words = [w for w in value.split() if w]
        if not words:
            return None
        parts = [
            f"(servicespublics_search_fold(d.{column}) LIKE "
            f"servicespublics_search_fold({self._p('%' + _escape_like(w) + '%')}))"
            for w in words
        ]
        return "(" + " AND ".join(parts) + ")"

    def _exists(self, name: str) -> str:
        if name in STRING_COLUMNS:
            return f"(d.{STRING_COLUMNS[name]} <> '')"
        if name in ARRAY_COLUMNS:
            return f"(cardinality(d.{ARRAY_COLUMNS[name]}) > 0)"
        if name in DATE_COLUMNS:
            return f"(d.{DATE_COLUMNS[name]} IS NOT NULL)"
        if name in ("text", self.df):
            return "TRUE"
        return f"(d.doc ? {self._p(name)})"

    def _range(self, fieldname: Optional[str], node: lt.Range) -> Optional[str]:
        name = fieldname or self.df
        low = unescape(str(node.low).strip('"'))
        high = unescape(str(node.high).strip('"'))
        if is_date_field(name):
            return self._date_range(name, low, high, node.include_low, node.include_high)
        numeric = all(v == "*" or _NUMBER_RE.match(v) for v in (low, high))
        if name in STRING_COLUMNS:
            expr = f"d.{STRING_COLUMNS[name]}"
            values = None
        elif name in ARRAY_COLUMNS:
            expr, values = "v", f"unnest(d.{ARRAY_COLUMNS[name]}) v"
        else:
            expr = "v"
            values = f"servicespublics_search_values(d.doc -> {self._p(name)}) v"
        if numeric and (low != "*" or high != "*"):
            expr = f"servicespublics_search_num({expr})"
            cast = "numeric"
        else:
            cast = "text"
        conditions = []
        if low != "*":
            op = ">=" if node.include_low else ">"
            conditions.append(f"{expr} {op} CAST({self._p(low)} AS {cast})")
        if high != "*":
            op = "<=" if node.include_high else "<"
            conditions.append(f"{expr} {op} CAST({self._p(high)} AS {cast})")
        if not conditions:
            return self._exists(name)
        cond = " AND ".join(conditions)
        if values is None:
            return f"({cond})"
        return f"EXISTS (SELECT 1 FROM {values} WHERE {cond})"

    def _date_range(self, name: str, low: str, high: str,
                    include_low: bool, include_high: bool) -> str:
        if name in DATE_COLUMNS:
            expr = f"d.{DATE_COLUMNS[name]}"
        else:
            expr = f"servicespublics_search_ts(d.doc ->> {self._p(name)})"
        conditions = []
        for value, op_inc, op_exc in ((low, ">=", ">"), (high, "<=", "<")):
            if value == "*":
                continue
            try:
                when = datemath.parse(value)
            except datemath.DateMathError as e:
                raise SearchQueryError(f"Invalid date for field {name!r}: {e}") from None
            inclusive = include_low if op_inc == ">=" else include_high
            conditions.append(f"{expr} {op_inc if inclusive else op_exc} {self._p(when)}")
        if not conditions:
            return f"({expr} IS NOT NULL)"
        return "(" + " AND ".join(conditions) + ")"


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """Parse ``minx,miny,maxx,maxy`` (WGS84) as ckanext-spatial sends it."""
    try:
        minx, miny, maxx, maxy = (float(v) for v in value.replace(" ", "").split(","))
    except ValueError:
        raise SearchQueryError(
            f"Invalid bounding box {value!r}: expected minx,miny,maxx,maxy") from None
    if not (-90 <= miny <= 90 and -90 <= maxy <= 90) or miny > maxy:
        raise SearchQueryError(f"Invalid bounding box {value!r}: latitudes out of range")
    if maxx - minx >= 360:
        minx, maxx = -180.0, 180.0
    while minx < -180:
        minx, maxx = minx + 360, maxx + 360
    while minx > 180:
        minx, maxx = minx - 360, maxx - 360
    return minx, miny, min(maxx, 180.0), maxy


def qf_fields(qf: Optional[str]) -> list[str]:
    fields = []
    for item in (qf or "text").split():
        name = item.split("^", 1)[0]
        if is_valid_field_name(name):
            fields.append(name)
    return fields or ["text"]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_pattern(raw: str) -> str:
    out = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append("\\" + nxt if nxt in "%_\\" else nxt)
            i += 2
            continue
        if c == "*":
            out.append("%")
        elif c == "?":
            out.append("_")
        elif c in "%_":
            out.append("\\" + c)
        else:
            out.append(c)
        i += 1
    return "".join(out)
