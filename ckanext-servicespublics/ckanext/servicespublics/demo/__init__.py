"""Demo catalogue: real producers and real service-point files.

``ckan servicespublics demo load`` creates the organisations, groups and
datasets below through CKAN's actions (so they are validated, indexed and
visible in the activity streams like any published dataset) and uploads the
real files shipped in ``demo/data`` (see ``demo/data/ATTRIBUTION.md``).
Loading twice changes nothing: existing objects are left as they are.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Optional

from werkzeug.datastructures import FileStorage

import ckan.plugins.toolkit as tk

log = logging.getLogger(__name__)

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")

ORGANIZATIONS: list[dict[str, Any]] = [
    {
        "name": "anct",
        "title": "Agence nationale de la cohésion des territoires (ANCT)",
        "description": "L'ANCT pilote le programme France Services, qui rassemble "
                       "en un même lieu plusieurs administrations pour accompagner "
                       "les usagers dans leurs démarches.",
    },
    {
        "name": "dila",
        "title": "Direction de l'information légale et administrative (DILA)",
        "description": "La DILA publie l'annuaire de l'administration "
                       "(Service-Public.fr) : mairies, gendarmeries, caisses, "
                       "tribunaux et services de l'État.",
    },
    {
        "name": "ministere-education-nationale",
        "title": "Ministère de l'Éducation nationale",
        "description": "Le ministère publie l'annuaire des écoles, collèges et "
                       "lycées sur data.education.gouv.fr.",
    },
]

GROUPS: list[dict[str, Any]] = [
    {"name": "accueil-de-proximite", "title": "Accueil de proximité",
     "description": "France Services, mairies et guichets d'accueil des usagers."},
    {"name": "securite-justice", "title": "Sécurité et justice",
     "description": "Gendarmeries, commissariats, tribunaux."},
    {"name": "education", "title": "Éducation",
     "description": "Écoles, collèges et lycées."},
]

_DILA_NOTES = (
    "Annuaire de l'administration (base de données locales de Service-Public.fr) "
    "pour le département {label}, extrait en février 2016 : mairies, gendarmeries, "
    "commissariats, agences Pôle emploi, CAF, CPAM, Carsat, préfectures et "
    "sous-préfectures, tribunaux, trésoreries… Un objet JSON par ligne, avec "
    "l'adresse, les coordonnées géocodées par la Base Adresse Nationale, les "
    "horaires et les contacts."
)

#: column mapping of the DILA directory's JSON lines (see the points plugin)
_DILA_MAPPING = {
    "id": "id", "name": "nom", "service_type": "type", "insee_code": "codeinsee",
    "latitude": "geo.latitude", "longitude": "geo.longitude",
    "service_type_values": {
        "gendarmerie": "gendarmerie", "commissariat_police": "commissariat",
        "pole_emploi": "france-travail", "caf": "caf", "cpam": "cpam", "carsat": "carsat",
        "mairie": "mairie", "prefecture": "prefecture", "sous_pref": "sous-prefecture",
        "tgi": "tribunal-judiciaire", "ti": "tribunal-proximite", "prudhommes": "prudhommes",
        "cour_appel": "cour-appel", "msa": "msa", "urssaf": "urssaf",
        "tresorerie": "tresorerie", "sip": "finances-publiques",
        "mission_locale": "mission-locale", "*": None},
}
#: column mapping of the France Services list (see the points plugin)
_FRANCE_SERVICES_MAPPING = {
    "id": "id_fs", "name": "lib_fs", "service_type": "=france-services",
    "address": ["adresse", "complement_adresse"], "postcode": "code_postal",
    "insee_code": "insee_com", "latitude": "latitude", "longitude": "longitude",
    "phone": "telephone", "email": "mail",
    "opening_hours": {"columns": {
        "lundi": "h_lundi", "mardi": "h_mardi", "mercredi": "h_mercredi",
        "jeudi": "h_jeudi", "vendredi": "h_vendredi", "samedi": "h_samedi"}},
    "opening_date": {"column": "labellisation_fs", "pattern": "(\\d{2}/\\d{2}/\\d{4})"},
}
_DILA_TYPES = ["mairie", "gendarmerie", "commissariat", "france-travail", "caf", "cpam",
               "carsat", "prefecture", "sous-prefecture", "tribunal-judiciaire",
               "tribunal-proximite", "finances-publiques"]

DATASETS: list[dict[str, Any]] = [
    {
        "name": "france-services-2024",
        "title": "Liste des structures France Services (août 2024)",
        "owner_org": "anct",
        "groups": ["accueil-de-proximite"],
        "notes": "Liste officielle des 2 845 structures labellisées France Services "
                 "au 1er août 2024 (2 721 principales, 124 antennes), avec leur "
                 "adresse, leur commune (code INSEE), leurs coordonnées GPS, leurs "
                 "horaires d'ouverture, leur format (fixe, itinérant, bus) et leur "
                 "date de labellisation.",
        "tags": ["France Services", "accueil de proximité", "démarches administratives",
                 "cohésion des territoires"],
        "type": "service-points",
        "domain": "accueil-proximite",
        "service_types": ["france-services"],
        "territory_level": "national",
        "vintage": "2024-08-01",
        "frequency": "irregular",
        "license_id": "lov2",
        "url": "https://github.com/anct-carto/france_services",
        "contact_name": "ANCT",
        "resources": [{
            "file": "liste-fs-20240801.csv",
            "name": "Liste des France Services au 1er août 2024",
            "description": "CSV séparé par des virgules, UTF-8, coordonnées WGS84.",
            "format": "CSV",
            "role": "point_file",
            "column_mapping": json.dumps(_FRANCE_SERVICES_MAPPING, ensure_ascii=False),
        }],
    },
    {
        "name": "annuaire-administration-hautes-alpes-2016",
        "title": "Annuaire de l'administration : Hautes-Alpes (2016)",
        "owner_org": "dila",
        "groups": ["accueil-de-proximite", "securite-justice"],
        "notes": _DILA_NOTES.format(label="des Hautes-Alpes (05)"),
        "tags": ["mairie", "gendarmerie", "CAF", "annuaire", "Hautes-Alpes"],
        "type": "service-points",
        "domain": "services-deconcentres",
        "service_types": _DILA_TYPES,
        "territory_level": "departement",
        "territory_codes": ["05"],
        "vintage": "2016-02-26",
        "frequency": "punctual",
        "license_id": "lov2",
        "url": "https://github.com/cquest/annuaire-services-publics",
        "contact_name": "DILA",
        "resources": [{
            "file": "annuaire-05.sjson",
            "role": "point_file",
            "column_mapping": json.dumps(_DILA_MAPPING),
            "name": "Annuaire des services publics locaux des Hautes-Alpes",
            "description": "JSON lines (un objet par ligne), UTF-8.",
            "format": "JSON",
        }],
    },
    {
        "name": "annuaire-administration-corse-du-sud-2016",
        "title": "Annuaire de l'administration : Corse-du-Sud (2016)",
        "owner_org": "dila",
        "groups": ["accueil-de-proximite", "securite-justice"],
        "notes": _DILA_NOTES.format(label="de la Corse-du-Sud (2A)"),
        "tags": ["mairie", "gendarmerie", "tribunal", "annuaire", "Corse-du-Sud"],
        "type": "service-points",
        "domain": "services-deconcentres",
        "service_types": _DILA_TYPES,
        "territory_level": "departement",
        "territory_codes": ["2A"],
        "vintage": "2016-02-26",
        "frequency": "punctual",
        "license_id": "lov2",
        "url": "https://github.com/cquest/annuaire-services-publics",
        "contact_name": "DILA",
        "resources": [{
            "file": "annuaire-2A.sjson",
            "role": "point_file",
            "column_mapping": json.dumps(_DILA_MAPPING),
            "name": "Annuaire des services publics locaux de Corse-du-Sud",
            "description": "JSON lines (un objet par ligne), UTF-8.",
            "format": "JSON",
        }],
    },
    {
        "name": "annuaire-administration-indre-2016",
        "title": "Annuaire de l'administration : Indre (2016)",
        "owner_org": "dila",
        "groups": ["accueil-de-proximite", "securite-justice"],
        "notes": _DILA_NOTES.format(label="de l'Indre (36)"),
        "tags": ["mairie", "gendarmerie", "CPAM", "annuaire", "Indre"],
        "type": "service-points",
        "domain": "services-deconcentres",
        "service_types": _DILA_TYPES,
        "territory_level": "departement",
        "territory_codes": ["36"],
        "vintage": "2016-02-26",
        "frequency": "punctual",
        "license_id": "lov2",
        "url": "https://github.com/cquest/annuaire-services-publics",
        "contact_name": "DILA",
        "resources": [{
            "file": "annuaire-36.sjson",
            "role": "point_file",
            "column_mapping": json.dumps(_DILA_MAPPING),
            "name": "Annuaire des services publics locaux de l'Indre",
            "description": "JSON lines (un objet par ligne), UTF-8.",
            "format": "JSON",
        }],
    },
    {
        "name": "annuaire-education-ille-et-vilaine",
        "title": "Annuaire de l'éducation : écoles, collèges et lycées d'Ille-et-Vilaine",
        "owner_org": "ministere-education-nationale",
        "groups": ["education"],
        "notes": "Établissements scolaires du premier et du second degré "
                 "d'Ille-et-Vilaine (juin 2023) : identifiant UAI, nom, type "
                 "(école, collège, lycée), statut public ou privé, adresse, "
                 "commune, coordonnées en Lambert-93 et en WGS84, date "
                 "d'ouverture et état (ouvert, fermé).",
        "tags": ["école", "collège", "lycée", "éducation", "Ille-et-Vilaine"],
        "type": "service-points",
        "domain": "education-culture-sport",
        "service_types": ["ecole", "college", "lycee"],
        "territory_level": "departement",
        "territory_codes": ["35"],
        "vintage": "2023-06-16",
        "frequency": "punctual",
        "license_id": "lov2",
        "url": "https://data.education.gouv.fr/explore/dataset/fr-en-annuaire-education/",
        "contact_name": "Ministère de l'Éducation nationale",
        "resources": [{
            "role": "point_file",
            "delimiter": ";",
            "column_mapping": json.dumps({
                "id": "Identifiant_de_l_etablissement", "name": "Nom_etablissement",
                "service_type": "Type_etablissement",
                "service_type_values": {"Ecole": "ecole", "Collège": "college",
                                        "Lycée": "lycee", "*": None},
                "latitude": "latitude", "longitude": "longitude",
                "insee_code": "Code_commune", "postcode": "Code postal",
                "phone": "Telephone", "email": "Mail", "website": "Web",
                "opening_date": "date_ouverture", "status": "etat"}, ensure_ascii=False),
            "file": "ille-et-vilaine_fr-en-annuaire-education.csv",
            "name": "Annuaire de l'éducation, Ille-et-Vilaine (juin 2023)",
            "description": "CSV séparé par des points-virgules, UTF-8 avec BOM.",
            "format": "CSV",
        }],
    },
]


def _exists(action: str, context: dict[str, Any], name: str) -> bool:
    try:
        tk.get_action(action)(dict(context), {"id": name})
        return True
    except tk.ObjectNotFound:
        return False


def load(echo: Optional[Callable[[str], None]] = None) -> dict[str, int]:
    """Create the demo catalogue; return how many objects were created."""
    echo = echo or log.info
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    context = {"user": site_user["name"], "ignore_auth": True}
    created = {"organizations": 0, "groups": 0, "datasets": 0}

    for org in ORGANIZATIONS:
        if not _exists("organization_show", context, org["name"]):
            tk.get_action("organization_create")(dict(context), dict(org))
            created["organizations"] += 1
            echo(f"Organisation créée : {org['title']}")
    for group in GROUPS:
        if not _exists("group_show", context, group["name"]):
            tk.get_action("group_create")(dict(context), dict(group))
            created["groups"] += 1
            echo(f"Groupe créé : {group['title']}")

    for spec in DATASETS:
        if _exists("package_show", context, spec["name"]):
            continue
        data = {k: v for k, v in spec.items() if k not in ("resources", "tags", "groups")}
        data["tag_string"] = ",".join(spec["tags"])
        data["groups"] = [{"name": g} for g in spec["groups"]]
        dataset = tk.get_action("package_create")(dict(context), data)
        for res in spec["resources"]:
            path = os.path.join(DATA_DIR, res["file"])
            with open(path, "rb") as stream:
                upload = FileStorage(stream=stream, filename=res["file"])
                data = {k: v for k, v in res.items() if k != "file"}
                data.update({"package_id": dataset["id"], "url": res["file"],
                             "url_type": "upload", "upload": upload})
                tk.get_action("resource_create")(dict(context), data)
        created["datasets"] += 1
        echo(f"Jeu de données créé : {spec['title']}")
    return created
