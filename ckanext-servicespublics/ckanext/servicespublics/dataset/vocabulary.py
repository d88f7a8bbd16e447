"""Controlled vocabularies of the service-point datasets.

The vocabularies (domains, service types, update frequencies, access levels,
territorial levels, resource roles, coordinate systems, delimiters, statuses)
live in ``vocabulary.yaml`` next to this module, with stable codes and French
and English labels. A site adds service types (and domains) with its own
YAML or JSON file, named by ``ckanext.servicespublics.dataset.vocabulary_file``::

    service_types:
      - code: maison-sante
        domain: sante-social
        label: {fr: "Maison de santé", en: "Health centre"}

An entry whose code already exists replaces the shipped one (to relabel it);
codes are lowercase ASCII words separated by hyphens, and each service type
names a known domain.
"""
from __future__ import annotations

import functools
import json
import os
import re
from typing import Any, Optional

import yaml

import ckan.plugins.toolkit as tk

VOCABULARY_FILE = os.path.join(os.path.dirname(__file__), "vocabulary.yaml")
CONFIG_KEY = "ckanext.servicespublics.dataset.vocabulary_file"

#: vocabularies a site may extend with its own file
EXTENSIBLE = ("domains", "service_types")

_CODE_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class VocabularyError(Exception):
    """The extra vocabulary file is missing or invalid."""


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as stream:
            if path.endswith(".json"):
                data = json.load(stream)
            else:
                data = yaml.safe_load(stream)
    except OSError as e:
        raise VocabularyError(f"Cannot read the vocabulary file {path}: {e}") from e
    except (ValueError, yaml.YAMLError) as e:
        raise VocabularyError(f"Invalid vocabulary file {path}: {e}") from e
    if not isinstance(data, dict):
        raise VocabularyError(
            f"Invalid vocabulary file {path}: expected a mapping with the keys "
            f"{', '.join(EXTENSIBLE)}")
    return data


def _check_label(path: str, name: str, entry: dict[str, Any]) -> None:
    label = entry.get("label")
    if isinstance(label, str) and label.strip():
        entry["label"] = {"fr": label}
        return
    if not isinstance(label, dict) or not isinstance(label.get("fr"), str):
        raise VocabularyError(
            f"Invalid vocabulary file {path}: {name} {entry.get('code')!r} needs a "
            "label, a text or a mapping with at least a French text (fr)")


def _merge(base: dict[str, Any], extra: dict[str, Any], path: str) -> dict[str, Any]:
    unknown = set(extra) - set(EXTENSIBLE)
    if unknown:
        raise VocabularyError(
            f"Invalid vocabulary file {path}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"a site can extend {', '.join(EXTENSIBLE)}")
    merged = {k: [dict(e) for e in v] for k, v in base.items()}
    for name in EXTENSIBLE:
        entries = extra.get(name) or []
        if not isinstance(entries, list):
            raise VocabularyError(f"Invalid vocabulary file {path}: {name} must be a list")
        by_code = {e["code"]: i for i, e in enumerate(merged[name])}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("code"), str) \
                    or not _CODE_RE.match(entry["code"]):
                raise VocabularyError(
                    f"Invalid vocabulary file {path}: each entry of {name} needs a code "
                    f"made of lowercase letters, digits and hyphens (got {entry!r})")
            entry = dict(entry)
            _check_label(path, name, entry)
            if entry["code"] in by_code:
                merged[name][by_code[entry["code"]]] = entry
            else:
                by_code[entry["code"]] = len(merged[name])
                merged[name].append(entry)
    domains = {d["code"] for d in merged["domains"]}
    for entry in merged["service_types"]:
        if entry.get("domain") not in domains:
            raise VocabularyError(
                f"Invalid vocabulary file {path}: service type {entry['code']!r} has "
                f"an unknown domain {entry.get('domain')!r} (known: {', '.join(sorted(domains))})")
    return merged


@functools.lru_cache(maxsize=8)
def _load(extra_path: str, mtime: float) -> dict[str, Any]:
    base = _read(VOCABULARY_FILE)
    if extra_path:
        return _merge(base, _read(extra_path), extra_path)
    return base


def load() -> dict[str, Any]:
    """Every vocabulary, with the site's extra file merged in."""
    extra_path = tk.config.get(CONFIG_KEY) or ""
    mtime = 0.0
    if extra_path:
        try:
            mtime = os.path.getmtime(extra_path)
        except OSError as e:
            raise VocabularyError(
                f"Cannot read the vocabulary file {extra_path} ({CONFIG_KEY}): {e}") from e
    return _load(extra_path, mtime)


def entries(name: str) -> list[dict[str, Any]]:
    return load()[name]


def codes(name: str) -> list[str]:
    return [e["code"] for e in entries(name)]


def entry(name: str, code: Any) -> Optional[dict[str, Any]]:
    for e in entries(name):
        if e["code"] == code:
            return e
    return None


def current_lang() -> str:
    """The language of the current request, else the site's default one."""
    try:
        lang = tk.h.lang()
    except (RuntimeError, TypeError, AttributeError):
        lang = None
    return lang or tk.config.get("ckan.locale_default") or "fr"


def text(value: Any, lang: Optional[str] = None) -> str:
    """A ``{fr: ..., en: ...}`` text in the wanted language (French by default)."""
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    lang = lang or current_lang()
    for candidate in (lang, lang.split("_")[0], "fr", "en"):
        if value.get(candidate):
            return value[candidate]
    return next(iter(value.values()), "")


def label(name: str, code: Any, lang: Optional[str] = None) -> str:
    """The label of a code, or the code itself when the vocabulary lacks it."""
    e = entry(name, code)
    if e is None:
        return "" if code is None else str(code)
    return text(e["label"], lang)


def choices(name: str) -> list[dict[str, Any]]:
    """Choices in ckanext-scheming's format (labels stay multilingual)."""
    return [{"value": e["code"], "label": e["label"]} for e in entries(name)]


def service_types_by_domain(domain: str) -> list[str]:
    return [e["code"] for e in entries("service_types") if e.get("domain") == domain]


def frequency_from_datagouv(code: Any) -> Optional[str]:
    """Our frequency code for any data.gouv.fr (udata) frequency code."""
    for e in entries("frequencies"):
        if code == e["code"] or code in e.get("datagouv", []):
            return e["code"]
    return None


def delimiter(value: Any) -> Optional[str]:
    """The delimiter character for a character or one of its names."""
    if not isinstance(value, str) or value == "":
        return None
    for e in entries("delimiters"):
        if value == e["code"] or value.strip().lower() in e.get("aliases", []):
            return e["code"]
    return None
