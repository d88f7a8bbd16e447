"""The validation report of one ingestion: row-level entries and general messages."""
from __future__ import annotations

from typing import Any, Optional

__all__ = ["Report", "SEVERITIES", "CODE_LABELS"]

SEVERITIES = ("error", "warning", "info")

#: the French summary line of each entry code (the entries say more)
CODE_LABELS = {
    "row_columns": "Nombre de valeurs incorrect",
    "row_short": "Ligne incomplète",
    "json_invalid": "JSON illisible",
    "json_not_object": "Objet JSON attendu",
    "coordinates_missing": "Coordonnées absentes",
    "coordinates_invalid": "Coordonnée illisible",
    "coordinates_range": "Coordonnées hors plage",
    "coordinates_swapped": "Latitude et longitude inversées ?",
    "coordinates_outside": "Point hors de France",
    "point_at_sea": "Point en mer",
    "point_near_sea": "Point probablement en mer",
    "crs_invalid": "Système de coordonnées inconnu",
    "geometry_invalid": "Géométrie illisible",
    "geometry_not_point": "Géométrie autre qu'un point",
    "insee_invalid": "Code INSEE mal formé",
    "insee_unknown": "Code INSEE inconnu du COG",
    "insee_merged": "Ancienne commune rattachée à une commune actuelle",
    "insee_padded": "Code INSEE complété d'un zéro",
    "insee_territory": "Commune et coordonnées dans des territoires différents",
    "insee_departement": "Coordonnées hors du département de la commune",
    "postcode_invalid": "Code postal mal formé",
    "date_invalid": "Date illisible",
    "date_order": "Fermeture avant l'ouverture",
    "status_unknown": "Statut inconnu",
    "service_type_unknown": "Type de service inconnu",
    "service_type_missing": "Type de service absent",
    "name_missing": "Nom absent",
    "email_invalid": "Adresse électronique invalide",
    "id_duplicate": "Identifiant en double",
}


class Report:
    """Counts every entry; keeps the first ``max_entries`` of them."""

    def __init__(self, max_entries: int = 10000):
        self.max_entries = max_entries
        self.entries: list[tuple[Optional[int], Optional[str], Optional[str], str, str, str]] = []
        self.counts = {"error": 0, "warning": 0, "info": 0}
        self.by_code: dict[str, list[Any]] = {}
        self.messages: list[dict[str, str]] = []
        self.truncated = False

    def add(self, line: Optional[int], column: Optional[str], value: Any, severity: str,
            code: str, message: str) -> None:
        self.counts[severity] += 1
        known = self.by_code.get(code)
        if known is None:
            self.by_code[code] = [severity, 1]
        else:
            known[1] += 1
        if len(self.entries) < self.max_entries:
            if value is not None:
                value = str(value)
                if len(value) > 200:
                    value = value[:199] + "…"
            self.entries.append((line, column, value, severity, code, message))
        else:
            self.truncated = True

    def message(self, severity: str, code: str, message: str) -> None:
        """A message about the whole file (not counted as a row entry)."""
        self.messages.append({"severity": severity, "code": code, "message": message})

    def summary(self) -> list[dict[str, Any]]:
        """Entry counts by code, errors first."""
        order = {s: i for i, s in enumerate(SEVERITIES)}
        rows = [
            {"code": code, "severity": severity, "count": count,
             "label": CODE_LABELS.get(code, code)}
            for code, (severity, count) in self.by_code.items()
        ]
        rows.sort(key=lambda r: (order[r["severity"]], -r["count"], r["code"]))
        return rows
