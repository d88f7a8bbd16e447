from __future__ import annotations

from ckanext.servicespublics.alembic_env import run

run(__file__)
