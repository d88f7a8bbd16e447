"""The background job that ingests a point resource, and what it needs from CKAN.

``ingest_job`` runs in CKAN's jobs worker (``ckan jobs worker``, default
queue).  It never updates the resource (no update loops): the status and the
report live in the plugin's own tables.  After a successful ingestion it may
patch the dataset's ``spatial`` (when empty, or when it was computed by an
earlier ingestion) and it reindexes the dataset, so that ``point_count`` and
``validation_status`` reach the search results.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
import uuid
from typing import Any, Callable, Iterator, Optional

import requests

import ckan.lib.search as search
import ckan.model as model
import ckan.plugins.toolkit as tk

from . import store
from .ingest import Options, Result, run_ingestion
from .readers import SUPPORTED_FORMATS, normalize_format
from .refs import Territories, service_types

log = logging.getLogger(__name__)

__all__ = ["ingest_job", "ingest_resource", "resource_fingerprint", "is_point_resource",
           "enqueue", "raw_cursor", "FINGERPRINT_FIELDS", "POINT_DATASET_TYPE"]

POINT_DATASET_TYPE = "service-points"
POINT_ROLE = "point_file"
#: what, when it changes, makes a new ingestion necessary
FINGERPRINT_FIELDS = ("url", "url_type", "last_modified", "size", "hash", "format",
                      "column_mapping", "crs", "encoding", "delimiter", "role")
#: sent once an ingestion replaced a resource's points (sender: resource id)
POINTS_REPLACED = "servicespublics_points_replaced"
#: a job that finds a resource not yet committed waits this long for it
_WAIT_FOR_COMMIT = (0.5, 1, 2, 4)


@contextlib.contextmanager
def raw_cursor() -> Iterator[Any]:
    """A DB-API cursor on a connection of its own, committed at the end."""
    conn = model.meta.engine.raw_connection()
    try:
        cur = conn.cursor()
        yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def _canonical(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):
            try:
                return json.loads(text)
            except ValueError:
                return text
        return text
    return value


def resource_fingerprint(resource: dict[str, Any]) -> str:
    """A hash of what decides the ingestion's result."""
    parts = [_canonical(resource.get(name)) for name in FINGERPRINT_FIELDS]
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def is_point_resource(resource: dict[str, Any], package_type: Optional[str]) -> bool:
    """A point file: role point_file, or a supported format in a service-points dataset."""
    if resource.get("state", "active") != "active":
        return False
    role = resource.get("role")
    if role:
        return role == POINT_ROLE
    if package_type != POINT_DATASET_TYPE:
        return False
    fmt = normalize_format(resource.get("format"))
    if fmt is None and resource.get("url"):
        fmt = normalize_format(os.path.splitext(str(resource["url"]).split("?")[0])[1])
    return fmt in SUPPORTED_FORMATS


def enqueue(resource_id: str, fp: Optional[str], *, trigger: str = "hook",
            force: bool = False) -> Optional[Any]:
    """Put an ingestion job on CKAN's default queue."""
    return tk.enqueue_job(
        ingest_job, [resource_id],
        {"fingerprint": fp, "trigger": trigger, "force": force},
        title=f"servicespublics points: {resource_id}",
        rq_kwargs={"timeout": tk.config.get("ckanext.servicespublics.points.job_timeout")})


def _site_context() -> dict[str, Any]:
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"user": site_user["name"], "ignore_auth": True}


def _load(resource_id: str) -> tuple[Optional[dict[str, Any]], Optional[dict[str, Any]]]:
    """The resource and its dataset as they are committed now."""
    model.Session.remove()
    row = model.Resource.get(resource_id)
    if row is None:
        return None, None
    try:
        package = tk.get_action("package_show")(
            {**_site_context(), "use_cache": False}, {"id": row.package_id})
    except tk.ObjectNotFound:
        return None, None
    for resource in package.get("resources", []):
        if resource["id"] == resource_id:
            return resource, package
    return None, package


def ingest_job(resource_id: str, fingerprint: Optional[str] = None, trigger: str = "hook",
               force: bool = False) -> Optional[str]:
    """The job: ingest a resource if what it points to changed.

    Returns the resulting status, or None when nothing was done.
    """
    resource, package = _load(resource_id)
    expected = fingerprint
    current = resource_fingerprint(resource) if resource else None
    if expected and current != expected:
        # the change that enqueued us may not be committed yet
        for delay in _WAIT_FOR_COMMIT:
            time.sleep(delay)
            resource, package = _load(resource_id)
            current = resource_fingerprint(resource) if resource else None
            if current == expected:
                break
    if resource is None or package is None or package.get("state") != "active":
        log.info("Point resource %s is gone: nothing to ingest", resource_id)
        return None
    if not is_point_resource(resource, package.get("type")):
        log.info("Resource %s is no longer a point file", resource_id)
        return None
    with raw_cursor() as cur:
        cur.execute(f"SELECT requested_fingerprint, ingested_fingerprint FROM "
                    f"{store.STATE_TABLE} WHERE resource_id = %s", (resource_id,))
        row = cur.fetchone()
    if expected and current != expected and row and row[0] not in (expected, None):
        log.info("Resource %s changed again: a newer job ingests it", resource_id)
        return None
    if not force and row and row[1] == current:
        log.info("Resource %s already ingested in this version", resource_id)
        return None
    result = ingest_resource(resource, package, trigger=trigger, fp=current)
    return result.status if result else None


def _options(resource: dict[str, Any], package: dict[str, Any]) -> Options:
    config = tk.config
    types = package.get("service_types")
    if isinstance(types, str):
        try:
            types = json.loads(types)
        except ValueError:
            types = [t.strip() for t in types.split(",") if t.strip()]
    default_type = types[0] if isinstance(types, list) and len(types) == 1 else None
    return Options(
        declared_format=resource.get("format"),
        encoding=resource.get("encoding") or None,
        delimiter=_delimiter(resource.get("delimiter")),
        crs=resource.get("crs") or None,
        column_mapping=resource.get("column_mapping") or None,
        default_service_type=default_type,
        service_types=service_types(),
        territories=Territories(),
        chunk_size=config.get("ckanext.servicespublics.points.chunk_size"),
        max_entries=config.get("ckanext.servicespublics.points.max_entries"),
    )


def _delimiter(value: Any) -> Optional[str]:
    if not value:
        return None
    text = str(value)
    names = {"tab": "\t", "\\t": "\t", "tabulation": "\t", "comma": ",", "virgule": ",",
             "semicolon": ";", "point-virgule": ";", "pipe": "|"}
    if text in names or text.strip().lower() in names:
        return names.get(text) or names[text.strip().lower()]
    try:
        from ckanext.servicespublics.dataset import vocabulary
        found = vocabulary.delimiter(text)
        if found:
            return "\t" if found in ("tab", "\\t") else found
    except Exception:  # the vocabulary is optional
        pass
    return text if len(text) == 1 else None


class DownloadError(Exception):
    pass


@contextlib.contextmanager
def local_file(resource: dict[str, Any]) -> Iterator[str]:
    """A local path to the resource's file: the upload itself, or a download."""
    if resource.get("url_type") == "upload":
        from ckan.lib import uploader

        upload = uploader.get_resource_uploader(dict(resource))
        storage = getattr(upload, "storage", None)
        path = upload.get_path(resource["id"])
        if storage is None or isinstance(path, str) and os.path.isabs(path):
            if not os.path.exists(path):
                raise DownloadError("Fichier téléversé introuvable sur le serveur")
            yield path
            return
        from ckan.lib import files

        with tempfile.TemporaryDirectory(prefix="servicespublics-points-") as tmp:
            target = os.path.join(tmp, "upload")
            data = files.FileData(files.Location(path), size=storage.size(files.Location(path)))
            with open(target, "wb") as out:
                for block in storage.stream(data):
                    out.write(block)
            yield target
        return
    url = resource.get("url") or ""
    if not url.lower().startswith(("http://", "https://")):
        raise DownloadError(f"Adresse non téléchargeable : « {url} » (http ou https attendu)")
    max_size = tk.config.get("ckanext.servicespublics.points.max_file_size")
    timeout = tk.config.get("ckanext.servicespublics.points.download_timeout")
    with tempfile.TemporaryDirectory(prefix="servicespublics-points-") as tmp:
        target = os.path.join(tmp, "download")
        try:
            with requests.get(url, stream=True, timeout=timeout,
                              headers={"User-Agent": "ckanext-servicespublics"}) as response:
                if response.status_code >= 400:
                    raise DownloadError(
                        f"Téléchargement impossible : le serveur a répondu {response.status_code} "
                        f"pour {url}")
                size = 0
                with open(target, "wb") as out:
                    for block in response.iter_content(1 << 20):
                        size += len(block)
                        if size > max_size:
                            raise DownloadError(
                                f"Fichier trop gros : plus de {max_size // (1 << 20)} Mo")
                        out.write(block)
        except requests.RequestException as e:
            raise DownloadError(f"Téléchargement impossible ({url}) : {e}") from e
        yield target


def ingest_resource(resource: dict[str, Any], package: dict[str, Any], *,
                    trigger: str = "hook", fp: Optional[str] = None,
                    progress: Optional[Callable[[Optional[int], Optional[int]], None]] = None,
                    ) -> Result:
    """Ingest a resource now (in this process) and update the dataset after."""
    resource_id, package_id = resource["id"], package["id"]
    ingestion_id = str(uuid.uuid4())
    fp = fp or resource_fingerprint(resource)
    source = "upload" if resource.get("url_type") == "upload" else resource.get("url")
    with raw_cursor() as cur:
        store.start_ingestion(cur, ingestion_id, resource_id, package_id, trigger=trigger,
                              fingerprint=fp, source=source)
    options = _options(resource, package)
    conn = model.meta.engine.raw_connection()
    try:
        try:
            with local_file(resource) as path:
                total = os.path.getsize(path)
                callback = (lambda pos: progress(pos, total)) if progress else None
                result = run_ingestion(
                    conn, path, resource_id=resource_id, package_id=package_id,
                    owner_org=package.get("owner_org"), ingestion_id=ingestion_id,
                    options=options, progress=callback, fingerprint=fp)
        except DownloadError as e:
            result = Result(status="error")
            result.report.message("error", "download_failed", str(e))
            conn.rollback()
            cur = conn.cursor()
            store.finish_ingestion(cur, ingestion_id, resource_id, package_id, result,
                                   fingerprint=fp)
            conn.commit()
    finally:
        conn.close()
    log.info("Ingestion %s of resource %s: %s, %s point(s) out of %s row(s)", ingestion_id,
             resource_id, result.status, result.rows_ingested, result.rows_read)
    if getattr(result, "replaced", False):
        # other plugins follow the points: the issues plugin writes accepted
        # corrections back, the analytics plugin records openings/closures
        _announce_replaced(resource_id, package_id)
    after_ingestion(package_id, result)
    return result


def _announce_replaced(resource_id: str, package_id: str) -> None:
    """Send ``servicespublics_points_replaced`` (sender: the resource id).

    A failing receiver is logged, never raised: the points are committed and
    the ingestion succeeded whatever a follower does with them.
    """
    signal = tk.signals.ckanext.signal(POINTS_REPLACED)
    for receiver in list(signal.receivers_for(resource_id)):
        try:
            receiver(resource_id, resource_id=resource_id, package_id=package_id)
        except Exception:
            log.exception("A receiver of %s failed for resource %s", POINTS_REPLACED,
                          resource_id)


def _bbox_geometry(box: list[float]) -> dict[str, Any]:
    x0, y0, x1, y1 = box
    pad = 0.0005
    if x1 - x0 < 2 * pad:
        x0, x1 = x0 - pad, x1 + pad
    if y1 - y0 < 2 * pad:
        y0, y1 = y0 - pad, y1 + pad
    ring = [[round(x0, 5), round(y0, 5)], [round(x1, 5), round(y0, 5)],
            [round(x1, 5), round(y1, 5)], [round(x0, 5), round(y1, 5)],
            [round(x0, 5), round(y0, 5)]]
    return {"type": "Polygon", "coordinates": [ring]}


def package_extent(package_id: str) -> Optional[str]:
    """The extent of a dataset's points: a box per territory, as GeoJSON."""
    with raw_cursor() as cur:
        cur.execute(f"SELECT extents FROM {store.STATE_TABLE} WHERE package_id = %s "
                    "AND point_count > 0", (package_id,))
        rows = cur.fetchall()
    boxes: dict[str, list[float]] = {}
    for (extents,) in rows:
        for territory, box in (extents or {}).items():
            known = boxes.get(territory)
            if known is None:
                boxes[territory] = list(box)
            else:
                boxes[territory] = [min(known[0], box[0]), min(known[1], box[1]),
                                    max(known[2], box[2]), max(known[3], box[3])]
    if not boxes:
        return None
    polygons = [_bbox_geometry(boxes[t]) for t in sorted(boxes)]
    if len(polygons) == 1:
        return json.dumps(polygons[0])
    return json.dumps({"type": "MultiPolygon",
                       "coordinates": [p["coordinates"] for p in polygons]})


def after_ingestion(package_id: str, result: Result) -> None:
    """Refresh the dataset's computed extent and its search document."""
    patched = False
    if result.replaced and tk.config.get("ckanext.servicespublics.points.update_spatial"):
        try:
            patched = _update_spatial(package_id)
        except Exception:  # the points are in; the extent can wait
            log.exception("Could not update the extent of dataset %s", package_id)
    if not patched:
        try:
            search.rebuild(package_id)
        except Exception:
            log.exception("Could not reindex dataset %s", package_id)


def _spatial_is_a_field(package_type: Optional[str]) -> bool:
    """Whether the dataset's scheming schema has a ``spatial`` field (else: an extra)."""
    try:
        schema = tk.h.scheming_get_dataset_schema(package_type or "dataset")
    except (AttributeError, KeyError, TypeError):
        return False
    fields = (schema or {}).get("dataset_fields") or []
    return any(f.get("field_name") == "spatial" for f in fields)


def _current_spatial(package: dict[str, Any]) -> str:
    if package.get("spatial"):
        return package["spatial"]
    for extra in package.get("extras") or []:
        if extra.get("key") == "spatial":
            return extra.get("value") or ""
    return ""


def _update_spatial(package_id: str) -> bool:
    """Store the points' extent in ``spatial`` unless a person set it."""
    extent = package_extent(package_id)
    if extent is None:
        return False
    package = tk.get_action("package_show")({**_site_context(), "use_cache": False},
                                            {"id": package_id})
    current = _current_spatial(package)
    with raw_cursor() as cur:
        cur.execute(f"SELECT DISTINCT auto_spatial FROM {store.STATE_TABLE} "
                    "WHERE package_id = %s AND auto_spatial IS NOT NULL", (package_id,))
        ours = {row[0] for row in cur.fetchall()}
    if current and current not in ours:
        return False  # set by a person: theirs
    if current == extent:
        return False
    with raw_cursor() as cur:
        cur.execute(f"UPDATE {store.STATE_TABLE} SET auto_spatial = %s WHERE package_id = %s",
                    (extent, package_id))
    if _spatial_is_a_field(package.get("type")):
        patch: dict[str, Any] = {"id": package_id, "spatial": extent}
    else:
        extras = [e for e in package.get("extras") or [] if e.get("key") != "spatial"]
        patch = {"id": package_id, "extras": extras + [{"key": "spatial", "value": extent}]}
    try:
        tk.get_action("package_patch")(_site_context(), patch)
    except tk.ValidationError as e:
        log.warning("Dataset %s does not take the computed extent: %s", package_id,
                    e.error_dict)
        return False
    return True
