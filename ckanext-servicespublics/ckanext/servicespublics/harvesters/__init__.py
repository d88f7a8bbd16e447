"""Harvesters of partner portals: ``datagouv`` (data.gouv.fr, udata API v1)
and ``opendatasoft`` (Explore API v2.1), with the ``ckan servicespublics
harvest`` commands."""
from __future__ import annotations

# registers `ckan servicespublics harvest ...` on the base plugin's group
from . import cli  # noqa: F401
