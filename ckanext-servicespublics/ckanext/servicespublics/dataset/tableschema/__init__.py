"""The standard Table Schema of service-point files.

``service-points.json`` (Frictionless Table Schema) is served at
``/schemas/service-points/tableschema.json``. Other plugins read it here::

    from ckanext.servicespublics.dataset import tableschema

    tableschema.load()["fields"]       # the schema as a dict (a fresh copy)
    tableschema.STANDARD_COLUMNS       # ("id", "name", "service_type", ...)
    tableschema.REQUIRED_COLUMNS       # ("name", "service_type")
    tableschema.POINT_STATUSES         # ("open", "closed", ...)
"""
from __future__ import annotations

import copy
import functools
import json
import os
from typing import Any

PATH = os.path.join(os.path.dirname(__file__), "service-points.json")


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    with open(PATH, encoding="utf-8") as stream:
        return json.load(stream)


def load() -> dict[str, Any]:
    """The Table Schema of service points, as a dict (a copy: change it freely)."""
    return copy.deepcopy(_load())


def field(name: str) -> dict[str, Any]:
    """One field of the schema (KeyError when it is not a standard column)."""
    for f in _load()["fields"]:
        if f["name"] == name:
            return copy.deepcopy(f)
    raise KeyError(name)


#: the standard columns, in the schema's order
STANDARD_COLUMNS: tuple[str, ...] = tuple(f["name"] for f in _load()["fields"])
#: columns every point file must have (after mapping)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(
    f["name"] for f in _load()["fields"] if f.get("constraints", {}).get("required"))
#: the values of the ``status`` column
POINT_STATUSES: tuple[str, ...] = tuple(field("status")["constraints"]["enum"])
