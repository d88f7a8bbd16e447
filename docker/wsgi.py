"""WSGI application of the ``web`` containers (uWSGI, see entrypoint.sh).

Reads the runtime ini named by CKAN_INI, which chains to config/production.ini;
the loader applies the logging sections of that file.
"""
from __future__ import annotations

import os

from ckan.cli import CKANConfigLoader
from ckan.config.middleware import make_app

application = make_app(
    CKANConfigLoader(os.environ.get("CKAN_INI", "/srv/app/ckan.ini")).get_config()
)
