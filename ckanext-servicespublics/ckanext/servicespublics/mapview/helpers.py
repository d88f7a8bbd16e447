"""Template helpers of servicespublics_map."""
from __future__ import annotations

from typing import Any, Optional

from . import presentation

__all__ = ["servicespublics_map_basemap", "servicespublics_map_dataset_extent"]


def servicespublics_map_basemap() -> dict[str, str]:
    """The configured basemap: ``styleUrl``, ``tileUrl``, ``attribution``."""
    return presentation.basemap()


def servicespublics_map_dataset_extent(package: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The dataset's ``spatial`` as a GeoJSON geometry, or None."""
    return presentation.dataset_extent(package)
