"""Actions of the dataset plugin: the territorial reference and the vocabularies."""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict

from ckanext.servicespublics import territories

from .. import vocabulary
from . import schema

__all__ = [
    "servicespublics_territory_search",
    "servicespublics_territory_show",
    "servicespublics_vocabulary_show",
]


def _validate(data_dict: DataDict, schema_: dict[str, Any], context: Context) -> DataDict:
    data, errors = tk.navl_validate(data_dict, schema_, context)
    if errors:
        raise tk.ValidationError(errors)
    return data


@tk.side_effect_free
def servicespublics_territory_search(context: Context, data_dict: DataDict) -> list[dict[str, Any]]:
    """Search the territorial reference (COG 2026) by name or code.

    Names match from their start or from the start of one of their words,
    accents, case and punctuation ignored ("st malo" finds Saint-Malo); a
    code, a former commune code or a postcode finds its territories. Exact
    matches come first, then larger territories and the most populated.

    :param q: part of a name, or a code
    :type q: string
    :param level: only this level: ``region``, ``departement``, ``epci``,
        ``commune`` or ``arrondissement_municipal`` (optional)
    :type level: string
    :param limit: at most this many results (default 10, at most 100)
    :type limit: int

    :returns: territories: ``level``, ``code``, ``name``, ``label``,
        ``departement``, ``region``, ``epci``, ``commune``, ``kind``,
        ``zone``, ``population``, ``postcodes``, ``has_boundary``
    :rtype: list of dictionaries
    """
    tk.check_access("servicespublics_territory_search", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_territory_search_schema(), context)
    return territories.search(data["q"], level=data.get("level"),
                              limit=min(data["limit"], 100))


@tk.side_effect_free
def servicespublics_territory_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """One territory of the reference, by code.

    A code that exists at several levels ("53": the Bretagne région and the
    Mayenne département) is taken as a commune, then an EPCI, a département
    and a région, unless ``level`` says which. The code of a commune that
    merged into another gives the current commune, with ``former_code``.

    :param id: the COG code (SIREN for an EPCI)
    :type id: string
    :param level: the level of the territory (optional)
    :type level: string
    :param include_geometry: add the boundary as a GeoJSON ``geometry``
        (null when none is loaded; default false)
    :type include_geometry: bool
    :param include_children: add ``children``, the territories one level
        down (default false)
    :type include_children: bool

    :returns: the territory (see ``servicespublics_territory_search``)
    :rtype: dictionary
    """
    tk.check_access("servicespublics_territory_show", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_territory_show_schema(), context)
    level = data.get("level")
    found = territories.get(data["id"], level)
    if found is None and level in (None, "commune"):
        found = territories.resolve_commune(data["id"])
    if found is None:
        raise tk.ObjectNotFound(tk._("Territory not found: {code}").format(code=data["id"]))
    if data["include_geometry"]:
        found["geometry"] = territories.geometry(found["code"], found["level"])
    if data["include_children"]:
        found["children"] = territories.children(found["code"], found["level"])
    return found


@tk.side_effect_free
def servicespublics_vocabulary_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The controlled vocabularies of the dataset schemas, with the site's
    additions: ``domains``, ``service_types`` (with their ``domain``),
    ``frequencies`` (with the data.gouv.fr codes each one stands for),
    ``access_levels``, ``territory_levels``, ``resource_roles``, ``crs``,
    ``delimiters``, ``validation_statuses``, ``spatial_origins`` and
    ``point_statuses``.

    :param name: only this vocabulary (optional)
    :type name: string

    :returns: each vocabulary as a list of ``code``, ``label`` (in the
        request's language), ``labels`` (every language) and its other keys
    :rtype: dictionary
    """
    tk.check_access("servicespublics_vocabulary_show", context, data_dict)
    data = _validate(data_dict, schema.servicespublics_vocabulary_show_schema(), context)
    everything = vocabulary.load()
    names = [data["name"]] if data.get("name") else list(everything)
    unknown = [n for n in names if n not in everything]
    if unknown:
        raise tk.ObjectNotFound(tk._("Unknown vocabulary: {name} (known: {names})").format(
            name=unknown[0], names=", ".join(everything)))
    lang = vocabulary.current_lang()
    result = {}
    for name in names:
        result[name] = [
            dict({k: v for k, v in entry.items() if k not in ("label", "aliases")},
                 label=vocabulary.text(entry["label"], lang), labels=entry["label"])
            for entry in everything[name]]
    return result
