"""Fixtures of the national map's tests: real files ingested into real datasets."""
from __future__ import annotations

import csv
import glob
import gzip
import json
import math
import os
import uuid
from typing import Any, Optional

import pytest
import sqlalchemy as sa

import ckan.model as model
from ckan.tests import factories


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
FRANCE_SERVICES = os.path.join(SHARED, "points", "france_services", "liste-fs-20240801.csv")
DILA_DIR = os.path.join(SHARED, "points", "dila_annuaire_2016", "par-departement")
EDUCATION = os.path.join(SHARED, "points", "education",
                         "ille-et-vilaine_fr-en-annuaire-education.csv")
COG_DIR = os.path.join(SHARED, "territories", "cog-2026_etalab-decoupage-administratif")

PLUGINS = ("activity servicespublics servicespublics_search scheming_datasets "
           "servicespublics_dataset servicespublics_points servicespublics_access "
           "servicespublics_analytics")
SCHEMING = {
    "scheming.dataset_schemas": "ckanext.servicespublics.schemas:dataset.yaml "
                                "ckanext.servicespublics.schemas:service_points.yaml",
    "scheming.presets": "ckanext.scheming:presets.json "
                        "ckanext.servicespublics.schemas:presets.yaml",
}

#: the France Services list, as the points plugin's tests read it
FS_MAPPING = {
    "id": "id_fs", "name": "lib_fs", "service_type": "=france-services",
    "address": ["adresse", "complement_adresse"],
    "opening_date": {"column": "labellisation_fs", "pattern": r"(\d{2}/\d{2}/\d{4})"},
}
DILA_MAPPING = {
    "id": "id", "name": "nom", "service_type": "type", "insee_code": "codeinsee",
    "latitude": "geo.latitude", "longitude": "geo.longitude",
    "service_type_values": {"gendarmerie": "gendarmerie", "commissariat_police": "commissariat",
                            "mairie": "mairie", "caf": "caf", "*": None},
}


def marks(plugins: str = PLUGINS) -> list[Any]:
    """The marks of a test class: its plugins, the scheming schemas, a clean database."""
    found = [pytest.mark.ckan_config("ckan.plugins", plugins)]
    found += [pytest.mark.ckan_config(k, v) for k, v in SCHEMING.items()]
    found.append(pytest.mark.usefixtures("with_plugins", "clean_db", "territories_loaded"))
    return found


def read_csv(path: str, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream, delimiter=delimiter))


def write_csv(path: str, rows: list[dict[str, Any]], delimiter: str = ",") -> str:
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def dila_records(pattern: str) -> list[dict[str, Any]]:
    records = []
    for path in sorted(glob.glob(os.path.join(DILA_DIR, pattern))):
        with open(path, encoding="utf-8") as stream:
            records.extend(json.loads(line) for line in stream if line.strip())
    return records


def cog_communes() -> dict[str, dict[str, Any]]:
    with open(os.path.join(COG_DIR, "communes.json"), encoding="utf-8") as stream:
        return {c["code"]: c for c in json.load(stream) if c["type"] == "commune-actuelle"}


R = 6371008.7714  # the mean Earth radius of PostGIS' spherical distances

def haversine(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * R * math.asin(math.sqrt(a))

def centres() -> dict[str, tuple[float, float]]:
    from ckanext.servicespublics.analytics import centres as module

    with gzip.open(module.SHIPPED, "rt", encoding="utf-8") as stream:
        return {r["code"]: (float(r["longitude"]), float(r["latitude"]))
                for r in csv.DictReader(stream)}



def ingest(path: str, package: dict[str, Any], resource_id: Optional[str] = None,
           **options: Any) -> Any:
    """Ingest a file as the points plugin's job does, for a resource of ``package``."""
    from ckanext.servicespublics.points import ingest as ingestion
    from ckanext.servicespublics.points import store
    from ckanext.servicespublics.points.refs import Territories, service_types

    options.setdefault("service_types", service_types())
    options.setdefault("territories", Territories())
    resource_id = resource_id or str(uuid.uuid4())
    ingestion_id = str(uuid.uuid4())
    conn = model.meta.engine.raw_connection()
    try:
        cur = conn.cursor()
        store.start_ingestion(cur, ingestion_id, resource_id, package["id"], trigger="test",
                              fingerprint=None, source=path)
        conn.commit()
        result = ingestion.run_ingestion(
            conn, path, resource_id=resource_id, package_id=package["id"],
            owner_org=package.get("owner_org"), ingestion_id=ingestion_id,
            options=ingestion.Options(**options))
    finally:
        conn.close()
    assert result.replaced, [m["message"] for m in result.report.messages]
    result.resource_id = resource_id
    return result


def set_ingestion_date(resource_id: str, when: str) -> None:
    """Date the live ingestion of a resource (a version of another day)."""
    with model.meta.engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE servicespublics_points_ingestion SET started = :when, finished = :when "
            "WHERE id = (SELECT live_ingestion_id FROM servicespublics_points_resource "
            "WHERE resource_id = :r)"), {"when": when, "r": resource_id})


@pytest.fixture
def producer():
    return factories.Organization(name="anct", title="ANCT")


@pytest.fixture
def public_dataset(producer):
    return factories.Dataset(owner_org=producer["id"], name="france-services")


@pytest.fixture
def france_services(public_dataset):
    """The France Services list of 1 August 2024 in a public dataset."""
    return ingest(FRANCE_SERVICES, public_dataset, column_mapping=FS_MAPPING)
