"""servicespublics_map: the map of a resource's service points, as vector tiles."""
