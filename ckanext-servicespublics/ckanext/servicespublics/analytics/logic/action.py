"""Actions of the national map: every number of the ``/carte`` page.

Each action counts only the points of the datasets the caller may read
(sysadmins: every active dataset; others: the datasets whose permission
labels meet theirs, as in ``package_search``).  They share these filters:

- ``service_type``: service type codes (list, or comma-separated text);
- ``domain``: a domain code (its service types; with ``service_type``: the
  types of both);
- ``organization``: the producer (organisation name or id);
- ``territory`` (+ ``territory_level`` when a code exists at several
  levels): a commune, EPCI, département or région code;
- ``date``: the day the services are counted in operation (default today).
"""
from __future__ import annotations

import datetime
from typing import Any, Optional

import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict

from ckanext.servicespublics import territories

from .. import centres, history, stats, visibility
from ..scope import DEFAULT_STATES, Scope
from . import schema

__all__ = [
    "servicespublics_density", "servicespublics_evolution", "servicespublics_nearest",
    "servicespublics_closure_impact", "servicespublics_points_export",
]

#: most points one call of servicespublics_points_export returns
MAX_EXPORT_LIMIT = 10000
MAX_NEAREST_LIMIT = 100


def _validate(data_dict: DataDict, schema_: dict[str, Any], context: Context) -> DataDict:
    data, errors = tk.navl_validate(dict(data_dict), schema_, context)
    if errors:
        raise tk.ValidationError(errors)
    data.pop("__extras", None)
    return data


def _vocabulary() -> Any:
    try:
        from ckanext.servicespublics.dataset import vocabulary
    except ImportError:  # pragma: no cover - the dataset plugin ships with this one
        return None
    return vocabulary


def _service_types(data: DataDict, errors: dict[str, list[str]]) -> Optional[list[str]]:
    vocabulary = _vocabulary()
    types = data.get("service_type") or None
    domain = data.get("domain") or None
    if vocabulary is not None:
        known = set(vocabulary.codes("service_types"))
        unknown = [t for t in types or [] if t not in known]
        if unknown:
            errors["service_type"] = [tk._("Unknown service type: {codes}").format(
                codes=", ".join(unknown))]
        if domain is not None and domain not in vocabulary.codes("domains"):
            errors["domain"] = [tk._("Unknown domain: {code}").format(code=domain)]
            return types
        if domain is not None:
            in_domain = vocabulary.service_types_by_domain(domain)
            return [t for t in types if t in in_domain] if types else in_domain
    return types


def _territory(data: DataDict, errors: dict[str, list[str]]) -> Optional[dict[str, Any]]:
    code = data.get("territory")
    if not code:
        if data.get("territory_level"):
            errors["territory"] = [tk._("Missing value")]
        return None
    level = data.get("territory_level")
    found = territories.get(code, level)
    if found is None and level in (None, "commune"):
        found = territories.resolve_commune(code)
    if found is None:
        errors["territory"] = [tk._("Territory not found: {code}").format(code=code)]
    return found


def _packages(context: Context, data: DataDict, errors: dict[str, list[str]]) -> list[str]:
    packages = visibility.visible_packages(context)
    name = data.get("organization")
    if name:
        org = model.Group.get(name)
        if org is None or not org.is_organization or org.state != "active":
            errors["organization"] = [tk._("Organization not found: {name}").format(
                name=name)]
            return []
        packages = list(model.Session.execute(sa.text(
            "SELECT id FROM package WHERE owner_org = :org AND id = ANY(:ids)"),
            {"org": org.id, "ids": packages}).scalars())
    return packages


def _scope(context: Context, data: DataDict, errors: Optional[dict[str, list[str]]] = None
           ) -> Scope:
    """The scope of a call; raises ``ValidationError`` on unknown filters."""
    errors = {} if errors is None else errors
    history.refresh()
    centres.ensure_loaded()
    scope = Scope(
        packages=_packages(context, data, errors),
        service_types=_service_types(data, errors),
        territory=_territory(data, errors),
        date=data.get("date") or datetime.date.today(),
    )
    if errors:
        raise tk.ValidationError(errors)
    return scope


def _filters(data: DataDict, scope: Scope) -> dict[str, Any]:
    territory = scope.territory
    return {
        "service_type": scope.service_types,
        "domain": data.get("domain"),
        "organization": data.get("organization"),
        "territory": {k: territory[k] for k in ("level", "code", "name", "label",
                                                 "population")} if territory else None,
        "date": scope.date.isoformat(),
    }


def _threshold_m(data: DataDict) -> float:
    km = data.get("threshold_km")
    if km in (None, ""):
        km = tk.config.get("ckanext.servicespublics.analytics.threshold_km")
    return float(km) * 1000.0


@tk.side_effect_free
def servicespublics_density(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Services in operation per 10,000 inhabitants (COG legal populations),
    per territory of a level, with their ranking and classes for a map legend.

    Takes the common filters (see the module), and:

    :param level: ``departement`` (default), ``region``, ``epci`` or ``commune``;
        within ``territory``, the territories of this level inside it (or the
        one containing it, for a level as coarse as the territory's)
    :type level: string

    :returns: ``level``, ``date``, ``count`` and ``population`` of the listed
        territories and their ``per_10000``; ``unassigned`` (points in no
        listed territory); ``breaks`` (upper limits of 5 classes of equal
        counts); ``territories``: ``code``, ``name``, ``population``,
        ``count``, ``per_10000`` and ``rank`` (1: the best served), best
        first; and ``filters``, the filters applied
    :rtype: dictionary
    """
    tk.check_access("servicespublics_density", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_density_schema(), context)
    scope = _scope(context, data)
    result = stats.density(scope, data["level"])
    result["filters"] = _filters(data, scope)
    return result


@tk.side_effect_free
def servicespublics_evolution(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Openings and closures of services between two dates, per territory and
    as a time series.

    A service opens on its opening date, or else on the date of the first
    version of its dataset that has it (the points of the first version
    recorded were already there); it closes on its closing date, or else on
    the date of the first version that no longer has it (or that marks it
    closed).  Events after today are counted as planned.

    Takes the common filters (``date`` is not used), and:

    :param date_from: the first date (the events after it are counted)
    :type date_from: string (YYYY-MM-DD)
    :param date_to: the second date (default today)
    :type date_to: string (YYYY-MM-DD)
    :param level: ``departement`` (default), ``region``, ``epci`` or ``commune``
    :type level: string
    :param interval: ``month`` or ``year`` for the series (default: month up
        to three years, else year)
    :type interval: string

    :returns: ``totals`` and, per territory (``territories``), ``count_from``
        and ``count_to`` (services in operation on each date), ``net``,
        ``openings``, ``closures``, ``planned_openings``,
        ``planned_closures``, ``openings_from_versions`` and
        ``closures_from_versions`` (dated by the versions, not by the points);
        ``totals.undated_closed`` (closed points without any date, never
        counted); ``series``: per period, ``openings``, ``closures`` and the
        ``count`` in operation at its end
    :rtype: dictionary
    """
    tk.check_access("servicespublics_evolution", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_evolution_schema(), context)
    date_to = data.get("date_to") or datetime.date.today()
    if data["date_from"] >= date_to:
        raise tk.ValidationError({"date_from": [tk._("Must be before date_to ({date})").format(
            date=date_to.isoformat())]})
    scope = _scope(context, data)
    result = stats.evolution(scope, data["date_from"], date_to, data["level"],
                             data.get("interval"))
    result["filters"] = _filters(data, scope)
    result["filters"].pop("date")
    return result


@tk.side_effect_free
def servicespublics_nearest(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The nearest services in operation, with straight-line (great-circle)
    distances in metres.

    From a place (``commune``, or ``longitude`` and ``latitude``): the
    ``limit`` nearest services.  Without a place: for each commune (of
    ``territory``, or of France), the distance to its nearest service, and a
    summary weighted by population.  A commune is placed at its chef-lieu.

    Takes the common filters, and:

    :param commune: INSEE code of the commune to measure from (a former
        code gives the current commune)
    :type commune: string
    :param longitude: WGS84 longitude of the place to measure from
    :type longitude: float
    :param latitude: WGS84 latitude of the place to measure from
    :type latitude: float
    :param limit: how many services from a place (default 5, at most 100)
    :type limit: int
    :param threshold_km: for the summary per commune, the distance beyond
        which a commune counts as far (default: the site's setting, 10)
    :type threshold_km: float
    :param include_communes: list every commune (default true; false: the
        summary only)
    :type include_communes: bool

    :returns: from a place: ``from`` (``longitude``, ``latitude``, the
        ``commune``) and ``services`` (``id``, ``name``, ``service_type``,
        ``status``, ``longitude``, ``latitude``, ``distance``...); per commune:
        ``summary`` (``services``, ``communes``, ``population``,
        ``mean_distance`` weighted by population, ``median_distance``,
        ``max_distance``, ``communes_beyond``, ``population_beyond``) and
        ``communes`` (``code``, ``name``, ``population``, ``distance``,
        ``nearest``)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_nearest", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_nearest_schema(), context)
    errors: dict[str, list[str]] = {}
    if not 1 <= data["limit"] <= MAX_NEAREST_LIMIT:
        errors["limit"] = [tk._("Must be between 1 and {n}").format(n=MAX_NEAREST_LIMIT)]
    has_lon, has_lat = data.get("longitude") is not None, data.get("latitude") is not None
    if has_lon != has_lat:
        errors["longitude" if not has_lon else "latitude"] = [
            tk._("Give both longitude and latitude")]
    if data.get("commune") and has_lon:
        errors["commune"] = [tk._("Give a commune or a longitude and latitude, not both")]
    commune = None
    if data.get("commune"):
        commune = territories.resolve_commune(data["commune"])
        if commune is None:
            errors["commune"] = [tk._("Commune not found: {code}").format(
                code=data["commune"])]
    scope = _scope(context, data, errors)
    filters = _filters(data, scope)
    if commune is not None:
        position = stats.commune_position(commune["code"])
        if position is None:
            raise tk.ValidationError({"commune": [tk._(
                "No reference point for the commune {code}").format(code=commune["code"])]})
        lon, lat = position
    elif has_lon:
        lon, lat = data["longitude"], data["latitude"]
    else:
        result = stats.nearest_by_commune(scope, _threshold_m(data),
                                          with_communes=data["include_communes"])
        result["filters"] = filters
        return result
    return {
        "from": {"longitude": lon, "latitude": lat,
                 "commune": {k: commune[k] for k in ("code", "name", "label", "population")}
                 if commune else None},
        "services": stats.nearest_services(scope, lon, lat, data["limit"]),
        "filters": filters,
    }


@tk.side_effect_free
def servicespublics_closure_impact(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Simulate closing services (and opening others): each commune's nearest
    service before and after, and the population whose nearest service
    becomes farther than a threshold.  Nothing is changed.

    Takes the common filters (without ``service_type`` or ``domain``, the
    types of the services closed or opened), and:

    :param close: ids of services in operation to close (the ``id`` of the
        other actions)
    :type close: list of ints (or comma-separated text)
    :param open: ids of points not in operation to open (planned openings)
    :type open: list of ints (or comma-separated text)
    :param add: hypothetical new services: objects with ``longitude``,
        ``latitude`` and an optional ``name``
    :type add: list of dictionaries (or JSON text)
    :param threshold_km: the distance beyond which a commune counts as far
        (default: the site's setting, 10)
    :type threshold_km: float

    :returns: ``closed`` and ``opened`` services, ``before`` and ``after``
        summaries (``population_beyond``, ``communes_beyond``,
        ``mean_distance``... over the communes of ``territory`` or of France),
        ``newly_beyond`` and ``no_longer_beyond`` (``communes``,
        ``population``), and ``communes`` whose nearest service changes, with
        ``distance_before``, ``distance_after``, ``nearest_before``,
        ``nearest_after``, ``beyond_before`` and ``beyond_after``
    :rtype: dictionary
    """
    tk.check_access("servicespublics_closure_impact", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_closure_impact_schema(), context)
    close_ids = data.get("close") or []
    open_ids = data.get("open") or []
    added = data.get("add") or []
    errors: dict[str, list[str]] = {}
    if not close_ids and not open_ids and not added:
        errors["close"] = [tk._("Give services to close, or to open")]
    both = set(close_ids) & set(open_ids)
    if both:
        errors["open"] = [tk._("Cannot both close and open: {ids}").format(
            ids=", ".join(map(str, sorted(both))))]
    scope = _scope(context, data, errors)
    if scope.service_types is None:
        types = list(model.Session.execute(sa.text(
            "SELECT DISTINCT service_type FROM servicespublics_analytics_point "
            "WHERE id = ANY(:ids) AND package_id = ANY(:packages) "
            "AND service_type IS NOT NULL"),
            {"ids": close_ids + open_ids, "packages": scope.packages}).scalars())
        scope.service_types = sorted(types) if types else None
    wrong_close = stats.check_points(scope, close_ids, in_service=True)
    wrong_open = stats.check_points(scope, open_ids, in_service=False)
    if wrong_close:
        errors["close"] = [tk._(
            "Not services in operation on {date} matching the filters: {ids}").format(
            date=scope.date.isoformat(), ids=", ".join(map(str, wrong_close)))]
    if wrong_open:
        errors["open"] = [tk._(
            "Not points to open on {date} matching the filters: {ids}").format(
            date=scope.date.isoformat(), ids=", ".join(map(str, wrong_open)))]
    if errors:
        raise tk.ValidationError(errors)
    result = stats.closure_impact(scope, close_ids, open_ids, added, _threshold_m(data))
    result["filters"] = _filters(data, scope)
    return result


@tk.side_effect_free
def servicespublics_points_export(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The points of the map, with their details, as a GeoJSON
    FeatureCollection, a page at a time (the ``/carte/export.csv`` and
    ``/carte/export.geojson`` downloads stream them all).

    Takes the common filters, and:

    :param state: the states on ``date`` to include, among ``open``,
        ``planned_closure``, ``planned_opening`` and ``closed`` (default: all
        but ``closed``)
    :type state: list of strings (or comma-separated text)
    :param limit: at most this many points (default 1000, at most 10000)
    :type limit: int
    :param offset: skip this many points (ordered by id)
    :type offset: int

    :returns: a FeatureCollection with ``count`` (every matching point),
        ``filters`` and Point features whose properties are ``id``, ``name``,
        ``service_type``, ``state`` (on ``date``), ``status``, ``address``,
        ``postcode``, ``commune_code``, ``departement_code``, ``region_code``,
        ``opening_date``, ``closing_date``, ``opening_hours``, ``phone``,
        ``email``, ``website``, ``source_id``, ``dataset``, ``organization``,
        ``resource_id``
    :rtype: dictionary
    """
    tk.check_access("servicespublics_points_export", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_points_export_schema(), context)
    errors: dict[str, list[str]] = {}
    states = export_states(data, errors)
    if not 1 <= data["limit"] <= MAX_EXPORT_LIMIT:
        errors["limit"] = [tk._("Must be between 1 and {n}").format(n=MAX_EXPORT_LIMIT)]
    if data["offset"] < 0:
        errors["offset"] = [tk._("Must be a positive integer")]
    scope = _scope(context, data, errors)
    features = [feature(row) for row in stats.export_rows(
        scope, states, limit=data["limit"], offset=data["offset"])]
    filters = _filters(data, scope)
    filters["state"] = list(states)
    return {"type": "FeatureCollection", "count": stats.count_points(scope, states),
            "filters": filters, "features": features}


def export_states(data: DataDict, errors: dict[str, list[str]]) -> tuple[str, ...]:
    states = tuple(data.get("state") or DEFAULT_STATES)
    unknown = [s for s in states if s not in schema.STATES]
    if unknown:
        errors["state"] = [tk._("Unknown state: {codes}").format(codes=", ".join(unknown))]
    return states


def feature(row: dict[str, Any]) -> dict[str, Any]:
    properties = {k: v for k, v in row.items() if k not in ("longitude", "latitude")}
    return {"type": "Feature", "id": row["id"],
            "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]},
            "properties": properties}
