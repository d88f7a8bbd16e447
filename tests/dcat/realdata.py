"""Service-point datasets described from the real files of /work/shared/data.

Every value that can be read from the files is read from them: territory
codes (INSEE codes of the communes, the département, the région, the EPCI of
the points), the extent (convex hull of the points), the service types
present, the temporal coverage (labelling dates, update dates, opening
dates), the delimiter and the coordinate system.
"""
from __future__ import annotations

import csv
import datetime
import functools
import json
import os
import re
from typing import Any

from shapely.geometry import MultiPoint, mapping

# the shared data sit next to the checkout, as for tests/territories
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
POINTS = os.path.join(DATA, "points")
TERRITORIES = os.path.join(DATA, "territories", "cog-2026_etalab-decoupage-administratif")

ORGANIZATIONS = [
    {"name": "anct", "title": "Agence nationale de la cohésion des territoires (ANCT)",
     "email": "france-services@example.org", "url": "https://agence-cohesion-territoires.gouv.fr"},
    {"name": "dila", "title": "Direction de l'information légale et administrative (DILA)",
     "url": "https://www.dila.premier-ministre.gouv.fr"},
    {"name": "ministere-education-nationale", "title": "Ministère de l'Éducation nationale"},
]

# types of the DILA directory -> service types of the catalogue
DILA_TYPES = {
    "mairie": "mairie", "gendarmerie": "gendarmerie", "commissariat_police": "commissariat",
    "pole_emploi": "france-travail", "caf": "caf", "cpam": "cpam", "carsat": "carsat",
    "msa": "msa", "urssaf": "urssaf", "mission_locale": "mission-locale", "cio": "cio",
    "prefecture": "prefecture", "sous_pref": "sous-prefecture", "tgi": "tribunal-judiciaire",
    "ti": "tribunal-proximite", "prudhommes": "prudhommes", "cour_appel": "cour-appel",
    "tresorerie": "tresorerie", "sip": "finances-publiques", "pmi": "pmi",
}
EDUCATION_TYPES = {"Ecole": "ecole", "Collège": "college", "Lycée": "lycee"}

FS_CSV = ("https://raw.githubusercontent.com/anct-carto/france_services/"
          "77f42baab04eae687d5eef1acdc79ee395f9562b/data/liste-fs-20240801.csv")
DILA_JSON = ("https://raw.githubusercontent.com/cquest/annuaire-services-publics/"
             "f7713da88c44fbb9570d782868d6cab979451f06/data/annuaire-{}.sjson")
EDU_CSV = ("https://data.education.gouv.fr/api/explore/v2.1/catalog/datasets/"
           "fr-en-annuaire-education/exports/csv?refine=code_departement%3A035")


def _hull(points: list[tuple[float, float]]) -> str:
    return json.dumps(mapping(MultiPoint(points).convex_hull))


@functools.lru_cache(maxsize=None)
def _france_services() -> list[dict[str, str]]:
    path = os.path.join(POINTS, "france_services", "liste-fs-20240801.csv")
    with open(path, encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _labelling_dates(rows: list[dict[str, str]]) -> list[str]:
    dates = []
    for row in rows:
        match = re.search(r"(\d{2})/(\d{2})/(\d{4})", row["labellisation_fs"])
        if match:
            day, month, year = match.groups()
            dates.append(f"{year}-{month}-{day}")
    return sorted(dates)


@functools.lru_cache(maxsize=None)
def _regions_of_departements() -> dict[str, str]:
    with open(os.path.join(TERRITORIES, "departements.json"), encoding="utf-8") as stream:
        return {d["code"]: d["region"] for d in json.load(stream)}


@functools.lru_cache(maxsize=None)
def _epci_members(siren: str) -> tuple[str, set[str]]:
    with open(os.path.join(TERRITORIES, "epci.json"), encoding="utf-8") as stream:
        for epci in json.load(stream):
            if epci["code"] == siren:
                return epci["nom"], {m["code"] for m in epci["membres"]}
    raise LookupError(siren)


def _fs_resources(rows: list[dict[str, str]], label: str) -> list[dict[str, Any]]:
    return [
        {"name": f"Structures France Services {label} (1er août 2024)",
         "description": f"{len(rows)} structures, CSV séparé par des virgules, UTF-8, WGS84.",
         "url": FS_CSV, "format": "CSV", "mimetype": "text/csv", "role": "point_file",
         "encoding": "UTF-8", "delimiter": ",", "crs": "EPSG:4326"},
        {"name": "Présentation du programme France Services",
         "url": "https://github.com/anct-carto/france_services", "format": "HTML",
         "role": "documentation"},
    ]


def _fs_dataset(name: str, title: str, rows: list[dict[str, str]], level: str,
                codes: list[str], label: str, **extra: Any) -> dict[str, Any]:
    dates = _labelling_dates(rows)
    return dict({
        "type": "service-points", "name": name, "title": title,
        "notes": f"Structures labellisées France Services {label} au 1er août 2024 : "
                 f"{len(rows)} lieux, avec adresse, commune (code INSEE), coordonnées, "
                 "horaires d'ouverture, format (fixe, itinérant) et date de labellisation.",
        "owner_org": "anct", "license_id": "lov2",
        "url": "https://github.com/anct-carto/france_services",
        "tags": [{"name": "France Services"}, {"name": "accueil de proximité"}],
        "domain": "accueil-proximite", "service_types": ["france-services"],
        "territory_level": level, "territory_codes": codes,
        "vintage": "2024-08-01", "temporal_start": dates[0], "temporal_end": "2024-08-01",
        "frequency": "monthly", "access_level": "public",
        "contact_name": "ANCT, programme France Services",
        "contact_email": "france-services@example.org",
        "spatial": _hull([(float(r["longitude"]), float(r["latitude"])) for r in rows]),
        "resources": _fs_resources(rows, label),
    }, **extra)


def france_services_national() -> dict[str, Any]:
    return _fs_dataset("france-services-2024", "Structures France Services (août 2024)",
                       _france_services(), "national", [], "en France")


def france_services_bretagne() -> dict[str, Any]:
    regions = _regions_of_departements()
    rows = [r for r in _france_services() if regions.get(r["insee_dep"]) == "53"]
    return _fs_dataset("france-services-bretagne-2024",
                       "Structures France Services en Bretagne (août 2024)",
                       rows, "region", ["53"], "en Bretagne", frequency="quarterly")


def france_services_rennes() -> dict[str, Any]:
    name, members = _epci_members("243500139")
    rows = [r for r in _france_services() if r["insee_com"] in members]
    return _fs_dataset("france-services-rennes-metropole-2024",
                       f"Structures France Services de {name} (août 2024)",
                       rows, "epci", ["243500139"], f"de {name}", frequency="annual")


def _dila_rows(dep: str) -> list[dict[str, Any]]:
    path = os.path.join(POINTS, "dila_annuaire_2016", "par-departement", f"annuaire-{dep}.sjson")
    with open(path, encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def dila_departement(dep: str, label: str, **extra: Any) -> dict[str, Any]:
    rows = _dila_rows(dep)
    updates = sorted(r["update"] for r in rows if r.get("update"))
    types = sorted({DILA_TYPES[r["type"]] for r in rows if r["type"] in DILA_TYPES})
    points = [(float(r["longitude"]), float(r["latitude"])) for r in rows
              if r.get("latitude") and r.get("longitude")]
    return dict({
        "type": "service-points", "name": f"annuaire-administration-{dep.lower()}-2016",
        "title": f"Annuaire de l'administration : {label} (2016)",
        "notes": f"Annuaire de l'administration (Service-Public.fr) pour {label}, extrait "
                 f"en février 2016 : {len(rows)} services (mairies, gendarmeries, CAF, "
                 "CPAM, trésoreries…), géocodés avec la Base Adresse Nationale.",
        "owner_org": "dila", "license_id": "odc-odbl",
        "url": "https://github.com/cquest/annuaire-services-publics",
        "tags": [{"name": "annuaire"}, {"name": "mairie"}, {"name": "gendarmerie"}],
        "domain": "services-deconcentres", "service_types": types,
        "territory_level": "departement", "territory_codes": [dep],
        "vintage": "2016-02-26", "temporal_start": updates[0], "temporal_end": updates[-1],
        "frequency": "punctual", "access_level": "public",
        "contact_name": "DILA, annuaire de l'administration",
        "contact_email": "annuaire@example.org",
        "spatial": _hull(points),
        "resources": [{
            "name": f"Annuaire des services publics locaux : {label}",
            "description": "JSON lines (un objet par ligne), UTF-8.",
            "url": DILA_JSON.format(dep), "format": "JSON", "role": "point_file",
            "encoding": "UTF-8", "crs": "EPSG:4326"}],
    }, **extra)


def education_ille_et_vilaine() -> dict[str, Any]:
    path = os.path.join(POINTS, "education", "ille-et-vilaine_fr-en-annuaire-education.csv")
    with open(path, encoding="utf-8-sig") as stream:
        rows = [r for r in csv.DictReader(stream, delimiter=";")
                if r["Type_etablissement"] in EDUCATION_TYPES]
    openings = sorted(r["date_ouverture"] for r in rows if r["date_ouverture"])
    return {
        "type": "service-points", "name": "annuaire-education-ille-et-vilaine-2023",
        "title": "Écoles, collèges et lycées d'Ille-et-Vilaine (juin 2023)",
        "notes": f"{len(rows)} établissements scolaires du premier et du second degré "
                 "d'Ille-et-Vilaine : UAI, nom, type, statut, adresse, commune, "
                 "coordonnées en Lambert-93, date d'ouverture et état.",
        "owner_org": "ministere-education-nationale", "license_id": "lov2",
        "url": "https://data.education.gouv.fr/explore/dataset/fr-en-annuaire-education/",
        "tags": [{"name": "école"}, {"name": "collège"}, {"name": "lycée"}],
        "domain": "education-culture-sport",
        "service_types": sorted({EDUCATION_TYPES[r["Type_etablissement"]] for r in rows}),
        "territory_level": "commune",
        "territory_codes": sorted({r["Code_commune"] for r in rows}),
        "vintage": "2023-06-16", "temporal_start": openings[0],
        "frequency": "daily", "access_level": "public",
        "contact_name": "Ministère de l'Éducation nationale, DEPP",
        "contact_email": "annuaire-education@example.org",
        "spatial": _hull([(float(r["longitude"]), float(r["latitude"])) for r in rows
                          if r["latitude"] and r["longitude"]]),
        "resources": [{
            "name": "Annuaire de l'éducation, Ille-et-Vilaine",
            "description": "CSV séparé par des points-virgules, UTF-8 avec BOM, Lambert-93.",
            "url": EDU_CSV, "format": "CSV", "role": "point_file",
            "encoding": "UTF-8-SIG", "delimiter": ";", "crs": "EPSG:2154"}],
    }


def private_gendarmeries() -> dict[str, Any]:
    """A private dataset: brigades of the Indre from the DILA directory."""
    dataset = dila_departement("36", "l'Indre", private=True)
    rows = [r for r in _dila_rows("36") if r["type"] == "gendarmerie"]
    dataset.update({
        "name": "brigades-gendarmerie-indre-projet",
        "title": "Projet de réorganisation des brigades de gendarmerie de l'Indre",
        "domain": "securite", "service_types": ["gendarmerie"],
        "spatial": _hull([(float(r["longitude"]), float(r["latitude"])) for r in rows]),
        "vintage": datetime.date(2016, 2, 26).isoformat(),
    })
    return dataset


def public_datasets() -> list[dict[str, Any]]:
    return [
        france_services_national(),
        france_services_bretagne(),
        france_services_rennes(),
        dila_departement("05", "les Hautes-Alpes"),
        dila_departement("2A", "la Corse-du-Sud"),
        education_ille_et_vilaine(),
    ]
