"""How each field of CKAN's Solr schema is stored and matched in PostgreSQL.

CKAN's ``schema.xml`` decides, per field, whether a query value is matched
exactly (``string``), analysed as text (``text``/``textgen``) or compared as
a date.  The PostgreSQL engine keeps the same contract so that a query means
the same thing whichever backend answers it.
"""
from __future__ import annotations

import re

#: French configuration with ``unaccent``, created by the search migration.
TS_CONFIG = "servicespublics_fr"

#: Fields with a dedicated scalar column (exact match, like Solr ``string``).
STRING_COLUMNS = {
    "id": "id",
    "index_id": "index_id",
    "site_id": "site_id",
    "name": "name",
    "entity_type": "entity_type",
    "dataset_type": "dataset_type",
    "type": "dataset_type",
    "state": "state",
    "capacity": "capacity",
    "organization": "organization",
    "owner_org": "owner_org",
    "license_id": "license_id",
    "title_string": "title_string",
}

#: Multi-valued fields with a dedicated ``text[]`` column.
ARRAY_COLUMNS = {
    "tags": "tags",
    "groups": "groups",
    "res_format": "res_format",
    "permission_labels": "permission_labels",
}

#: Date fields with a dedicated ``timestamptz`` column.
DATE_COLUMNS = {
    "metadata_created": "metadata_created",
    "metadata_modified": "metadata_modified",
    "indexed_ts": "indexed_ts",
}

#: Pseudo-field of ``fq`` for a spatial filter on the dataset extent, added
#: by the plugin from ckanext-spatial's ``ext_bbox`` search parameter
BBOX_FIELD = "servicespublics_bbox"

#: Solr's edge/n-gram fields used by ``package_autocomplete``: substring
#: matches on these columns
NGRAM_FIELDS = {
    "title_ngram": "title_string",
    "name_ngram": "name",
}

#: Analysed text fields of CKAN's Solr schema (``text`` and ``textgen``).
TEXT_FIELDS = {
    "title", "notes", "text", "author", "maintainer", "author_email",
    "maintainer_email", "res_name", "res_description", "urls", "url",
    "download_url", "ckan_url",
}
TEXT_PREFIXES = ("extras_", "res_extras_")

#: Fields that feed the catch-all ``text`` field, with their weight.
#: A: title and name (``qf`` gives them ^4); B: tags, groups, organisation
#: (^2); C: descriptions and resources; D: everything else that is text.
WEIGHT_A = ("title", "name")
WEIGHT_B = ("tags", "groups", "organization", "organization_title")
WEIGHT_C = ("notes", "res_name", "res_description", "author", "maintainer")

#: Fields never stored in the ``doc`` column (kept in their own columns).
BLOB_FIELDS = ("data_dict", "validated_data_dict")

_FIELD_NAME_RE = re.compile(r"^[A-Za-z0-9_\-.@]+$")


def is_valid_field_name(name: str) -> bool:
    return bool(_FIELD_NAME_RE.match(name))


def is_text_field(name: str) -> bool:
    return name in TEXT_FIELDS or name.startswith(TEXT_PREFIXES)


def is_date_field(name: str) -> bool:
    return name in DATE_COLUMNS or name.endswith("_date")
