"""The settings of ``config/development.ini`` that make the site what it is:
its plugins, in their order, and the dataset schemas, presets and DCAT
profiles they are configured with.

The tests that check the plugins together (``tests/test_site.py``, the leak
matrix of ``tests/access``) read them from there, so that a plugin added to
the site is in those tests without anybody having to remember it.
"""
from __future__ import annotations

import configparser
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVELOPMENT_INI = os.path.join(ROOT, "config", "development.ini")

KEYS = ("ckan.plugins", "scheming.dataset_schemas", "scheming.presets",
        "ckanext.dcat.rdf.profiles", "ckanext.dcat.enable_content_negotiation",
        "ckan.views.default_views")


def development_settings() -> dict[str, str]:
    """The settings of config/development.ini that choose plugins and schemas."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(DEVELOPMENT_INI, encoding="utf-8")
    app = parser["app:main"]
    return {key: " ".join(app[key].split()) for key in KEYS}
