"""``opendatasoft``: harvests any OpenDataSoft portal through the Explore API v2.1.

Gather: ``GET {url}/api/explore/v2.1/catalog/datasets?limit&offset&where&order_by``.
The API refuses ``offset + limit`` above 10,000: a larger catalogue is read in
windows of the modification date (``order_by=modified, dataset_id`` and
``where=modified >= date'…'``, the only ordered comparison ODSQL offers), then
the datasets without a date; or, with ``"pagination": "export"``, in one
request to the catalogue export ``/api/explore/v2.1/catalog/exports/json``.
The listing carries each dataset's full metadata: the fetch stage has nothing
to read. The remote id is ``dataset_uid``, which survives the renaming of a
dataset (its ``dataset_id`` slug).

Resources: the portal's exports (``/exports/csv``, ``/exports/geojson`` when
the dataset has the ``geo`` feature, ``/exports/json``) and its attachments.

Source configuration (JSON), beside the options of every harvester:

``where``
    an ODSQL filter on the catalogue
``themes`` / ``keywords``
    datasets with any of these themes / keywords
``pagination``
    ``auto`` (default) or ``export``
``page_size``
    datasets per page, 1 to 100 (default 100)
"""
from __future__ import annotations

import logging
from typing import Any

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
from .http import JsonClient

log = logging.getLogger(__name__)

API = "/api/explore/v2.1"
OFFSET_CAP = 10000


class OpenDataSoftHarvester(ServicesPublicsHarvester):
    OPTIONS = {
        "where": "str",
        "themes": "strlist",
        "keywords": "strlist",
        "pagination": "choice:auto|export",
        "page_size": "int:1-100",
    }
    DEFAULTS = {"where": "", "themes": [], "keywords": [], "pagination": "auto",
                "page_size": 100}
    API_KEY_HEADER = ("Authorization", "Apikey {}")

    def info(self):
        return {
            "name": "opendatasoft",
            "title": tk._("OpenDataSoft (Explore API v2.1)"),
            "description": tk._("Datasets of an OpenDataSoft portal, kept in sync "
                                "incrementally, with their exports as resources"),
            "form_config_interface": "Text",
        }

    # --------------------------------------------------------------- gather

    def _where(self, config: dict) -> str:
        clauses = []
        if config["where"]:
            clauses.append(f"({config['where']})")
        for name, values in (("theme", config["themes"]), ("keyword", config["keywords"])):
            if values:
                clauses.append("(" + " OR ".join(f"{name} = {_quote(v)}" for v in values)
                               + ")")
        return " AND ".join(clauses)

    def _list_remote(self, base_url, config, client, listing):
        where = self._where(config)
        if config["pagination"] == "export":
            return self._list_export(base_url, where, client, listing)
        size = config["page_size"]
        url = f"{base_url}{API}/catalog/datasets"
        first = self._page(client, url, listing, where, "dataset_id", 0, size)
        if first is None:
            return
        total, results = first
        if total < OFFSET_CAP - size:
            self._list_offsets(client, url, listing, where, "dataset_id", size, total,
                               results)
        else:
            self._list_windows(client, url, listing, where, size)
        if listing.complete and len(listing.items) < total:
            listing.fail(f"Listed {len(listing.items)} of the {total} datasets announced "
                         "by the portal")

    def _page(self, client: JsonClient, url, listing, where, order_by, offset, size):
        params = {"limit": size, "offset": offset, "order_by": order_by}
        if where:
            params["where"] = where
        data = client.get_json(url, params)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            listing.fail(f"Unexpected answer from {url} (offset {offset}): no list of "
                         "datasets under 'results'")
            return None
        total = data.get("total_count")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            listing.fail(f"Unexpected answer from {url}: no total_count")
            return None
        return total, data["results"]

    def _add(self, listing: Listing, entries: list, where: str,
             repeats_expected: bool = False):
        last = None
        for entry in entries:
            item = _item(entry)
            if item is None:
                listing.fail(f"An entry of the catalogue ({where}) has no dataset id")
                continue
            listing.add(item, repeats_expected=repeats_expected)
            last = entry
        return last

    def _list_offsets(self, client, url, listing, where, order_by, size, total, results,
                      offset=0, cap=OFFSET_CAP):
        seen_pages: set[tuple] = set()
        while True:
            ids = tuple(_uid(e) for e in results)
            if ids and ids in seen_pages:
                listing.fail(f"The page at offset {offset} repeats an earlier page: "
                             "stopped there")
                return
            seen_pages.add(ids)
            self._add(listing, results, f"offset {offset}")
            offset += size
            if offset >= total or not results:
                if offset < total:
                    listing.fail(f"The portal announced {total} datasets but its page at "
                                 f"offset {offset - size} is empty")
                return
            if offset + size >= cap:
                listing.fail(f"Offset cap of the API reached at {offset} ({total} datasets)")
                return
            page = self._page(client, url, listing, where, order_by, offset, size)
            if page is None:
                return
            total, results = page

    def _list_windows(self, client, url, listing, base_where, size):
        """Catalogues above the offset cap: windows of modification dates."""
        start = None
        while True:
            clause = f"modified >= date'{start}'" if start else "modified is not null"
            where = f"{base_where} AND {clause}" if base_where else clause
            offset = 0
            last_modified = None
            exhausted = False
            while offset + size < OFFSET_CAP:
                page = self._page(client, url, listing, where, "modified, dataset_id",
                                  offset, size)
                if page is None:
                    return
                _, results = page
                last = self._add(listing, results, f"window {start}", repeats_expected=True)
                if last is not None:
                    last_modified = _metas(last).get("modified") or last_modified
                if len(results) < size:
                    exhausted = True
                    break
                offset += size
            if exhausted:
                break
            if not last_modified or last_modified == start:
                listing.fail(f"More than {OFFSET_CAP:,} datasets share the modification "
                             f"date {start}: use \"pagination\": \"export\"")
                return
            start = last_modified
        clause = "modified is null"
        where = f"{base_where} AND {clause}" if base_where else clause
        page = self._page(client, url, listing, where, "dataset_id", 0, size)
        if page is None:
            return
        total, results = page
        if total:
            self._list_offsets(client, url, listing, where, "dataset_id", size, total,
                               results)

    def _list_export(self, base_url, where, client, listing):
        params = {"order_by": "dataset_id"}
        if where:
            params["where"] = where
        url = f"{base_url}{API}/catalog/exports/json"
        data = client.get_json(url, params)
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            data = data["results"]
        if not isinstance(data, list):
            listing.fail(f"Unexpected answer from {url}: not a list of datasets")
            return
        self._add(listing, data, "export")

    # --------------------------------------------------------------- map

    def _map(self, remote, config, base_url):
        warnings: list[str] = []

        def safe(label, func, *args, default=None):
            try:
                return func(*args)
            except (TypeError, ValueError, AttributeError) as e:
                warnings.append(f"ignored field {label}: {e}")
                return default

        item = _item(remote)
        if item is None:
            raise mapping.MappingError("the record has no dataset_id")
        dataset_id = remote["dataset_id"]
        metas = remote.get("metas")
        if not isinstance(metas, dict) or not isinstance(metas.get("default"), dict):
            raise mapping.MappingError("the record has no metas.default object")
        default = metas["default"]
        dcat = metas.get("dcat") if isinstance(metas.get("dcat"), dict) else {}
        title = safe("metas.default.title", mapping.as_text, default.get("title"),
                     default="") or dataset_id
        keywords = safe("metas.default.keyword", mapping.as_list, default.get("keyword"),
                        default=[])
        themes = safe("metas.default.theme", mapping.as_list, default.get("theme"),
                      default=[])
        publisher = safe("metas.default.publisher", mapping.as_text,
                         default.get("publisher"), default="")
        facts = {"id": item.guid, "slug": dataset_id, "title": title,
                 "tags": [k for k in keywords if isinstance(k, str)],
                 "themes": [t for t in themes if isinstance(t, str)],
                 "organization": [publisher] if publisher else []}
        rule = mapping.match_rules(config["mapping_rules"], facts)
        dataset_type = (mapping.SERVICE_POINTS_TYPE
                        if rule and service_points_available() else "dataset")

        start = safe("metas.dcat.temporal_coverage_start", mapping.iso_date,
                     dcat.get("temporal_coverage_start"))
        end = safe("metas.dcat.temporal_coverage_end", mapping.iso_date,
                   dcat.get("temporal_coverage_end"))
        if not (start or end) and isinstance(dcat.get("temporal"), str) \
                and "/" in dcat["temporal"]:
            first, _, second = dcat["temporal"].partition("/")
            start = safe("metas.dcat.temporal", mapping.iso_date, first)
            end = safe("metas.dcat.temporal", mapping.iso_date, second)
        level, codes = None, []
        geo_refs = safe("metas.default.geographic_reference", mapping.as_list,
                        default.get("geographic_reference"), default=[])
        if any(isinstance(g, str) and g.lower() in ("fr", "world_fr") for g in geo_refs):
            level = "national"
        fields: dict[str, Any] = {
            "title": title,
            "notes": safe("metas.default.description", mapping.html_to_markdown,
                          default.get("description"), default=""),
            "url": f"{base_url}/explore/dataset/{dataset_id}/",
            "license_id": mapping.map_license(default.get("license")),
            "tags": mapping.clean_tags(facts["tags"] + facts["themes"]),
            "frequency": mapping.map_frequency(dcat.get("accrualperiodicity")),
            "temporal_start": start,
            "temporal_end": end,
            "territory_level": level,
            "territory_codes": codes,
            "vintage": safe("metas.default.data_processed", mapping.iso_date,
                            default.get("data_processed") or default.get("modified")),
            "contact_name": safe("metas.dcat.contact_name", mapping.as_text,
                                 dcat.get("contact_name")) or None,
            "contact_email": safe("metas.dcat.contact_email", mapping.as_text,
                                  dcat.get("contact_email")) or None,
            "harvest_remote_id": item.guid,
            "harvest_remote_name": dataset_id,
            "harvest_remote_url": f"{base_url}{API}/catalog/datasets/{dataset_id}",
            "harvest_remote_modified": safe("metas.default.modified", mapping.iso_datetime,
                                            default.get("modified")),
            "harvest_remote_source": base_url,
        }
        if rule:
            fields["domain"] = rule["domain"]
            fields["service_types"] = rule["service_types"]
            fields["access_level"] = "public"
            if rule.get("territory_level"):
                fields["territory_level"] = rule["territory_level"]
                fields["territory_codes"] = rule.get("territory_codes") or []

        if dataset_type == mapping.SERVICE_POINTS_TYPE:
            complete_service_points(fields, warnings)
        resources = self._resources(remote, item.guid, dataset_id, base_url, default,
                                    rule, warnings)
        organization = None
        if publisher:
            organization = {"id": publisher, "name": publisher, "title": publisher}
        package = build_package(fields, resources, dataset_type, dataset_id)
        return Mapped(package=package, organization=organization, warnings=warnings)

    def _resources(self, remote, uid, dataset_id, base_url, default, rule, warnings):
        features = remote.get("features") if isinstance(remote.get("features"), list) else []
        fields = remote.get("fields") if isinstance(remote.get("fields"), list) else []
        names = [f.get("name") for f in fields if isinstance(f, dict)]
        types = [f.get("type") for f in fields if isinstance(f, dict)]
        has_points = "geo_point_2d" in types or mapping.columns_have_coordinates(
            [n for n in names if isinstance(n, str)])
        point_export = None
        if rule is not None and has_points:
            point_export = "geojson" if ("geo" in features and "geo_shape" not in types) \
                else "csv"
        processed = None
        try:
            processed = mapping.iso_datetime(default.get("data_processed")
                                             or default.get("modified"))
        except TypeError:
            pass
        exports = []
        if remote.get("has_records", True) is not False:
            exports = [("csv", "CSV", "text/csv")]
            if "geo" in features:
                exports.append(("geojson", "GeoJSON", "application/geo+json"))
            exports.append(("json", "JSON", "application/json"))
        out = []
        for name, fmt, mime in exports:
            res = {
                "name": f"Export {fmt}",
                "description": "",
                "url": f"{base_url}{API}/catalog/datasets/{dataset_id}/exports/{name}",
                "format": fmt,
                "mimetype": mime,
                "last_modified": processed,
                "harvest_remote_id": f"{uid}:export:{name}",
            }
            if rule is not None:
                res["role"] = "point_file" if name == point_export else "other"
            out.append(res)
        attachments = remote.get("attachments")
        if attachments is not None and not isinstance(attachments, list):
            warnings.append("ignored field attachments: expected a list, got "
                            f"{type(attachments).__name__}")
            attachments = []
        for att in attachments or []:
            if not isinstance(att, dict) or not isinstance(att.get("id"), str):
                warnings.append("skipped an attachment without id")
                continue
            mime = att.get("mimetype") if isinstance(att.get("mimetype"), str) else ""
            res = {
                "name": mapping.as_text(att.get("title")) or att["id"],
                "description": "",
                "url": f"{base_url}{API}/catalog/datasets/{dataset_id}/attachments/"
                       f"{att['id']}",
                "format": mapping.map_format(mime)
                or mapping.map_format(att["id"].rsplit("_", 1)[-1]),
                "mimetype": mime or None,
                "harvest_remote_id": f"{uid}:attachment:{att['id']}",
            }
            if rule is not None:
                res["role"] = "documentation"
            out.append(res)
        return out


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _metas(entry: dict) -> dict:
    metas = entry.get("metas") if isinstance(entry, dict) else None
    default = metas.get("default") if isinstance(metas, dict) else None
    return default if isinstance(default, dict) else {}


def _uid(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    for key in ("dataset_uid", "dataset_id"):
        if isinstance(entry.get(key), str) and entry[key]:
            return entry[key]
    return None


def _item(entry: Any) -> RemoteItem | None:
    uid = _uid(entry)
    if uid is None or not isinstance(entry.get("dataset_id"), str) or not entry["dataset_id"]:
        return None
    metas = _metas(entry)
    dates = []
    for key in ("modified", "data_processed", "metadata_processed"):
        try:
            value = mapping.parse_datetime(metas.get(key))
        except TypeError:
            value = None
        if value:
            dates.append(value)
    return RemoteItem(guid=uid, name=entry["dataset_id"],
                      modified=max(dates) if dates else None, content=entry)
