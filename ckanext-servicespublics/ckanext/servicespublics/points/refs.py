"""What the ingestion borrows from the dataset plugin, imported lazily.

- the communes of the COG: ``ckanext.servicespublics.territories``
  (``resolve_commune(code)`` -> the current commune, following the mappings
  of merged communes, or None; ``get(code)``);
- the service types: ``ckanext.servicespublics.dataset.vocabularies.SERVICE_TYPES``
  (code -> {label_fr, label_en, domain}), or the ``vocabulary`` module's
  entries.

Either may be missing (plugin not installed, COG not loaded): the ingestion
then says so in its report and skips those checks.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

log = logging.getLogger(__name__)

__all__ = ["Territories", "service_types"]

#: a commune every loaded COG has (Paris)
_PROBE = "75056"


def _field(obj: Any, *names: str) -> Optional[str]:
    """The first attribute or key found; a nested object gives its ``code``."""
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is None or callable(value):
            continue
        if isinstance(value, (str, int)):
            return str(value)
        nested = _field(value, "code")
        if nested:
            return nested
    return None


class Territories:
    """The COG communes, through the territories module (cached per instance)."""

    #: how far (degrees, ~2 km) a point may stray out of its département's
    #: simplified boundary before it is reported
    TOLERANCE = 0.02

    def __init__(self) -> None:
        self.available = False
        self._module: Any = None
        self._cache: dict[str, Any] = {}
        self._boundaries: dict[str, Any] = {}
        try:
            from ckanext.servicespublics import territories
        except ImportError:
            return
        if not hasattr(territories, "resolve_commune"):
            return
        self._module = territories
        try:
            if hasattr(territories, "is_loaded"):
                self.available = bool(territories.is_loaded())
            else:
                self.available = territories.resolve_commune(_PROBE) is not None
        except Exception as e:  # not migrated, no database...
            log.warning("The territories referential cannot be read: %s", e)
            self.available = False
            _rollback()

    @staticmethod
    def _value(found: Any, code: str) -> tuple[str, Optional[str], Optional[str]]:
        current = _field(found, "code", "insee_code", "code_insee") or code
        if _field(found, "level") == "arrondissement_municipal":
            current = code  # a valid code of its own (Paris, Lyon, Marseille)
        dep = _field(found, "departement", "departement_code", "dep")
        reg = _field(found, "region", "region_code", "reg")
        return current, dep, reg

    def prefetch(self, codes: Any) -> None:
        """Resolve many codes at once (a few queries instead of one per code)."""
        module = self._module
        wanted = [c for c in set(codes) if c not in self._cache]
        if not wanted or not hasattr(module, "get_many") or not hasattr(module,
                                                                         "former_codes"):
            return
        found = module.get_many(wanted, "commune")
        found.update(module.get_many([c for c in wanted if c not in found],
                                     "arrondissement_municipal"))
        former = module.former_codes([c for c in wanted if c not in found])
        current = module.get_many(set(former.values()), "commune") if former else {}
        for code in wanted:
            if code in found:
                self._cache[code] = self._value(found[code], code)
            elif code in former and former[code] in current:
                self._cache[code] = self._value(current[former[code]], former[code])
            else:
                self._cache[code] = None

    def commune(self, code: str) -> Optional[tuple[str, Optional[str], Optional[str]]]:
        """(current code, département, région) of a commune code, or None."""
        if code in self._cache:
            return self._cache[code]
        found = self._module.resolve_commune(code)
        value = self._value(found, code) if found is not None else None
        self._cache[code] = value
        return value

    def departement_boundary(self, code: str) -> Any:
        """The département's boundary, widened by ``TOLERANCE``, prepared (or None)."""
        if code in self._boundaries:
            return self._boundaries[code]
        shape = None
        geometry = getattr(self._module, "geometry", None)
        if geometry is not None:
            try:
                data = geometry(code, "departement")
            except Exception:
                log.warning("No boundary for département %s", code, exc_info=True)
                data = None
            if data:
                import shapely
                from shapely.geometry import shape as to_shape

                shape = to_shape(data).buffer(self.TOLERANCE)
                shapely.prepare(shape)
        self._boundaries[code] = shape
        return shape


def _rollback() -> None:
    """A failed query must not leave CKAN's session in an aborted transaction."""
    try:
        from ckan.model import meta

        meta.Session.rollback()
    except Exception:
        pass


def service_types() -> Optional[dict[str, Any]]:
    """code -> labels of the known service types, or None when unknown."""
    try:
        from ckanext.servicespublics.dataset.vocabularies import SERVICE_TYPES
    except ImportError:
        SERVICE_TYPES = None
    if SERVICE_TYPES:
        return {code: {k: v for k, v in (entry or {}).items() if k.startswith("label")}
                for code, entry in dict(SERVICE_TYPES).items()}
    try:
        from ckanext.servicespublics.dataset import vocabulary
    except ImportError:
        return None
    try:
        return {e["code"]: e.get("label") or {} for e in vocabulary.entries("service_types")}
    except Exception:
        log.warning("The service-type vocabulary cannot be read", exc_info=True)
        return None
