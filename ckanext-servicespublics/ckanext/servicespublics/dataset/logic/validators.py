"""Validators of the dataset schemas (``schemas/*.yaml``).

Scheming names them in the schemas' ``validators`` strings. Messages are
English msgids translated by the extension's catalogue (French on the French
site), and name the faulty values.
"""
from __future__ import annotations

import codecs
import datetime as dt
import json
import re
from typing import Any, Optional

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, FlattenDataDict, FlattenErrorDict, FlattenKey

from ckanext.servicespublics import territories

from .. import tableschema, vocabulary

__all__ = [
    "servicespublics_vocabulary_choice",
    "servicespublics_service_types",
    "servicespublics_territory_codes",
    "servicespublics_iso_date",
    "servicespublics_temporal_end",
    "servicespublics_frequency",
    "servicespublics_url",
    "servicespublics_license",
    "servicespublics_geojson",
    "servicespublics_spatial_from_territories",
    "servicespublics_encoding",
    "servicespublics_delimiter",
    "servicespublics_crs",
    "servicespublics_column_mapping",
    "servicespublics_keep_computed",
    "servicespublics_json_list_output",
]

missing = tk.missing
Invalid = tk.Invalid
StopOnError = tk.StopOnError

_SPLIT = re.compile(r"[\s,;]+")


def N_(message: str) -> str:
    """Mark a message for the catalogue; it is translated where it is used."""
    return message


def _scheming(fn):
    """Mark a validator factory that ckanext-scheming calls with (field, schema)."""
    fn.is_a_scheming_validator = True
    return fn


def _as_list(value: Any) -> list[str]:
    """A list from a list, a JSON list or a comma/space-separated string."""
    if value is missing or value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                value = _SPLIT.split(text.strip("[]"))
        else:
            value = _SPLIT.split(text)
    if not isinstance(value, (list, tuple)):
        raise Invalid(tk._("Expected a list of codes"))
    result = []
    for item in value:
        if not isinstance(item, (str, int)):
            raise Invalid(tk._("Expected a list of codes"))
        item = str(item).strip()
        if item and item not in result:
            result.append(item)
    return result


def _raw(data: FlattenDataDict, name: str) -> Any:
    value = data.get((name,), missing)
    return value.strip() if isinstance(value, str) else value


def _has_errors(errors: FlattenErrorDict, *names: str) -> bool:
    return any(errors.get((name,)) for name in names)


# ------------------------------------------------------------------ vocabularies

def servicespublics_vocabulary_choice(name: str):
    """One code of a vocabulary (``domains``, ``access_levels``, ...)."""
    def validator(value: Any, context: Context) -> Any:
        if value is missing or value is None or value == "":
            return value
        value = value.strip() if isinstance(value, str) else value
        if value not in vocabulary.codes(name):
            raise Invalid(tk._("Unknown value: {value} (expected one of: {choices})").format(
                value=value, choices=", ".join(vocabulary.codes(name))))
        return value
    return validator


@_scheming
def servicespublics_service_types(field: dict[str, Any], schema: dict[str, Any]):
    """One or more service type codes, stored as a JSON list."""
    def validator(key: FlattenKey, data: FlattenDataDict, errors: FlattenErrorDict,
                  context: Context) -> Any:
        try:
            values = _as_list(data.get(key))
        except Invalid as e:
            errors[key].append(e.error)
            raise StopOnError
        if not values:
            if field.get("required"):
                errors[key].append(tk._("Select at least one service type"))
            data.pop(key, None)
            raise StopOnError
        known = vocabulary.codes("service_types")
        unknown = [v for v in values if v not in known]
        if unknown:
            errors[key].append(tk._(
                "Unknown service type(s): {codes}. See the list of service types "
                "(API: servicespublics_vocabulary_show)").format(codes=", ".join(unknown)))
            raise StopOnError
        data[key] = json.dumps(values)
    return validator


# ------------------------------------------------------------------ territories

_FORMAT_MESSAGES = {
    "commune": N_("Invalid commune code(s): {codes} (expected 5 characters, such as 35238 "
                  "or 2A004)"),
    "epci": N_("Invalid EPCI code(s): {codes} (expected the 9-digit SIREN number, such as "
               "243500139)"),
    "departement": N_("Invalid département code(s): {codes} (expected 2 or 3 characters, "
                      "such as 35, 2A or 974)"),
    "region": N_("Invalid région code(s): {codes} (expected 2 or 3 digits, such as 53)"),
}
_UNKNOWN_MESSAGES = {
    "commune": N_("Unknown commune code(s) in the Code officiel géographique: {codes}"),
    "epci": N_("Unknown EPCI code(s) (SIREN): {codes}"),
    "departement": N_("Unknown département code(s): {codes}"),
    "region": N_("Unknown région code(s): {codes}"),
}


def _territory_codes(level: str, codes: list[str]) -> tuple[list[str], Optional[str]]:
    """Codes checked against the COG and normalised (former commune codes
    replaced by the current ones), or an error message."""
    codes = [territories.normalize_code(c) for c in codes]
    bad = [c for c in codes if not territories.CODE_PATTERNS[level].match(c)]
    if bad:
        return codes, tk._(_FORMAT_MESSAGES[level]).format(codes=", ".join(bad))
    if not territories.is_loaded():
        return codes, tk._(
            "The territorial reference is not loaded, territory codes cannot be "
            "checked (run: ckan servicespublics territories load)")
    known = set(territories.get_many(codes, level))
    if level == "commune":
        known |= set(territories.get_many(codes, "arrondissement_municipal"))
        formers = territories.former_codes([c for c in codes if c not in known])
        codes = [formers.get(c, c) for c in codes]
        known |= set(formers.values())
    unknown = [c for c in codes if c not in known]
    if unknown:
        return codes, tk._(_UNKNOWN_MESSAGES[level]).format(codes=", ".join(unknown))
    result: list[str] = []
    for code in codes:
        if code not in result:
            result.append(code)
    return result, None


def servicespublics_territory_codes(key: FlattenKey, data: FlattenDataDict,
                                    errors: FlattenErrorDict, context: Context) -> Any:
    """Territory codes of the level given in ``territory_level``, checked
    against the COG; former commune codes become the current ones. Stored as
    a JSON list."""
    try:
        codes = _as_list(data.get(key))
    except Invalid as e:
        errors[key].append(e.error)
        raise StopOnError
    level = _raw(data, "territory_level")
    if not codes:
        if level not in (missing, None, "", "national") \
                and level in territories.COVERAGE_LEVELS:
            errors[key].append(tk._("Give the code of at least one territory of this level"))
        data.pop(key, None)
        raise StopOnError
    if level in (missing, None, ""):
        errors[key].append(tk._("Choose the level of the territorial coverage first"))
        raise StopOnError
    if level == "national":
        errors[key].append(tk._("A national coverage takes no territory code"))
        raise StopOnError
    if level not in territories.COVERAGE_LEVELS:
        # territory_level reports its own error
        raise StopOnError
    codes, error = _territory_codes(level, codes)
    if error:
        errors[key].append(error)
        raise StopOnError
    data[key] = json.dumps(codes)


# ------------------------------------------------------------------ dates, urls

def _parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    match = re.match(r"^(\d{4}-\d{2}-\d{2})([T ][0-9:.+\-Z]*)?$", text)
    if match:
        try:
            return dt.date.fromisoformat(match.group(1))
        except ValueError:
            pass
    raise Invalid(tk._("Invalid date: {value} (expected YYYY-MM-DD, such as 2024-08-01)")
                  .format(value=text))


def servicespublics_iso_date(value: Any, context: Context) -> Any:
    """A date, stored as YYYY-MM-DD."""
    if value is missing or value is None or value == "":
        return value
    return _parse_date(value).isoformat()


def servicespublics_temporal_end(key: FlattenKey, data: FlattenDataDict,
                                 errors: FlattenErrorDict, context: Context) -> Any:
    """The end of the temporal coverage, not before its start."""
    value = data.get(key)
    if value is missing or value is None or value == "":
        return
    try:
        end = _parse_date(value)
    except Invalid as e:
        errors[key].append(e.error)
        raise StopOnError
    data[key] = end.isoformat()
    start = _raw(data, "temporal_start")
    if start in (missing, None, ""):
        return
    try:
        start_date = _parse_date(start)
    except Invalid:
        return  # temporal_start reports it
    if end < start_date:
        errors[key].append(tk._("The end of the temporal coverage ({end}) is before its "
                                "start ({start})").format(end=end.isoformat(),
                                                           start=start_date.isoformat()))
        raise StopOnError


def servicespublics_frequency(value: Any, context: Context) -> Any:
    """An update frequency; data.gouv.fr's other codes are mapped to ours."""
    if value is missing or value is None or value == "":
        return value
    code = vocabulary.frequency_from_datagouv(str(value).strip())
    if code is None:
        raise Invalid(tk._("Unknown update frequency: {value} (expected one of: {choices})")
                      .format(value=value, choices=", ".join(vocabulary.codes("frequencies"))))
    return code


def servicespublics_url(value: Any, context: Context) -> Any:
    """An absolute http(s) URL."""
    if value is missing or value is None or value == "":
        return value
    value = str(value).strip()
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        raise Invalid(tk._("Invalid URL: {value} (expected an address starting with "
                           "http:// or https://)").format(value=value))
    return value


def servicespublics_license(value: Any, context: Context) -> Any:
    """A licence of the catalogue's licence list."""
    if value is missing or value is None or value == "":
        return value
    register = model.Package.get_license_register()
    if value not in register:
        raise Invalid(tk._("Unknown licence: {value} (expected one of: {choices})").format(
            value=value, choices=", ".join(register.keys())))
    return value


# ------------------------------------------------------------------ spatial extent

def servicespublics_geojson(value: Any, context: Context) -> Any:
    """A GeoJSON geometry (the ckanext-spatial convention), stored as a string."""
    if value is missing or value is None or value == "":
        return value
    if isinstance(value, dict):
        geometry = value
    else:
        try:
            geometry = json.loads(value)
        except (TypeError, ValueError):
            raise Invalid(tk._("Invalid GeoJSON: the extent is not valid JSON"))
    if not isinstance(geometry, dict) or geometry.get("type") not in (
            "Polygon", "MultiPolygon", "Point", "MultiPoint", "LineString",
            "MultiLineString"):
        raise Invalid(tk._("Invalid GeoJSON: expected a geometry (Polygon, MultiPolygon, "
                           "Point…) in longitude/latitude"))
    try:
        from shapely.geometry import shape
        geom = shape(geometry)
    except Exception:  # shapely raises several types for bad coordinates
        raise Invalid(tk._("Invalid GeoJSON: the coordinates of the geometry are invalid"))
    minx, miny, maxx, maxy = geom.bounds
    if geom.is_empty or minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise Invalid(tk._("Invalid GeoJSON: coordinates must be longitudes and latitudes "
                           "in degrees (WGS 84)"))
    return json.dumps(geometry)


def _extra_index(data: FlattenDataDict, name: str) -> Optional[int]:
    for k in data:
        if len(k) == 3 and k[0] == "extras" and k[2] == "key" and data[k] == name:
            return k[1]
    return None


def _get_extra(data: FlattenDataDict, name: str) -> Any:
    """A value stored as an extra: a schema field that scheming moved there,
    or a free extra (``spatial`` of the default type, ckanext-spatial style)."""
    index = _extra_index(data, name)
    value = data.get(("extras", index, "value")) if index is not None else _raw(data, name)
    return None if value in (missing, None, "") else value


def _set_extra(data: FlattenDataDict, name: str, value: Optional[str]) -> None:
    """Set (or remove, with None) a value stored as an extra."""
    index = _extra_index(data, name)
    if (name,) in data:
        data[(name,)] = value if value is not None else missing
    if value is None:
        if index is not None:
            data.pop(("extras", index, "key"), None)
            data.pop(("extras", index, "value"), None)
            data.pop(("extras", index, "deleted"), None)
        data.pop((name,), None)
        return
    if index is None:
        indexes = [k[1] for k in data if len(k) == 3 and k[0] == "extras"]
        index = max(indexes) + 1 if indexes else 0
        data[("extras", index, "key")] = name
    data[("extras", index, "value")] = value


def servicespublics_spatial_from_territories(key: FlattenKey, data: FlattenDataDict,
                                             errors: FlattenErrorDict,
                                             context: Context) -> Any:
    """Fill an empty spatial extent with the bounding box of the territories'
    boundaries, when they are loaded (``spatial_origin`` = ``territories``).

    An extent computed this way follows the territories: it is computed
    again on every update that leaves it unchanged. An extent given by the
    producer (``manual``) or by the point ingestion (``points``) is kept.
    ``spatial`` is a schema field of the service-point datasets and a free
    extra of the default type (ckanext-spatial's convention): both work.
    """
    if _has_errors(errors, "spatial", "spatial_origin", "territory_level", "territory_codes",
                   "extras"):
        return
    spatial = _get_extra(data, "spatial")
    origin = _get_extra(data, "spatial_origin")
    package = context.get("package")
    stored: dict[str, Any] = {}
    if package is not None and getattr(package, "extras", None):
        stored = {k: package.extras.get(k) for k in ("spatial", "spatial_origin")}
    origin = origin or stored.get("spatial_origin")
    automatic = spatial is None or (
        origin == "territories" and spatial == stored.get("spatial"))
    if not automatic:
        if "spatial_origin" in context.get("schema_keys", []):
            _set_extra(data, "spatial_origin",
                       "manual" if origin in (None, "territories") else origin)
        elif origin == "territories":
            # a free extra (default type): only the computed extent is marked
            _set_extra(data, "spatial_origin", None)
        return
    level = _raw(data, "territory_level")
    codes_json = _raw(data, "territory_codes")
    extent = None
    if level in territories.LEVELS and isinstance(codes_json, str):
        try:
            extent = territories.extent(level, json.loads(codes_json))
        except ValueError:
            extent = None
    if extent:
        _set_extra(data, "spatial", extent)
        _set_extra(data, "spatial_origin", "territories")
    else:
        _set_extra(data, "spatial", None)
        _set_extra(data, "spatial_origin", None)


# ------------------------------------------------------------------ resources

def servicespublics_encoding(value: Any, context: Context) -> Any:
    """A character encoding known to Python, stored under its usual name."""
    if value is missing or value is None or value == "":
        return value
    text = str(value).strip()
    try:
        name = codecs.lookup(text).name
    except LookupError:
        raise Invalid(tk._("Unknown character encoding: {value} (such as utf-8, "
                           "iso-8859-1 or windows-1252)").format(value=text))
    return {"cp1252": "windows-1252", "iso8859-1": "iso-8859-1",
            "iso8859-15": "iso-8859-15"}.get(name, name)


def servicespublics_delimiter(value: Any, context: Context) -> Any:
    """A column delimiter: , ; tab or | (or their names)."""
    if value is missing or value is None or value == "":
        return value
    char = vocabulary.delimiter(value)
    if char is None:
        raise Invalid(tk._("Unknown delimiter: {value} (expected a comma, a semicolon, "
                           "a tab or a vertical bar)").format(value=value))
    return char


_CRS_ALIASES = {
    "EPSG:4326": "EPSG:4326", "4326": "EPSG:4326", "WGS84": "EPSG:4326",
    "WGS 84": "EPSG:4326", "CRS84": "EPSG:4326", "URN:OGC:DEF:CRS:EPSG::4326": "EPSG:4326",
    "EPSG:2154": "EPSG:2154", "2154": "EPSG:2154", "LAMBERT93": "EPSG:2154",
    "LAMBERT-93": "EPSG:2154", "LAMBERT 93": "EPSG:2154", "RGF93": "EPSG:2154",
    "URN:OGC:DEF:CRS:EPSG::2154": "EPSG:2154",
}


def servicespublics_crs(value: Any, context: Context) -> Any:
    """The coordinate system of a point file: EPSG:4326 or EPSG:2154."""
    if value is missing or value is None or value == "":
        return value
    code = _CRS_ALIASES.get(str(value).strip().upper())
    if code is None or code not in vocabulary.codes("crs"):
        raise Invalid(tk._("Unsupported coordinate system: {value} (expected EPSG:4326, "
                           "WGS 84 longitude/latitude, or EPSG:2154, Lambert-93)")
                      .format(value=value))
    return code


#: column_mapping keys besides the standard columns (see points/mapping.py)
MAPPING_SPECIAL_KEYS = ("crs", "coordinates", "extra", "sheet")


def _mapping_key_ok(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    columns = tableschema.STANDARD_COLUMNS + ("crs", "coordinates")
    return key in tableschema.STANDARD_COLUMNS or key in MAPPING_SPECIAL_KEYS or (
        key.endswith("_values") and key[:-len("_values")] in columns)


def servicespublics_column_mapping(value: Any, context: Context) -> Any:
    """A JSON object whose keys are standard columns and whose values say
    where each comes from: a column of the file (the usual case), or the
    richer forms the point ingestion reads (``points/mapping.py``: constants,
    lists of columns, objects, ``<column>_values``)."""
    if value is missing or value is None or value == "":
        return value
    if isinstance(value, str):
        try:
            mapping = json.loads(value)
        except ValueError:
            raise Invalid(tk._("Invalid column mapping: not valid JSON"))
    else:
        mapping = value
    if not isinstance(mapping, dict):
        raise Invalid(tk._('Invalid column mapping: expected a JSON object such as '
                           '{"name": "Nom", "insee_code": "COG"}'))
    unknown = [str(k) for k in mapping if not _mapping_key_ok(k)]
    if unknown:
        raise Invalid(tk._("Invalid column mapping: {keys} not standard column(s) "
                           "(expected: {columns})").format(
            keys=", ".join(unknown), columns=", ".join(tableschema.STANDARD_COLUMNS)))
    bad = [k for k, v in mapping.items() if isinstance(v, str) and not v.strip()]
    if bad:
        raise Invalid(tk._("Invalid column mapping: the column of the file is missing for "
                           "{keys}").format(keys=", ".join(bad)))
    try:
        from ckanext.servicespublics.points.mapping import MappingError, parse_mapping
    except ImportError:  # the point ingestion is not installed: keys only
        pass
    else:
        try:
            parse_mapping(mapping)
        except MappingError as e:
            raise Invalid(tk._("Invalid column mapping: {error}").format(error=str(e)))
    return json.dumps({k: v.strip() if isinstance(v, str) else v
                       for k, v in mapping.items()}, ensure_ascii=False)


def servicespublics_keep_computed(key: FlattenKey, data: FlattenDataDict,
                                  errors: FlattenErrorDict, context: Context) -> Any:
    """Keep a computed resource field (validation_status, point_count) that an
    update does not send, such as an edit through the resource form; an empty
    value clears it."""
    value = data.get(key, missing)
    if value is None or value == "":
        data.pop(key, None)
        raise StopOnError
    if value is not missing:
        return
    resource_id = data.get(key[:-1] + ("id",))
    if not resource_id or resource_id is missing:
        return
    resource = model.Resource.get(resource_id)
    if resource is not None and resource.extras and key[-1] in resource.extras:
        data[key] = resource.extras[key[-1]]


def servicespublics_json_list_output(value: Any) -> Any:
    """A stored JSON list, shown as a list."""
    if isinstance(value, list):
        return value
    try:
        loaded = json.loads(value)
    except (TypeError, ValueError):
        return [value] if value else []
    return loaded if isinstance(loaded, list) else [loaded]
