"""Fixtures of the servicespublics_map tests: real point files, ingested for real
resources, and a decoder of the vector tiles."""
from __future__ import annotations

import csv
import os
import uuid
from typing import Any, Optional

import pytest
import sqlalchemy as sa

import ckan.model as model
from ckan.tests import factories

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "points")
FRANCE_SERVICES = os.path.join(DATA, "france_services", "liste-fs-20240801.csv")
DILA_DIR = os.path.join(DATA, "dila_annuaire_2016", "par-departement")
ARTIFACTS = os.path.join(ROOT, "test-artifacts")

PLUGINS = "activity servicespublics servicespublics_search servicespublics_points " \
          "servicespublics_map"

FS_MAPPING = {
    "id": "id_fs", "name": "lib_fs", "service_type": "=france-services",
    "address": ["adresse", "complement_adresse"],
    "opening_hours": {"columns": {"lundi": "h_lundi", "mardi": "h_mardi",
                                  "mercredi": "h_mercredi", "jeudi": "h_jeudi",
                                  "vendredi": "h_vendredi", "samedi": "h_samedi"}},
    "opening_date": {"column": "labellisation_fs", "pattern": r"(\d{2}/\d{2}/\d{4})"},
}
DILA_MAPPING = {
    "id": "id", "name": "nom", "service_type": "type", "insee_code": "codeinsee",
    "latitude": "geo.latitude", "longitude": "geo.longitude",
    "service_type_values": {
        "gendarmerie": "gendarmerie", "commissariat_police": "commissariat",
        "pole_emploi": "france-travail", "caf": "caf", "cpam": "cpam", "mairie": "mairie",
        "prefecture": "prefecture", "sous_pref": "sous-prefecture",
        "tgi": "tribunal-judiciaire", "ti": "tribunal-proximite", "prudhommes": "prudhommes",
        "cour_appel": "cour-appel", "*": None},
}


def fs_rows(n: Optional[int] = None) -> tuple[list[str], list[list[str]]]:
    with open(FRANCE_SERVICES, encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        rows = list(reader)
    return header, rows if n is None else rows[:n]


def write_fs(path: str, rows: Optional[list[list[str]]] = None) -> str:
    header, all_rows = fs_rows()
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(all_rows if rows is None else rows)
    return path


def dila_path(departement: str = "75") -> str:
    return os.path.join(DILA_DIR, f"annuaire-{departement}.sjson")


def ingest(path: str, resource: dict[str, Any], mapping: dict[str, Any],
           fmt: Optional[str] = None) -> Any:
    """Ingest a file for a resource, as the points job does."""
    from ckanext.servicespublics.points import ingest as ingest_, store
    from ckanext.servicespublics.points.refs import Territories, service_types

    package = model.Package.get(resource["package_id"])
    ingestion_id = str(uuid.uuid4())
    conn = model.meta.engine.raw_connection()
    try:
        cur = conn.cursor()
        store.start_ingestion(cur, ingestion_id, resource["id"], package.id, trigger="test",
                              fingerprint=None, source=path)
        conn.commit()
        result = ingest_.run_ingestion(
            conn, path, resource_id=resource["id"], package_id=package.id,
            owner_org=package.owner_org, ingestion_id=ingestion_id,
            options=ingest_.Options(declared_format=fmt, column_mapping=mapping,
                                    service_types=service_types(),
                                    territories=Territories()))
    finally:
        conn.close()
    assert result.replaced, result.report.messages
    model.Session.remove()
    return result


def point_rows(resource_id: str) -> list[dict[str, Any]]:
    rows = model.Session.execute(sa.text(
        "SELECT id, name, service_type, status, ST_X(geom) AS lon, ST_Y(geom) AS lat "
        "FROM servicespublics_points_point WHERE resource_id = :r ORDER BY id"),
        {"r": resource_id}).all()
    model.Session.commit()
    return [dict(r._mapping) for r in rows]


def decode(data: bytes) -> list[dict[str, Any]]:
    """The features of the ``points`` layer of a tile (MVT), with tile coordinates."""
    if not data:
        return []
    import mapbox_vector_tile

    tile = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    layer = tile.get("points")
    assert layer is not None, list(tile)
    assert layer["extent"] == 4096
    out = []
    for feature in layer["features"]:
        assert feature["geometry"]["type"] == "Point"
        out.append({"id": feature.get("id"), "x": feature["geometry"]["coordinates"][0],
                    "y": feature["geometry"]["coordinates"][1], **feature["properties"]})
    return out


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(lat)
    y = int((1.0 - math.log(math.tan(lat_r) + 1 / math.cos(lat_r)) / math.pi) / 2.0 * n)
    return x, y


def tile_url(resource_id: str, z: int, x: int, y: int) -> str:
    return f"/servicespublics/tiles/{resource_id}/{z}/{x}/{y}.pbf"


@pytest.fixture
def map_world():
    """An organisation with a member (editor), an outsider and a sysadmin (tokens)."""
    sysadmin = factories.SysadminWithToken()
    member = factories.UserWithToken()
    outsider = factories.UserWithToken()
    org = factories.Organization(users=[{"name": member["name"], "capacity": "editor"}])
    return {"sysadmin": sysadmin, "member": member, "outsider": outsider, "org": org}


@pytest.fixture
def point_resource(map_world):
    """A dataset with a point-file resource whose points are ingested from a real file."""
    def make(private: bool = False, source: str = "fs", rows: Optional[list] = None,
             tmp_path: Optional[str] = None, **dataset: Any) -> dict[str, Any]:
        package = factories.Dataset(owner_org=map_world["org"]["id"], private=private,
                                    **dataset)
        resource = factories.Resource(
            package_id=package["id"], url="https://example.org/points.csv",
            format="CSV" if source == "fs" else "JSONL", role="point_file",
            name="Points")
        directory = tmp_path or os.path.join("/tmp", f"sp-map-{uuid.uuid4().hex}")
        os.makedirs(directory, exist_ok=True)
        if source == "fs":
            path = write_fs(os.path.join(directory, "fs.csv"), rows)
            result = ingest(path, resource, FS_MAPPING, "csv")
        else:
            result = ingest(dila_path(source), resource, DILA_MAPPING, "jsonl")
        return {"package": package, "resource": resource, "result": result}
    return make


def auth(user: Optional[dict[str, Any]]) -> dict[str, str]:
    return {"Authorization": user["token"]} if user else {}
