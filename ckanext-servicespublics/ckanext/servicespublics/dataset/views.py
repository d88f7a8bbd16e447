"""Pages and JSON of the dataset plugin: the standard Table Schema of
service points and the territory autocompletion of the dataset form."""
from __future__ import annotations

import json

from flask import Blueprint, make_response

import ckan.plugins.toolkit as tk

from ckanext.servicespublics import territories

from . import tableschema, vocabulary

__all__ = ["servicespublics_dataset"]

servicespublics_dataset = Blueprint("servicespublics_dataset", __name__)


def _json(data, max_age: int = 0):
    response = make_response(json.dumps(data, ensure_ascii=False, indent=2))
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Access-Control-Allow-Origin"] = "*"
    if max_age:
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


@servicespublics_dataset.route("/schemas/service-points/tableschema.json", endpoint="tableschema")
def tableschema_json():
    """The Table Schema (Frictionless) of service-point files."""
    return _json(tableschema.load(), max_age=3600)


@servicespublics_dataset.route("/servicespublics/territories/autocomplete")
def territory_autocomplete():
    """Territories for the ``autocomplete`` JavaScript module (tags mode):
    ``?incomplete=ren[&level=commune]``."""
    context = {"user": tk.current_user.name if tk.current_user else ""}
    try:
        tk.check_access("servicespublics_territory_search", context, {})
    except tk.NotAuthorized:
        return tk.abort(403)
    level = tk.request.args.get("level") or None
    if level is not None and level not in territories.LEVELS:
        return tk.abort(400, tk._("Unknown level: {level}").format(level=level))
    results = territories.search(tk.request.args.get("incomplete", ""), level=level, limit=10)
    lang = vocabulary.current_lang()
    level_labels = {"arrondissement_municipal": {"fr": "arrondissement municipal",
                                                 "en": "municipal district"}}
    items = []
    for row in results:
        kind = vocabulary.text(level_labels[row["level"]], lang) \
            if row["level"] in level_labels else vocabulary.label(
                "territory_levels", row["level"], lang)
        items.append({"Name": row["code"], "code": row["code"],
                      "label": f"{row['label']} · {kind} {row['code']}"})
    return _json({"ResultSet": {"Result": items}})
