"""Remote portals on loopback, serving recorded API responses.

:class:`UdataPortal` answers like data.gouv.fr's API v1 and
:class:`OdsPortal` like an OpenDataSoft Explore API v2.1, from the recorded
dataset objects in ``harvesters/recordings/`` (real responses, see its
README), with the URLs inside them rewritten to the local server. Tests
change the catalogue (``datasets``) between runs and inject faults (5xx,
timeouts, HTML pages, truncated JSON, looping pages, oversized answers) with
:meth:`Portal.fault`. Used by the tests (pytest-httpserver's ``httpserver``
fixture) and by ``bench/harvest.py`` (a standalone ``HTTPServer``).
"""
from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from werkzeug import Request, Response

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "harvesters" / "recordings"
SHARED_API = ROOT.parent / "shared" / "data" / "api"


def load(name: str):
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))


@dataclass
class Fault:
    path: re.Pattern
    kind: str  # status, html, truncate, sleep, huge, garbage, loop, repeat
    times: int | None = None  # None: every time
    arg: float | int | None = None
    query: str = ""

    def matches(self, request: Request) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if not self.path.search(request.path):
            return False
        return self.query in request.query_string.decode()


class Portal:
    """A fake portal: a request handler for pytest-httpserver."""

    HOSTS: tuple[str, ...] = ()

    def __init__(self, server, datasets: list[dict]):
        self.server = server
        self.base = server.url_for("/").rstrip("/")
        self.datasets = [self.rewrite(d) for d in datasets]
        self.faults: list[Fault] = []
        self.log: list[str] = []
        self.headers: list[dict] = []
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def rewrite(self, obj):
        text = json.dumps(obj, ensure_ascii=False)
        for host in self.HOSTS:
            text = text.replace(host, self.base)
        return json.loads(text)

    def fault(self, path: str, kind: str, times: int | None = None, arg=None,
              query: str = "") -> Fault:
        fault = Fault(re.compile(path), kind, times, arg, query)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def requests_to(self, pattern: str) -> int:
        return sum(1 for p in self.log if re.search(pattern, p))

    def handle(self, request: Request) -> Response:
        response = self._handle(request)
        if not getattr(self.server, "threaded", False):
            # a server that serves one connection at a time must not keep
            # one open for a client that has nothing more to ask (once a
            # threaded werkzeug server was created in the process, all of
            # them answer in HTTP/1.1, which keeps connections alive)
            response.headers["Connection"] = "close"
        return response

    def _handle(self, request: Request) -> Response:
        self.log.append(request.full_path)
        self.headers.append(dict(request.headers))
        for fault in self.faults:
            if fault.matches(request):
                if fault.times is not None:
                    fault.times -= 1
                response = self._fault_response(fault, request)
                if response is not None:
                    return response
        return self.route(request)

    def _fault_response(self, fault: Fault, request: Request) -> Response | None:
        if fault.kind == "status":
            return Response(json.dumps({"message": "Internal error"}), status=fault.arg or 503,
                            content_type="application/json")
        if fault.kind == "html":
            return Response("<!DOCTYPE html><html><body><h1>Maintenance en cours</h1>"
                            "</body></html>", status=200, content_type="text/html")
        if fault.kind == "sleep":
            time.sleep(float(fault.arg or 2))
            return None
        if fault.kind == "garbage":
            return Response("{\"data\": [1, 2", status=200, content_type="application/json")
        response = self.route(request)
        if fault.kind == "truncate":
            body = response.get_data()
            return Response(body[: max(1, len(body) // 2)], status=200,
                            content_type="application/json")
        if fault.kind == "huge":
            body = response.get_data()
            padding = b" " * int(fault.arg or 0)
            return Response(body[:-1] + padding + body[-1:], status=200,
                            content_type="application/json")
        return self.alter(fault, request, response)

    def alter(self, fault: Fault, request: Request, response: Response) -> Response:
        return response

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    @staticmethod
    def json(data, status: int = 200) -> Response:
        return Response(json.dumps(data, ensure_ascii=False), status=status,
                        content_type="application/json; charset=utf-8")


class UdataPortal(Portal):
    """data.gouv.fr API v1: datasets (paginated, filtered), a dataset,
    organisations, and the tabular API's column profiles."""

    HOSTS = ("https://www.data.gouv.fr", "https://static.data.gouv.fr")

    def __init__(self, server, datasets=None, organizations=None, profiles=None,
                 fixed_ids: bool = False):
        super().__init__(server, load("datagouv/datasets.json") if datasets is None
                         else datasets)
        self.organizations = self.rewrite(load("datagouv/organizations.json")
                                          if organizations is None else organizations)
        self.profiles = load("datagouv/profiles.json") if profiles is None else profiles
        # a benchmark catalogue keeps its datasets, ids and slugs: a dataset
        # is then found by index, not by reading the whole list each time
        self.index: dict[str, dict] | None = None
        if fixed_ids:
            self.index = {}
            for d in reversed(self.datasets):
                self.index[d["slug"]] = d
            for d in reversed(self.datasets):
                self.index[d["id"]] = d

    def by_id(self, dataset_id: str) -> dict:
        found = self._find(dataset_id)
        if found is None:
            raise StopIteration(dataset_id)
        return found

    def _find(self, key: str) -> dict | None:
        if self.index is not None:
            return self.index.get(key)
        return next((d for d in self.datasets if key in (d["id"], d["slug"])), None)

    def route(self, request: Request) -> Response:
        path = request.path
        if path == "/api/1/datasets/":
            return self._list(request)
        m = re.match(r"^/api/1/datasets/([^/]+)/$", path)
        if m:
            found = self._find(m.group(1))
            if found is not None:
                return self.json(found)
            return self.json({"message": "Dataset not found"}, 404)
        m = re.match(r"^/api/1/organizations/([^/]+)/$", path)
        if m:
            for org in self.organizations.values():
                if m.group(1) in (org["id"], org["slug"]):
                    return self.json(org)
            return self.json({"message": "Organization not found"}, 404)
        m = re.match(r"^/tabular/api/resources/([^/]+)/profile/$", path)
        if m and m.group(1) in self.profiles:
            return self.json(self.profiles[m.group(1)])
        return self.json({"message": "Not found"}, 404)

    def _selected(self, request: Request) -> list[dict]:
        args = request.args
        selected = self.datasets
        if args.get("organization"):
            org = args["organization"]
            selected = [d for d in selected
                        if (d.get("organization") or {}).get("id") == org]
        for tag in args.getlist("tag"):
            selected = [d for d in selected if tag in (d.get("tags") or [])]
        if args.get("q"):
            words = args["q"].lower().split()
            selected = [d for d in selected
                        if all(w in (d["title"] + " " + (d.get("description") or "")).lower()
                               for w in words)]
        return selected

    def _list(self, request: Request, page: int | None = None) -> Response:
        args = request.args
        page = page or int(args.get("page", 1))
        size = int(args.get("page_size", 20))
        selected = self._selected(request)
        chunk = selected[(page - 1) * size: page * size]
        params = [(k, v) for k, v in args.items(multi=True) if k != "page"]

        def link(n):
            return f"{self.base}/api/1/datasets/?{urlencode(params + [('page', n)])}"

        body = {
            "data": chunk, "page": page, "page_size": size, "total": len(selected),
            "next_page": link(page + 1) if page * size < len(selected) else None,
            "previous_page": link(page - 1) if page > 1 else None,
        }
        if request.headers.get("X-Fields"):
            body = _mask(body, request.headers["X-Fields"])
        return self.json(body)

    def alter(self, fault, request, response):
        data = json.loads(response.get_data())
        if fault.kind == "loop":  # next_page points back to the first page
            data["next_page"] = re.sub(r"page=\d+", "page=1", data["next_page"] or "")
        elif fault.kind == "repeat":  # this page serves the first page's data
            first = json.loads(self._list(request, page=1).get_data())
            data["data"] = first["data"]
        elif fault.kind == "duplicate":  # an entry of this page appears twice
            data["data"] = data["data"] + data["data"][:1]
            data["total"] = data["total"]
        elif fault.kind == "badtypes":  # unexpected field types on one dataset
            for d in data.get("data", [data]) if "data" in data else [data]:
                d["tags"] = "pas-une-liste"
                d["temporal_coverage"] = "2020"
                d["spatial"] = ["fr:commune:35238"]
                d["resources"][0]["filesize"] = "grand"
                d["resources"].append("pas-une-ressource")
        return self.json(data)


class OdsPortal(Portal):
    """OpenDataSoft Explore API v2.1: the catalogue (limit/offset/order_by/
    where, with the 10,000 offset cap), its JSON export, a dataset."""

    HOSTS = ("https://documentation-resources.opendatasoft.com",)
    API = "/api/explore/v2.1"

    def __init__(self, server, datasets=None, cap: int = 10000):
        super().__init__(server, load("opendatasoft/datasets.json") if datasets is None
                         else datasets)
        self.cap = cap

    def by_id(self, dataset_id: str) -> dict:
        return next(d for d in self.datasets
                    if dataset_id in (d["dataset_id"], d["dataset_uid"]))

    def route(self, request: Request) -> Response:
        path = request.path
        args = request.args
        if path == f"{self.API}/catalog/datasets":
            limit = int(args.get("limit", 10))
            offset = int(args.get("offset", 0))
            if limit > 100 or offset + limit > self.cap:
                return self.json({"error_code": "InvalidRESTParameterError",
                                  "message": "Invalid value for limit/offset"}, 400)
            selected = self._selected(args)
            return self.json({"total_count": len(selected),
                              "results": selected[offset:offset + limit]})
        if path == f"{self.API}/catalog/exports/json":
            return self.json(self._selected(args))
        m = re.match(rf"^{self.API}/catalog/datasets/([^/]+)$", path)
        if m:
            for d in self.datasets:
                if d["dataset_id"] == m.group(1):
                    return self.json(d)
            return self.json({"error_code": "DatasetNotFound"}, 404)
        return self.json({"error_code": "NotFound"}, 404)

    def _selected(self, args) -> list[dict]:
        where = _compile(args.get("where", ""))
        selected = [d for d in self.datasets if where(d)]
        order = [o.strip().split()[0] for o in args.get("order_by", "").split(",") if o.strip()]

        def key(d):
            metas = d["metas"]["default"]
            return tuple(str(d.get(o) if o.startswith("dataset_") else metas.get(o) or "")
                         for o in order)

        return sorted(selected, key=key) if order else selected

    def alter(self, fault, request, response):
        data = json.loads(response.get_data())
        if fault.kind == "repeat":
            args = request.args.to_dict()
            args["offset"] = "0"
            data = json.loads(self.route(Request.from_values(
                path=request.path, query_string=urlencode(args))).get_data())
        elif fault.kind == "duplicate":
            data["results"] = data["results"] + data["results"][:1]
        elif fault.kind == "badtypes":
            for d in data.get("results", []):
                d["metas"]["default"]["keyword"] = {"pas": "une liste"}
                d["metas"]["default"]["modified"] = d["metas"]["default"]["modified"]
                d["attachments"] = "aucune"
        return self.json(data)


def _mask(data, mask: str):
    """flask-restx's field mask (``X-Fields: data{id,slug},total``), as udata
    applies it."""
    fields, depth, start, parsed = [], 0, 0, {}
    for i, c in enumerate(mask + ","):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            fields.append(mask[start:i].strip())
            start = i + 1
    for f in fields:
        name, _, sub = f.partition("{")
        parsed[name] = sub[:-1] if sub else None
    if isinstance(data, list):
        return [_mask(d, mask) for d in data]
    out = {}
    for name, sub in parsed.items():
        value = data.get(name)
        out[name] = _mask(value, sub) if sub and value is not None else value
    return out


# ---------------------------------------------------------------- a tiny ODSQL


def _split(text: str, word: str) -> list[str]:
    parts, depth, quote, start, i = [], 0, None, 0, 0
    token = f" {word} "
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and text[i:i + len(token)].upper() == token:
            parts.append(text[start:i])
            start = i + len(token)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _value(d: dict, name: str):
    if name.startswith("dataset_"):
        return d.get(name)
    return d["metas"]["default"].get(name)


def _compile(text: str):
    """The ODSQL filter ``text`` as a function of a dataset, parsed once for
    the whole catalogue (a large benchmark catalogue is filtered on every
    page it serves)."""
    text = text.strip()
    if not text:
        return lambda d: True
    ands = _split(text, "AND")
    if len(ands) > 1:
        parts = [_compile(p) for p in ands]
        return lambda d: all(part(d) for part in parts)
    ors = _split(text, "OR")
    if len(ors) > 1:
        parts = [_compile(p) for p in ors]
        return lambda d: any(part(d) for part in parts)
    if text.startswith("(") and text.endswith(")"):
        return _compile(text[1:-1])
    m = re.match(r"^(\w+) is (not )?null$", text, re.I)
    if m:
        name, negated = m.group(1), bool(m.group(2))
        return lambda d: (_value(d, name) in (None, "")) != negated
    m = re.match(r"^(\w+) (>=|>|<=|<) date'([^']+)'$", text)
    if m:
        name, op, b = m.group(1), m.group(2), m.group(3)[:19]

        def compare(d):
            value = _value(d, name)
            if not value:
                return False
            a = value[:19]
            return {">=": a >= b, ">": a > b, "<=": a <= b, "<": a < b}[op]
        return compare
    m = re.match(r"^(\w+) = \"((?:[^\"\\]|\\.)*)\"$", text)
    if m:
        name, wanted = m.group(1), m.group(2).replace('\\"', '"')

        def equals(d):
            value = _value(d, name)
            return wanted in value if isinstance(value, list) else value == wanted
        return equals

    def unsupported(d):
        raise ValueError(f"unsupported ODSQL in the test portal: {text!r}")
    return unsupported


def clone(template: dict, i: int, kind: str) -> dict:
    """A copy of a recorded dataset under a new identity, for volume."""
    d = copy.deepcopy(template)
    if kind == "udata":
        d["id"] = f"{i:024x}"
        d["slug"] = f"{d['slug'][:60]}-{i}"
        d["title"] = f"{d['title']} ({i})"
        for j, r in enumerate(d.get("resources") or []):
            r["id"] = f"{i:08x}-0000-4000-8000-{j:012x}"
    else:
        d["dataset_id"] = f"{d['dataset_id'][:60]}-{i}"
        d["dataset_uid"] = f"da_{i:06x}"
        d["metas"]["default"]["title"] = f"{d['metas']['default'].get('title')} ({i})"
    return d
