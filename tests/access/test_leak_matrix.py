"""No leak: who sees what, through every endpoint.

The site is the production one: every plugin of ``config/development.ini``,
in its order, with its dataset schemas, presets and DCAT profiles
(``tests/development_settings.py``).

Each row of ``ROWS`` is one way of reading data (an API action, a page, a
feed, an export, a vector tile, an e-mail…). The matrix runs every row as
each user of ``USERS`` (anonymous, a signed-in citizen, an agent who edits
another organisation's datasets, a user a sysadmin flagged as agent, an
editor of the producing organisation, a sysadmin) against the service-point
datasets of ``world.py`` (public, restricted, private, draft) and what the
plugins made of them (points, map layers, national map, issue reports),
with real requests to the Flask app, and asserts exactly which datasets each
one sees, and the counts: a dataset is seen when the response contains its
token, id or one of its resources' ids. A refusal shows nothing of a dataset
the user may not read, whatever its status.

``test_every_endpoint_is_classified`` fails on any registered action or URL
rule that is neither covered by a row (``Row.covers``) nor listed in
``NO_DATASET_DATA`` (with the reason), ``WRITES`` (actions refused to
outsiders, checked by ``test_writes_are_refused_to_outsiders``) or
``WRITE_FORMS`` (posted forms, ``test_forms_are_refused_to_outsiders``).
Adding an endpoint means adding one line here: a row for what it reads, or
an allow-list entry saying why it exposes no dataset data.

To add a feature's rows: give its data to the world datasets through
``world.WORLD_BUILDERS`` (keep each dataset's token in what you add) and
append rows in the section "Rows added by later features" at the end of
``ROWS``.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable, Optional

import pytest

import ckan.logic as logic
import ckan.plugins as p
from ckan.common import config

from tests.analytics.leak_world import build as _analytics_world
from tests.development_settings import development_settings
from tests.mapview import leak as _map_leak

from . import world as w


#: the site's plugins, in their production order, with the schemas, presets
#: and DCAT profiles they run with (config/development.ini): every action and
#: URL rule of every plugin is classified, and the rows run on the site as it is
SETTINGS = development_settings()
PLUGINS = SETTINGS["ckan.plugins"]

pytestmark = [pytest.mark.ckan_config(key, value) for key, value in SETTINGS.items()]

# what the features add to the world's datasets once they are closed
for _builder in (_map_leak.build_map_world, _analytics_world):
    if _builder not in w.WORLD_BUILDERS:
        w.WORLD_BUILDERS.append(_builder)

DATASETS = frozenset(w.TOKENS)
SOURCES = frozenset(w.SOURCE_TOKENS)
EVERYTHING = DATASETS | SOURCES | {"orphan_record"}
USERS = w.USERS

#: what each user may read (the permission labels' verdict)
READS: dict[str, frozenset[str]] = {
    "anonymous": frozenset({"public", "open_source"}),
    "citizen": frozenset({"public", "open_source"}),
    "agent": frozenset({"public", "restricted", "open_source"}),
    "flagged": frozenset({"public", "restricted", "open_source"}),
    "member": EVERYTHING - {"orphan_record"},
    "sysadmin": EVERYTHING - {"orphan_record"},
}
#: who manages the producing organisation's datasets and sources
MANAGERS = frozenset({"member", "sysadmin"})


def reads(who: str) -> set[str]:
    """Datasets the user may read, drafts included."""
    return set(READS[who] & DATASETS)


def reads_active(who: str) -> set[str]:
    """Datasets the user may read, drafts excluded (lists and searches)."""
    return reads(who) - {"draft"}


def public(who: str) -> set[str]:
    """Lists that CKAN defines as public only, whoever asks."""
    return {"public"}


def can_read(who: str, key: str) -> bool:
    return key in READS[who]


def can_manage(who: str, key: str) -> bool:
    return who in MANAGERS


def sysadmin_only(who: str, key: str = "") -> bool:
    return who == "sysadmin"


# -- the client ----------------------------------------------------------------

@dataclasses.dataclass
class Response:
    status: int
    body: str
    json: Any = None
    location: str = ""


class Client:
    def __init__(self, app: Any, world: w.World):
        self.app = app
        self.world = world

    def _headers(self, who: str) -> dict[str, str]:
        token = self.world.tokens[who]
        return {"Authorization": token} if token else {}

    @staticmethod
    def _response(res: Any) -> Response:
        body = res.get_data(as_text=True)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        return Response(res.status_code, body, data, res.headers.get("Location", ""))

    def get(self, who: str, url: str, headers: Optional[dict[str, str]] = None,
            **params: Any) -> Response:
        """A page, following redirects (/dataset/<id> -> /dataset/<name>); a
        redirection to the login page is answered as a 302. ``headers``: more
        request headers (``Accept``...)."""
        try:
            res = self.app.get(url, headers=dict(self._headers(who), **(headers or {})),
                               query_string=params, follow_redirects=True)
        except (logic.NotAuthorized, logic.NotFound) as e:
            # the test app propagates what a view fails to catch; a site
            # answers it with its error page (500), with no data
            return Response(500, f"uncaught {type(e).__name__}")
        out = self._response(res)
        if res.request.path.startswith("/user/login"):
            out.status, out.location = 302, res.request.url
        return out

    def post(self, who: str, url: str, data: dict[str, Any]) -> Response:
        return self._response(self.app.post(url, headers=self._headers(who), data=data,
                                            follow_redirects=False))

    def api(self, who: str, action: str, /, **data: Any) -> Response:
        return self._response(self.app.post(
            f"/api/3/action/{action}", headers=self._headers(who), json=data,
            follow_redirects=False))

    def result(self, who: str, action: str, /, **data: Any) -> Any:
        res = self.api(who, action, **data)
        assert res.status == 200, (action, who, res.status, res.body[:500])
        return res.json["result"]


# -- rows --------------------------------------------------------------------

@dataclasses.dataclass
class Row:
    """One way of reading data.

    ``each``: ``None`` for a list (``sees(who)`` gives the objects the user
    must see, exactly), ``"dataset"``/``"source"``/``"tag"`` for a request
    per object (``allowed(who, key)`` says whether it must succeed and show
    the object; a refusal must show nothing).
    """

    covers: tuple[str, ...]
    call: Callable[[Client, str, Any], Response]
    each: Optional[str] = None
    sees: Optional[Callable[[str], set[str]]] = None
    allowed: Optional[Callable[[str, str], bool]] = None
    #: objects the row can show (others are ignored in list rows)
    universe: frozenset[str] = DATASETS
    #: must an allowed response show the object's token? (counts, ids only…)
    shows_token: bool = True
    #: extra assertions on a response: (client, who, response, expected)
    check: Optional[Callable[[Client, str, Response, set[str]], None]] = None
    requires: tuple[str, ...] = ()
    #: users whose requests are redirected to the login page
    login_required: bool = False
    #: the page crashes (uncaught NotAuthorized, HTTP 500) instead of refusing
    crashes_on_refusal: bool = False
    #: list rows: the user must see at most ``sees(who)`` (pages whose
    #: content is chosen by other features, e.g. the home page)
    at_most: bool = False
    #: an object is recognised by its id and name only, not its token (the
    #: request itself carries the token, e.g. a tag name)
    by_id_only: bool = False
    #: an object is recognised by its token only (the request carries its id,
    #: which pages repeat in their language selector)
    by_token_only: bool = False
    #: the request carries the object's token (a tag name, a name searched
    #: for), which a refusal may repeat: only a refusal answered 200 must not
    #: show it (any other refusal must not, whatever its status)
    token_in_request: bool = False


def _assert(condition: bool, *info: Any) -> None:
    assert condition, info


def _merge(*responses: Response) -> tuple[int, str]:
    """Several requests as one cell: allowed only if every one succeeds."""
    statuses = [r.status for r in responses]
    status = 200 if all(s == 200 for s in statuses) else max(
        s for s in statuses if s != 200)
    return status, "\n".join(r.body for r in responses)


def _ds(world: w.World, key: str) -> w.Dataset:
    return world.datasets[key]


#: the access level of each world dataset (the draft is a restricted one)
LEVELS = {"public": "public", "restricted": "restricted", "private": "private",
          "draft": "restricted"}


def _search_check(c: Client, who: str, res: Response, expected: set[str]) -> None:
    result = res.json["result"]
    ours = [d for d in result["results"] if d.get("owner_org") == c.world.org["id"]
            and d.get("type") == w.DATASET_TYPE]
    assert len(ours) == len(expected), (who, [d["name"] for d in ours])
    # every facet counts only what the user may see
    everywhere = (c.world.org["name"], c.world.org["id"], c.world.group["name"], "securite",
                  "gendarmerie", "france-services")
    for field, facet in result["search_facets"].items():
        for item in facet["items"]:
            if item["name"] in everywhere:
                assert item["count"] == len(expected), (who, field, item)
    # the access levels: only those of the datasets the user may see, counted
    levels = {i["name"]: i["count"]
              for i in result["search_facets"]["access_level"]["items"]}
    counted = {level: sum(1 for k in expected if LEVELS[k] == level)
               for level in set(LEVELS.values())}
    assert levels == {k: v for k, v in counted.items() if v}, (who, levels)


def _search(**params: Any) -> Callable[[Client, str, Any], Response]:
    base = {"q": "", "rows": 1000, "facet.field": json.dumps(
        ["organization", "groups", "tags", "res_format", "license_id", "access_level",
         "domain", "service_types", "territory_regions"]),
        "facet.limit": -1}
    return lambda c, who, _: c.api(who, "package_search", **dict(base, **params))


def _count_check(key: str, sources: bool = False):
    """The dataset count of an organisation or group in a list: what the
    user may read (organization_list counts by permission labels only, so
    harvest sources, which ckanext-harvest hides from package_search, too)."""
    def check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
        expected = reads_active(who)
        if sources and p.plugin_loaded("harvest"):
            expected |= READS[who] & SOURCES
        found = [i for i in res.json["result"] if i.get("name") == key]
        assert found, (who, key)
        assert found[0]["package_count"] == len(expected), (
            who, key, found[0]["package_count"], expected)
    return check


def _activity_row(action: str, params: Callable[[w.World], dict[str, Any]],
                  **kwargs: Any) -> Row:
    kwargs.setdefault("sees", reads)
    return Row(covers=(f"action:{action}",),
               call=lambda c, who, _: c.api(who, action, **params(c.world)), **kwargs)


def _dashboard(who: str) -> set[str]:
    """The member created every dataset (their own activities); the others
    follow the organisation (public datasets only, as in core) and the three
    datasets they followed while public; the sysadmin follows nothing."""
    if who in ("anonymous", "sysadmin"):
        return set()
    return reads(who) if who == "member" else reads_active(who)


# -- the site's own plugins: helpers of their rows ----------------------------------
# points (servicespublics_points), national map (servicespublics_analytics),
# issue reports (servicespublics_issues), DCAT negotiation (servicespublics_dcat)

def _points_list(c: Client, who: str, k: str) -> Response:
    d = _ds(c.world, k)
    return Response(*_merge(
        c.api(who, "servicespublics_points_list", resource_id=d.resource_id),
        c.api(who, "servicespublics_points_list", package_id=d.name, format="list"),
        c.api(who, "servicespublics_points_list", package_id=d.id, bbox="-6,41,10,52",
              service_type="france-services")))


def _points_list_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    if res.status != 200:
        return
    d = _ds(c.world, _key_of(c, res))
    found = c.result(who, "servicespublics_points_list", package_id=d.id, format="list")
    assert found["count"] == 1 + w.FRANCE_SERVICES_PER_DATASET, found


def _key_of(c: Client, res: Response) -> str:
    """The world dataset a per-dataset response is about (its token)."""
    keys = [k for k, d in c.world.datasets.items() if d.token in res.body]
    assert len(keys) == 1, keys
    return keys[0]


def _analytics_expected(who: str) -> int:
    """France Services of the national map a user may count (those of every
    active dataset they read)."""
    return w.FRANCE_SERVICES_PER_DATASET * len(reads_active(who))


def _analytics_counts_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    """Density, evolution, distances per commune and the density CSV count
    only what the user may read."""
    count = _analytics_expected(who)
    row = next(r for r in res.json["result"]["territories"]
               if r["code"] == w.GAP_DEPARTEMENT)
    assert row["count"] == count, (who, "density", row)
    evolution = c.result(who, "servicespublics_evolution", service_type="france-services",
                         date_from="2000-01-01", territory=w.GAP_DEPARTEMENT)
    assert evolution["totals"]["count_to"] == count, (who, "evolution", evolution["totals"])
    nearest = c.result(who, "servicespublics_nearest", service_type="france-services",
                       territory=w.GAP_DEPARTEMENT, include_communes=False)
    assert nearest["summary"]["services"] == count, (who, "nearest", nearest["summary"])
    page = c.get(who, "/carte/densite.csv", service_type="france-services")
    assert page.status == 200, page.body[:200]
    line = next(li for li in page.body.splitlines() if ",05,Hautes-Alpes," in li)
    assert line.split(",")[4] == str(count), (who, "densite.csv", line)


def _analytics_export_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    count = _analytics_expected(who)
    assert res.json["result"]["count"] == count, (who, res.json["result"]["count"])
    assert len(res.json["result"]["features"]) == count


def _analytics_files_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    count = _analytics_expected(who)
    csv_page = c.get(who, "/carte/export.csv", service_type="france-services")
    assert len(csv_page.body.strip().splitlines()) == 1 + count, (who, csv_page.body)
    geojson = c.get(who, "/carte/export.geojson", service_type="france-services")
    assert len(geojson.json["features"]) == count, (who, geojson.body[:300])


def _analytics_nearest_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    assert len(res.json["result"]["services"]) == _analytics_expected(who)


def _analytics_tiles(c: Client, who: str, _key: Any) -> Response:
    """The tile around Gap at zoom 8 (points, with their names, not cells)."""
    z, x, y = _map_leak.tile_of(6.11, 44.58, 8)
    res = c.app.get(f"/carte/tuiles/{z}/{x}/{y}.pbf", headers=c._headers(who),
                    query_string={"service_type": "france-services"})
    return _map_leak.tile_response(res, Response)


def _analytics_tiles_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    assert len(res.json) == _analytics_expected(who), (who, res.json)


def _analytics_impact(c: Client, who: str, key: str) -> Response:
    """Close the dataset's first France Services: a point the user may not
    count is answered like an unknown one (a validation error, i.e. not found)."""
    ids = _ds(c.world, key).extra["analytics_point_ids"]
    res = c.api(who, "servicespublics_closure_impact", close=ids[:1],
                territory=w.GAP_DEPARTEMENT)
    return Response(404, res.body) if res.status == 409 else res


def _carte_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    """The producer filter names the producers of points the user may see."""
    import html
    import re

    found = re.search(r'data-config="([^"]*)"', res.body)
    assert found, res.body[:300]
    config = json.loads(html.unescape(found.group(1)))
    assert [o["name"] for o in config["organizations"]] == [c.world.org["name"]], config


def _issue_count(who: str) -> int:
    """The reports a user sees listed by default: the published ones of the
    datasets they read; every report of them for the producer's editors."""
    return len(reads(who)) * (2 if who in MANAGERS else 1)


def _issue_list_check(c: Client, who: str, res: Response, expected: set[str]) -> None:
    result = res.json["result"]
    count = _issue_count(who)
    assert result["count"] == count and len(result["results"]) == count, (who, result)
    assert sum(result["facets"]["status"].values()) == count, (who, result["facets"])
    states = {"published": len(expected)}
    if who in MANAGERS:
        states["pending"] = len(expected)
    elif who == "citizen":
        states["pending"] = 1  # their own, on the public dataset
    assert result["facets"]["moderation_state"] == states, (who, result["facets"])


def _issue_per_dataset(c: Client, who: str, k: str) -> Response:
    d = _ds(c.world, k)
    return Response(*_merge(
        c.api(who, "servicespublics_issue_list", package_id=d.id),
        c.api(who, "servicespublics_issue_list", resource_id=d.resource_id,
              point_id=d.brigade_source_id, moderation_state="published")))


def _issue_per_dataset_check(c: Client, who: str, res: Response, _expected: set[str]
                             ) -> None:
    if res.status != 200:
        return
    d = _ds(c.world, _key_of(c, res))
    found = c.result(who, "servicespublics_issue_list", package_id=d.id)
    assert found["count"] == (2 if who in MANAGERS else 1), (who, found)


def _sees_pending(who: str, k: str) -> bool:
    """A pending report: for the dataset's moderators and its reporter (the
    citizen), as long as they may read the dataset."""
    return can_read(who, k) and (who in MANAGERS or who == "citizen")


def _issue_show(report: str) -> Callable[[Client, str, str], Response]:
    def call(c: Client, who: str, k: str) -> Response:
        found = getattr(_ds(c.world, k), report)
        return Response(*_merge(
            c.api(who, "servicespublics_issue_show", id=found["id"]),
            c.api(who, "servicespublics_issue_show", id=str(found["number"]))))
    return call


def _issue_page(report: str) -> Callable[[Client, str, str], Response]:
    def call(c: Client, who: str, k: str) -> Response:
        d = _ds(c.world, k)
        return c.get(who, f"/dataset/{d.id}/issues/{getattr(d, report)['number']}")
    return call


def _issues_tab_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    """The reports tab lists the published report, not the pending one."""
    if res.status == 200:
        k = _key_of(c, res)
        assert f"Nom faux pour {w.TOKENS[k]}" in res.body, who
        assert f"Il manque {w.TOKENS[k]}" not in res.body, who


def _correction_list_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    if res.status == 200 and res.json["result"]:
        fields = [r["fields"] for r in res.json["result"]]
        assert len(fields) == 1 and "corrigée" in fields[0]["name"], fields


def _issue_form_by_resource(c: Client, who: str, k: str) -> Response:
    """``/issues/new?resource_id=``: the redirection to the dataset's form
    must not name a dataset the user may not see."""
    d = _ds(c.world, k)
    params = {"resource_id": d.resource_id}
    first = c.app.get("/issues/new", headers=c._headers(who), query_string=params,
                      follow_redirects=False)
    final = c.get(who, "/issues/new", **params)
    return Response(final.status, f"Location: {first.headers.get('Location', '')}\n"
                    + final.body, final.json, final.location)


def _mails(c: Client, who: str, _key: Any) -> Response:
    """The e-mails sent to the user since the datasets were closed."""
    mailbox, mark = c.world.extra["mailbox"], c.world.extra["mail_mark"]
    user = c.world.users[who]
    if mailbox is None or user is None:
        return Response(200, "")
    mine = [m for m in mailbox.messages[mark:] if user["email"] in m["rcpt"]]
    return Response(200, "\n".join(f"{m['subject']}\n{m['body']}" for m in mine))


_ALL_STATES = ["pending", "held", "published", "rejected", "merged"]


def _queue(c: Client, who: str, _key: Any) -> Response:
    return Response(*_merge(
        c.get(who, "/issues/moderation"),
        c.get(who, "/issues/moderation", moderation_state=_ALL_STATES),
        c.get(who, "/issues/moderation", moderation_state=_ALL_STATES,
              organization=c.world.org["id"])))


def _queue_sees(who: str) -> set[str]:
    """The producer's editors see every report of their datasets; the agent,
    who moderates another organisation, the published ones of the datasets
    they read; the others are refused."""
    if who in MANAGERS:
        return reads(who)
    return reads(who) if who == "agent" else set()


def _queue_check(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    """Pending reports are for their dataset's moderators only."""
    shown = {k for k in w.TOKENS if f"Il manque {w.TOKENS[k]}" in res.body}
    assert shown == (reads(who) if who in MANAGERS else set()), (who, shown)


def _org_queue(c: Client, who: str, _key: Any) -> Response:
    org, other = c.world.org["name"], c.world.other_org["name"]
    return Response(*_merge(
        c.get(who, f"/organization/{org}/issues"),
        c.get(who, f"/organization/{org}/issues", moderation_state=_ALL_STATES),
        # the agent moderates the other organisation: its queue is empty
        *([c.get(who, f"/organization/{other}/issues", moderation_state=_ALL_STATES)]
          if who == "agent" else [])))


def _not_html(c: Client, who: str, res: Response, _expected: set[str]) -> None:
    """A negotiated answer is RDF, not the HTML page."""
    if res.status == 200:
        assert "<html" not in res.body.lower(), (who, res.body[:200])


def _negotiated_dataset(c: Client, who: str, k: str) -> Response:
    d = _ds(c.world, k)
    return Response(*_merge(
        c.get(who, f"/dataset/{d.id}", headers={"Accept": "text/turtle"}),
        c.get(who, f"/service-points/{d.id}", headers={"Accept": "application/ld+json"})))


def _negotiated_catalog(c: Client, who: str, _key: Any) -> Response:
    return Response(*_merge(
        c.get(who, "/", headers={"Accept": "text/turtle"}),
        c.get(who, "/", headers={"Accept": "application/ld+json"},
              q="*:* OR capacity:private", fq="permission_labels:*"),
        c.get(who, "/catalog.ttl", q="Gendarmeries", fq="capacity:private")))


ROWS: dict[str, Row] = {
    # -- search and lists -----------------------------------------------------
    "package_search": Row(
        covers=("action:package_search",), call=_search(), sees=public,
        check=_search_check),
    "package_search include_private": Row(
        covers=("action:package_search",), call=_search(include_private=True),
        sees=reads_active, check=_search_check),
    "package_search include_drafts": Row(
        covers=("action:package_search",),
        call=_search(include_private=True, include_drafts=True), sees=reads),
    "package_search fq +state": Row(
        covers=("action:package_search",),
        call=_search(include_private=True, fq="+state:(active OR draft OR deleted)"),
        sees=reads),
    # queries that try to widen the permission filter: CKAN adds the user's
    # labels as a separate fq, which every engine must AND with q and fq
    "package_search hostile query": Row(
        covers=("action:package_search",),
        call=_search(include_private=True,
                     q="*:* OR permission_labels:agent OR capacity:private OR name:*",
                     fq="+state:(active OR draft) OR permission_labels:* OR id:*"),
        sees=reads),
    "dcat_catalog_search hostile query": Row(
        covers=("action:dcat_catalog_search",), requires=("dcat",),
        call=lambda c, who, _: c.api(who, "dcat_catalog_search", format="ttl",
                                     q="*:* OR capacity:private",
                                     fq="capacity:private OR permission_labels:*"),
        sees=public),
    "package_list": Row(covers=("action:package_list",),
                        call=lambda c, who, _: c.api(who, "package_list"), sees=public),
    "current_package_list_with_resources": Row(
        covers=("action:current_package_list_with_resources",),
        call=lambda c, who, _: c.api(who, "current_package_list_with_resources", limit=100),
        sees=lambda who: reads_active(who) if who == "sysadmin" else {"public"}),
    "package_autocomplete": Row(
        covers=("action:package_autocomplete",),
        call=lambda c, who, _: c.api(who, "package_autocomplete", q="q", limit=100),
        sees=reads_active),
    "api dataset autocomplete": Row(
        covers=("url:api.dataset_autocomplete",),
        call=lambda c, who, _: c.get(who, "/api/2/util/dataset/autocomplete",
                                     incomplete="q", limit=100),
        sees=reads_active),
    "resource_search": Row(
        covers=("action:resource_search",),
        call=lambda c, who, _: c.api(who, "resource_search", query="name:Fichier",
                                     limit=100),
        sees=public),
    "tag_list": Row(covers=("action:tag_list",),
                    call=lambda c, who, _: c.api(who, "tag_list"), sees=reads),
    "tag_list all_fields": Row(
        covers=("action:tag_list",),
        call=lambda c, who, _: c.api(who, "tag_list", all_fields=True), sees=reads),
    "tag_search": Row(
        covers=("action:tag_search",),
        call=lambda c, who, _: c.api(who, "tag_search", query="tag-q", limit=100),
        sees=reads,
        check=lambda c, who, res, exp: _assert(res.json["result"]["count"] == len(exp))),
    "tag_autocomplete": Row(
        covers=("action:tag_autocomplete",),
        call=lambda c, who, _: c.api(who, "tag_autocomplete", q="tag-q", limit=100),
        sees=reads),
    "api tag autocomplete": Row(
        covers=("url:api.tag_autocomplete",),
        call=lambda c, who, _: c.get(who, "/api/2/util/tag/autocomplete",
                                     incomplete="tag-q", limit=100),
        sees=reads),
    "format_autocomplete": Row(
        covers=("action:format_autocomplete",),
        call=lambda c, who, _: c.api(who, "format_autocomplete", q="q", limit=100),
        sees=reads),
    "api format autocomplete": Row(
        covers=("url:api.format_autocomplete",),
        call=lambda c, who, _: c.get(who, "/api/2/util/resource/format_autocomplete",
                                     incomplete="q", limit=100),
        sees=reads),
    "member_list group": Row(
        covers=("action:member_list",),
        call=lambda c, who, _: c.api(who, "member_list", id=c.world.group["id"],
                                     object_type="package"),
        # drafts join their groups when published
        sees=reads_active, shows_token=False),
    "member_list organization": Row(
        covers=("action:member_list",),
        call=lambda c, who, _: c.api(who, "member_list", id=c.world.org["id"]),
        sees=reads, shows_token=False),
    "organization_show": Row(
        covers=("action:organization_show",),
        call=lambda c, who, _: c.api(who, "organization_show", id=c.world.org["id"],
                                     include_datasets=True),
        sees=reads_active,
        check=lambda c, who, res, exp: _assert(
            res.json["result"]["package_count"] == len(exp), res.json["result"])),
    "group_show": Row(
        covers=("action:group_show",),
        call=lambda c, who, _: c.api(who, "group_show", id=c.world.group["id"],
                                     include_datasets=True),
        sees=reads_active,
        check=lambda c, who, res, exp: _assert(
            res.json["result"]["package_count"] == len(exp), res.json["result"])),
    "group_package_show": Row(
        covers=("action:group_package_show",),
        call=lambda c, who, _: c.api(who, "group_package_show", id=c.world.group["id"]),
        sees=reads_active),
    "organization_list": Row(
        covers=("action:organization_list",),
        call=lambda c, who, _: c.api(who, "organization_list", all_fields=True),
        sees=lambda who: set(), check=_count_check("ministere-interieur", sources=True)),
    "group_list": Row(
        covers=("action:group_list",),
        call=lambda c, who, _: c.api(who, "group_list", all_fields=True),
        sees=lambda who: set(), check=_count_check("securite")),
    "organization_list_for_user": Row(
        covers=("action:organization_list_for_user",),
        call=lambda c, who, _: c.api(who, "organization_list_for_user",
                                     include_dataset_count=True),
        sees=lambda who: set()),
    "user_show with datasets": Row(
        covers=("action:user_show",),
        call=lambda c, who, _: c.api(who, "user_show", id=c.world.user_name("member"),
                                     include_datasets=True),
        # a user's own list shows their drafts and private datasets; others see
        # the public ones (CKAN's rule), whatever else they may read
        sees=lambda who: reads(who) if who in ("member", "sysadmin") else {"public"}),
    "user_list": Row(
        covers=("action:user_list",),
        call=lambda c, who, _: c.api(who, "user_list"), sees=lambda who: set(),
        check=lambda c, who, res, exp: _assert(
            [u["number_created_packages"] for u in res.json["result"]
             if u["name"] == c.world.user_name("member")] == [1])),
    "package_relationships_list": Row(
        covers=("action:package_relationships_list",),
        call=lambda c, who, _: c.api(who, "package_relationships_list",
                                     id=c.world.datasets["public"].id),
        # the public dataset "depends on" each of the others: only the
        # relationships to readable datasets are listed
        sees=lambda who: reads(who) if reads(who) != {"public"} else set()),
    "dataset_followee_list": Row(
        covers=("action:dataset_followee_list",),
        call=lambda c, who, _: c.api(who, "dataset_followee_list",
                                     id=c.world.user_name(who) or "x"),
        # followers followed the three datasets while they were public
        sees=lambda who: (reads_active(who) if who in ("citizen", "agent", "flagged")
                          else set())),
    "followee_list": Row(
        covers=("action:followee_list",),
        call=lambda c, who, _: c.api(who, "followee_list",
                                     id=c.world.user_name(who) or c.world.user_name("citizen")),
        # the followed organisation's dict lists the datasets its reader may see
        sees=lambda who: reads_active(who) if who not in ("anonymous", "sysadmin") else set()),
    "organization_followee_list": Row(
        covers=("action:organization_followee_list", "action:group_followee_list"),
        call=lambda c, who, _: Response(*_merge(*(
            c.api(who, action, id=c.world.user_name(who) or c.world.user_name("citizen"))
            for action in ("organization_followee_list", "group_followee_list")))),
        # core's organisation dicts list private datasets to members only:
        # restricted ones are missing for agents (too little, not too much)
        sees=lambda who: (set() if who in ("anonymous", "sysadmin")
                          else reads_active(who) if who == "member" else {"public"})),
    # -- activities -------------------------------------------------------------
    "recently_changed_packages_activity_list": _activity_row(
        "recently_changed_packages_activity_list", lambda wd: {"limit": 100}),
    # core's organisation and group streams leave out private datasets (and
    # so restricted ones) for everybody
    "organization_activity_list": _activity_row(
        "organization_activity_list", lambda wd: {"id": wd.org["id"], "limit": 100},
        sees=public),
    "group_activity_list": _activity_row(
        "group_activity_list", lambda wd: {"id": wd.group["id"], "limit": 100},
        sees=public),
    "user_activity_list": _activity_row(
        "user_activity_list", lambda wd: {"id": wd.users["member"]["id"], "limit": 100}),
    "dashboard_activity_list": Row(
        covers=("action:dashboard_activity_list", "action:dashboard_new_activities_count",
                "action:dashboard_mark_activities_old"),
        call=lambda c, who, _: c.api(who, "dashboard_activity_list", limit=100),
        sees=_dashboard),
    "organization activity page": Row(
        covers=("url:activity.organization_activity",),
        call=lambda c, who, _: c.get(who, f"/organization/activity/{c.world.org['name']}"),
        sees=public),
    "group activity page": Row(
        covers=("url:activity.group_activity",),
        call=lambda c, who, _: c.get(who, f"/group/activity/{c.world.group['name']}"),
        sees=public),
    "user activity page": Row(
        covers=("url:activity.user_activity",),
        call=lambda c, who, _: c.get(who, f"/user/activity/{c.world.user_name('member')}"),
        sees=reads),
    "dashboard page": Row(
        covers=("url:activity.dashboard",),
        call=lambda c, who, _: c.get(who, "/dashboard/"),
        sees=_dashboard),
    "sysadmin activities page": Row(
        covers=("url:activity.admin_activities",),
        call=lambda c, who, _: c.get(who, "/ckan-admin/activities"),
        sees=lambda who: set()),
    # -- pages -----------------------------------------------------------------
    "home page": Row(covers=("url:home.index",),
                     call=lambda c, who, _: c.get(who, "/"), sees=reads_active, at_most=True),
    "dataset search page": Row(
        covers=("url:dataset.search",),
        call=lambda c, who, _: c.get(who, "/dataset/", q="Gendarmeries"),
        sees=reads_active),
    "organization page": Row(
        covers=("url:organization.read",),
        call=lambda c, who, _: c.get(who, f"/organization/{c.world.org['name']}"),
        sees=reads_active),
    "group page": Row(
        covers=("url:group.read",),
        call=lambda c, who, _: c.get(who, f"/group/{c.world.group['name']}"),
        sees=reads_active),
    "organization and group indexes": Row(
        covers=("url:organization.index", "url:group.index", "url:organization.about",
                "url:group.about", "url:user.read_organizations", "url:user.read_groups",
                "url:dashboard.organizations", "url:dashboard.groups"),
        call=lambda c, who, _: Response(200, "\n".join(
            c.get(who, url).body for url in (
                "/organization/", "/group/", f"/organization/about/{c.world.org['name']}",
                f"/group/about/{c.world.group['name']}",
                f"/user/{c.world.user_name('member')}/organizations",
                f"/user/{c.world.user_name('member')}/groups",
                "/dashboard/organizations", "/dashboard/groups"))),
        sees=lambda who: set()),
    "user page": Row(
        covers=("url:user.read", "url:user.index"),
        call=lambda c, who, _: c.get(who, f"/user/{c.world.user_name('member')}"),
        sees=lambda who: reads(who) if who in ("member", "sysadmin") else {"public"}),
    "dashboard datasets page": Row(
        covers=("url:dashboard.datasets",),
        call=lambda c, who, _: c.get(who, "/dashboard/datasets"),
        sees=lambda who: reads(who) if who == "member" else set()),
    # -- feeds and exports --------------------------------------------------------
    "feeds": Row(
        covers=("url:feeds.general", "url:feeds.custom", "url:feeds.organization",
                "url:feeds.group"),
        call=lambda c, who, _: Response(200, "\n".join(
            c.get(who, url, **params).body for url, params in (
                ("/feeds/dataset.atom", {}), ("/feeds/custom.atom", {"q": "Gendarmeries"}),
                (f"/feeds/organization/{c.world.org['name']}.atom", {}),
                (f"/feeds/group/{c.world.group['name']}.atom", {})))),
        sees=public),
    "dcat catalog": Row(
        covers=("url:dcat.read_catalog", "action:dcat_catalog_show",
                "action:dcat_catalog_search"),
        call=lambda c, who, _: Response(200, "\n".join(
            c.get(who, f"/catalog.{fmt}").body for fmt in ("xml", "ttl", "jsonld", "rdf"))
            + c.api(who, "dcat_catalog_search", format="ttl").body),
        sees=public, requires=("dcat",)),
    # -- one request per dataset ----------------------------------------------------
    "package_show": Row(
        covers=("action:package_show",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.api(who, "package_show", id=_ds(c.world, k).id)),
    "resource_show": Row(
        covers=("action:resource_show",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.api(who, "resource_show", id=_ds(c.world, k).resource_id)),
    "resource_view_list": Row(
        covers=("action:resource_view_list",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.api(who, "resource_view_list",
                                     id=_ds(c.world, k).resource_id)),
    "resource_view_show": Row(
        covers=("action:resource_view_show",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.api(who, "resource_view_show", id=_ds(c.world, k).view_id)),
    "tag_show": Row(
        covers=("action:tag_show",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.api(who, "tag_show", id=f"tag-{w.TOKENS[k]}",
                                     include_datasets=True), token_in_request=True,
        # the datasets of a tag are the public ones (CKAN's rule): only the
        # tag itself follows its datasets
        check=lambda c, who, res, exp: _assert(
            res.status != 200 or all(not d["private"] for d in res.json["result"]["packages"]))),
    "tag feed": Row(
        covers=("url:feeds.tag",), each="dataset", allowed=lambda who, k: k == "public",
        call=lambda c, who, k: c.get(who, f"/feeds/tag/tag-{w.TOKENS[k]}.atom"),
        # an empty feed for a closed tag is not a refusal; the feed's title
        # repeats the tag asked for
        check=lambda c, who, res, exp: None, by_id_only=True),
    "package_activity_list": Row(
        covers=("action:package_activity_list",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.api(who, "package_activity_list", id=_ds(c.world, k).id)),
    "activity_show": Row(
        covers=("action:activity_show",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.api(who, "activity_show", id=_ds(c.world, k).activity_id,
                                     include_data=False)),
    # the data of an activity is for the dataset's editors
    # (ckan.auth.public_activity_stream_detail is off)
    "activity_data_show": Row(
        covers=("action:activity_data_show", "action:activity_diff"), each="dataset",
        allowed=can_manage,
        call=lambda c, who, k: Response(*_merge(
            c.api(who, "activity_data_show", id=_ds(c.world, k).activity_id),
            c.api(who, "activity_diff", id=_ds(c.world, k).last_activity_id,
                  object_type="package")))),
    "dataset activity page": Row(
        covers=("url:activity.package_activity",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.get(who, f"/dataset/activity/{_ds(c.world, k).id}")),
    # old versions are activity data: for the dataset's editors
    "dataset history pages": Row(
        covers=("url:activity.package_history", "url:activity.resource_history",
                "url:activity.package_changes"),
        each="dataset", allowed=can_manage, login_required=True,
        call=lambda c, who, k: Response(*_merge(
            c.get(who, f"/dataset/{_ds(c.world, k).id}/history/"
                       f"{_ds(c.world, k).last_activity_id}"),
            c.get(who, f"/dataset/{_ds(c.world, k).id}/resources/{_ds(c.world, k).resource_id}"
                       f"/history/{_ds(c.world, k).last_activity_id}"),
            c.get(who, f"/dataset/changes/{_ds(c.world, k).last_activity_id}")))),
    "dataset changes_multiple page": Row(
        covers=("url:activity.package_changes_multiple",
                "url:activity.organization_changes_multiple",
                "url:activity.group_changes_multiple", "url:activity.organization_changes",
                "url:activity.group_changes"),
        # ckanext-activity's view lets activity_show's refusal through
        each="dataset", allowed=can_manage, login_required=True, crashes_on_refusal=True,
        call=lambda c, who, k: c.get(who, "/dataset/changes_multiple",
                                     new_id=_ds(c.world, k).last_activity_id,
                                     old_id=_ds(c.world, k).activity_id)),
    "dataset page": Row(
        covers=("url:dataset.read",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.get(who, f"/dataset/{_ds(c.world, k).id}")),
    "resource page": Row(
        covers=("url:resource.read", "url:dataset_resource.read"), each="dataset",
        allowed=can_read,
        call=lambda c, who, k: c.get(
            who, f"/dataset/{_ds(c.world, k).id}/resource/{_ds(c.world, k).resource_id}")),
    "resource download": Row(
        covers=("url:resource.download", "url:dataset_resource.download"), each="dataset",
        allowed=can_read,
        call=lambda c, who, k: c.get(who, f"/dataset/{_ds(c.world, k).id}/resource/"
                                          f"{_ds(c.world, k).resource_id}/download")),
    # the file name is the token: a refusal page may repeat the address
    "resource download by file name": Row(
        covers=("url:resource.download", "url:dataset_resource.download"), each="dataset",
        allowed=can_read, token_in_request=True,
        call=lambda c, who, k: c.get(who, f"/dataset/{_ds(c.world, k).id}/resource/"
                                          f"{_ds(c.world, k).resource_id}/download/"
                                          f"{w.TOKENS[k]}.csv")),
    "resource view page": Row(
        covers=("url:resource.view", "url:dataset_resource.view"), each="dataset",
        allowed=can_read,
        call=lambda c, who, k: c.get(
            who, f"/dataset/{_ds(c.world, k).id}/resource/{_ds(c.world, k).resource_id}"
                 f"/view/{_ds(c.world, k).view_id}")),
    "dcat dataset": Row(
        covers=("url:dcat.read_dataset", "url:dcat.read_dataset_series",
                "action:dcat_dataset_show"),
        each="dataset", allowed=can_read, requires=("dcat",),
        call=lambda c, who, k: Response(*_merge(
            *(c.get(who, f"/dataset/{_ds(c.world, k).id}.{fmt}")
              for fmt in ("rdf", "ttl", "jsonld", "xml")),
            c.get(who, f"/dataset_series/{_ds(c.world, k).id}.ttl")))),
    "task_status_show": Row(
        covers=("action:task_status_show",), each="dataset", allowed=can_read,
        call=lambda c, who, k: c.api(who, "task_status_show",
                                     id=_ds(c.world, k).task_status_id)),
    "follower counts": Row(
        covers=("action:dataset_follower_count", "action:am_following_dataset"),
        each="dataset", allowed=can_read, shows_token=False,
        # am_following_dataset needs a signed-in user
        call=lambda c, who, k: Response(*_merge(
            c.api(who, "dataset_follower_count", id=_ds(c.world, k).id),
            *([c.api(who, "am_following_dataset", id=_ds(c.world, k).id)]
              if who != "anonymous" else [])))),
    "dataset managers' pages": Row(
        covers=("url:dataset.edit", "url:resource.edit", "url:dataset_resource.edit",
                "url:resource.views", "url:dataset_resource.views", "url:resource.new",
                "url:dataset_resource.new", "url:resource.edit_view",
                "url:dataset_resource.edit_view", "url:dataset.delete", "url:resource.delete",
                "url:dataset_resource.delete", "action:package_collaborator_list",
                "url:dataset.groups", "url:dataset.resources"),
        each="dataset", allowed=can_manage, login_required=True,
        call=lambda c, who, k: Response(*_merge(
            c.get(who, f"/dataset/edit/{_ds(c.world, k).id}"),
            c.get(who, f"/dataset/resources/{_ds(c.world, k).id}"),
            c.get(who, f"/dataset/groups/{_ds(c.world, k).id}"),
            c.get(who, f"/dataset/{_ds(c.world, k).id}/resource/"
                       f"{_ds(c.world, k).resource_id}/edit"),
            c.get(who, f"/dataset/{_ds(c.world, k).id}/resource/"
                       f"{_ds(c.world, k).resource_id}/views")))),
    "dataset followers (sysadmins)": Row(
        covers=("url:dataset.followers", "action:dataset_follower_list"), each="dataset",
        allowed=sysadmin_only, shows_token=False, login_required=True,
        call=lambda c, who, k: c.api(who, "dataset_follower_list", id=_ds(c.world, k).id)),
    "who can see it (sysadmins)": Row(
        covers=("url:servicespublics_access.dataset_viewers",
                "action:servicespublics_access_dataset_viewers"),
        each="dataset", allowed=sysadmin_only, login_required=True,
        call=lambda c, who, k: c.get(who, f"/dataset/{_ds(c.world, k).id}/access")),
    "what can a user see (sysadmins)": Row(
        covers=("url:servicespublics_access.user_datasets",
                "action:servicespublics_access_user_datasets", "url:servicespublics_access.admin",
                "action:servicespublics_access_agent_list",
                "action:servicespublics_access_agent_show"),
        call=lambda c, who, _: c.get(who, f"/user/{c.world.user_name('member')}/access"),
        sees=lambda who: reads_active(who) - {"public"} if who == "sysadmin" else set()),
    # -- harvesting --------------------------------------------------------------
    "harvest_source_list": Row(
        covers=("action:harvest_source_list",), universe=SOURCES, requires=("harvest",),
        call=lambda c, who, _: c.api(who, "harvest_source_list"),
        # ckanext-harvest lists no source to signed-in users who are not
        # sysadmins ("publisher" profile leftovers), every source to anonymous
        # users: the private one must not be among them
        sees=lambda who: ({"open_source"} if who == "anonymous"
                          else set(SOURCES) if who == "sysadmin" else set())),
    "harvest_source_show": Row(
        covers=("action:harvest_source_show", "action:harvest_source_show_status",
                "url:harvest.read", "url:harvester.about", "url:harvest.search"),
        each="source", allowed=can_read, requires=("harvest",),
        call=lambda c, who, k: Response(*_merge(
            c.api(who, "harvest_source_show", id=c.world.sources[k]["id"]),
            c.get(who, f"/harvest/{c.world.sources[k]['id']}"),
            c.get(who, f"/harvest/about/{c.world.sources[k]['id']}")))),
    # ckanext-dcat negotiates the content of every dataset type's page
    "harvest source, content negotiation": Row(
        covers=("url:harvest.read",), each="source", allowed=can_read,
        requires=("harvest", "servicespublics_dcat"),
        call=lambda c, who, k: c.get(who, f"/harvest/{c.world.sources[k]['id']}",
                                     headers={"Accept": "text/turtle"})),
    "harvest source managers' pages": Row(
        covers=("url:harvester.admin", "url:harvester.job_list", "url:harvester.job_show",
                "url:harvester.job_show_last", "action:harvest_job_list",
                "action:harvest_job_show", "action:harvest_job_report", "url:harvest.edit",
                "action:harvest_object_list"),
        each="source", allowed=lambda who, k: who in MANAGERS, requires=("harvest",),
        login_required=True, shows_token=False,
        call=lambda c, who, k: Response(*_merge(
            c.get(who, f"/harvest/admin/{c.world.sources[k]['id']}"),
            c.get(who, f"/harvest/{c.world.sources[k]['id']}/job"),
            c.api(who, "harvest_job_list", source_id=c.world.sources[k]["id"]),
            c.api(who, "harvest_object_list", source_id=c.world.sources[k]["id"])))),
    "harvest_object_show": Row(
        covers=("action:harvest_object_show", "url:harvester.object_show"),
        each="dataset", allowed=can_read, requires=("harvest",),
        call=lambda c, who, k: Response(*_merge(
            c.api(who, "harvest_object_show", id=_ds(c.world, k).harvest_object_id),
            c.api(who, "harvest_object_show", dataset_id=_ds(c.world, k).id),
            c.get(who, f"/harvest/object/{_ds(c.world, k).harvest_object_id}"),
            c.get(who, f"/dataset/harvest_object/{_ds(c.world, k).id}")))),
    "harvest record without dataset": Row(
        covers=("action:harvest_object_show",), universe=frozenset({"orphan_record"}),
        requires=("harvest",), by_token_only=True,
        call=lambda c, who, _: Response(*_merge(
            c.api(who, "harvest_object_show", id=c.world.orphan_record_id),
            c.get(who, f"/harvest/object/{c.world.orphan_record_id}"))),
        sees=lambda who: {"orphan_record"} if who in MANAGERS else set()),
    # -- Rows added by later features ----------------------------------------------
    # (one row per endpoint, with `requires=("<plugin>",)`, and their data added
    #  to the world datasets by world.build and world.WORLD_BUILDERS)
    # -- the dataset types of the site (servicespublics_dataset + scheming) -------------
    "service-points pages": Row(
        covers=("url:service-points.read", "url:service-points_resource.read"),
        each="dataset", allowed=can_read, requires=("scheming_datasets",),
        call=lambda c, who, k: Response(*_merge(
            c.get(who, f"/service-points/{_ds(c.world, k).id}"),
            c.get(who, f"/service-points/{_ds(c.world, k).id}/resource/"
                       f"{_ds(c.world, k).resource_id}")))),
    "service-points search page": Row(
        covers=("url:service-points.search",), requires=("scheming_datasets",),
        call=lambda c, who, _: c.get(who, "/service-points/", q="Gendarmeries"),
        sees=reads_active),
    # ckanext-spatial's bounding box, answered by the PostgreSQL engine: the
    # extents are those the points plugin computed from each dataset's points
    "package_search ext_bbox": Row(
        covers=("action:package_search",), requires=("spatial_query",),
        call=_search(include_private=True, ext_bbox="-6,41,10,52"),
        sees=reads_active, check=_search_check),
    "dataset search page ext_bbox": Row(
        covers=("url:dataset.search",), requires=("spatial_query",),
        call=lambda c, who, _: c.get(who, "/dataset/", q="Gendarmeries",
                                     ext_bbox="-6,41,10,52"),
        sees=reads_active),
    # -- points (servicespublics_points) ------------------------------------------------
    "points list": Row(
        covers=("action:servicespublics_points_list",), each="dataset", allowed=can_read,
        requires=("servicespublics_points",), call=_points_list, check=_points_list_check),
    # the report shows the ingestion (counts, messages), by the dataset's ids
    "points report": Row(
        covers=("action:servicespublics_points_report",), each="dataset",
        allowed=can_read, shows_token=False, requires=("servicespublics_points",),
        call=lambda c, who, k: c.api(who, "servicespublics_points_report",
                                     id=_ds(c.world, k).resource_id),
        check=lambda c, who, res, exp: _assert(
            res.status != 200 or res.json["result"]["point_count"]
            == 1 + w.FRANCE_SERVICES_PER_DATASET, res.body[:300])),
    # -- a resource's map (servicespublics_map) -------------------------------------------
    **_map_leak.rows(Row, Response, can_read, _merge),
    # -- national map (servicespublics_analytics) --------------------------------------
    # the page itself shows vocabularies and producers' names; its numbers come
    # from the actions and tiles below
    "national map page": Row(
        covers=("url:servicespublics_analytics.carte",),
        requires=("servicespublics_analytics",), check=_carte_check,
        call=lambda c, who, _: c.get(who, "/carte"), sees=lambda who: set()),
    "national map: points export (API)": Row(
        covers=("action:servicespublics_points_export",), sees=reads_active,
        requires=("servicespublics_analytics",), check=_analytics_export_check,
        call=lambda c, who, _: c.api(who, "servicespublics_points_export",
                                     service_type="france-services", limit=1000)),
    "national map: points export (CSV, GeoJSON)": Row(
        covers=("url:servicespublics_analytics.export",), sees=reads_active,
        requires=("servicespublics_analytics",), check=_analytics_files_check,
        call=lambda c, who, _: Response(*_merge(
            c.get(who, "/carte/export.csv"), c.get(who, "/carte/export.geojson")))),
    "national map: tiles": Row(
        covers=("url:servicespublics_analytics.tile",), sees=reads_active,
        requires=("servicespublics_analytics",), call=_analytics_tiles,
        check=_analytics_tiles_check),
    "national map: nearest services": Row(
        covers=("action:servicespublics_nearest",), sees=reads_active,
        requires=("servicespublics_analytics",), check=_analytics_nearest_check,
        call=lambda c, who, _: c.api(who, "servicespublics_nearest", commune=w.GAP_COMMUNE,
                                     service_type="france-services", limit=100)),
    # counts only: no name, so `at_most`, and the counts are checked
    "national map: density, evolution, distances per commune": Row(
        covers=("action:servicespublics_density", "action:servicespublics_evolution",
                "url:servicespublics_analytics.density_csv"),
        sees=reads_active, at_most=True, requires=("servicespublics_analytics",),
        check=_analytics_counts_check,
        call=lambda c, who, _: c.api(who, "servicespublics_density",
                                     service_type="france-services")),
    "national map: closure impact": Row(
        covers=("action:servicespublics_closure_impact",), each="dataset",
        allowed=lambda who, k: k != "draft" and can_read(who, k),
        requires=("servicespublics_analytics",), call=_analytics_impact),
    # -- issue reports (servicespublics_issues) ----------------------------------------
    "issue_list": Row(
        covers=("action:servicespublics_issue_list",), sees=reads,
        requires=("servicespublics_issues",), check=_issue_list_check,
        call=lambda c, who, _: c.api(who, "servicespublics_issue_list", limit=100)),
    "issue_list of the organisation": Row(
        covers=("action:servicespublics_issue_list",), sees=reads,
        requires=("servicespublics_issues",), check=_issue_list_check,
        call=lambda c, who, _: c.api(who, "servicespublics_issue_list", limit=100,
                                     organization=c.world.org["name"])),
    # one's own reports: the citizen's, on the datasets they still read
    "issue_list mine": Row(
        covers=("action:servicespublics_issue_list",), requires=("servicespublics_issues",),
        call=lambda c, who, _: c.api(who, "servicespublics_issue_list", mine=True),
        sees=lambda who: {"public"} if who == "citizen" else set(),
        check=lambda c, who, res, exp: _assert(
            res.json["result"]["count"] == (2 if who == "citizen" else 0),
            res.json["result"])),
    "issue_list of a dataset, a resource, a point": Row(
        covers=("action:servicespublics_issue_list",), each="dataset", allowed=can_read,
        requires=("servicespublics_issues",), call=_issue_per_dataset,
        check=_issue_per_dataset_check),
    "issue_show published": Row(
        covers=("action:servicespublics_issue_show",), each="dataset", allowed=can_read,
        requires=("servicespublics_issues",), call=_issue_show("published_report")),
    "issue_show pending": Row(
        covers=("action:servicespublics_issue_show",), each="dataset",
        allowed=_sees_pending, requires=("servicespublics_issues",),
        call=_issue_show("pending_report")),
    # the draft's has none: by the resource id for it
    "issue_correction_list": Row(
        covers=("action:servicespublics_issue_correction_list",), each="dataset",
        allowed=can_read, shows_token=False, requires=("servicespublics_issues",),
        call=lambda c, who, k: c.api(who, "servicespublics_issue_correction_list",
                                     resource_id=_ds(c.world, k).resource_id,
                                     include_removed=True),
        check=_correction_list_check),
    "dataset reports tab": Row(
        covers=("url:servicespublics_issues.index",), each="dataset", allowed=can_read,
        requires=("servicespublics_issues",), check=_issues_tab_check,
        call=lambda c, who, k: c.get(who, f"/dataset/{_ds(c.world, k).id}/issues")),
    "report page published": Row(
        covers=("url:servicespublics_issues.read",), each="dataset", allowed=can_read,
        requires=("servicespublics_issues",), call=_issue_page("published_report")),
    "report page pending": Row(
        covers=("url:servicespublics_issues.read",), each="dataset", allowed=_sees_pending,
        requires=("servicespublics_issues",), call=_issue_page("pending_report")),
    "report form": Row(
        covers=("url:servicespublics_issues.new",), each="dataset", allowed=can_read,
        requires=("servicespublics_issues",),
        call=lambda c, who, k: c.get(who, f"/dataset/{_ds(c.world, k).id}/issues/new",
                                     resource_id=_ds(c.world, k).resource_id)),
    # the form of a point's report shows the point's values; the point's id
    # (in the request) carries the token
    "report form of a point": Row(
        covers=("url:servicespublics_issues.new",), each="dataset", allowed=can_read,
        requires=("servicespublics_issues",), token_in_request=True,
        call=lambda c, who, k: c.get(who, f"/dataset/{_ds(c.world, k).id}/issues/new",
                                     resource_id=_ds(c.world, k).resource_id,
                                     point_id=_ds(c.world, k).brigade_source_id),
        check=lambda c, who, res, exp: _assert(
            res.status != 200 or "corrigée" in res.body or "qdrafq" in res.body, who)),
    "report form of a resource": Row(
        covers=("url:servicespublics_issues.new_for_resource",), each="dataset",
        allowed=can_read, requires=("servicespublics_issues",),
        call=_issue_form_by_resource),
    # the e-mails the site sent once the datasets were closed (the producer
    # answered every published report): the citizen who reported while they
    # were public hears of those they may still read only
    "notification e-mails": Row(
        covers=(), requires=("servicespublics_issues",), call=_mails,
        sees=lambda who: {"public"} if who == "citizen" else set()),
    "moderation queue": Row(
        covers=("url:servicespublics_issues.queue",), sees=_queue_sees,
        requires=("servicespublics_issues",), call=_queue, check=_queue_check),
    "organisation moderation queue": Row(
        covers=("url:servicespublics_issues.org_queue",),
        sees=lambda who: reads(who) if who in MANAGERS else set(),
        requires=("servicespublics_issues",), call=_org_queue, check=_queue_check),
    # -- DCAT (dcat, structured_data, servicespublics_dcat) --------------------------------
    "dcat dataset at its type's address": Row(
        covers=("url:servicespublics_dcat.read_service_points",), each="dataset",
        allowed=can_read, requires=("servicespublics_dcat",),
        call=lambda c, who, k: Response(*_merge(
            *(c.get(who, f"/service-points/{_ds(c.world, k).id}.{fmt}")
              for fmt in ("rdf", "ttl", "jsonld", "xml", "n3"))))),
    "dcat dataset, content negotiation": Row(
        covers=("url:dcat.read_dataset",), each="dataset", allowed=can_read,
        requires=("servicespublics_dcat",), call=_negotiated_dataset, check=_not_html),
    "dcat catalog, content negotiation": Row(
        covers=("url:dcat.read_catalog",), sees=public, requires=("servicespublics_dcat",),
        call=_negotiated_catalog, check=_not_html),
    "vocabulary pages": Row(
        covers=("url:servicespublics_dcat.vocabulary",), requires=("servicespublics_dcat",),
        call=lambda c, who, _: Response(*_merge(*(
            c.get(who, f"/vocabularies/{name}") for name in (
                "service-types", "domains", "service-types.ttl", "domains.jsonld",
                "service-types.rdf")))),
        sees=lambda who: set()),
}


# -- what must not be classified as a read ---------------------------------------

#: writes: refused to users who do not manage the dataset
#: (name -> data for the dataset under test)
WRITES: dict[str, Callable[[w.Dataset], dict[str, Any]]] = {
    "package_update": lambda d: {"id": d.id, "name": d.name, "title": "x"},
    "package_patch": lambda d: {"id": d.id, "title": "x"},
    "package_revise": lambda d: {"match": {"id": d.id}, "update": {"title": "x"}},
    "package_delete": lambda d: {"id": d.id},
    "dataset_purge": lambda d: {"id": d.id},
    "package_owner_org_update": lambda d: {"id": d.id, "organization_id": None},
    "package_resource_reorder": lambda d: {"id": d.id, "order": [d.resource_id]},
    "package_create_default_resource_views": lambda d: {"package": {"id": d.id}},
    "package_collaborator_create": lambda d: {"id": d.id, "user_id": "x",
                                              "capacity": "editor"},
    "package_collaborator_delete": lambda d: {"id": d.id, "user_id": "x"},
    "package_relationship_create": lambda d: {"subject": d.id, "object": d.id,
                                              "type": "child_of"},
    "package_relationship_update": lambda d: {"subject": d.id, "object": d.id,
                                              "type": "depends_on"},
    "package_relationship_delete": lambda d: {"subject": d.id, "object": d.id,
                                              "type": "depends_on"},
    "resource_create": lambda d: {"package_id": d.id, "url": "http://x.org/x.csv"},
    "resource_update": lambda d: {"id": d.resource_id, "url": "http://x.org/x.csv"},
    "resource_patch": lambda d: {"id": d.resource_id, "name": "x"},
    "resource_delete": lambda d: {"id": d.resource_id},
    "resource_create_default_resource_views": lambda d: {
        "resource": {"id": d.resource_id}, "package": {"id": d.id}},
    "resource_view_create": lambda d: {"resource_id": d.resource_id,
                                       "view_type": "image_view", "title": "x"},
    "resource_view_update": lambda d: {"id": d.view_id, "resource_id": d.resource_id,
                                       "view_type": "image_view", "title": "x"},
    "resource_view_delete": lambda d: {"id": d.view_id},
    "resource_view_reorder": lambda d: {"id": d.resource_id, "order": [d.view_id]},
    "resource_view_clear": lambda d: {"view_types": ["image_view"]},
    "member_create": lambda d: {"id": "securite", "object": d.id, "object_type": "package",
                                "capacity": "public"},
    "member_delete": lambda d: {"id": "securite", "object": d.id, "object_type": "package"},
    "bulk_update_public": lambda d: {"datasets": [d.id], "org_id": "ministere-interieur"},
    "bulk_update_private": lambda d: {"datasets": [d.id], "org_id": "ministere-interieur"},
    "bulk_update_delete": lambda d: {"datasets": [d.id], "org_id": "ministere-interieur"},
    "task_status_update": lambda d: {"id": d.task_status_id, "entity_id": d.resource_id,
                                     "entity_type": "resource", "task_type": "x",
                                     "key": "x", "value": "x"},
    "task_status_update_many": lambda d: {"data": [{
        "entity_id": d.resource_id, "entity_type": "resource", "task_type": "x",
        "key": "x", "value": "x"}]},
    "task_status_delete": lambda d: {"id": d.task_status_id},
    "activity_create": lambda d: {"object_id": d.id, "activity_type": "changed package",
                                  "user_id": "x", "data": {}},
    "activity_delete": lambda d: {"id": d.activity_id},
    "follow_dataset": lambda d: {"id": d.id},
    "harvest_object_create": lambda d: {"job_id": "x", "guid": "x"},
    "harvest_objects_import": lambda d: {"package_id": d.id},
    "file_create": lambda d: {"name": "x.txt"},
    # points, map, issue reports
    "servicespublics_points_ingest": lambda d: {"id": d.resource_id, "sync": True},
    **_map_leak.WRITES,
    "servicespublics_issue_create": lambda d: {
        "package_id": d.id, "resource_id": d.resource_id, "point_id": d.brigade_source_id,
        "category": "other", "description": "x"},
    "servicespublics_issue_comment": lambda d: {"id": _report_id(d, "published_report"),
                                                "body": "x"},
    "servicespublics_issue_moderate": lambda d: {"id": _report_id(d, "pending_report"),
                                                 "action": "publish"},
    "servicespublics_issue_update": lambda d: {"id": _report_id(d, "published_report"),
                                               "status": "wont_fix", "comment": "x"},
    "servicespublics_issue_accept_correction": lambda d: {
        "id": _report_id(d, "published_report"), "fields": {"name": "x"}},
    "servicespublics_issue_correction_remove": lambda d: {"id": d.correction_id or "x"},
}


def _report_id(d: w.Dataset, report: str) -> str:
    found = getattr(d, report)
    return found["id"] if found else "x"


#: writes an outsider may do (they are not run): following is a read in
#: disguise; anyone who reads a dataset may report on it, and the reporter
#: (the citizen) comment their report
_ALLOWED_WRITES: dict[str, Callable[[str, str], bool]] = {
    "follow_dataset": lambda who, k: can_read(who, k),
    "servicespublics_issue_create": lambda who, k: can_read(who, k),
    "servicespublics_issue_comment": lambda who, k: who == "citizen" and can_read(who, k),
}

#: forms that write (POST), refused to outsiders like the actions they run
#: (url rule -> URL and form data for the dataset under test)
WRITE_FORMS: dict[str, Callable[[w.Dataset], tuple[str, dict[str, Any]]]] = {
    "url:servicespublics_issues.new": lambda d: (
        f"/dataset/{d.id}/issues/new", {"category": "other", "description": "x"}),
    "url:servicespublics_issues.comment": lambda d: (
        f"/dataset/{d.id}/issues/{_report_number(d, 'published_report')}/comment",
        {"body": "x"}),
    "url:servicespublics_issues.update": lambda d: (
        f"/dataset/{d.id}/issues/{_report_number(d, 'published_report')}/update",
        {"status": "wont_fix", "comment": "x"}),
    "url:servicespublics_issues.moderate": lambda d: (
        f"/dataset/{d.id}/issues/{_report_number(d, 'pending_report')}/moderate",
        {"action": "publish"}),
    "url:servicespublics_issues.accept": lambda d: (
        f"/dataset/{d.id}/issues/{_report_number(d, 'published_report')}/accept",
        {"status": "resolved", "correction-name": "x"}),
    "url:servicespublics_issues.remove_correction": lambda d: (
        f"/dataset/{d.id}/issues/{_report_number(d, 'published_report')}/corrections/"
        f"{d.correction_id or 'x'}/remove", {}),
    "url:servicespublics_issues.queue": lambda d: (
        "/issues/moderation", {"report": _report_id(d, "pending_report"),
                               "bulk_action": "publish"}),
    "url:servicespublics_issues.org_queue": lambda d: (
        "/organization/ministere-interieur/issues",
        {"report": _report_id(d, "pending_report"), "bulk_action": "publish"}),
}
_ALLOWED_FORMS: dict[str, Callable[[str, str], bool]] = {
    "url:servicespublics_issues.new": lambda who, k: can_read(who, k),
    "url:servicespublics_issues.comment": lambda who, k: who == "citizen" and can_read(who, k),
}


def _report_number(d: w.Dataset, report: str) -> str:
    found = getattr(d, report)
    return str(found["number"]) if found else "0"
#: (action, user) pairs where core or an extension crashes (HTTP 500) instead
#: of refusing: no data leaks, the world stays intact; report them upstream
KNOWN_CRASHES: dict[tuple[str, str], str] = {
    ("package_collaborator_create", "anonymous"):
        "ckan 2.12 auth reads the anonymous user's id",
    ("package_collaborator_delete", "anonymous"):
        "ckan 2.12 auth reads the anonymous user's id",
    ("harvest_objects_import", "anonymous"):
        "ckanext-harvest 1.6.3 user_is_sysadmin: pt.Objectpt typo",
}

#: registered endpoints that expose no dataset data (the reason in a comment)
NO_DATASET_DATA: dict[str, str] = {
    # site, configuration, help, jobs
    "action:status_show": "site status and extension list",
    "action:license_list": "licences",
    "action:help_show": "action docstrings",
    "action:config_option_show": "sysadmin only, site config",
    "action:config_option_list": "sysadmin only, site config",
    "action:config_option_update": "sysadmin only, site config",
    "action:job_list": "sysadmin only, background jobs",
    "action:job_show": "sysadmin only, background jobs",
    "action:job_cancel": "sysadmin only, background jobs",
    "action:job_clear": "sysadmin only, background jobs",
    "action:get_site_user": "internal, refused to everybody",
    "action:member_roles_list": "role names",
    "action:term_translation_show": "translations of terms",
    "action:term_translation_update": "sysadmin only, translations of terms",
    "action:term_translation_update_many": "sysadmin only, translations of terms",
    "action:send_email_notifications": "sysadmin only; e-mails the dashboard activities, "
                                       "filtered like dashboard_activity_list",
    "action:activity_delete_all": "sysadmin only",
    "action:activity_delete_counts": "sysadmin only, counts per type",
    "action:vocabulary_list": "sysadmin-managed tag vocabularies",
    "action:vocabulary_show": "sysadmin-managed tag vocabularies",
    "action:vocabulary_create": "sysadmin only",
    "action:vocabulary_update": "sysadmin only",
    "action:vocabulary_delete": "sysadmin only",
    "action:tag_create": "sysadmin only, vocabulary tags",
    "action:tag_delete": "sysadmin only, vocabulary tags",
    "action:scheming_dataset_schema_list": "ckanext-scheming: schema names",
    "action:scheming_dataset_schema_show": "ckanext-scheming: a schema",
    "action:scheming_group_schema_list": "ckanext-scheming: schema names",
    "action:scheming_group_schema_show": "ckanext-scheming: a schema",
    "action:scheming_organization_schema_list": "ckanext-scheming: schema names",
    "action:scheming_organization_schema_show": "ckanext-scheming: a schema",
    # users, tokens, follows of users, groups and organisations
    "action:user_create": "accounts", "action:user_update": "accounts",
    "action:user_patch": "accounts", "action:user_delete": "accounts",
    "action:user_invite": "accounts", "action:user_autocomplete": "user names",
    "action:api_token_create": "own tokens", "action:api_token_list": "own tokens",
    "action:api_token_revoke": "own tokens",
    "action:package_collaborator_list_for_user": "own collaborations, ids only",
    "action:follow_user": "users", "action:unfollow_user": "users",
    "action:follow_group": "groups", "action:unfollow_group": "groups",
    "action:am_following_user": "users", "action:am_following_group": "groups",
    "action:user_follower_count": "counts", "action:group_follower_count": "counts",
    "action:organization_follower_count": "counts", "action:followee_count": "counts",
    "action:user_followee_count": "counts", "action:group_followee_count": "counts",
    "action:organization_followee_count": "counts", "action:dataset_followee_count": "counts",
    "action:user_follower_list": "sysadmin only, users",
    "action:group_follower_list": "sysadmin only, users",
    "action:organization_follower_list": "sysadmin only, users",
    "action:user_followee_list": "users",
    "action:unfollow_dataset": "removes one's own follow, returns nothing",
    # groups and organisations themselves (their datasets: rows above)
    "action:group_create": "groups", "action:group_update": "groups",
    "action:group_patch": "groups", "action:group_delete": "groups",
    "action:group_purge": "groups", "action:group_autocomplete": "group names",
    "action:group_member_create": "users of groups",
    "action:group_member_delete": "users of groups",
    "action:group_list_authz": "groups the user may edit",
    "action:organization_create": "organisations", "action:organization_update":
    "organisations", "action:organization_patch": "organisations",
    "action:organization_delete": "organisations", "action:organization_purge":
    "organisations", "action:organization_autocomplete": "organisation names",
    "action:organization_member_create": "users of organisations",
    "action:organization_member_delete": "users of organisations",
    "action:package_create": "creates a dataset (refused outside one's organisations "
                             "by core auth)",
    "action:servicespublics_access_agent_set": "sysadmin only, tests/access/test_actions.py",
    # files (CKAN 2.12 file API): access cascades to the owner's auth
    # (ckan.files.owner.cascade_access); resource uploads do not create files here
    "action:file_show": "cascades to resource_show/package_show",
    "action:file_delete": "write, cascades to resource/package update",
    "action:file_rename": "write", "action:file_pin": "write", "action:file_unpin": "write",
    "action:file_register": "write", "action:file_ownership_transfer": "write",
    "action:file_owner_scan": "owner's files, cascades to the owner's update auth",
    # harvesting: writes and job control for source managers and sysadmins
    "action:harvest_source_create": "write", "action:harvest_source_update": "write",
    "action:harvest_source_patch": "write", "action:harvest_source_delete": "write",
    "action:harvest_source_clear": "write", "action:harvest_source_index_clear": "write",
    "action:harvest_source_reindex": "write", "action:harvest_sources_reindex": "write",
    "action:harvest_source_job_history_clear": "write",
    "action:harvest_sources_job_history_clear": "write",
    "action:harvest_job_create": "write", "action:harvest_job_create_all": "write",
    "action:harvest_job_abort": "write", "action:harvest_jobs_run": "write",
    "action:harvest_abort_failed_jobs": "write",
    "action:harvest_send_job_to_gather_queue": "write",
    "action:harvesters_info_show": "harvester types",
    "action:harvest_log_list": "sysadmin only: harvester logs",
    "action:harvest_get_notifications_recipients": "sysadmin only, e-mail addresses",
    # ckanext-harvest registers its auth helpers and mail helpers as actions too
    "action:InactiveSource": "an exception class exported by ckanext-harvest",
    "action:auth_allow_anonymous_access": "a decorator exported by ckanext-harvest",
    "action:harvest_sources_clear": "write, sysadmin only",
    "action:get_mail_extra_vars": "ckanext-harvest mail helper",
    "action:prepare_error_mail": "ckanext-harvest mail helper",
    "action:prepare_summary_mail": "ckanext-harvest mail helper",
    "action:send_error_email": "ckanext-harvest mail helper",
    "action:send_summary_email": "ckanext-harvest mail helper",
    "action:send_mail": "ckanext-harvest mail helper",
    # pages without dataset data
    "url:static": "static files", "url:webassets.index": "assets",
    "url:home.about": "about page", "url:home.robots_txt": "robots.txt",
    "url:home.redirect_locale": "locale redirects",
    "url:api.get_api": "API version", "url:api.i18n_js_translations": "JS strings",
    "url:api.action": "each action is classified on its own",
    "url:api.user_autocomplete": "user names",
    "url:api.group_autocomplete": "group names",
    "url:api.organization_autocomplete": "organisation names",
    "url:util.internal_redirect": "redirects", "url:util.primer": "testing page",
    "url:util.custom_form_fields": "testing page",
    "url:activity.dashboard_testing": "testing page",
    "url:admin.index": "sysadmins", "url:admin.config": "sysadmins",
    "url:admin.reset_config": "sysadmins",
    "url:admin.trash": "sysadmins: deleted datasets, as CKAN shows them",
    "url:dataset.new": "empty form", "url:dataset.follow": "follow_dataset (WRITES)",
    "url:dataset.unfollow": "unfollow_dataset (WRITES)",
    "url:group.new": "form", "url:group.edit": "group managers",
    "url:group.delete": "group managers", "url:group.members": "users",
    "url:group.manage_members": "users", "url:group.member_new": "users",
    "url:group.member_delete": "users", "url:group.member_dump": "users",
    "url:group.admins": "users", "url:group.followers": "users",
    "url:group.follow": "follow", "url:group.unfollow": "follow",
    "url:group.bulk_process": "group managers",
    "url:organization.new": "form", "url:organization.edit": "organisation managers",
    "url:organization.delete": "organisation managers",
    "url:organization.members": "users", "url:organization.manage_members": "users",
    "url:organization.member_new": "users", "url:organization.member_delete": "users",
    "url:organization.member_dump": "users", "url:organization.admins": "users",
    "url:organization.followers": "users", "url:organization.follow": "follow",
    "url:organization.unfollow": "follow",
    "url:organization.bulk_process": "the organisation's editors: lists its datasets, "
                                     "private ones included, to its members only",
    "url:user.api_tokens": "own tokens", "url:user.api_tokens_revoke": "own tokens",
    "url:user.delete": "accounts", "url:user.edit": "accounts", "url:user.follow": "users",
    "url:user.followers": "users", "url:user.logged_out_page": "login",
    "url:user.login": "login", "url:user.logout": "login", "url:user.me": "redirect",
    "url:user.perform_reset": "password", "url:user.register": "accounts",
    "url:user.request_reset": "password", "url:user.sysadmin": "sysadmins",
    "url:user.unfollow": "users",
    "url:servicespublics_access.agent_set": "sysadmin only, tests/access/test_views.py",
    "url:file.download": "cascades to the file owner's auth (see file_show)",
    "url:file.public_download": "public storages only (site logo, avatars)",
    "url:file.trusted_download": "signed links only",
    "url:harvest.new": "form", "url:harvest.delete": "source managers",
    "url:harvest.groups": "source managers", "url:harvest.resources": "harvest sources "
    "have no resources", "url:harvest.follow": "follow", "url:harvest.unfollow": "follow",
    "url:harvest.followers": "sysadmins",
    "url:harvest_resource.read": "harvest sources have no resources",
    "url:harvest_resource.download": "harvest sources have no resources",
    "url:harvest_resource.edit": "harvest sources have no resources",
    "url:harvest_resource.edit_view": "harvest sources have no resources",
    "url:harvest_resource.new": "harvest sources have no resources",
    "url:harvest_resource.delete": "harvest sources have no resources",
    "url:harvest_resource.view": "harvest sources have no resources",
    "url:harvest_resource.views": "harvest sources have no resources",
    "url:harvester.clear": "source managers", "url:harvester.delete": "source managers",
    "url:harvester.refresh": "source managers", "url:harvester.job_abort": "source managers",
    # ckanext-dcat's copy of the dataset form (with content negotiation)
    "url:dcat.new": "empty form",
    # the site's reference data: no dataset in it
    "action:servicespublics_territory_search": "the COG's territories",
    "action:servicespublics_territory_show": "the COG's territories",
    "action:servicespublics_vocabulary_show": "the schemas' vocabularies (service types, "
                                              "domains...)",
    "url:servicespublics_dataset.territory_autocomplete": "the COG's territories",
    "url:servicespublics_dataset.tableschema": "the Table Schema of point files",
    "url:servicespublics_analytics.territory_layer": "boundaries of régions and "
                                                     "départements, communes' points",
    "url:servicespublics_analytics.extent": "where a territory is",
}


# -- the tests ------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(reset_db, migrate_db_for):
    """The catalogue, built once for the module (the rows only read it)."""
    import ckan.lib.search as search
    from tests.conftest import _plugins_with_migrations
    from aiosmtpd.controller import Controller

    from ckan.lib import jobs
    from ckan.tests import helpers
    from tests.issues.smtp import Collector, free_port
    from tests.territories.fixtures import ensure_loaded

    with pytest.MonkeyPatch.context() as mp:
        for key, value in SETTINGS.items():
            mp.setitem(config, key, value.split() if key == "ckan.plugins" else value)
        p.load_all()
        try:
            reset_db()
            for plugin in _plugins_with_migrations():
                migrate_db_for(plugin)
            search.clear_all()
            # the COG places the points in their communes and départements
            ensure_loaded()
            # an application with every plugin's routes, for the URLs that
            # actions build (resources of service-points datasets)
            helpers._get_test_app()
            # the e-mails the site sends, received by a real SMTP server
            mailbox = Collector()
            port = free_port()
            mp.setitem(config, "smtp.server", f"127.0.0.1:{port}")
            smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
            smtp.start()
            try:
                world = w.build(mailbox=mailbox)
                # the jobs the plugins' hooks queued for the world (ingestions
                # and layers it ran itself) would outlive its database
                for queue in jobs.get_all_queues():
                    queue.empty()
                yield world
            finally:
                smtp.stop()
        finally:
            p.unload_all()


@pytest.fixture
def client(app, world):
    return Client(app, world)


def _objects(row: Row, world: w.World) -> list[str]:
    if row.each == "dataset":
        return list(world.datasets)
    if row.each == "source":
        return list(world.sources)
    return [""]


def _cell(row: Row, client: Client, who: str, key: str) -> Optional[str]:
    """Run one cell; the mismatch, or None."""
    world = client.world
    markers = world.markers()
    if row.by_token_only:
        markers = {k: v[:1] for k, v in markers.items()}
    if row.by_id_only:
        markers = {k: [m for m in v if m != w.TOKENS.get(k)]
                   + ([world.datasets[k].name] if k in world.datasets else [])
                   for k, v in markers.items()}
    res = row.call(client, who, key)
    seen = {k for k in row.universe if k in markers
            and any(m and m in res.body for m in markers[k])}
    if row.each is None:
        expected = row.sees(who) & row.universe if row.sees else set()
        if res.status not in (200, 302, 403):
            return f"status {res.status}: {res.body[:300]}"
        if row.at_most and not seen <= expected:
            return f"sees {sorted(seen)}, expected at most {sorted(expected)}"
        if not row.at_most and seen != expected:
            return f"sees {sorted(seen)}, expected {sorted(expected)}"
        if row.check and res.status == 200:
            try:
                row.check(client, who, res, expected)
            except AssertionError as e:
                return f"check failed: {e}"
        return None

    allowed = row.allowed(who, key)
    token = markers[key][0]
    if row.by_id_only:
        token = world.datasets[key].name
    others = {k for k in seen if k != key and k not in READS[who]}
    if others:
        return f"leaks {sorted(others)}"
    if allowed:
        if res.status != 200:
            return f"refused ({res.status}): {res.body[:300]}"
        if row.shows_token and token not in res.body:
            return "allowed but the dataset is not shown"
    else:
        if token in res.body and (res.status == 200 or (
                key not in READS[who] and not row.token_in_request)):
            return f"shows a dataset it must not (status {res.status})"
        if res.status == 200 and row.shows_token is False:
            return "answers where it must refuse"
        if res.status == 302 and "/user/login" not in res.location:
            return f"redirects to {res.location}"
        refusals = (302, 403, 404, 500) if row.crashes_on_refusal else (302, 403, 404)
        if res.status not in refusals and not (res.status == 200 and row.check):
            return f"unexpected status {res.status}: {res.body[:200]}"
    if row.check:
        try:
            row.check(client, who, res, set())
        except AssertionError as e:
            return f"check failed: {e}"
    return None


@pytest.mark.usefixtures("with_plugins")
class TestLeakMatrix:
    @pytest.mark.parametrize("name", list(ROWS))
    def test_row(self, name, client):
        row = ROWS[name]
        if any(not p.plugin_loaded(plugin) for plugin in row.requires):
            pytest.skip(f"needs {', '.join(row.requires)}")
        failures = []
        for key in _objects(row, client.world):
            for who in USERS:
                problem = _cell(row, client, who, key)
                if problem:
                    failures.append(f"{who:9} {key or '-':11} {problem}")
        assert not failures, f"{name}:\n" + "\n".join(failures)

    @pytest.mark.parametrize("action", sorted(WRITES))
    def test_writes_are_refused_to_outsiders(self, action, client):
        if action not in _registered_actions():
            pytest.skip(f"{action} is not registered")
        failures = []
        for key, dataset in client.world.datasets.items():
            for who in ("anonymous", "citizen", "agent", "flagged"):
                if action in _ALLOWED_WRITES and _ALLOWED_WRITES[action](who, key):
                    continue
                res = client.api(who, action, **WRITES[action](dataset))
                refusals = {400, 403, 404, 409}
                if (action, who) in KNOWN_CRASHES:
                    refusals.add(500)
                if res.status not in refusals:
                    failures.append(f"{who:9} {key:11} status {res.status}")
                failures += _hidden_in(client, who, key, res)
        assert not failures, f"{action}:\n" + "\n".join(failures)

    @pytest.mark.parametrize("rule", sorted(WRITE_FORMS))
    def test_forms_are_refused_to_outsiders(self, rule, client, app):
        """Posted forms: refused (the CSRF token first, for visitors who
        are not signed in), and the refusal shows nothing."""
        if rule[4:] not in _registered_rules(app):
            pytest.skip(f"{rule} is not registered")
        failures = []
        for key, dataset in client.world.datasets.items():
            for who in ("anonymous", "citizen", "agent", "flagged"):
                if rule in _ALLOWED_FORMS and _ALLOWED_FORMS[rule](who, key):
                    continue
                url, data = WRITE_FORMS[rule](dataset)
                res = client.post(who, url, data)
                if res.status not in (400, 403, 404) and not (
                        res.status == 302 and "/user/login" in res.location):
                    failures.append(f"{who:9} {key:11} status {res.status} {res.location}")
                failures += _hidden_in(client, who, key, res)
        assert not failures, f"{rule}:\n" + "\n".join(failures)

    def test_the_world_is_intact(self, client):
        """Refused writes changed nothing."""
        for key, dataset in client.world.datasets.items():
            shown = client.result("sysadmin", "package_show", id=dataset.id)
            assert shown["title"] == f"Gendarmeries {w.TOKENS[key]}"
            assert len(shown["resources"]) == 2
            assert shown["state"] == ("draft" if key == "draft" else "active")
            points = client.result("sysadmin", "servicespublics_points_list",
                                   resource_id=dataset.resource_id, format="list")
            assert points["count"] == 1 + w.FRANCE_SERVICES_PER_DATASET
            brigade = [r["name"] for r in points["results"]
                       if r["id"] == dataset.brigade_source_id]
            assert brigade == [f"Brigade {dataset.token}"
                               + ("" if key == "draft" else " corrigée")], brigade
            for report, state in (("published_report", "published"),
                                  ("pending_report", "pending")):
                found = client.result("sysadmin", "servicespublics_issue_show",
                                      id=getattr(dataset, report)["id"])
                assert found["moderation_state"] == state, found
                # the producer's answer, once the datasets were closed
                answered = state == "published" and key != "draft"
                assert found["comment_count"] == (1 if answered else 0), found
                assert found["status"] == ("resolved" if state == "published"
                                           and key != "draft" else "open"), found
            corrections = client.result("sysadmin", "servicespublics_issue_correction_list",
                                        resource_id=dataset.resource_id)
            assert len(corrections) == (0 if key == "draft" else 1), corrections


def _hidden_in(client: Client, who: str, key: str, res: Response) -> list[str]:
    hidden = [k for k, d in client.world.datasets.items()
              if not can_read(who, k) and (d.token in res.body or d.token in res.location)]
    return [f"{who:9} {key:11} leaks {hidden}: {res.body[:200]}"] if hidden else []


def _registered_actions() -> set[str]:
    import ckan.logic as logic

    logic.get_action("package_show")  # builds the registry
    return set(logic._actions)


def _registered_rules(app: Any) -> set[str]:
    return {rule.endpoint for rule in app.flask_app.url_map.iter_rules()}


@pytest.mark.usefixtures("with_plugins")
class TestClassification:
    def test_every_endpoint_is_classified(self, app):
        covered = {c for row in ROWS.values() for c in row.covers}
        covered |= {f"action:{a}" for a in WRITES} | set(WRITE_FORMS)
        classified = covered | set(NO_DATASET_DATA)
        registered = {f"action:{a}" for a in _registered_actions()}
        registered |= {f"url:{r}" for r in _registered_rules(app)}
        # the blueprints CKAN registers for each dataset type (harvest,
        # service-points...) reuse the dataset and resource view functions:
        # the rows of those functions cover them
        views = app.flask_app.view_functions

        def _same(a: Any, b: Any) -> bool:
            return a is b or (getattr(a, "view_class", None) is not None
                              and getattr(a, "view_class", None)
                              is getattr(b, "view_class", None))

        same_view = {f"url:{e}" for e, func in views.items()
                     if any(_same(views.get(c[4:]), func) for c in classified
                            if c.startswith("url:"))}
        missing = sorted(registered - classified - same_view)
        assert not missing, (
            "Endpoints with no leak-matrix row: add a row to ROWS (or WRITES), or "
            "an entry to NO_DATASET_DATA saying why they expose no dataset data:\n"
            + "\n".join(missing))

    def test_no_endpoint_is_both_a_row_and_harmless(self):
        covered = {c for row in ROWS.values() for c in row.covers}
        covered |= {f"action:{a}" for a in WRITES} | set(WRITE_FORMS)
        assert not covered & set(NO_DATASET_DATA)
