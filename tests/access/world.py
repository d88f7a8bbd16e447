"""The catalogue the leak matrix runs against.

One producing organisation (a ministry) publishes four datasets, one per
access level plus a draft. Everything a dataset can leak through carries the
dataset's *token* (a string found nowhere else): its name, title, tags,
resource names and formats, uploaded file contents, resource views, harvest
records, task statuses, relationships, activities. A response leaks a dataset
when its body contains the dataset's token, id or one of its resources' ids.

Later features add their own material for each dataset through
``WORLD_BUILDERS`` (one function per feature: points ingested from the
uploaded file, map tiles, analytics, issue reports…), so that their matrix
rows have real data to leak.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from typing import Any, Callable, Optional

import ckan.model as model
import ckan.plugins as p
from ckan.tests import factories, helpers

#: dataset keys, one per access level, and the token of each
TOKENS = {
    "public": "qpubliq",
    "restricted": "qrestriq",
    "private": "qprivaq",
    "draft": "qdrafq",
}
#: harvest sources: an open one and a private one (ckanext-harvest sources are
#: datasets of type "harvest")
SOURCE_TOKENS = {"open_source": "hsrcopenq", "closed_source": "hsrcclosedq"}
#: the harvest record of a source that produced no dataset (yet)
ORPHAN_RECORD_TOKEN = "hobjorphanq"

USERS = ("anonymous", "citizen", "agent", "flagged", "member", "sysadmin")


@dataclasses.dataclass
class Dataset:
    key: str
    token: str
    id: str
    name: str
    resource_id: str
    resource_ids: list[str]
    view_id: str
    harvest_object_id: Optional[str] = None
    task_status_id: Optional[str] = None
    #: its first package activity (creation) and the change that follows
    activity_id: Optional[str] = None
    last_activity_id: Optional[str] = None
    file_id: Optional[str] = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class World:
    users: dict[str, Optional[dict[str, Any]]]
    tokens: dict[str, Optional[str]]
    org: dict[str, Any]
    other_org: dict[str, Any]
    group: dict[str, Any]
    datasets: dict[str, Dataset]
    sources: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    orphan_record_id: Optional[str] = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def user_name(self, who: str) -> str:
        user = self.users[who]
        return user["name"] if user else ""

    def markers(self) -> dict[str, list[str]]:
        """What betrays each object in a response body."""
        out: dict[str, list[str]] = {}
        for key, d in self.datasets.items():
            out[key] = [d.token, d.id, *d.resource_ids]
        for key, source in self.sources.items():
            out[key] = [SOURCE_TOKENS[key], source["id"]]
        if self.orphan_record_id:
            out["orphan_record"] = [ORPHAN_RECORD_TOKEN, self.orphan_record_id]
        return out


class _Upload:
    """What Flask hands over for a multipart file (werkzeug FileStorage)."""

    def __init__(self, data: bytes, filename: str):
        from werkzeug.datastructures import FileStorage

        self.storage = FileStorage(io.BytesIO(data), filename, "upload")


def _as(who: Optional[dict[str, Any]], action: str, **kwargs: Any) -> Any:
    context = {"user": who["name"] if who else "", "ignore_auth": False}
    return helpers.call_action(action, context=context, **kwargs)


#: functions called with the world once it is built: each adds what a feature
#: needs to its datasets (keep the tokens in everything you add)
WORLD_BUILDERS: list[Callable[[World], None]] = []


def build() -> World:
    sysadmin = factories.SysadminWithToken()
    citizen = factories.UserWithToken()
    agent = factories.UserWithToken()
    flagged = factories.UserWithToken()
    member = factories.UserWithToken(fullname="Agent du ministère")
    tokens = {"anonymous": None, "citizen": citizen["token"], "agent": agent["token"],
              "flagged": flagged["token"], "member": member["token"],
              "sysadmin": sysadmin["token"]}
    users = {"anonymous": None, "citizen": citizen, "agent": agent, "flagged": flagged,
             "member": member, "sysadmin": sysadmin}

    org = _as(sysadmin, "organization_create", name="ministere-interieur",
              title="Ministère de l'Intérieur", org_type="ministere",
              users=[{"name": member["name"], "capacity": "editor"}])
    other_org = _as(sysadmin, "organization_create", name="prefecture-35",
                    title="Préfecture d'Ille-et-Vilaine", org_type="prefecture",
                    users=[{"name": agent["name"], "capacity": "member"}])
    _as(sysadmin, "servicespublics_access_agent_set", id=flagged["name"], agent=True)
    group = _as(sysadmin, "group_create", name="securite", title="Sécurité",
                users=[{"name": member["name"], "capacity": "member"}])

    datasets: dict[str, Dataset] = {}
    for key, token in TOKENS.items():
        # created public (drafts excepted) and followed, then closed: the
        # activities and follows recorded while public must not leak
        data = {
            "name": f"{token}-jeu", "title": f"Gendarmeries {token}",
            "notes": f"Description {token}.", "owner_org": org["id"],
            "tags": [{"name": f"tag-{token}"}, {"name": "securite"}],
            "groups": [{"name": group["name"]}],
            "license_id": "odc-odbl", "url": f"https://example.org/{token}",
        }
        if key == "draft":
            data.update(state="draft", access_level="restricted")
        else:
            data.update(access_level="public")
        pkg = _as(member, "package_create", **data)
        upload = _Upload(f"id;nom\n1;{token}\n".encode(), f"{token}.csv")
        res = _as(member, "resource_create", package_id=pkg["id"], name=f"Fichier {token}",
                  format=token.upper(), description=f"Ressource {token}",
                  upload=upload.storage, url=f"{token}.csv")
        link = _as(member, "resource_create", package_id=pkg["id"],
                   url=f"https://example.org/{token}.json", name=f"Lien {token}",
                   format="JSON")
        view = _as(member, "resource_view_create", resource_id=res["id"],
                   view_type="image_view", title=f"Vue {token}",
                   image_url=f"https://example.org/{token}.png")
        datasets[key] = Dataset(key=key, token=token, id=pkg["id"], name=pkg["name"],
                                resource_id=res["id"], resource_ids=[res["id"], link["id"]],
                                view_id=view["id"])
        if key != "draft":
            for who in (citizen, agent, flagged):
                _as(who, "follow_dataset", id=pkg["id"])

    for who in (citizen, agent, flagged, member):
        _as(who, "follow_group", id=org["id"])

    # close the datasets, as a data officer would
    _as(member, "package_patch", id=datasets["restricted"].id, access_level="restricted")
    _as(member, "package_patch", id=datasets["private"].id, access_level="private")

    # the public dataset "depends on" each of the others
    for key in ("restricted", "private", "draft"):
        _as(sysadmin, "package_relationship_create", subject=datasets["public"].id,
            object=datasets[key].id, type="depends_on", comment=f"voir {TOKENS[key]}")

    # task statuses (e.g. an ingestion report) on each uploaded resource
    for d in datasets.values():
        task = _as(sysadmin, "task_status_update", entity_id=d.resource_id,
                   entity_type="resource", task_type="servicespublics_test", key="report",
                   value=json.dumps({"summary": f"rapport {d.token}"}),
                   last_updated=dt.datetime.now(dt.timezone.utc).isoformat())
        d.task_status_id = task["id"]

    if p.plugin_loaded("activity"):
        for d in datasets.values():
            acts = _as(sysadmin, "package_activity_list", id=d.id, limit=100)
            kinds = [a for a in acts if a["activity_type"].endswith(" package")]
            # the first change follows the creation: it has a diff
            d.activity_id, d.last_activity_id = kinds[-1]["id"], kinds[-2]["id"]

    if p.plugin_loaded("harvest"):
        _build_harvest(sysadmin, member, org, datasets)

    files = model.Session.query(model.File).all() if hasattr(model, "File") else []
    for d in datasets.values():
        for f in files:
            if f.name and d.token in f.name:
                d.file_id = f.id

    world = World(users=users, tokens=tokens, org=org, other_org=other_org, group=group,
                  datasets=datasets)
    if p.plugin_loaded("harvest"):
        world.sources = _SOURCES.copy()
        world.orphan_record_id = _SOURCES_ORPHAN[0]
    for builder in WORLD_BUILDERS:
        builder(world)
    return world


_SOURCES: dict[str, dict[str, Any]] = {}
_SOURCES_ORPHAN: list[str] = []


def _build_harvest(sysadmin: dict[str, Any], member: dict[str, Any], org: dict[str, Any],
                   datasets: dict[str, Dataset]) -> None:
    from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestSource

    _SOURCES.clear()
    _SOURCES_ORPHAN.clear()
    for key, token in SOURCE_TOKENS.items():
        source = _as(sysadmin, "harvest_source_create", name=f"source-{token}",
                     title=f"Moissonnage {token}", url=f"https://example.org/{token}/api",
                     source_type="ckan", owner_org=org["id"],
                     private=key == "closed_source")
        _SOURCES[key] = source
    source = HarvestSource.get(_SOURCES["closed_source"]["id"])
    job = HarvestJob(source=source, status="Finished")
    job.save()
    for d in datasets.values():
        obj = HarvestObject(guid=f"guid-{d.token}", job=job, source=source,
                            package_id=d.id, current=True, state="COMPLETE",
                            content=json.dumps({"title": f"Moissonné {d.token}"}),
                            report_status="added")
        obj.save()
        d.harvest_object_id = obj.id
    orphan = HarvestObject(guid=f"guid-{ORPHAN_RECORD_TOKEN}", job=job, source=source,
                           current=False, state="ERROR", report_status="errored",
                           content=json.dumps({"title": f"Rejeté {ORPHAN_RECORD_TOKEN}"}))
    orphan.save()
    _SOURCES_ORPHAN.append(orphan.id)
    model.repo.commit()
