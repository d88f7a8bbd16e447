"""Column mapping of a point file: which source column feeds which standard column.

The resource field ``column_mapping`` is a JSON object whose keys are the
standard columns (``id``, ``name``, ``service_type``, ``address``,
``postcode``, ``insee_code``, ``latitude``, ``longitude``, ``x``, ``y``,
``opening_date``, ``closing_date``, ``status``, ``opening_hours``, ``phone``,
``email``, ``website``) and whose values say where each one comes from::

    "lib_fs"                      a source column (a dotted path such as
                                  "geo.latitude" reaches into JSON objects)
    "=france-services"            a constant
    ["adresse", "complement"]     several columns, joined with ", "
    {"column": "labellisation_fs", "pattern": "(\\d{2}/\\d{2}/\\d{4})"}
    {"columns": {"lundi": "h_lundi", "mardi": "h_mardi"}, "separator": "; "}
                                  labelled columns: "lundi : 9h-12h; mardi : ..."
    {"column": "type", "values": {"pole_emploi": "france-travail", "*": null}}
    null                          never fill this column (no auto-detection)

Object specs accept ``column``, ``columns`` (a list, or an object label ->
column), ``value`` (a constant), ``values`` (value mapping: a source value
-> a standard value; ``"*"`` is the default; ``null`` skips the row),
``pattern`` (a regular expression: its first group, or the match, is kept),
``format`` (a ``strptime`` format for dates), ``separator`` and ``default``.

Value mappings can also be given beside the column, as ``<column>_values``
(``{"service_type": "type", "service_type_values": {...}}``).  Three more
keys are accepted: ``crs`` (a column holding each row's coordinate system,
such as the ``epsg`` column of the education exports), ``coordinates`` (one
column holding "latitude, longitude", as the ``geo_point_2d`` of
Opendatasoft exports), ``extra`` (``true``: keep the unmapped columns in the
point's ``extra`` — the default —, ``false``, or a list of columns) and
``sheet`` (the XLSX sheet to read).

Standard columns that the mapping does not name are detected from the
source's column names (``lat``, ``code_insee``, ``lib_fs``, ``Nom_etablissement``…).
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Optional, Union

__all__ = [
    "STANDARD_COLUMNS", "standard_columns", "detect", "MappingError", "ColumnSpec",
    "Mapping", "parse_mapping", "normalize_name", "unaccent",
]

#: the standard columns of a service point (the shared Table Schema)
_OWN_STANDARD_COLUMNS = (
    "id", "name", "service_type", "address", "postcode", "insee_code",
    "latitude", "longitude", "x", "y", "opening_date", "closing_date", "status",
    "opening_hours", "phone", "email", "website",
)


STANDARD_COLUMNS = _OWN_STANDARD_COLUMNS


def standard_columns() -> tuple[str, ...]:
    """Ours, then the other columns of the dataset plugin's Table Schema.

    A Table Schema column that has no place in the points table is still
    mappable: its values go to the point's ``extra``.
    """
    try:
        from ckanext.servicespublics.dataset.tableschema import (
            STANDARD_COLUMNS as schema_columns,
        )
    except ImportError:
        return STANDARD_COLUMNS
    names = list(STANDARD_COLUMNS)
    for column in schema_columns:
        name = column.get("name") if isinstance(column, dict) else column
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return tuple(names)
#: keys of column_mapping that are not standard columns
SPECIAL_KEYS = ("crs", "coordinates")
OPTION_KEYS = ("extra", "sheet")
SPEC_KEYS = ("column", "columns", "value", "values", "pattern", "format", "separator",
             "default")

#: names under which the standard columns usually appear (normalized: lower
#: case, no accent, words joined by "_"), best first
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "identifiant", "id_fs", "identifiant_de_l_etablissement", "uai",
           "code_uai", "numero_uai", "code_etablissement", "code_rne", "identifier",
           "ref", "reference"),
    "name": ("name", "nom", "lib_fs", "nom_etablissement", "appellation_officielle",
             "libelle", "denomination", "nom_structure", "nom_du_site", "intitule",
             "titre", "title", "raison_sociale", "nom_site"),
    "service_type": ("service_type", "type_service", "type_de_service", "typologie",
                     "type_etablissement", "categorie", "type"),
    "address": ("address", "adresse", "adresse_1", "adresse_postale", "adresse_complete",
                "voie", "street_address", "streetaddress", "adresse_ligne_1"),
    "postcode": ("postcode", "code_postal", "codepostal", "cp", "postal_code",
                 "postalcode", "code_post"),
    "insee_code": ("insee_code", "code_insee", "codeinsee", "insee_com", "insee",
                   "code_commune", "code_commune_insee", "codecommune", "depcom",
                   "citycode", "com", "insee_comm", "code_insee_commune", "cog"),
    "latitude": ("latitude", "lat", "y_wgs84", "lat_wgs84", "wgs84_lat", "y_lat",
                 "latitude_wgs84", "coord_lat", "geo_lat", "ylat"),
    "longitude": ("longitude", "lon", "lng", "long", "x_wgs84", "lon_wgs84",
                  "wgs84_lon", "x_long", "longitude_wgs84", "coord_lon", "geo_lon",
                  "xlong"),
    "x": ("x", "coordonnee_x", "coord_x", "x_l93", "xl93", "x_lambert93",
          "x_lambert_93", "lambert_x", "x_2154"),
    "y": ("y", "coordonnee_y", "coord_y", "y_l93", "yl93", "y_lambert93",
          "y_lambert_93", "lambert_y", "y_2154"),
    "opening_date": ("opening_date", "date_ouverture", "date_d_ouverture",
                     "date_creation", "date_de_creation", "date_mise_en_service",
                     "labellisation_fs", "date_labellisation"),
    "closing_date": ("closing_date", "date_fermeture", "date_de_fermeture",
                     "date_cloture"),
    "status": ("status", "etat", "etat_etablissement", "statut_ouverture", "state"),
    "opening_hours": ("opening_hours", "horaires", "horaires_ouverture",
                      "horaires_d_ouverture", "heures_ouverture"),
    "phone": ("phone", "telephone", "tel", "contact_phone", "numero_telephone",
              "num_telephone", "telephone_accueil"),
    "email": ("email", "mail", "courriel", "e_mail", "contact_email", "adresse_mail",
              "adresse_electronique"),
    "website": ("website", "site_web", "site_internet", "web", "url"),
    "crs": ("epsg", "crs", "srid", "systeme_coordonnees"),
    "coordinates": ("geo_point_2d", "geopoint", "geo_point", "coordonnees",
                    "coordinates", "position", "lat_lon", "latlon"),
}


class MappingError(ValueError):
    """column_mapping cannot be used; the message is French and precise."""


def unaccent(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))


_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalize_name(name: str) -> str:
    """"Code établissement" -> "code_etablissement"."""
    return _NON_WORD.sub("_", unaccent(name).lower()).strip("_")


@dataclass
class ColumnSpec:
    """Where one standard column comes from."""

    target: str
    #: source columns (paths); one for a simple column
    columns: list[str] = field(default_factory=list)
    labels: Optional[list[str]] = None
    constant: Optional[str] = None
    values: Optional[dict[str, Optional[str]]] = None
    pattern: Optional[re.Pattern[str]] = None
    format: Optional[str] = None
    separator: Optional[str] = None
    default: Optional[str] = None
    detected: bool = False

    def describe(self) -> str:
        if self.constant is not None:
            text = f"= {self.constant}"
        elif self.labels:
            text = " + ".join(f"{label}: {c}" for label, c in zip(self.labels, self.columns))
        else:
            text = " + ".join(self.columns)
        if self.values:
            text += " (valeurs converties)"
        if self.pattern is not None:
            text += f" (motif {self.pattern.pattern})"
        return text


@dataclass
class Mapping:
    specs: dict[str, ColumnSpec]
    #: standard columns explicitly disabled (null in column_mapping)
    disabled: set[str]
    extra: Union[bool, list[str]] = True
    sheet: Optional[str] = None

    def as_dict(self) -> dict[str, str]:
        return {name: spec.describe() for name, spec in self.specs.items()}


def _loads(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as e:
            raise MappingError(
                f"La correspondance de colonnes (column_mapping) n'est pas un JSON valide : {e}"
            ) from e
    if not isinstance(raw, dict):
        raise MappingError(
            "La correspondance de colonnes (column_mapping) doit être un objet JSON "
            "(colonne standard -> colonne source)")
    return raw


def _text_map(name: str, values: Any) -> dict[str, Optional[str]]:
    if not isinstance(values, dict):
        raise MappingError(
            f"« {name} » : la correspondance de valeurs doit être un objet "
            "(valeur source -> valeur standard)")
    out: dict[str, Optional[str]] = {}
    for key, value in values.items():
        if value is not None and not isinstance(value, (str, int, float)):
            raise MappingError(
                f"« {name} » : la valeur associée à « {key} » doit être un texte ou null")
        out[str(key).strip()] = None if value is None else str(value)
    return out


def _columns(name: str, value: Any) -> tuple[list[str], Optional[list[str]]]:
    if isinstance(value, str) and value.strip():
        return [value.strip()], None
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip()
                                                 for v in value):
        return [v.strip() for v in value], None
    if isinstance(value, dict) and value and all(isinstance(v, str) and v.strip()
                                                 for v in value.values()):
        return [v.strip() for v in value.values()], [str(k) for k in value]
    raise MappingError(
        f"« {name} » : « columns » doit être une liste de colonnes ou un objet "
        "libellé -> colonne")


def _spec(name: str, value: Any) -> ColumnSpec:
    spec = ColumnSpec(target=name)
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise MappingError(f"« {name} » : le nom de colonne est vide")
        if value.startswith("="):
            spec.constant = value[1:].strip()
        else:
            spec.columns = [value]
        return spec
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        spec.constant = str(value)
        return spec
    if isinstance(value, list):
        spec.columns, _ = _columns(name, value)
        spec.separator = ", "
        return spec
    if not isinstance(value, dict):
        raise MappingError(
            f"« {name} » : attendu un nom de colonne, une constante (« =valeur »), "
            "une liste de colonnes ou un objet")
    return _object_spec(spec, name, value)


def _object_spec(spec: ColumnSpec, name: str, value: dict[str, Any]) -> ColumnSpec:
    unknown = set(value) - set(SPEC_KEYS)
    if unknown:
        raise MappingError(
            f"« {name} » : clé(s) inconnue(s) {', '.join(sorted(unknown))} "
            f"(clés possibles : {', '.join(SPEC_KEYS)})")
    sources = [k for k in ("column", "columns", "value") if k in value]
    if len(sources) != 1:
        raise MappingError(
            f"« {name} » : indiquez exactement une source parmi « column », « columns » "
            "et « value »")
    if "column" in value:
        if not isinstance(value["column"], str) or not value["column"].strip():
            raise MappingError(f"« {name} » : « column » doit être un nom de colonne")
        spec.columns = [value["column"].strip()]
    elif "columns" in value:
        spec.columns, spec.labels = _columns(name, value["columns"])
    else:
        if value["value"] is None or isinstance(value["value"], (dict, list)):
            raise MappingError(f"« {name} » : « value » doit être un texte")
        spec.constant = str(value["value"])
    if "values" in value:
        spec.values = _text_map(name, value["values"])
    if "pattern" in value:
        try:
            spec.pattern = re.compile(str(value["pattern"]))
        except re.error as e:
            raise MappingError(f"« {name} » : expression régulière invalide : {e}") from e
    if "format" in value:
        if name not in ("opening_date", "closing_date"):
            raise MappingError(f"« {name} » : « format » ne vaut que pour les dates")
        spec.format = str(value["format"])
    for key in ("separator", "default"):
        if key in value:
            if not isinstance(value[key], str):
                raise MappingError(f"« {name} » : « {key} » doit être un texte")
            setattr(spec, key, value[key])
    if spec.columns and len(spec.columns) > 1 and spec.separator is None:
        spec.separator = "; " if spec.labels else ", "
    return spec


def parse_mapping(raw: Any) -> Mapping:
    """Read column_mapping (a JSON text or object); raise MappingError."""
    data = _loads(raw)
    standard = standard_columns()
    allowed = set(standard) | set(SPECIAL_KEYS)
    specs: dict[str, ColumnSpec] = {}
    disabled: set[str] = set()
    value_maps: dict[str, Any] = {}
    mapping = Mapping(specs=specs, disabled=disabled)
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        if key.endswith("_values") and key[:-len("_values")] in allowed:
            value_maps[key[:-len("_values")]] = value
        elif key in allowed:
            if value is None:
                disabled.add(key)
            else:
                specs[key] = _spec(key, value)
        elif key == "extra":
            if isinstance(value, bool):
                mapping.extra = value
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                mapping.extra = list(value)
            else:
                raise MappingError("« extra » doit valoir true, false ou une liste de colonnes")
        elif key == "sheet":
            if not isinstance(value, (str, int)):
                raise MappingError("« sheet » doit être le nom d'une feuille")
            mapping.sheet = str(value)
        else:
            raise MappingError(
                f"Clé inconnue dans column_mapping : « {key} » (colonnes standard : "
                f"{', '.join(standard)} ; autres clés : {', '.join(SPECIAL_KEYS + OPTION_KEYS)}"
                ", <colonne>_values)")
    for name, values in value_maps.items():
        spec = specs.get(name)
        if spec is None:
            # a value mapping for a detected column: remembered on a
            # placeholder that detection fills in
            spec = specs[name] = ColumnSpec(target=name, detected=True)
        extra = _text_map(f"{name}_values", values)
        spec.values = {**(spec.values or {}), **extra}
    return mapping


def detect(mapping: Mapping, source_columns: list[str]) -> list[str]:
    """Fill the unmapped standard columns from the source's column names.

    Returns the names that were detected.  ``source_columns`` are the CSV
    headers or the paths seen in JSON objects.
    """
    by_norm: dict[str, str] = {}
    for column in source_columns:
        by_norm.setdefault(normalize_name(column), column)
    # nested JSON paths answer to their last segment, after the top level
    for column in source_columns:
        if "." in column:
            by_norm.setdefault(normalize_name(column.rsplit(".", 1)[1]), column)
    used = {c for spec in mapping.specs.values() for c in spec.columns}
    detected = []
    for name in (*standard_columns(), *SPECIAL_KEYS):
        spec = mapping.specs.get(name)
        if name in mapping.disabled or (spec is not None and not _placeholder(spec)):
            continue
        for alias in ALIASES.get(name, ()):
            column = by_norm.get(alias)
            if column is not None and column not in used:
                if spec is None:
                    spec = mapping.specs[name] = ColumnSpec(target=name)
                spec.columns = [column]
                spec.detected = True
                used.add(column)
                detected.append(name)
                break
        else:
            if spec is not None and _placeholder(spec):
                # a value mapping for a column that is nowhere
                del mapping.specs[name]
    return detected


def _placeholder(spec: ColumnSpec) -> bool:
    return spec.detected and not spec.columns and spec.constant is None
