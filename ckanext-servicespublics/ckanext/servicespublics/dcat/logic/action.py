"""ckanext-dcat's actions, as this catalogue wants them.

``dcat_dataset_show`` answers "not found" for a dataset the user may not see
(ckanext-dcat's view answers 403, which tells that the dataset exists), like
CKAN's own dataset page; unknown serialisation formats are refused before any
work is done. The catalogue actions keep ckanext-dcat's search, which already
runs ``package_search`` as the current user (permission labels, no private
datasets).
"""
from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan.types import Action, Context, DataDict

__all__ = ["dcat_dataset_show", "dcat_catalog_show", "dcat_catalog_search"]

FORMATS = ("rdf", "xml", "ttl", "n3", "jsonld")


def _format(data_dict: DataDict) -> Any:
    fmt = data_dict.get("format")
    if fmt and fmt not in FORMATS:
        raise tk.ValidationError({"format": [
            tk._("Unknown format: {0}. Use one of: {1}").format(fmt, ", ".join(FORMATS))]})
    return fmt


@tk.chained_action
def dcat_dataset_show(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """The DCAT serialisation of one dataset (see ckanext-dcat).

    :param id: the id or name of the dataset
    :type id: string
    :param format: rdf, xml, ttl, n3 or jsonld
    :type format: string
    :returns: the serialised graph
    :rtype: string
    """
    try:
        _format(data_dict)
    except tk.ValidationError:
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    try:
        return up_func(context, data_dict)
    except tk.NotAuthorized:
        raise tk.ObjectNotFound(tk._("Dataset not found"))


@tk.chained_action
@tk.side_effect_free
def dcat_catalog_show(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """The DCAT serialisation of a page of the catalogue (see ckanext-dcat).

    :param format: rdf, xml, ttl, n3 or jsonld
    :type format: string
    :returns: the serialised graph, with Hydra paging
    :rtype: string
    """
    _format(data_dict)
    return up_func(context, data_dict)


@tk.chained_action
@tk.side_effect_free
def dcat_catalog_search(up_func: Action, context: Context, data_dict: DataDict) -> Any:
    """Like ``dcat_catalog_show``, for a search (``q``, ``fq``)."""
    _format(data_dict)
    return up_func(context, data_dict)
