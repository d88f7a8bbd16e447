"""The national map's material for the leak matrix (``tests/access``).

``build`` is a ``world.WORLD_BUILDERS`` function: it gives each world
dataset (public, restricted, private, draft) three France Services points in
the Hautes-Alpes, named after the dataset's token, ingested as the points
plugin does and recorded in the points' history.  ``expected_count(who)``
is how many of them a user may count.
"""
from __future__ import annotations

import csv
import os
import tempfile
import uuid
from typing import Any

import sqlalchemy as sa

import ckan.model as model

#: points per world dataset, and where (around Gap, the chef-lieu of 05)
POINTS_PER_DATASET = 3
_BASE = (6.0794, 44.5594)
_OFFSETS = {"public": 0.0, "restricted": 0.02, "private": 0.04, "draft": 0.06}


def build(world: Any) -> None:
    import ckan.plugins as p

    if not (p.plugin_loaded("servicespublics_analytics")
            and p.plugin_loaded("servicespublics_points")):
        return
    from ckanext.servicespublics.analytics import history
    from ckanext.servicespublics.points import ingest, store
    from tests.territories.fixtures import ensure_loaded

    ensure_loaded()  # the COG places the points in their commune and département
    from ckanext.servicespublics.points.refs import Territories, service_types

    for key, dataset in world.datasets.items():
        with tempfile.TemporaryDirectory(prefix="servicespublics-leak-") as tmp:
            path = os.path.join(tmp, "points.csv")
            with open(path, "w", encoding="utf-8", newline="") as stream:
                writer = csv.writer(stream)
                writer.writerow(["id", "name", "insee_code", "longitude", "latitude"])
                for i in range(POINTS_PER_DATASET):
                    writer.writerow([f"{dataset.token}-{i}",
                                     f"France services {dataset.token} {i}", "05061",
                                     _BASE[0] + _OFFSETS[key] + i * 0.005,
                                     _BASE[1] + _OFFSETS[key]])
            resource_id = str(uuid.uuid4())
            ingestion_id = str(uuid.uuid4())
            conn = model.meta.engine.raw_connection()
            try:
                cur = conn.cursor()
                store.start_ingestion(cur, ingestion_id, resource_id, dataset.id,
                                      trigger="test", fingerprint=None, source=path)
                conn.commit()
                result = ingest.run_ingestion(
                    conn, path, resource_id=resource_id, package_id=dataset.id,
                    owner_org=world.org["id"], ingestion_id=ingestion_id,
                    options=ingest.Options(
                        column_mapping={"id": "id", "name": "name",
                                        "service_type": "=france-services",
                                        "insee_code": "insee_code",
                                        "longitude": "longitude", "latitude": "latitude"},
                        service_types=service_types(), territories=Territories()))
            finally:
                conn.close()
            assert result.replaced, [m["message"] for m in result.report.messages]
    history.sync()
    for key, dataset in world.datasets.items():
        dataset.extra["analytics_point_ids"] = list(model.Session.execute(sa.text(
            "SELECT id FROM servicespublics_analytics_point WHERE package_id = :p ORDER BY id"),
            {"p": dataset.id}).scalars())
    model.Session.commit()
