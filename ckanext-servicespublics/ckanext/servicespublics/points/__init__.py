"""servicespublics_points: ingestion of service-point files into PostGIS."""
