"""What a statistic is computed over: the points a caller may count, filtered.

A ``Scope`` holds the datasets (visible to the caller, of a producer), the
service types (given, or those of a domain), an optional territory and the
date; ``where()`` gives the SQL conditions over the points' history aliased
``h``.  A point is in service on day ``d`` when
``h.active_from <= d AND h.active_until > d`` (see the migration).
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Optional

#: the levels statistics can be grouped by, and the column of the points that
#: gives each one (EPCI: through the point's commune)
LEVEL_COLUMNS = {
    "region": "h.region_code",
    "departement": "h.departement_code",
    "epci": "tc.epci",
    "commune": "h.commune_code",
}
#: the join that gives ``tc.epci`` (a point's commune, or arrondissement municipal)
EPCI_JOIN = ("LEFT JOIN servicespublics_dataset_territory tc ON tc.code = h.commune_code "
             "AND tc.level IN ('commune', 'arrondissement_municipal')")

#: states a point can be in on a day, as the map shows them
STATES = ("open", "planned_closure", "planned_opening", "closed")
DEFAULT_STATES = ("open", "planned_closure", "planned_opening")

ACTIVE = "(h.active_from <= {d} AND h.active_until > {d})"


def active(param: str = ":date") -> str:
    return ACTIVE.format(d=param)


def state_sql(param: str = ":date") -> str:
    """The state of a point on a day (NULL: not there yet)."""
    return f"""(CASE
  WHEN {active(param)} THEN
    CASE WHEN h.status = 'planned_closure' THEN 'planned_closure' ELSE 'open' END
  WHEN h.status = 'planned_opening' AND h.disappeared_on IS NULL
       AND h.active_from > {param} THEN 'planned_opening'
  WHEN h.active_from > {param} AND h.active_from < 'infinity'::date THEN NULL
  WHEN h.appeared_on > {param} THEN NULL
  ELSE 'closed' END)"""


@dataclasses.dataclass
class Scope:
    #: ids of the datasets whose points count
    packages: list[str]
    #: service types (None: every type)
    service_types: Optional[list[str]] = None
    #: {"level": ..., "code": ...} of a territory, and the territory's dict
    territory: Optional[dict[str, Any]] = None
    date: datetime.date = dataclasses.field(default_factory=datetime.date.today)

    def where(self, params: dict[str, Any], *, territory: bool = True) -> str:
        """SQL conditions over ``h`` (the history), filling ``params``."""
        params["packages"] = self.packages
        clauses = ["h.package_id = ANY(:packages)"]
        if self.service_types is not None:
            params["service_types"] = self.service_types
            clauses.append("h.service_type = ANY(:service_types)")
        if territory and self.territory is not None:
            clauses.append(territory_sql(self.territory, params))
        return " AND ".join(clauses)

    def key(self) -> tuple[Any, ...]:
        return (tuple(sorted(self.packages)),
                tuple(sorted(self.service_types)) if self.service_types is not None else None,
                (self.territory or {}).get("level"), (self.territory or {}).get("code"),
                self.date.isoformat())


def territory_sql(territory: dict[str, Any], params: dict[str, Any], alias: str = "h") -> str:
    """Points of ``alias`` inside a territory."""
    level, code = territory["level"], territory["code"]
    params["territory_code"] = code
    if level == "region":
        return f"{alias}.region_code = :territory_code"
    if level == "departement":
        return f"{alias}.departement_code = :territory_code"
    if level == "commune":
        return (f"({alias}.commune_code = :territory_code OR {alias}.commune_code IN ("
                "SELECT code FROM servicespublics_dataset_territory "
                "WHERE level = 'arrondissement_municipal' AND commune = :territory_code))")
    if level == "arrondissement_municipal":
        return f"{alias}.commune_code = :territory_code"
    if level == "epci":
        return (f"{alias}.commune_code IN (SELECT code FROM servicespublics_dataset_territory "
                "WHERE level IN ('commune', 'arrondissement_municipal') "
                "AND epci = :territory_code)")
    raise ValueError(level)
