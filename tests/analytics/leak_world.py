"""The national map's material for the leak matrix (``tests/access``).

Each world dataset's point file holds France Services in Gap (Hautes-Alpes),
named after the dataset's token; the points plugin ingested them when the
world was built, and its ``servicespublics_points_replaced`` signal put them
in the national map's history. ``build`` (a ``world.WORLD_BUILDERS``
function) checks that they are there and notes their ids, which the closure
impact row closes; ``expected_count(who)`` is how many of them a user may
count.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import ckan.model as model


def build(world: Any) -> None:
    import ckan.plugins as p

    if not (p.plugin_loaded("servicespublics_analytics")
            and p.plugin_loaded("servicespublics_points")):
        return
    from ckanext.servicespublics.analytics import history

    from tests.access.world import FRANCE_SERVICES_PER_DATASET

    history.refresh()
    for dataset in world.datasets.values():
        ids = list(model.Session.execute(sa.text(
            "SELECT id FROM servicespublics_analytics_point WHERE package_id = :p "
            "AND service_type = 'france-services' AND departement_code = '05' ORDER BY id"),
            {"p": dataset.id}).scalars())
        assert len(ids) == FRANCE_SERVICES_PER_DATASET, (dataset.key, ids)
        dataset.extra["analytics_point_ids"] = ids
    model.Session.commit()
