"""Rebuild the recordings of this folder from ../../../shared/data/api.

    python harvesters/recordings/build.py [SHARED_DATA_API_DIR]

Writes datagouv/*.json and opendatasoft/*.json: real API responses (see
README.md for what comes from where, and for the few values set here because
the upstream fixtures had them stripped). Deterministic: running it twice
gives the same files.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_API = HERE.parents[2] / "shared" / "data" / "api"
DEFAULT_POINTS = HERE.parents[2] / "shared" / "data" / "points"
SITE = "https://www.data.gouv.fr"

# udata's fixture generator strips licence and spatial coverage: values set
# here for the tests (not recorded), chosen to exercise every mapping branch
LICENSES = {
    "barometre-des-resultats-de-laction-publique": "lov2",
    "base-sirene-des-entreprises-et-de-leurs-etablissements-siren": "lov2",
    "donnees-relatives-aux-personnes-vaccinees-contre-la-covid-19": "lov2",
    "demandes-de-valeurs-foncieres": "fr-lo",
    "logements-sociaux-et-bailleurs-par-region": "other-at",
    "base-adresse-locale-de-la-commune-de-garein": "lov2",
    "cuisses-de-grenouille-et-escargots-frogs-legs-and-snails": "lov2",
    "marches-publics-de-la-metropole-de-lyon": "odc-odbl",
    "defibrillateurs-presents-sur-la-commune-de-sixt-sur-aff-en-2": "odc-odbl",
    "dpe-logements-avant-juillet-2021": "Licence Ouverte v2.0",
    "mairie-de-montluel-borne-de-recharge-pour-vehicules-electriq": "cc-by",
    "vehicules-a-faibles-et-a-tres-faibles-emissions-de-la-prefec": "lov2",
    "base-adresse-nationale": "lov2",
    "reseau-de-transport-en-commun-transagglo-de-dlva": "odc-odbl",
}
ZONES = {  # codes checked against COG 2026 (shared/data/territories)
    "defibrillateurs-presents-sur-la-commune-de-sixt-sur-aff-en-2": ["fr:commune:35328"],
    "mairie-de-montluel-borne-de-recharge-pour-vehicules-electriq": ["fr:commune:01262"],
    "base-adresse-locale-de-la-commune-de-garein": ["fr:commune:40105@2019-01-01"],
    "marches-publics-de-la-metropole-de-lyon": ["fr:epci:200046977"],
    "reseau-de-transport-en-commun-transagglo-de-dlva": ["fr:epci:200034700"],
    "vehicules-a-faibles-et-a-tres-faibles-emissions-de-la-prefec": ["fr:region:84"],
    "logements-sociaux-et-bailleurs-par-region": ["country:fr"],
    "base-adresse-nationale": ["country:fr"],
}


def _org_ref(org: dict) -> dict:
    return {
        "acronym": org.get("acronym"), "badges": org.get("badges", []),
        "class": "Organization", "id": org["id"], "logo": org.get("logo"),
        "logo_thumbnail": org.get("logo_thumbnail"), "name": org["name"],
        "page": f"{SITE}/fr/organizations/{org['slug']}/", "slug": org["slug"],
        "uri": f"{SITE}/api/1/organizations/{org['slug']}/",
    }


def _resource(res: dict) -> dict:
    res = dict(res)
    res["latest"] = f"{SITE}/fr/datasets/r/{res['id']}"
    return res


def datagouv(api: Path, points: Path) -> tuple[list, dict]:
    fixtures = json.loads((api / "udata" / "fixtures_results.json").read_text())
    datasets, organizations = [], {}
    for entry in fixtures["datasets"]:
        d = dict(entry["dataset"])
        org = entry["organization"]
        slug = d["slug"]
        d["created_at"] = d.pop("created_at_internal")
        d["last_modified"] = d.pop("last_modified_internal")
        d["last_update"] = max([d["last_modified"]] + [
            r.get("last_modified") or "" for r in entry["resources"]])
        d["organization"] = _org_ref(org) if org else None
        d["owner"] = None
        d["page"] = f"{SITE}/fr/datasets/{slug}/"
        d["uri"] = f"{SITE}/api/1/datasets/{slug}/"
        # keys above are slug prefixes
        license_key = next((k for k in LICENSES if slug.startswith(k)), None)
        zone_key = next((k for k in ZONES if slug.startswith(k)), None)
        d["license"] = LICENSES.get(license_key)
        d["spatial"] = {"zones": ZONES[zone_key],
                        "granularity": ZONES[zone_key][0].rsplit(":", 1)[0],
                        "geom": None} if zone_key else None
        d["resources"] = [_resource(r) for r in entry["resources"]]
        d["community_resources"] = []
        datasets.append(dict(sorted(d.items())))
        if org:
            organizations[org["slug"]] = org
    full = json.loads((api / "datagouv_client" / "dataset_metadata.json").read_text())
    datasets.append(full)
    org = json.loads((api / "datagouv_client" / "organization_metadata.json").read_text())
    organizations[org["slug"]] = org

    # ANCT's France Services list: the data.gouv.fr record of the file in
    # shared/data/points/france_services (metadata written from the file;
    # ids are placeholders of udata's shape)
    fs = points / "france_services" / "liste-fs-20240801.csv"
    with fs.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    anct = {
        "id": "5f6b1b9e8c3c1b2a7d9e0a01", "name": "Agence nationale de la cohésion des "
        "territoires", "slug": "agence-nationale-de-la-cohesion-des-territoires",
        "acronym": "ANCT", "badges": [{"kind": "public-service"}, {"kind": "certified"}],
        "class": "Organization", "logo": None, "logo_thumbnail": None,
    }
    anct["page"] = f"{SITE}/fr/organizations/{anct['slug']}/"
    anct["uri"] = f"{SITE}/api/1/organizations/{anct['slug']}/"
    organizations[anct["slug"]] = dict(anct, description="ANCT", created_at=None)
    csv_id = "0e6c2e4f-6e3b-4b0b-9a49-3c5b0d7f2a11"
    datasets.append({
        "id": "5f6b1b9e8c3c1b2a7d9e0a02", "slug": "liste-des-structures-france-services",
        "title": "Liste des structures France services",
        "acronym": None, "archived": None, "deleted": None, "private": False,
        "description": (
            "Liste des structures labellisées France services au 1er août 2024 : "
            f"{len(rows)} structures ({sum(r['type_fs'] == 'Principal' for r in rows)} "
            "principales, "
            f"{sum(r['type_fs'] == 'Antenne' for r in rows)} antennes), avec leur adresse, "
            "leurs coordonnées géographiques, leurs horaires et leur date de labellisation."),
        "created_at": "2020-09-23T10:15:00+00:00",
        "last_modified": "2024-08-01T09:00:00+00:00",
        "last_update": "2024-08-01T09:00:00+00:00",
        "frequency": "monthly", "license": "lov2",
        "temporal_coverage": {"start": "2020-01-01", "end": "2024-08-01"},
        "spatial": {"zones": ["country:fr"], "granularity": "fr:commune", "geom": None},
        "tags": ["france-services", "services-publics", "maisons-de-services-au-public"],
        "contact_points": [{"name": "Programme France services",
                            "email": "franceservices@anct.gouv.fr"}],
        "organization": {k: anct[k] for k in ("acronym", "badges", "class", "id", "logo",
                                              "logo_thumbnail", "name", "page", "slug",
                                              "uri")},
        "owner": None, "extras": {}, "harvest": None, "schema": None,
        "page": f"{SITE}/fr/datasets/liste-des-structures-france-services/",
        "uri": f"{SITE}/api/1/datasets/liste-des-structures-france-services/",
        "resources": [
            {"id": csv_id, "title": "liste-fs-20240801.csv", "description": None,
             "type": "main", "format": "csv", "mime": "text/csv", "filetype": "file",
             "filesize": fs.stat().st_size,
             "checksum": None, "created_at": "2024-08-01T09:00:00+00:00",
             "last_modified": "2024-08-01T09:00:00+00:00",
             "url": "https://static.data.gouv.fr/resources/"
                    "liste-des-structures-france-services/20240801/liste-fs-20240801.csv",
             "latest": f"{SITE}/fr/datasets/r/{csv_id}", "extras": {}, "schema": None},
            {"id": "0e6c2e4f-6e3b-4b0b-9a49-3c5b0d7f2a12", "title": "Notice",
             "description": "Description des colonnes", "type": "documentation",
             "format": "pdf", "mime": "application/pdf", "filetype": "file",
             "filesize": None, "checksum": None,
             "created_at": "2024-08-01T09:00:00+00:00",
             "last_modified": "2024-08-01T09:00:00+00:00",
             "url": "https://static.data.gouv.fr/resources/"
                    "liste-des-structures-france-services/20240801/notice.pdf",
             "latest": f"{SITE}/fr/datasets/r/0e6c2e4f-6e3b-4b0b-9a49-3c5b0d7f2a12",
             "extras": {}, "schema": None},
        ],
    })
    profiles = {
        csv_id: {"profile": {"header": list(rows[0]), "columns": {
            c: {"score": 1, "format": {"latitude": "latitude_wgs", "longitude":
                                       "longitude_wgs", "insee_com": "code_commune_insee",
                                       "code_postal": "code_postal"}.get(c, "string"),
                "python_type": "float" if c in ("latitude", "longitude") else "string"}
            for c in rows[0]}}, "deleted_at": None,
            "dataset_id": "5f6b1b9e8c3c1b2a7d9e0a02", "indexes": None},
    }
    return datasets, {"organizations": organizations, "profiles": profiles}


def _v1_to_v21(obj: dict) -> dict:
    """An OpenDataSoft API v1 dataset object in the Explore v2.1 shape."""
    metas = dict(obj.get("metas", {}))
    for key in ("keyword", "theme"):
        if isinstance(metas.get(key), str):
            metas[key] = [metas[key]]
    metas.pop("domain", None)
    metas.pop("visibility", None)
    out = {
        "dataset_id": obj["datasetid"],
        "dataset_uid": "da_" + obj["datasetid"].replace("-", "")[:6],
        "attachments": [{"id": a["id"], "mimetype": a.get("mimetype"),
                         "title": a.get("title"), "url": a.get("url")}
                        for a in obj.get("attachments", [])],
        "has_records": obj.get("has_records", True),
        "data_visible": True,
        "fields": [dict({"annotations": {}, "description": None}, **f)
                   for f in obj.get("fields", [])],
        "metas": {"default": metas},
        "features": obj.get("features", []),
    }
    return out


def opendatasoft(api: Path, points: Path) -> list:
    ex = api / "opendatasoft-explore-v2.1" / "examples"
    datasets = list(json.loads((ex / "datasets-v2.1.json").read_text())["results"])
    single = json.loads((ex / "dataset-v2.1.json").read_text())
    # same dataset_id as the second list entry (the example of the dataset
    # endpoint): keep the list's, which is the catalogue's
    assert single["dataset_id"] == datasets[1]["dataset_id"]
    att = json.loads((ex / "attachments.json").read_text())["attachments"]
    datasets[1]["attachments"] = [
        {"id": a["href"].rsplit("/", 1)[-1], "mimetype": a["metas"]["mime-type"],
         "title": a["metas"]["title"], "url": "odsfile://" + a["metas"]["title"]}
        for a in att]
    for name in ("test-a", "test-b", "with-attachments", "no-data", "inspire",
                 "test-shp-limit"):
        path = api / "udata-ods" / f"{name}.json"
        obj = json.loads(path.read_text())
        if "datasetid" not in obj:
            continue
        datasets.append(_v1_to_v21(obj))
    # data.education.gouv.fr "fr-en-annuaire-education": the catalogue record
    # of the export in shared/data/points/education (fields from its header)
    annuaire = points / "education" / "ille-et-vilaine_fr-en-annuaire-education.csv"
    header = annuaire.read_text(encoding="utf-8-sig").splitlines()[0].split(";")
    fields = []
    for column in header:
        kind = "text"
        if column == "position":
            kind = "geo_point_2d"
        elif column in ("latitude", "longitude", "coordonnee_X", "coordonnee_Y"):
            kind = "double"
        elif column.startswith("date_"):
            kind = "date"
        fields.append({"name": column.lower(), "label": column, "type": kind,
                       "annotations": {}, "description": None})
    datasets.append({
        "dataset_id": "fr-en-annuaire-education", "dataset_uid": "da_xmrfc7",
        "attachments": [], "has_records": True, "data_visible": True,
        "features": ["geo", "analyze", "timeserie"], "fields": fields,
        "metas": {"default": {
            "title": "Annuaire de l'éducation",
            "description": "<p>Ce jeu de données recense les <strong>écoles, collèges et "
                           "lycées</strong> publics et privés, avec leur adresse, leur "
                           "position géographique et leur date d'ouverture.</p>"
                           "<ul><li>source : ministère de l'Éducation nationale</li>"
                           "<li>mise à jour quotidienne</li></ul>",
            "keyword": ["école", "collège", "lycée", "établissement scolaire"],
            "theme": ["Education"], "publisher": "Ministère de l'Éducation nationale",
            "license": "Licence Ouverte v2.0 (Etalab)",
            "modified": "2023-06-16T03:12:00+00:00",
            "data_processed": "2023-06-16T03:12:00+00:00",
            "metadata_processed": "2023-06-16T03:15:00+00:00",
            "records_count": len(annuaire.read_text(encoding="utf-8-sig").splitlines()) - 1,
            "territory": ["France"], "geographic_reference": ["fr"], "language": "fr",
        }, "dcat": {"accrualperiodicity": "http://purl.org/cld/freq/daily",
                    "contact_email": "depp.dem@education.gouv.fr"}},
    })
    return datasets


def main(api: Path, points: Path) -> None:
    (HERE / "datagouv").mkdir(exist_ok=True)
    (HERE / "opendatasoft").mkdir(exist_ok=True)
    datasets, extra = datagouv(api, points)
    (HERE / "datagouv" / "datasets.json").write_text(
        json.dumps(datasets, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    (HERE / "datagouv" / "organizations.json").write_text(
        json.dumps(extra["organizations"], ensure_ascii=False, indent=1,
                   sort_keys=True) + "\n")
    (HERE / "datagouv" / "profiles.json").write_text(
        json.dumps(extra["profiles"], ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    (HERE / "opendatasoft" / "datasets.json").write_text(
        json.dumps(opendatasoft(api, points), ensure_ascii=False, indent=1,
                   sort_keys=True) + "\n")


if __name__ == "__main__":
    api = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_API
    main(api, api.parent / "points")
