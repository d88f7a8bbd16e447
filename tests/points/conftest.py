"""Fixtures of the servicespublics_points tests: real files, ingestion helpers."""
from __future__ import annotations

import csv
import glob
import json
import os
import uuid
from typing import Any, Optional

import pytest
import sqlalchemy as sa

import ckan.model as model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "points")
FRANCE_SERVICES = os.path.join(DATA, "france_services", "liste-fs-20240801.csv")
DILA_DIR = os.path.join(DATA, "dila_annuaire_2016", "par-departement")
EDUCATION = os.path.join(DATA, "education", "ille-et-vilaine_fr-en-annuaire-education.csv")
EDUCATION_GEO = os.path.join(
    DATA, "education",
    "ille-et-vilaine_fr-en-adresse-et-geolocalisation-etablissements-premier-et-second-degre.csv")

PLUGINS = "servicespublics servicespublics_search servicespublics_points"

FS_MAPPING = {
    "id": "id_fs", "name": "lib_fs", "service_type": "=france-services",
    "address": ["adresse", "complement_adresse"],
    "opening_hours": {"columns": {"lundi": "h_lundi", "mardi": "h_mardi",
                                  "mercredi": "h_mercredi", "jeudi": "h_jeudi",
                                  "vendredi": "h_vendredi", "samedi": "h_samedi"}},
    "opening_date": {"column": "labellisation_fs", "pattern": r"(\d{2}/\d{2}/\d{4})"},
}
DILA_TYPES = {
    "gendarmerie": "gendarmerie", "commissariat_police": "commissariat",
    "pole_emploi": "france-travail", "caf": "caf", "cpam": "cpam", "mairie": "mairie",
    "prefecture": "prefecture", "sous_pref": "sous-prefecture", "tgi": "tribunal-judiciaire",
    "ti": "tribunal-proximite", "prudhommes": "prudhommes", "cour_appel": "cour-appel",
}
DILA_MAPPING = {
    "id": "id", "name": "nom", "service_type": "type", "insee_code": "codeinsee",
    "latitude": "geo.latitude", "longitude": "geo.longitude",
    "service_type_values": {**DILA_TYPES, "*": None},
}


def read_csv(path: str, delimiter: str = ",", encoding: str = "utf-8") -> tuple[list[str],
                                                                              list[list[str]]]:
    with open(path, encoding=encoding, newline="") as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        header = next(reader)
        return header, list(reader)


def write_csv(path: str, header: list[str], rows: list[list[str]], delimiter: str = ",",
              encoding: str = "utf-8") -> str:
    with open(path, "w", encoding=encoding, newline="") as stream:
        writer = csv.writer(stream, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def dila_records(pattern: str = "*.sjson") -> list[dict[str, Any]]:
    records = []
    for path in sorted(glob.glob(os.path.join(DILA_DIR, pattern))):
        with open(path, encoding="utf-8") as stream:
            records.extend(json.loads(line) for line in stream if line.strip())
    return records


class Ingester:
    """Runs the ingestion of a file for one resource id, as the job does."""

    def __init__(self) -> None:
        self.resource_id = str(uuid.uuid4())
        self.package_id = str(uuid.uuid4())

    def __call__(self, path: str, resource_id: Optional[str] = None, **options: Any):
        from ckanext.servicespublics.points import ingest, store
        from ckanext.servicespublics.points.refs import Territories, service_types

        options.setdefault("service_types", service_types())
        options.setdefault("territories", Territories())
        resource_id = resource_id or self.resource_id
        ingestion_id = str(uuid.uuid4())
        conn = model.meta.engine.raw_connection()
        try:
            cur = conn.cursor()
            store.start_ingestion(cur, ingestion_id, resource_id, self.package_id,
                                  trigger="test", fingerprint=None, source=path)
            conn.commit()
            return ingest.run_ingestion(
                conn, path, resource_id=resource_id, package_id=self.package_id,
                owner_org=None, ingestion_id=ingestion_id,
                options=ingest.Options(**options))
        finally:
            conn.close()

    def points(self, resource_id: Optional[str] = None) -> list[dict[str, Any]]:
        rows = model.Session.execute(sa.text(
            "SELECT source_id, name, service_type, address, postcode, insee_code, "
            "commune_code, departement_code, region_code, opening_date, closing_date, "
            "status, opening_hours, phone, email, website, extra, row_number, "
            "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM servicespublics_points_point "
            "WHERE resource_id = :r ORDER BY row_number"),
            {"r": resource_id or self.resource_id}).all()
        model.Session.commit()
        return [dict(r._mapping) for r in rows]

    def count(self, resource_id: Optional[str] = None) -> int:
        value = model.Session.execute(sa.text(
            "SELECT count(*) FROM servicespublics_points_point WHERE resource_id = :r"),
            {"r": resource_id or self.resource_id}).scalar()
        model.Session.commit()
        return value


@pytest.fixture
def ingester() -> Ingester:
    return Ingester()


def codes(result: Any, severity: Optional[str] = None) -> dict[str, int]:
    """Entry counts by code of a result."""
    return {code: count for code, (sev, count) in result.report.by_code.items()
            if severity is None or sev == severity}


def messages(result: Any) -> str:
    return "\n".join(m["message"] for m in result.report.messages)
