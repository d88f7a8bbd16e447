"""The catalogue the leak matrix runs against.

One producing organisation (a ministry) publishes four service-point
datasets (type ``service-points``, the site's own schema), one per access
level plus a draft. Everything a dataset can leak through carries the
dataset's *token* (a string found nowhere else): its name, title, tags,
resource names and formats, uploaded file contents, resource views, harvest
records, task statuses, relationships, activities, and, from the site's
plugins, its service points (ingested from the uploaded point file by the
points plugin's own action), their map layer, their history on the national
map and the issue reports on the dataset and its points. A response leaks a
dataset when its body contains the dataset's token, id or one of its
resources' ids.

The points are ingested and the reports sent while the datasets are still
public (then closed), as a producer would: what was recorded while a dataset
was public must not leak once it is closed.

Later features add their own material for each dataset through
``WORLD_BUILDERS`` (one function per feature: map layers, analytics…), so
that their matrix rows have real data to leak.
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

#: the dataset type of the world's datasets (schemas/service_points.yaml)
DATASET_TYPE = "service-points"
#: each dataset's gendarmerie, alone in its map tile at high zoom
BRIGADE_PLACES = {"public": (2.3522, 48.8566), "restricted": (-1.6778, 48.1173),
                  "private": (4.8357, 45.7640), "draft": (5.3698, 43.2965)}
#: and its France Services, in Gap (Hautes-Alpes, commune 05061), for the
#: national map's counts
FRANCE_SERVICES_PER_DATASET = 3
GAP = (6.0794, 44.5594)
_GAP_OFFSETS = {"public": 0.0, "restricted": 0.02, "private": 0.04, "draft": 0.06}
GAP_COMMUNE = "05061"
GAP_DEPARTEMENT = "05"


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
    #: the source id of its gendarmerie in the point file
    brigade_source_id: str = ""
    #: issue reports (servicespublics_issues): a published one on the
    #: gendarmerie, whose correction was accepted, and a pending one on the
    #: dataset, both sent by the citizen while the dataset was public
    published_report: Optional[dict[str, Any]] = None
    pending_report: Optional[dict[str, Any]] = None
    correction_id: Optional[str] = None
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


def _as(who: Optional[dict[str, Any]], action: str, /, **kwargs: Any) -> Any:
    context = {"user": who["name"] if who else "", "ignore_auth": False}
    return helpers.call_action(action, context=context, **kwargs)


def point_file(key: str, token: str) -> bytes:
    """The dataset's point file: its gendarmerie, then its France Services in
    Gap; every name carries the token."""
    lon, lat = BRIGADE_PLACES[key]
    lines = ["id,name,service_type,insee_code,longitude,latitude",
             f"brigade-{token},Brigade {token},gendarmerie,,{lon},{lat}"]
    for i in range(FRANCE_SERVICES_PER_DATASET):
        lines.append(f"fs-{token}-{i},France services {token} {i},france-services,"
                     f"{GAP_COMMUNE},{GAP[0] + _GAP_OFFSETS[key] + i * 0.005:.4f},"
                     f"{GAP[1] + _GAP_OFFSETS[key]:.4f}")
    return ("\n".join(lines) + "\n").encode()


#: functions called with the world once it is built: each adds what a feature
#: needs to its datasets (keep the tokens in everything you add)
WORLD_BUILDERS: list[Callable[[World], None]] = []


def build(mailbox: Any = None) -> World:
    """The world; ``mailbox``: the SMTP server the site sends its e-mails to
    (``tests/issues/smtp.Collector``), kept in ``world.extra["mailbox"]``."""
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
    # the agent edits another organisation's datasets (and so moderates its
    # issue reports): what they may do there must open nothing here
    other_org = _as(sysadmin, "organization_create", name="prefecture-35",
                    title="Préfecture d'Ille-et-Vilaine", org_type="prefecture",
                    users=[{"name": agent["name"], "capacity": "editor"}])
    _as(sysadmin, "servicespublics_access_agent_set", id=flagged["name"], agent=True)
    group = _as(sysadmin, "group_create", name="securite", title="Sécurité",
                users=[{"name": member["name"], "capacity": "member"}])

    datasets: dict[str, Dataset] = {}
    for key, token in TOKENS.items():
        # created public (drafts excepted) and followed, then closed: the
        # activities and follows recorded while public must not leak
        data = {
            "type": DATASET_TYPE,
            "name": f"{token}-jeu", "title": f"Gendarmeries {token}",
            "notes": f"Description {token}.", "owner_org": org["id"],
            "tags": [{"name": f"tag-{token}"}, {"name": "securite"}],
            "groups": [{"name": group["name"]}],
            "license_id": "odc-odbl", "url": f"https://example.org/{token}",
            "domain": "securite", "service_types": ["gendarmerie", "france-services"],
            "territory_level": "national",
        }
        if key == "draft":
            data.update(state="draft", access_level="restricted")
        else:
            data.update(access_level="public")
        pkg = _as(member, "package_create", **data)
        upload = _Upload(point_file(key, token), f"{token}.csv")
        res = _as(member, "resource_create", package_id=pkg["id"], name=f"Fichier {token}",
                  format=token.upper(), description=f"Ressource {token}",
                  upload=upload.storage, url=f"{token}.csv", role="point_file")
        link = _as(member, "resource_create", package_id=pkg["id"],
                   url=f"https://example.org/{token}.json", name=f"Lien {token}",
                   format="JSON", role="documentation")
        view = _as(member, "resource_view_create", resource_id=res["id"],
                   view_type="servicespublics_map", title=f"Vue {token}",
                   description=f"Carte {token}")
        datasets[key] = Dataset(key=key, token=token, id=pkg["id"], name=pkg["name"],
                                resource_id=res["id"], resource_ids=[res["id"], link["id"]],
                                view_id=view["id"], brigade_source_id=f"brigade-{token}")
        if key != "draft":
            for who in (citizen, agent, flagged):
                _as(who, "follow_dataset", id=pkg["id"])

    for who in (citizen, agent, flagged, member):
        _as(who, "follow_group", id=org["id"])

    # the producer's editor ingests each point file now (the points plugin's
    # action, as its "ingest again" button does), while the datasets are public
    _ingest_points(member, datasets)

    if p.plugin_loaded("servicespublics_issues"):
        _report_issues(citizen, member, datasets)

    # close the datasets, as a data officer would
    _as(member, "package_patch", id=datasets["restricted"].id, access_level="restricted")
    _as(member, "package_patch", id=datasets["private"].id, access_level="private")

    # the producer answers the reports once the datasets are closed: the
    # e-mails sent from now on must tell the citizen of the public one only
    mail_mark = len(mailbox.messages) if mailbox is not None else 0
    if p.plugin_loaded("servicespublics_issues"):
        _answer_reports(member, datasets)

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
    world.extra.update(mailbox=mailbox, mail_mark=mail_mark)
    if p.plugin_loaded("harvest"):
        world.sources = _SOURCES.copy()
        world.orphan_record_id = _SOURCES_ORPHAN[0]
    for builder in WORLD_BUILDERS:
        builder(world)
    return world


def _ingest_points(member: dict[str, Any], datasets: dict[str, Dataset]) -> None:
    for d in datasets.values():
        report = _as(member, "servicespublics_points_ingest", id=d.resource_id, sync=True)
        assert report["validation_status"] == "valid", report
        assert report["point_count"] == 1 + FRANCE_SERVICES_PER_DATASET, report


def _answer_reports(member: dict[str, Any], datasets: dict[str, Dataset]) -> None:
    """The producer's editor comments each published report (the reporter is
    told by e-mail)."""
    for d in datasets.values():
        if d.key != "draft":
            _as(member, "servicespublics_issue_comment", id=d.published_report["id"],
                body=f"Réponse du producteur sur {d.token}")


def _report_issues(citizen: dict[str, Any], member: dict[str, Any],
                   datasets: dict[str, Dataset]) -> None:
    """Two reports per dataset, sent by the citizen while it is public: one on
    its gendarmerie, published by the producer's editor, who accepts its
    correction; one on the dataset, left pending.

    A draft cannot be reported (``servicespublics_issue_create`` answers "not
    found"); a dataset can go back to draft with its reports, so the draft's
    are recorded as the action would have recorded them.
    """
    from ckanext.servicespublics.issues.model import Report

    for d in datasets.values():
        if d.key == "draft":
            continue
        published = _as(citizen, "servicespublics_issue_create", package_id=d.id,
                        resource_id=d.resource_id, point_id=d.brigade_source_id,
                        category="wrong_information",
                        description=f"Nom faux pour {d.token}",
                        correction={"name": f"Brigade {d.token} corrigée"})
        _as(member, "servicespublics_issue_moderate", id=published["id"], action="publish")
        accepted = _as(member, "servicespublics_issue_accept_correction",
                       id=published["id"], status="resolved")
        d.correction_id = accepted["corrections"][0]["id"]
        pending = _as(citizen, "servicespublics_issue_create", package_id=d.id,
                      category="service_missing", description=f"Il manque {d.token}")
        assert pending["moderation_state"] == "pending", pending
        d.published_report = {"id": published["id"], "number": published["number"]}
        d.pending_report = {"id": pending["id"], "number": pending["number"]}

    draft = datasets["draft"]
    citizen_obj = model.User.get(citizen["name"])
    now = dt.datetime.utcnow()
    reports = {}
    for state, description in (("published", f"Nom faux pour {draft.token}"),
                               ("pending", f"Il manque {draft.token}")):
        report = Report(package_id=draft.id, category="other", description=description,
                        user_id=citizen_obj.id, moderation_state=state, status="open",
                        created=now, modified=now)
        model.Session.add(report)
        reports[state] = report
    model.Session.commit()
    draft.published_report = {"id": reports["published"].id,
                              "number": reports["published"].number}
    draft.pending_report = {"id": reports["pending"].id, "number": reports["pending"].number}


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
                     source_type="datagouv", owner_org=org["id"],
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
