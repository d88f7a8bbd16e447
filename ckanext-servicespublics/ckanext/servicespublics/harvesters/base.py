"""Shared machinery of the data.gouv.fr and OpenDataSoft harvesters.

The three ckanext-harvest stages, for portals that list their whole
catalogue with a modification date per dataset:

gather
    lists the remote catalogue (the subclass's ``_list_remote``), compares each
    remote dataset's modification date with the one imported last time
    (``HarvestObject.metadata_modified_date`` of the current object) and
    creates harvest objects only for new and changed datasets (all of them
    with ``force_all``). Datasets missing from a *complete* listing get a
    ``missing_since`` extra on their current harvest object; once they have
    been missing for ``grace_period_days``, a harvest object flagged
    ``status=delete`` withdraws them. An incomplete listing (any remote error)
    withdraws nothing.
fetch
    the subclass's ``_fetch`` (data.gouv.fr reads the dataset itself,
    OpenDataSoft already has it from the listing).
import
    maps the remote record (``_map``) and creates the dataset, or updates
    the one imported before for the same remote id, whatever its remote slug
    is now. Local additions survive: fields listed in ``keep_local_fields``,
    resources added by hand, local resource fields (column mapping,
    validation status…) and extras the harvester does not own.

State lives in ckanext-harvest's own tables (harvest objects and their
extras): no table of our own.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime
import functools
import hashlib
import json
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.lib.munge import munge_title_to_name

from ckanext.harvest.harvesters import HarvesterBase
from ckanext.harvest.model import HarvestObject, HarvestObjectExtra

from . import mapping
from .http import JsonClient, ReadAhead, RemoteError

log = logging.getLogger(__name__)

# extras that ckanext-harvest adds to indexed datasets: never written back
_INDEX_EXTRAS = {"harvest_object_id", "harvest_source_id", "harvest_source_title"}

# dataset fields owned by the harvesters (beside CKAN's core fields): set as
# schema fields when the dataset type's scheming schema has them, as extras
# otherwise
CUSTOM_FIELDS = (
    "domain", "service_types", "territory_level", "territory_codes", "vintage",
    "temporal_start", "temporal_end", "frequency", "access_level",
    "contact_name", "contact_email", "harvest_remote_id", "harvest_remote_name",
    "harvest_remote_url", "harvest_remote_modified",
)
CORE_FIELDS = ("title", "notes", "url", "license_id", "tags", "owner_org", "type")
RESOURCE_FIELDS = (
    "name", "description", "url", "format", "mimetype", "size", "hash",
    "created", "last_modified", "role", "harvest_remote_id",
)

COMMON_OPTIONS: dict[str, str] = {
    "force_all": "bool",
    "grace_period_days": "days",
    "default_organization": "str",
    "remote_organizations": "bool",
    "organization_prefix": "str",
    "mapping_rules": "rules",
    "keep_local_fields": "strlist",
    "allow_empty": "bool",
    "api_key": "str",
}


@dataclass
class RemoteItem:
    guid: str
    name: str
    modified: datetime.datetime | None
    content: dict | None = None


@dataclass
class Listing:
    """What a gather saw of the remote catalogue."""

    items: dict[str, RemoteItem] = field(default_factory=dict)
    complete: bool = True
    errors: list[str] = field(default_factory=list)
    duplicates: int = 0

    def add(self, item: RemoteItem, repeats_expected: bool = False) -> None:
        if item.guid in self.items:
            if repeats_expected:
                return
            self.duplicates += 1
            if self.duplicates <= 5:
                self.errors.append(
                    f"Remote dataset {item.guid} ({item.name}) is listed more than "
                    "once: kept its first occurrence")
            return
        self.items[item.guid] = item

    def fail(self, message: str) -> None:
        self.complete = False
        self.errors.append(message)


@dataclass
class Mapped:
    """A remote dataset as the catalogue sees it."""

    package: dict
    organization: dict | None = None  # remote producer: id, name, title, …
    warnings: list[str] = field(default_factory=list)


class ServicesPublicsHarvester(HarvesterBase):
    """Base class of ``datagouv`` and ``opendatasoft``."""

    p.implements(p.IConfigDeclaration, inherit=True)

    #: options of the source config specific to the portal: name -> kind
    OPTIONS: dict[str, str] = {}
    #: default value of the portal options
    DEFAULTS: dict[str, Any] = {}
    #: header carrying ``api_key``
    API_KEY_HEADER = ("X-API-KEY", "{}")

    def _now(self) -> datetime.datetime:
        """The clock (naive UTC): freezegun moves it in the tests."""
        return datetime.datetime.utcnow()

    # IConfigDeclaration

    def declare_config_options(self, declaration, key):
        # both harvester plugins share one declaration file: load it once
        if key.ckanext.servicespublics.harvest.timeout in declaration:
            return
        declaration.load_dict(_load_declaration(os.path.join(
            os.path.dirname(__file__), "config_declaration.yaml")))

    # --------------------------------------------------------------- config

    def validate_config(self, config: str | None) -> str:
        self.parse_config(config, check_organizations=True)
        return config or ""

    def parse_config(self, text: str | None, check_organizations: bool = False) -> dict:
        """The source config with its defaults; ValueError with a precise
        message when it is wrong."""
        if not text or not text.strip():
            data: Any = {}
        else:
            try:
                data = json.loads(text)
            except ValueError as e:
                raise ValueError(tk._("the configuration is not valid JSON ({error})")
                                 .format(error=e))
        if not isinstance(data, dict):
            raise ValueError(tk._("the configuration must be a JSON object, e.g. {example}")
                             .format(example='{"grace_period_days": 7}'))
        options = dict(COMMON_OPTIONS, **self.OPTIONS)
        unknown = sorted(set(data) - set(options))
        if unknown:
            raise ValueError(tk._("unknown option(s): {names} (allowed: {allowed})").format(
                names=", ".join(unknown), allowed=", ".join(sorted(options))))
        config: dict[str, Any] = {
            "force_all": False, "grace_period_days": 7, "default_organization": "",
            "remote_organizations": False, "organization_prefix": "",
            "mapping_rules": [], "keep_local_fields": [], "allow_empty": False,
            "api_key": "",
        }
        config.update(self.DEFAULTS)
        for name, value in data.items():
            config[name] = _check_option(name, options[name], value)
        self.check_config(config)
        if check_organizations and config["default_organization"]:
            if not model.Group.get(config["default_organization"]):
                raise ValueError(tk._(
                    "default_organization {name} does not exist: create the organisation "
                    "first, or use remote_organizations").format(
                        name=repr(config["default_organization"])))
        return config

    def check_config(self, config: dict) -> None:
        """Portal-specific cross-checks (raise ValueError)."""

    def source_config(self, harvest_object) -> dict:
        """:meth:`parse_config` of the source's saved configuration, parsed
        once per harvest job (and text) in this process rather than twice per
        harvest object. A copy: the callers may change it."""
        text = harvest_object.source.config
        key = (harvest_object.harvest_job_id, text or "")
        cache = self.__dict__.setdefault("_configs", {})
        if key not in cache:
            if len(cache) >= 64:
                cache.clear()
            cache[key] = self.parse_config(text)
        return copy.deepcopy(cache[key])

    def _client_settings(self, config: dict) -> dict:
        headers = {}
        if config.get("api_key"):
            name, template = self.API_KEY_HEADER
            headers[name] = template.format(config["api_key"])
        return dict(
            timeout=float(tk.config.get("ckanext.servicespublics.harvest.timeout")),
            retries=int(tk.config.get("ckanext.servicespublics.harvest.retries")),
            backoff=float(tk.config.get("ckanext.servicespublics.harvest.backoff")),
            max_bytes=int(float(tk.config.get(
                "ckanext.servicespublics.harvest.max_response_mb")) * 1024 * 1024),
            user_agent=tk.config.get("ckanext.servicespublics.harvest.user_agent"),
            headers=headers,
        )

    def _client(self, config: dict) -> JsonClient:
        return JsonClient(**self._client_settings(config))

    def _shared_client(self, config: dict) -> JsonClient:
        """A client kept from one harvest object to the next in this process
        and thread, so that its connections to the portal are reused (keep-
        alive: no new TCP and TLS handshake for each dataset). Keyed by its
        settings; never shared across a fork or between threads."""
        settings = self._client_settings(config)
        key = (os.getpid(), threading.get_ident(), json.dumps(settings, sort_keys=True))
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(key)
        if client is None:
            for stale in [k for k in clients if k[:2] == key[:2]]:
                clients.pop(stale).close()
            client = clients[key] = JsonClient(**settings)
        return client

    # --------------------------------------------------------------- hooks

    def _list_remote(self, base_url: str, config: dict, client: JsonClient,
                     listing: Listing) -> None:
        raise NotImplementedError

    def _fetch(self, harvest_object: HarvestObject, config: dict,
               client: JsonClient) -> bool:
        return True

    def _map(self, remote: dict, config: dict, base_url: str) -> Mapped:
        raise NotImplementedError

    def record_url(self, base_url: str, guid: str, config: dict) -> str | None:
        """The address that the fetch stage reads for a remote id, if it
        reads one: the runner reads it ahead (:class:`.http.ReadAhead`)."""
        return None

    # --------------------------------------------------------------- read-ahead

    #: documents read ahead by the runner, for the fetch stage
    read_ahead: ReadAhead | None = None
    #: the history of the remote ids about to be imported, read by the
    #: runner in a few queries (:func:`histories`), for the import stage
    histories: dict[str, _History] | None = None

    def _read_record(self, harvest_object, client: JsonClient, url: str) -> Any:
        """The JSON document at ``url`` for this harvest object: read ahead
        by the runner when it could, else now (with the client's retries)."""
        if self.read_ahead is not None:
            data = self.read_ahead.take(harvest_object.id, url)
            if data is not ReadAhead.MISSING:
                return data
        return client.get_json(url)

    # --------------------------------------------------------------- gather

    def gather_stage(self, harvest_job):
        source = harvest_job.source
        try:
            config = self.parse_config(source.config)
        except ValueError as e:
            self._save_gather_error(f"Invalid source configuration: {e}", harvest_job)
            return []
        client = self._client(config)
        listing = Listing()
        try:
            self._list_remote(source.url.rstrip("/"), config, client, listing)
        except RemoteError as e:
            listing.fail(f"Could not list the remote datasets: {e}")
        except Exception as e:  # a remote answer of an unexpected shape
            log.exception("Listing %s failed", source.url)
            listing.fail(f"Could not list the remote datasets: unexpected answer ({e!r})")
        finally:
            client.close()
        if listing.duplicates > 5:
            listing.errors.append(f"{listing.duplicates} duplicate remote ids in all")

        now = self._now()
        local = _local_state(source.id)
        orphans = _orphans(source, [g for g in listing.items if g not in local])
        object_ids = []
        for guid, item in listing.items.items():
            state = local.get(guid)
            if state and state.missing_since_id:
                model.Session.query(HarvestObjectExtra).filter(
                    HarvestObjectExtra.id == state.missing_since_id).delete()
            if state and not config["force_all"]:
                if not state.active:
                    continue  # deleted here by hand: a local decision, kept
                if item.modified and state.modified and item.modified <= state.modified:
                    continue
            extras = [HarvestObjectExtra(key="status", value="change" if state else "new"),
                      HarvestObjectExtra(key="remote_name", value=item.name)]
            if guid in orphans:
                extras.append(HarvestObjectExtra(key="adopt", value=orphans[guid]))
            obj = HarvestObject(
                guid=guid, job=harvest_job, metadata_modified_date=item.modified,
                content=json.dumps(item.content) if item.content is not None else None,
                extras=extras)
            model.Session.add(obj)
            object_ids.append(obj)

        withdrawn = self._gather_missing(harvest_job, config, listing, local, now)
        model.Session.commit()
        for message in listing.errors:
            self._save_gather_error(message, harvest_job)
        if not listing.complete:
            self._save_gather_error(
                "Incomplete listing of the remote catalogue: no dataset was withdrawn "
                "in this run", harvest_job)
        log.info("Gather of %s: %d remote datasets, %d to import, %d to withdraw%s",
                 source.url, len(listing.items), len(object_ids), len(withdrawn),
                 "" if listing.complete else " (incomplete listing)")
        return [o.id for o in object_ids] + [o.id for o in withdrawn]

    def _gather_missing(self, harvest_job, config, listing, local, now):
        if not listing.complete:
            return []
        active = {g: s for g, s in local.items() if s.active}
        missing = [g for g in active if g not in listing.items]
        if active and not listing.items and not config["allow_empty"]:
            listing.errors.append(
                "The remote portal listed no dataset at all: nothing was withdrawn "
                "(set allow_empty to accept an empty catalogue)")
            return []
        grace = datetime.timedelta(days=config["grace_period_days"])
        withdrawn = []
        for guid in missing:
            state = active[guid]
            since = state.missing_since
            if since is None:
                since = now
                model.Session.add(HarvestObjectExtra(
                    harvest_object_id=state.object_id, key="missing_since",
                    value=now.isoformat()))
            if now - since >= grace:
                obj = HarvestObject(
                    guid=guid, job=harvest_job, package_id=state.package_id,
                    extras=[HarvestObjectExtra(key="status", value="delete"),
                            HarvestObjectExtra(key="missing_since",
                                               value=since.isoformat())])
                model.Session.add(obj)
                withdrawn.append(obj)
        return withdrawn

    # --------------------------------------------------------------- fetch

    def fetch_stage(self, harvest_object):
        if _extra(harvest_object, "status") == "delete":
            return True
        try:
            config = self.source_config(harvest_object)
        except ValueError as e:
            self._save_object_error(f"Invalid source configuration: {e}",
                                    harvest_object, "Fetch")
            return False
        client = self._shared_client(config)
        try:
            return self._fetch(harvest_object, config, client)
        except RemoteError as e:
            self._save_object_error(
                f"Could not fetch remote dataset {harvest_object.guid}: {e}",
                harvest_object, "Fetch")
            return False

    # --------------------------------------------------------------- import

    def import_stage(self, harvest_object):
        status = _extra(harvest_object, "status")
        if status == "delete":
            return self._withdraw(harvest_object)
        source = harvest_object.source
        guid = harvest_object.guid
        try:
            config = self.source_config(harvest_object)
        except ValueError as e:
            self._save_object_error(f"Invalid source configuration: {e}",
                                    harvest_object, "Import")
            return False
        if not harvest_object.content:
            self._save_object_error(f"Empty content for remote dataset {guid}",
                                    harvest_object, "Import")
            return False
        try:
            remote = json.loads(harvest_object.content)
            if not isinstance(remote, dict):
                raise mapping.MappingError(
                    f"expected a JSON object, got {type(remote).__name__}")
            mapped = self._map(remote, config, source.url.rstrip("/"))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            self._save_object_error(f"Remote dataset {guid} could not be read: {e}",
                                    harvest_object, "Import")
            return False

        try:
            try:
                result = self._import(harvest_object, config, copy.deepcopy(mapped.package),
                                      mapped)
            except tk.ValidationError as e:
                # optional values the catalogue refuses (a territory code
                # unknown to the COG, a malformed e-mail…) are left out
                model.Session.rollback()
                if not _drop_invalid(mapped.package, e.error_dict, mapped.warnings):
                    raise
                result = self._import(harvest_object, config, copy.deepcopy(mapped.package),
                                      mapped)
        except tk.ValidationError as e:
            model.Session.rollback()
            self._save_object_error(
                f"Remote dataset {guid} is not valid here: {_summary(e)}",
                harvest_object, "Import")
            return False
        except Exception as e:
            log.exception("Import of %s failed", guid)
            model.Session.rollback()
            self._save_object_error(f"Remote dataset {guid} could not be imported: {e!r}",
                                    harvest_object, "Import")
            return False
        for warning in mapped.warnings:
            self._save_object_error(f"Warning: {warning}", harvest_object, "Import")
        return result

    def _import(self, harvest_object, config: dict, package: dict, mapped: Mapped):
        package["owner_org"] = self._organization(harvest_object, config, mapped)
        digest = _digest(package)
        history = _history(harvest_object.harvest_source_id, harvest_object.guid,
                           _extra(harvest_object, "adopt"),
                           (self.histories or {}).get(harvest_object.guid))
        if (history.package_state == "active" and history.current
                and not config["force_all"]
                and digest in _digests(history.current)):
            # the remote date moved but nothing we import changed: remember
            # the date so that the next gather skips it
            _update_objects(history.current, metadata_modified_date=(
                harvest_object.metadata_modified_date))
            model.Session.commit()
            return "unchanged"

        context = {"user": self._get_user_name(), "ignore_auth": True,
                   "model": model, "session": model.Session}
        _update_objects(history.current, current=False)
        harvest_object.current = True
        harvest_object.extras.append(HarvestObjectExtra(key="digest", value=digest))
        if history.package_id is not None:
            # read as package_update itself reads it (the search index keeps
            # the validated dict, checked against metadata_modified), and
            # handed to package_update as its original: one read, not two
            current = tk.get_action("package_show")(dict(context), {"id": history.package_id})
            data = _merge(current, package, config["keep_local_fields"])
            harvest_object.package_id = history.package_id
            model.Session.add(harvest_object)
            tk.get_action("package_update")(
                dict(context, return_id_only=True, original_package=current), data)
        else:
            package.pop("_owned_extras", None)
            package["id"] = str(uuid.uuid4())
            package["name"] = self._new_name(package.pop("_name_hint"), harvest_object.guid)
            harvest_object.package_id = package["id"]
            # the end of the import is saved with the dataset, in
            # package_create's commit: the runner has nothing left to save
            # and no report status to look up (a new dataset has no other
            # harvest object: "added"). ckanext-harvest's consumers set the
            # same values again afterwards.
            harvest_object.state = "COMPLETE"
            harvest_object.report_status = "added"
            harvest_object.import_finished = datetime.datetime.utcnow()
            model.Session.add(harvest_object)
            # the dataset is indexed with its harvest object (ckanext-harvest's
            # before_dataset_index): flush the object first
            model.Session.execute(sa.text(
                "SET CONSTRAINTS harvest_object_package_id_fkey DEFERRED"))
            model.Session.flush()
            # the site user is a sysadmin: CKAN takes the id we give
            tk.get_action("package_create")(dict(context, return_id_only=True), package)
        model.Session.commit()
        return True

    def _withdraw(self, harvest_object):
        package_id = harvest_object.package_id
        context = {"user": self._get_user_name(), "ignore_auth": True,
                   "model": model, "session": model.Session}
        model.Session.query(HarvestObject).filter(
            HarvestObject.harvest_source_id == harvest_object.harvest_source_id,
            HarvestObject.guid == harvest_object.guid,
        ).update({"current": False}, synchronize_session=False)
        harvest_object.current = False
        model.Session.commit()
        try:
            tk.get_action("package_delete")(context, {"id": package_id})
        except tk.ObjectNotFound:
            log.info("Dataset %s was already gone", package_id)
        except Exception as e:
            log.exception("Withdrawal of %s failed", package_id)
            model.Session.rollback()
            self._save_object_error(
                f"Dataset {package_id} (remote {harvest_object.guid}) could not be "
                f"withdrawn: {e!r}", harvest_object, "Import")
            return False
        log.info("Withdrew dataset %s (remote %s missing since %s)", package_id,
                 harvest_object.guid, _extra(harvest_object, "missing_since"))
        return True

    # --------------------------------------------------------------- helpers

    def _new_name(self, hint: str, guid: str) -> str:
        ideal = munge_title_to_name(hint or guid)[:90].strip("-") or "dataset"
        ideal = re.sub("-+", "-", ideal)
        if len(ideal) < 2:
            ideal = f"{ideal}-{guid}"[:90]
        return free_name(ideal)

    def _organization(self, harvest_object, config: dict, mapped: Mapped) -> str:
        """The organisation of the dataset. Found once per harvest job and
        organisation, not once per dataset: every dataset of a job but the
        first gets it from this process's memory."""
        remote = mapped.organization
        if config["remote_organizations"] and remote and remote.get("name"):
            key = ("remote", config["organization_prefix"], remote["name"])
            find = functools.partial(_ensure_organization, remote,
                                     config["organization_prefix"], self._get_user_name())
        elif config["default_organization"]:
            key = ("default", config["default_organization"])
            find = functools.partial(_default_organization, config["default_organization"])
        else:
            key = ("source", harvest_object.harvest_source_id)
            find = functools.partial(_source_organization, harvest_object.harvest_source_id)
        cache = self.__dict__.setdefault("_organizations", {})
        key = (harvest_object.harvest_job_id, *key)
        if key not in cache:
            if len(cache) >= 1000:
                cache.clear()
            cache[key] = find()
        return cache[key]


# ------------------------------------------------------------------ module helpers


def _load_declaration(path: str) -> dict:
    import yaml

    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _check_option(name: str, kind: str, value: Any) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(tk._("{name} must be true or false (got {value})").format(
                name=name, value=repr(value)))
    elif kind == "days":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(tk._("{name} must be a number of days, 0 or more (got {value})")
                             .format(name=name, value=repr(value)))
    elif kind == "str":
        if not isinstance(value, str):
            raise ValueError(tk._("{name} must be a string (got {value})").format(
                name=name, value=repr(value)))
    elif kind == "strlist":
        if isinstance(value, str):
            value = [value]
        if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
            raise ValueError(tk._("{name} must be a list of strings (got {value})").format(
                name=name, value=repr(value)))
    elif kind == "rules":
        mapping.validate_rules(value)
    elif kind.startswith("int:"):
        low, high = (int(x) for x in kind[4:].split("-"))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(tk._("{name} must be a whole number from {low} to {high} "
                                  "(got {value})").format(name=name, low=low, high=high,
                                                          value=repr(value)))
    elif kind.startswith("choice:"):
        choices = kind[7:].split("|")
        if value not in choices:
            raise ValueError(tk._("{name} must be one of: {choices} (got {value})").format(
                name=name, choices=", ".join(choices), value=repr(value)))
    return value


@dataclass
class _LocalState:
    object_id: str
    package_id: str
    modified: datetime.datetime | None
    active: bool
    missing_since: datetime.datetime | None = None
    missing_since_id: str | None = None


def _local_state(source_id: str) -> dict[str, _LocalState]:
    """The datasets imported from a source: remote id -> current object."""
    rows = model.Session.query(
        HarvestObject.guid, HarvestObject.id, HarvestObject.package_id,
        HarvestObject.metadata_modified_date, model.Package.state,
    ).join(model.Package, model.Package.id == HarvestObject.package_id).filter(
        HarvestObject.harvest_source_id == source_id,
        HarvestObject.current == True,  # noqa: E712
    )
    state = {}
    for guid, object_id, package_id, modified, package_state in rows:
        state[guid] = _LocalState(object_id, package_id, modified, package_state == "active")
    if state:
        by_object = {s.object_id: s for s in state.values()}
        extras = model.Session.query(
            HarvestObjectExtra.harvest_object_id, HarvestObjectExtra.id,
            HarvestObjectExtra.value,
        ).join(HarvestObject, HarvestObject.id == HarvestObjectExtra.harvest_object_id).filter(
            HarvestObject.harvest_source_id == source_id,
            HarvestObject.current == True,  # noqa: E712
            HarvestObjectExtra.key == "missing_since",
        )
        for object_id, extra_id, value in extras:
            s = by_object.get(object_id)
            if s is not None:
                try:
                    s.missing_since = datetime.datetime.fromisoformat(value)
                except ValueError:
                    s.missing_since = None
                s.missing_since_id = extra_id
    return state


@dataclass
class _History:
    """What a harvest source imported before for one remote id."""

    package_id: str | None = None  # the dataset, current or withdrawn
    package_state: str | None = None
    current: list[str] = field(default_factory=list)  # ids of the current objects


def _history_query(source_id: str):
    """The harvest objects of a source that tell a remote id's history, in
    the order :func:`_history_of` reads them."""
    return model.Session.query(
        HarvestObject.guid, HarvestObject.id, HarvestObject.package_id,
        HarvestObject.current, model.Package.state,
    ).outerjoin(model.Package, model.Package.id == HarvestObject.package_id).filter(
        HarvestObject.harvest_source_id == source_id,
        sa.or_(HarvestObject.package_id.isnot(None),
               HarvestObject.current == True),  # noqa: E712
    ).order_by(HarvestObject.current.desc(),
               HarvestObject.import_finished.desc().nullslast(),
               HarvestObject.gathered.desc())


def _history_of(rows) -> _History:
    history = _History()
    found = False
    for _guid, object_id, package_id, current, package_state in rows:
        if current:
            history.current.append(object_id)
        if package_id is not None and not found:
            found = True  # the latest object with a dataset decides
            if package_state is not None:
                history.package_id, history.package_state = package_id, package_state
    return history


def _history(source_id: str, guid: str, adopt: str | None = None,
             known: _History | None = None) -> _History:
    """The dataset imported for a remote id, current or withdrawn, found by
    the harvest objects (else the orphan the gather chose to adopt), and the
    current harvest objects of that remote id: one query, none when
    ``known`` (:func:`histories`) already tells it."""
    if known is not None:
        history = dataclasses.replace(known, current=list(known.current))
    else:
        history = _history_of(_history_query(source_id).filter(HarvestObject.guid == guid))
    if history.package_id is None and adopt:
        package = model.Package.get(adopt)
        if package is not None:
            history.package_id, history.package_state = package.id, package.state
    return history


def histories(source_id: str, guids: list[str]) -> dict[str, _History]:
    """:func:`_history` of many remote ids of a source (before the orphan
    adoption), a thousand per query: read before a job's objects are
    imported, since only the import of a remote id changes its history."""
    found: dict[str, _History] = {}
    for i in range(0, len(guids), 1000):
        chunk = guids[i:i + 1000]
        rows: dict[str, list] = {guid: [] for guid in chunk}
        for row in _history_query(source_id).filter(HarvestObject.guid.in_(chunk)):
            rows[row[0]].append(row)
        for guid, guid_rows in rows.items():
            found[guid] = _history_of(guid_rows)
    return found


def _digests(object_ids: list[str]) -> set[str]:
    """The digests of what these harvest objects imported."""
    return {value for (value,) in model.Session.query(HarvestObjectExtra.value).filter(
        HarvestObjectExtra.harvest_object_id.in_(object_ids),
        HarvestObjectExtra.key == "digest")}


def _update_objects(object_ids: list[str], **values: Any) -> None:
    """Set columns of harvest objects not loaded in the session."""
    if object_ids:
        model.Session.query(HarvestObject).filter(
            HarvestObject.id.in_(object_ids)).update(values, synchronize_session=False)


def _orphans(source, guids: list[str]) -> dict[str, str]:
    """Datasets of this portal that lost their harvest objects (``ckan
    harvester source clear-history``, a source deleted and created again)
    and that no other source harvests: remote id -> dataset id, for the
    remote ids about to be imported as new. One query per gather."""
    if not guids:
        return {}
    wanted = set(guids)
    base_url = source.url.rstrip("/")
    linked = sa.select(HarvestObject.package_id).where(
        HarvestObject.package_id.isnot(None),
        HarvestObject.harvest_source_id == source.id)
    taken = sa.select(HarvestObject.package_id).where(
        HarvestObject.current == True,  # noqa: E712
        HarvestObject.harvest_source_id != source.id)
    rows = model.Session.query(
        model.Package.id, model.Package.extras["harvest_remote_id"].astext,
    ).filter(
        model.Package.extras["harvest_remote_source"].astext == base_url,
        model.Package.type != "harvest",
        model.Package.id.notin_(linked),
        model.Package.id.notin_(taken),
    )
    return {remote_id: package_id for package_id, remote_id in rows if remote_id in wanted}


def _default_organization(name: str) -> str:
    group = model.Group.get(name)
    if group is not None and group.state == "active":
        return group.id
    raise ValueError(f"default_organization {name!r} does not exist any more")


def _source_organization(source_id: str) -> str:
    source_package = model.Package.get(source_id)
    if source_package is not None and source_package.owner_org:
        return source_package.owner_org
    raise ValueError("no organisation for the dataset: give the harvest source an "
                     "organisation, or set default_organization or "
                     "remote_organizations in its configuration")


def _ensure_organization(remote: dict, prefix: str, user: str) -> str:
    name = munge_title_to_name(f"{prefix}{remote['name']}")[:100].strip("-")
    group = model.Group.get(name)
    if group is not None:
        if group.state != "active":
            group.state = "active"
            model.Session.commit()
        return group.id
    data = {"name": name, "title": remote.get("title") or remote["name"],
            "description": remote.get("description") or ""}
    if remote.get("image_url"):
        data["image_url"] = remote["image_url"]
    context = {"user": user, "ignore_auth": True, "model": model,
               "session": model.Session}
    try:
        org = tk.get_action("organization_create")(context, data)
    except (tk.ValidationError, sa.exc.IntegrityError):
        # created meanwhile by another worker
        model.Session.rollback()
        group = model.Group.get(name)
        if group is None:
            raise
        return group.id
    log.info("Created organisation %s for remote producer %s", name, remote.get("id"))
    return org["id"]


#: optional values left out when the catalogue refuses them, and how
_DROPPABLE = {
    "territory_codes": None, "territory_level": None, "temporal_start": None,
    "temporal_end": None, "contact_email": None, "contact_name": None, "url": None,
    "spatial": None, "frequency": "unknown", "license_id": "notspecified",
    "vintage": "today",
}


def _drop_invalid(package: dict, errors: dict, warnings: list[str]) -> bool:
    """Leave out the refused optional values of ``package``; False when
    something else is wrong (nothing changed then)."""
    if not errors or any(key not in _DROPPABLE for key in errors):
        return False
    service_points = package.get("type") == mapping.SERVICE_POINTS_TYPE
    for key, messages in errors.items():
        reason = "; ".join(str(m) for m in messages) if isinstance(messages, list) \
            else str(messages)
        if key in ("territory_codes", "territory_level"):
            if service_points:
                package["territory_level"] = "national"
                package["territory_codes"] = []
            else:
                package.pop("territory_level", None)
                package.pop("territory_codes", None)
        elif _DROPPABLE[key] == "today":
            package[key] = datetime.date.today().isoformat()
        else:
            package[key] = _DROPPABLE[key]
        warnings.append(f"{key} refused by the catalogue ({reason}): "
                        + (f"set to {package.get(key)!r}" if package.get(key) else "left empty"))
    return True


def _extra(harvest_object, key: str) -> str | None:
    for extra in harvest_object.extras:
        if extra.key == key:
            return extra.value
    return None


def _digest(package: dict) -> str:
    text = json.dumps(package, sort_keys=True, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _summary(error: tk.ValidationError) -> str:
    summary = getattr(error, "error_summary", None) or error.error_dict
    return "; ".join(f"{k}: {v}" for k, v in summary.items()) if isinstance(
        summary, dict) else str(summary)


def _merge(current: dict, harvested: dict, keep_local: list[str]) -> dict:
    """The update of an existing dataset: harvested fields over the current
    ones, local additions kept."""
    data = dict(current)
    harvested = dict(harvested)
    harvested.pop("_name_hint", None)
    harvested_extras = {e["key"]: e["value"] for e in harvested.pop("extras", [])}
    owned_extras = set(harvested.pop("_owned_extras", []))
    resources = harvested.pop("resources", [])
    for key, value in harvested.items():
        if key in keep_local and current.get(key) not in (None, "", [], {}):
            continue
        data[key] = value
    extras = [e for e in current.get("extras", [])
              if e["key"] not in _INDEX_EXTRAS and e["key"] not in owned_extras
              and e["key"] not in harvested_extras]
    for key, value in harvested_extras.items():
        if key in keep_local:
            old = next((e for e in current.get("extras", []) if e["key"] == key), None)
            if old is not None and old.get("value"):
                extras.append(old)
                continue
        extras.append({"key": key, "value": value})
    data["extras"] = extras
    # resources: matched on their remote id; local resources stay
    by_remote = {r.get("harvest_remote_id"): r for r in current.get("resources", [])
                 if r.get("harvest_remote_id")}
    merged = []
    for res in resources:
        old = by_remote.get(res.get("harvest_remote_id"))
        if old is not None:
            new = dict(old)
            for key, value in res.items():
                if key == "role" and old.get("role") not in (None, ""):
                    continue  # a role set by hand wins
                new[key] = value
            merged.append(new)
        else:
            merged.append(res)
    merged.extend(r for r in current.get("resources", []) if not r.get("harvest_remote_id"))
    data["resources"] = merged
    data["state"] = "active"
    data.pop("metadata_modified", None)
    return data


# ------------------------------------------------------------------ dataset building


def schema_fields(dataset_type: str) -> tuple[set[str], set[str]] | None:
    """Dataset and resource field names of a scheming type, None without
    scheming or for an unknown type."""
    if not p.plugin_loaded("scheming_datasets"):
        return None
    from ckanext.scheming.helpers import scheming_get_dataset_schema

    schema = scheming_get_dataset_schema(dataset_type)
    if not schema:
        return None
    return ({f["field_name"] for f in schema.get("dataset_fields", [])},
            {f["field_name"] for f in schema.get("resource_fields", [])})


def service_points_available() -> bool:
    return schema_fields(mapping.SERVICE_POINTS_TYPE) is not None


def complete_service_points(fields: dict, warnings: list[str]) -> None:
    """Values the service-point schema requires, when the remote record and
    the mapping rule give none."""
    if not fields.get("territory_level"):
        fields["territory_level"] = "national"
        fields["territory_codes"] = []
        warnings.append("no territory in the remote record: territory_level set to "
                        "national (give territory_level in the mapping rule)")
    if not fields.get("vintage"):
        fields["vintage"] = datetime.date.today().isoformat()
        warnings.append("no date of the data in the remote record: vintage set to the "
                        "harvest date")


def registered_license(license_id: str) -> str:
    """The licence id if the catalogue's licence list has it, else the
    closest generic one (the ``servicespublics_dataset`` plugin checks the
    licences against its list; without it, CKAN takes any id)."""
    if not p.plugin_loaded("servicespublics_dataset"):
        return license_id
    register = model.Package.get_license_register()
    if license_id in register:
        return license_id
    for fallback in ("other-open", "notspecified"):
        if license_id != "notspecified" and fallback in register:
            return fallback
    return "notspecified"


def free_name(ideal: str) -> str:
    """``ideal``, or the first of ``ideal1`` … ``ideal999`` that no dataset
    has, or ``ideal`` and five random hexadecimal digits: the names
    ckanext-harvest's ``_ensure_name_is_unique`` gives, looked up on the
    name's index, a hundred at a time. (Its ILIKE on every name starting
    like ``ideal`` reads the whole package table: 12 ms a dataset at 10,000
    datasets, most of PostgreSQL's work when a portal's slugs collide with
    local names. Dataset names are lower case, so the ILIKE found nothing
    more.)"""
    ideal = ideal[:model.PACKAGE_NAME_MAX_LENGTH]
    # the name alone first: the usual case, a free name. The numbered names
    # are only made when that one is taken, a hundred at a time (making all
    # 999 for every dataset cost more than the query)
    for numbers in [range(0, 1)] + [range(i, min(i + 100, 1000)) for i in range(1, 1000, 100)]:
        chunk = [ideal[:model.PACKAGE_NAME_MAX_LENGTH - len(str(n))] + str(n) if n else ideal
                 for n in numbers]
        taken = {name for (name,) in model.Session.query(model.Package.name).filter(
            model.Package.name.in_(chunk))}
        for name in chunk:
            if name not in taken:
                return name
    return ideal[:model.PACKAGE_NAME_MAX_LENGTH - 5] + uuid.uuid4().hex[:5]


def build_package(fields: dict, resources: list[dict], dataset_type: str,
                  name_hint: str) -> dict:
    """A package dict from the harvested values, with each custom field
    where the dataset type keeps it: a schema field, or an extra."""
    if "license_id" in fields:
        fields["license_id"] = registered_license(fields["license_id"])
    known = schema_fields(dataset_type)
    dataset_fields = known[0] if known else set()
    package: dict[str, Any] = {"type": dataset_type, "_name_hint": name_hint}
    extras = []
    owned = []
    for key, value in fields.items():
        if key in CORE_FIELDS:
            package[key] = value
        elif key in dataset_fields:
            package[key] = value
        else:
            owned.append(key)
            if value in (None, "", []):
                continue
            if isinstance(value, (list, dict)):
                value = json.dumps(value, ensure_ascii=False)
            extras.append({"key": key, "value": str(value)})
    package["extras"] = extras
    package["_owned_extras"] = owned
    package["resources"] = [{k: v for k, v in r.items() if v not in (None, "")}
                            for r in resources]
    return package


