from __future__ import annotations

from ckanext.servicespublics.alembic_env import run
from ckanext.servicespublics.territories.model import metadata as territory_metadata

# the territory tables have their own MetaData (reference data, see
# territories/model.py): autogenerate compares both
run(__file__, extra_metadata=[territory_metadata])
