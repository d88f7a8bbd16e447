"""``datagouv``: harvests a udata portal (data.gouv.fr) through its API v1.

Gather: ``GET {url}/api/1/datasets/?organization=…&tag=…&q=…&page=…&page_size=…``
for each configured organisation, following ``next_page``. Fetch: ``GET
{url}/api/1/datasets/{id}/``, and for service-point datasets the column
profile of their CSV files from data.gouv.fr's tabular API, to recognise
point files. Import: see :mod:`.base`.

Source configuration (JSON), beside the options of every harvester
(``force_all``, ``grace_period_days``, ``default_organization``,
``remote_organizations``, ``organization_prefix``, ``mapping_rules``,
``keep_local_fields``, ``allow_empty``, ``api_key``):

``organizations``
    remote organisations (ids or slugs); a dataset of any of them is harvested
``tags``
    remote tags; a dataset must carry all of them
``query``
    full-text query (``q``)
``page_size``
    datasets per page, 1 to 1000 (default 100)
``fetch_details``
    read each changed dataset on its own (default true); false trusts the
    listing
``tabular_api_url``
    base URL of the tabular API (default https://tabular-api.data.gouv.fr
    for www.data.gouv.fr, none elsewhere); empty: no column probe
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import ckan.model as model
import ckan.plugins.toolkit as tk

from . import mapping
from .base import (
    Listing,
    Mapped,
    RemoteItem,
    ServicesPublicsHarvester,
    build_package,
    complete_service_points,
    service_points_available,
)
from .http import JsonClient, RemoteError

log = logging.getLogger(__name__)

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
DATAGOUV_TABULAR = "https://tabular-api.data.gouv.fr"
COLUMNS_KEY = "_servicespublics_columns"
LIST_MASK = "data{id,slug,last_modified,last_update},page,page_size,total,next_page"


class DataGouvHarvester(ServicesPublicsHarvester):
    OPTIONS = {
        "organizations": "strlist",
        "tags": "strlist",
        "query": "str",
        "page_size": "int:1-1000",
        "fetch_details": "bool",
        "tabular_api_url": "str",
    }
    DEFAULTS = {"organizations": [], "tags": [], "query": "", "page_size": 100,
                "fetch_details": True, "tabular_api_url": None}
    API_KEY_HEADER = ("X-API-KEY", "{}")

    def info(self):
        return {
            "name": "datagouv",
            "title": tk._("data.gouv.fr (udata API)"),
            "description": tk._("Datasets of data.gouv.fr or any udata portal, kept in "
                                "sync incrementally"),
            "form_config_interface": "Text",
        }

    # --------------------------------------------------------------- gather

    def _list_remote(self, base_url, config, client, listing):
        organizations = config["organizations"] or [None]
        for organization in organizations:
            org_id = None
            if organization:
                org_id = self._organization_id(base_url, organization, client)
            params: list[tuple[str, Any]] = [("page", 1), ("page_size", config["page_size"])]
            if org_id:
                params.append(("organization", org_id))
            params.extend(("tag", t) for t in config["tags"])
            if config["query"]:
                params.append(("q", config["query"]))
            # with fetch_details, the listing needs only ids and dates: a
            # field mask (flask-restx's X-Fields header, honoured by udata)
            # makes its pages a hundred times lighter
            headers = {"X-Fields": LIST_MASK} if config["fetch_details"] else None
            self._list_pages(base_url, f"{base_url}/api/1/datasets/", params,
                             client, listing, organization, headers)
            if not listing.complete:
                return

    def _organization_id(self, base_url: str, organization: str,
                         client: JsonClient) -> str:
        if OBJECT_ID.match(organization):
            return organization
        data = client.get_json(f"{base_url}/api/1/organizations/{organization}/")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise RemoteError(f"organisation {organization!r}: the answer has no id")
        return data["id"]

    def _list_pages(self, base_url, url, params, client, listing: Listing, label,
                    headers=None):
        where = f"organisation {label}" if label else "the catalogue"
        host = urlsplit(base_url).netloc
        seen_urls: set[str] = set()
        seen_pages: set[tuple] = set()
        count = 0
        total = None
        pages = 0
        while url:
            key = _canonical(url, params)
            if key in seen_urls:
                listing.fail(f"Pagination loop in {where}: next_page {url} was already read")
                return
            seen_urls.add(key)
            data = client.get_json(url, params, headers=headers)
            params = None
            pages += 1
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                listing.fail(f"Unexpected answer from {url} ({where}): no list of datasets "
                             "under 'data'")
                return
            if isinstance(data.get("total"), int) and not isinstance(data["total"], bool):
                total = data["total"]
            ids = tuple(d.get("id") for d in data["data"] if isinstance(d, dict))
            if ids and ids in seen_pages:
                listing.fail(f"Page {url} ({where}) repeats an earlier page: stopped there")
                return
            seen_pages.add(ids)
            for entry in data["data"]:
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) \
                        or not entry["id"]:
                    listing.fail(f"An entry of {url} ({where}) has no dataset id")
                    continue
                count += 1
                listing.add(RemoteItem(guid=entry["id"], name=_text(entry.get("slug")),
                                       modified=_modified(entry),
                                       content=None if headers else entry))
            next_page = data.get("next_page")
            if next_page in (None, ""):
                break
            if not isinstance(next_page, str) or not next_page.startswith(("http://",
                                                                          "https://")):
                listing.fail(f"Unexpected next_page {next_page!r} on {url} ({where})")
                return
            if urlsplit(next_page).netloc != host:
                listing.fail(f"next_page {next_page} leaves {host} ({where}): not followed")
                return
            limit = (total or 0) // max(1, len(data["data"]) or 1) + 10
            if pages > max(limit, 10) and total is not None:
                listing.fail(f"More pages than announced in {where} ({pages} pages for "
                             f"{total} datasets): stopped")
                return
            url = next_page
        if total is not None and count < total:
            listing.fail(f"{where.capitalize()}: listed {count} of the {total} datasets "
                         "announced by the portal")

    # --------------------------------------------------------------- fetch

    def record_url(self, base_url, guid, config):
        if config["fetch_details"]:
            return f"{base_url}/api/1/datasets/{guid}/"
        return None

    def _fetch(self, harvest_object, config, client):
        base_url = harvest_object.source.url.rstrip("/")
        if config["fetch_details"]:
            data = self._read_record(harvest_object, client, self.record_url(
                base_url, harvest_object.guid, config))
            if not isinstance(data, dict) or data.get("id") != harvest_object.guid:
                self._save_object_error(
                    f"Remote dataset {harvest_object.guid}: the portal answered with "
                    f"another record ({_text(data.get('id')) if isinstance(data, dict) else type(data).__name__})",  # noqa: E501
                    harvest_object, "Fetch")
                return False
        else:
            data = json.loads(harvest_object.content or "null")
            if not isinstance(data, dict):
                self._save_object_error(f"Empty content for remote dataset "
                                        f"{harvest_object.guid}", harvest_object, "Fetch")
                return False
        tabular = config["tabular_api_url"]
        if tabular is None:
            tabular = DATAGOUV_TABULAR if urlsplit(base_url).netloc.endswith(
                "data.gouv.fr") else ""
        if tabular and mapping.match_rules(config["mapping_rules"], _facts(data)):
            data[COLUMNS_KEY] = self._probe_columns(tabular.rstrip("/"), data, client,
                                                    harvest_object)
        harvest_object.content = json.dumps(data)
        # saved with the fetch dates by ckanext-harvest right after this stage
        model.Session.add(harvest_object)
        return True

    def _probe_columns(self, tabular, data, client, harvest_object) -> dict:
        found = {}
        for res in data.get("resources") or []:
            if not isinstance(res, dict) or mapping.map_format(res.get("format")) != "CSV":
                continue
            if res.get("type", "main") != "main" or not isinstance(res.get("id"), str):
                continue
            try:
                profile = client.get_json(f"{tabular}/api/resources/{res['id']}/profile/")
                columns = profile["profile"]["columns"]
                found[res["id"]] = {
                    "columns": list(columns),
                    "formats": [c.get("format", "") for c in columns.values()
                                if isinstance(c, dict)],
                }
            except RemoteError as e:
                if e.status == 404:  # not profiled (yet): nothing to say
                    continue
                self._save_object_error(
                    f"Warning: columns of resource {res['id']} unknown "
                    f"(tabular API: {e}); not marked as a point file",
                    harvest_object, "Fetch")
            except (KeyError, TypeError, AttributeError) as e:
                self._save_object_error(
                    f"Warning: columns of resource {res['id']} unknown "
                    f"(tabular API: {e}); not marked as a point file",
                    harvest_object, "Fetch")
        return found

    # --------------------------------------------------------------- map

    def _map(self, remote, config, base_url):
        warnings: list[str] = []

        def safe(label, func, *args, default=None):
            try:
                return func(*args)
            except (TypeError, ValueError, AttributeError) as e:
                warnings.append(f"ignored field {label}: {e}")
                return default

        guid = remote.get("id")
        if not isinstance(guid, str) or not guid:
            raise mapping.MappingError("the record has no id")
        title = safe("title", mapping.as_text, remote.get("title"), default="")
        if not title:
            raise mapping.MappingError("the record has no title")
        slug = safe("slug", mapping.as_text, remote.get("slug"), default="") or guid
        facts = _facts(remote)
        rule = mapping.match_rules(config["mapping_rules"], facts)
        dataset_type = (mapping.SERVICE_POINTS_TYPE
                        if rule and service_points_available() else "dataset")

        spatial = remote.get("spatial")
        zones = []
        if isinstance(spatial, dict):
            zones = safe("spatial.zones", mapping.as_list, spatial.get("zones"), default=[])
        elif spatial is not None:
            warnings.append(f"ignored field spatial: expected an object, got "
                            f"{type(spatial).__name__}")
        level, codes = mapping.map_zones(zones)
        temporal = remote.get("temporal_coverage")
        start = end = None
        if isinstance(temporal, dict):
            start = safe("temporal_coverage.start", mapping.iso_date, temporal.get("start"))
            end = safe("temporal_coverage.end", mapping.iso_date, temporal.get("end"))
        elif temporal is not None:
            warnings.append(f"ignored field temporal_coverage: expected an object, got "
                            f"{type(temporal).__name__}")
        contact_name = contact_email = None
        contacts = remote.get("contact_points")
        if isinstance(contacts, list) and contacts and isinstance(contacts[0], dict):
            contact_name = safe("contact_points.name", mapping.as_text,
                                contacts[0].get("name"))
            contact_email = safe("contact_points.email", mapping.as_text,
                                 contacts[0].get("email"))

        fields: dict[str, Any] = {
            "title": title,
            "notes": safe("description", mapping.html_to_markdown,
                          remote.get("description"), default=""),
            "url": safe("page", mapping.as_text, remote.get("page"), default="")
            or f"{base_url}/fr/datasets/{slug}/",
            "license_id": mapping.map_license(remote.get("license")),
            "tags": mapping.clean_tags(facts["tags"]),
            "frequency": mapping.map_frequency(remote.get("frequency")),
            "temporal_start": start,
            "temporal_end": end,
            "territory_level": level,
            "territory_codes": codes,
            "vintage": safe("last_update", mapping.iso_date,
                            remote.get("last_update") or remote.get("last_modified")),
            "contact_name": contact_name or None,
            "contact_email": contact_email or None,
            "harvest_remote_id": guid,
            "harvest_remote_name": slug,
            "harvest_remote_url": safe("uri", mapping.as_text, remote.get("uri"))
            or f"{base_url}/api/1/datasets/{guid}/",
            "harvest_remote_modified": safe("last_modified", mapping.iso_datetime,
                                            remote.get("last_modified")),
            "harvest_remote_source": base_url,
        }
        if rule:
            fields["domain"] = rule["domain"]
            fields["service_types"] = rule["service_types"]
            fields["access_level"] = "public"
            if rule.get("territory_level"):
                fields["territory_level"] = rule["territory_level"]
                fields["territory_codes"] = rule.get("territory_codes") or codes
        if dataset_type == mapping.SERVICE_POINTS_TYPE:
            complete_service_points(fields, warnings)
        columns = remote.get(COLUMNS_KEY) or {}
        resources = []
        raw = remote.get("resources")
        if raw is not None and not isinstance(raw, list):
            warnings.append(f"ignored field resources: expected a list, got "
                            f"{type(raw).__name__}")
            raw = []
        for i, res in enumerate(raw or []):
            try:
                resources.append(_resource(res, rule, columns))
            except (TypeError, ValueError) as e:
                warnings.append(f"skipped resource #{i + 1}: {e}")

        organization = None
        org = remote.get("organization") or remote.get("owner")
        if isinstance(org, dict) and (org.get("slug") or org.get("id")):
            organization = {
                "id": mapping.as_text(org.get("id")),
                "name": mapping.as_text(org.get("slug") or org.get("id")),
                "title": mapping.as_text(org.get("name") or org.get("slug")) or None,
                "image_url": org.get("logo") if isinstance(org.get("logo"), str) else None,
            }
            if org.get("class") == "User" or "first_name" in org:
                organization["title"] = " ".join(
                    filter(None, [org.get("first_name"), org.get("last_name")])) or None
        package = build_package(fields, resources, dataset_type, slug)
        return Mapped(package=package, organization=organization, warnings=warnings)


def _canonical(url: str, params: list | None) -> str:
    """A URL with its query parameters sorted: to recognise a page read before."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + [(k, str(v)) for k, v in (params or [])]
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(sorted(query))}"


def _text(value: Any) -> str:
    try:
        return mapping.as_text(value)
    except TypeError:
        return ""


def _modified(entry: dict):
    dates = []
    for key in ("last_modified", "last_update"):
        try:
            value = mapping.parse_datetime(entry.get(key))
        except TypeError:
            value = None
        if value:
            dates.append(value)
    return max(dates) if dates else None


def _facts(remote: dict) -> dict:
    org = remote.get("organization") if isinstance(remote.get("organization"), dict) else {}
    try:
        tags = [t for t in mapping.as_list(remote.get("tags")) if isinstance(t, str)]
    except TypeError:
        tags = []
    return {
        "id": remote.get("id"), "slug": remote.get("slug"),
        "title": _text(remote.get("title")), "tags": tags, "themes": [],
        "organization": [o for o in (org.get("id"), org.get("slug"), org.get("name"))
                         if isinstance(o, str)],
    }


def _resource(res: Any, rule: dict | None, columns: dict) -> dict:
    if not isinstance(res, dict):
        raise TypeError(f"expected an object, got {type(res).__name__}")
    rid = res.get("id")
    url = res.get("url") or res.get("latest")
    if not isinstance(rid, str) or not rid:
        raise ValueError("no id")
    if not isinstance(url, str) or not url:
        raise ValueError(f"resource {rid} has no URL")
    fmt = mapping.map_format(res.get("format")) or mapping.map_format(res.get("mime"))
    checksum = res.get("checksum")
    digest = None
    if isinstance(checksum, dict) and checksum.get("value"):
        digest = f"{mapping.as_text(checksum.get('type') or 'sha1')}:" \
                 f"{mapping.as_text(checksum['value'])}"
    size = res.get("filesize")
    title = mapping.as_text(res.get("title")) or url.rstrip("/").rsplit("/", 1)[-1]
    out = {
        "name": title,
        "description": mapping.html_to_markdown(res.get("description")),
        "url": url,
        "format": fmt,
        "mimetype": mapping.as_text(res.get("mime")) or None,
        "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
        "hash": digest,
        "created": mapping.iso_datetime(res.get("created_at")),
        "last_modified": mapping.iso_datetime(res.get("last_modified")),
        "harvest_remote_id": rid,
    }
    if rule is not None:
        out["role"] = _role(res, out, rule, columns.get(rid))
    return out


def _role(res: dict, out: dict, rule: dict, profile: dict | None) -> str:
    if res.get("type") in ("documentation", "api", "code"):
        return "documentation"
    if res.get("type", "main") not in ("main", "update"):
        return "other"
    pattern = rule.get("point_file_pattern")
    if pattern and out["format"] in ("CSV", "GeoJSON", "JSON") and (
            re.search(pattern, out["name"], re.I) or re.search(pattern, out["url"], re.I)):
        return "point_file"
    if out["format"] == "GeoJSON":
        return "point_file"
    if out["format"] == "CSV" and profile and mapping.columns_have_coordinates(
            profile.get("columns", []), profile.get("formats", [])):
        return "point_file"
    return "other"
