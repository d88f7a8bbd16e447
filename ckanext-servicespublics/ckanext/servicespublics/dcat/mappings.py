"""Controlled vocabularies of DCAT-AP and how the catalogue's codes map to them.

Both directions live here, so that what the profile writes is exactly what
it reads back: the EU Publications Office authority tables (frequency,
language, access right, file type, data theme), the ADMS licence types,
licence URIs, INSEE geographical URIs and the OGC CRS URIs.
"""
from __future__ import annotations

import calendar
import re
from typing import Optional

EU_AUTHORITY = "http://publications.europa.eu/resource/authority/"

FREQUENCY_SCHEME = EU_AUTHORITY + "frequency"
LANGUAGE_SCHEME = EU_AUTHORITY + "language"
ACCESS_RIGHT_SCHEME = EU_AUTHORITY + "access-right"
FILE_TYPE_SCHEME = EU_AUTHORITY + "file-type"
DATA_THEME_SCHEME = EU_AUTHORITY + "data-theme"
COUNTRY_SCHEME = EU_AUTHORITY + "country"
LICENCE_TYPE_SCHEME = "http://purl.org/adms/licencetype/1.0"
LICENCE_TYPE = "http://purl.org/adms/licencetype/"

FRANCE = COUNTRY_SCHEME + "/FRA"
CLD_FREQ = "http://purl.org/cld/freq/"

# frequency codes of the catalogue (those of data.gouv.fr) -> EU frequency
FREQUENCIES: dict[str, str] = {
    "continuous": "UPDATE_CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "semiannual": "ANNUAL_2",
    "annual": "ANNUAL",
    "punctual": "NEVER",
    "irregular": "IRREG",
    "unknown": "UNKNOWN",
}
# EU codes read back: the ones above plus their close neighbours
_FREQUENCIES_READ: dict[str, str] = {eu: code for code, eu in FREQUENCIES.items()}
_FREQUENCIES_READ.update({
    "CONT": "continuous",
    "NOT_PLANNED": "punctual",
    "AS_NEEDED": "irregular",
    "OTHER": "unknown",
    "OP_DATPRO": "unknown",
})

ACCESS_RIGHTS: dict[str, str] = {
    "public": "PUBLIC",
    "restricted": "RESTRICTED",
    "private": "NON_PUBLIC",
}
_ACCESS_RIGHTS_READ = {eu: code for code, eu in ACCESS_RIGHTS.items()}

LANGUAGES: dict[str, str] = {"fr": "FRA", "en": "ENG", "de": "DEU", "es": "SPA",
                             "it": "ITA", "br": "BRE", "oc": "OCI", "co": "COS"}

# domain of service points -> themes of the EU data-theme table
DOMAIN_THEMES: dict[str, list[str]] = {
    "securite": ["JUST"],
    "justice": ["JUST"],
    "sante-social": ["HEAL", "SOCI"],
    "education-culture-sport": ["EDUC"],
    "emploi-travail": ["ECON", "SOCI"],
    "finances-publiques": ["ECON", "GOVE"],
    "services-deconcentres": ["GOVE"],
    "accueil-proximite": ["GOVE"],
    "interet-general": ["GOVE", "SOCI"],
}
# every service-point dataset describes a territory
TERRITORY_THEME = "REGI"

# CKAN format label (upper case) -> EU file type
FILE_TYPES: dict[str, str] = {
    "CSV": "CSV", "TSV": "TSV", "JSON": "JSON", "GEOJSON": "GEOJSON",
    "JSON-LD": "JSON_LD", "JSONLD": "JSON_LD", "XML": "XML", "RDF": "RDF_XML",
    "TTL": "RDF_TURTLE", "TURTLE": "RDF_TURTLE", "XLS": "XLS", "XLSX": "XLSX",
    "ODS": "ODS", "PDF": "PDF", "HTML": "HTML", "TXT": "TXT", "ZIP": "ZIP",
    "GZ": "GZIP", "SHP": "SHP", "KML": "KML", "KMZ": "KMZ", "GPKG": "GPKG",
    "GML": "GML", "DOC": "DOC", "DOCX": "DOCX", "ODT": "ODT", "PNG": "PNG",
    "JPEG": "JPEG", "WMS": "WMS_SRVC", "WFS": "WFS_SRVC", "PARQUET": "PARQUET",
}
_FILE_TYPES_READ: dict[str, str] = {
    "CSV": "CSV", "TSV": "TSV", "JSON": "JSON", "GEOJSON": "GeoJSON",
    "JSON_LD": "JSON-LD", "XML": "XML", "RDF_XML": "RDF", "RDF_TURTLE": "TTL",
    "XLS": "XLS", "XLSX": "XLSX", "ODS": "ODS", "PDF": "PDF", "HTML": "HTML",
    "TXT": "TXT", "ZIP": "ZIP", "GZIP": "GZ", "SHP": "SHP", "KML": "KML",
    "KMZ": "KMZ", "GPKG": "GPKG", "GML": "GML", "DOC": "DOC", "DOCX": "DOCX",
    "ODT": "ODT", "PNG": "PNG", "JPEG": "JPEG", "WMS_SRVC": "WMS",
    "WFS_SRVC": "WFS", "PARQUET": "Parquet",
}

IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"

# licence id -> (licence URI, ADMS licence types)
LICENCES: dict[str, tuple[str, list[str]]] = {
    "lov2": ("https://www.etalab.gouv.fr/licence-ouverte-open-licence/", ["Attribution"]),
    "odc-odbl": ("http://opendatacommons.org/licenses/odbl/1-0/",
                 ["Attribution", "ShareAlike"]),
    "cc-by": ("https://creativecommons.org/licenses/by/4.0/", ["Attribution"]),
    "cc-by-sa": ("https://creativecommons.org/licenses/by-sa/4.0/",
                 ["Attribution", "ShareAlike"]),
    "cc-zero": ("https://creativecommons.org/publicdomain/zero/1.0/", ["PublicDomain"]),
    "odc-pddl": ("http://opendatacommons.org/licenses/pddl/1-0/", ["PublicDomain"]),
    "odc-by": ("http://opendatacommons.org/licenses/by/1-0/", ["Attribution"]),
}
# other spellings of the same licences met in the wild (SPDX, data.gouv.fr, opendefinition)
_LICENCE_ALIASES: dict[str, list[str]] = {
    "lov2": ["spdx.org/licenses/etalab-2.0",
             "www.etalab.gouv.fr/wp-content/uploads/2017/04/etalab-licence-ouverte-v2.0.pdf",
             "www.data.gouv.fr/fr/licences#lov2", "www.data.gouv.fr/licences#lov2"],
    "odc-odbl": ["opendatacommons.org/licenses/odbl/1.0", "opendatacommons.org/licenses/odbl",
                 "spdx.org/licenses/odbl-1.0", "www.opendefinition.org/licenses/odc-odbl",
                 "opendefinition.org/licenses/odc-odbl"],
    "cc-by": ["creativecommons.org/licenses/by/4.0/legalcode", "spdx.org/licenses/cc-by-4.0",
              "www.opendefinition.org/licenses/cc-by", "opendefinition.org/licenses/cc-by"],
    "cc-by-sa": ["spdx.org/licenses/cc-by-sa-4.0", "www.opendefinition.org/licenses/cc-by-sa"],
    "cc-zero": ["spdx.org/licenses/cc0-1.0", "www.opendefinition.org/licenses/cc-zero"],
    "odc-pddl": ["spdx.org/licenses/pddl-1.0", "www.opendefinition.org/licenses/odc-pddl"],
    "odc-by": ["spdx.org/licenses/odc-by-1.0", "www.opendefinition.org/licenses/odc-by"],
}

# INSEE (COG) URIs by territory level; EPCI are identified by their SIREN
INSEE_GEO = "http://id.insee.fr/geo/"
TERRITORY_URI_TYPES: dict[str, str] = {
    "commune": "commune",
    "epci": "intercommunalite",
    "departement": "departement",
    "region": "region",
}
_TERRITORY_CODE = {
    "commune": re.compile(r"^(\d[\dAB]\d{3})$"),
    "epci": re.compile(r"^(\d{9})$"),
    "departement": re.compile(r"^(\d{2}|2A|2B|\d{3})$"),
    "region": re.compile(r"^(\d{2})$"),
}
_INSEE_URI = re.compile(
    r"^https?://id\.insee\.fr/geo/(commune|intercommunalite|departement|region)/([0-9AB]+)$")

CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/"
_CRS_URI = re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/0/(\d+)$")


# labels of the authority-table concepts this catalogue uses: DCAT-AP wants
# every skos:Concept with a skos:prefLabel, every scheme with a dct:title
SCHEME_TITLES: dict[str, tuple[str, str]] = {
    FREQUENCY_SCHEME: ("Frequency", "Fréquence"),
    LANGUAGE_SCHEME: ("Language", "Langue"),
    ACCESS_RIGHT_SCHEME: ("Access right", "Droit d'accès"),
    FILE_TYPE_SCHEME: ("File type", "Type de fichier"),
    DATA_THEME_SCHEME: ("Data theme", "Thème de données"),
    COUNTRY_SCHEME: ("Country", "Pays"),
    LICENCE_TYPE_SCHEME: ("Licence type", "Type de licence"),
}
_LABELS: dict[str, tuple[str, str]] = {
    # frequency
    "UPDATE_CONT": ("continuously updated", "mise à jour continue"),
    "CONT": ("continuous", "continu"), "DAILY": ("daily", "quotidien"),
    "WEEKLY": ("weekly", "hebdomadaire"), "MONTHLY": ("monthly", "mensuel"),
    "QUARTERLY": ("quarterly", "trimestriel"), "ANNUAL_2": ("semiannual", "semestriel"),
    "ANNUAL": ("annual", "annuel"), "NEVER": ("never", "jamais"),
    "IRREG": ("irregular", "irrégulier"), "UNKNOWN": ("unknown", "inconnu"),
    # access right
    "PUBLIC": ("public", "public"), "RESTRICTED": ("restricted", "restreint"),
    "NON_PUBLIC": ("non-public", "non public"),
    # data theme
    "JUST": ("Justice, legal system and public safety",
             "Justice, système juridique et sécurité publique"),
    "HEAL": ("Health", "Santé"), "SOCI": ("Population and society", "Population et société"),
    "EDUC": ("Education, culture and sport", "Éducation, culture et sport"),
    "ECON": ("Economy and finance", "Économie et finances"),
    "GOVE": ("Government and public sector", "Gouvernement et secteur public"),
    "REGI": ("Regions and cities", "Régions et villes"),
    # language
    "FRA": ("French", "français"), "ENG": ("English", "anglais"), "DEU": ("German", "allemand"),
    "SPA": ("Spanish", "espagnol"), "ITA": ("Italian", "italien"), "BRE": ("Breton", "breton"),
    "OCI": ("Occitan", "occitan"), "COS": ("Corsican", "corse"),
    # licence type
    "Attribution": ("Attribution", "Attribution"),
    "ShareAlike": ("Share alike", "Partage à l'identique"),
    "PublicDomain": ("Public domain", "Domaine public"),
    "UnknownIPR": ("Unknown IPR", "Droits inconnus"),
}


def labels(uri: str) -> tuple[str, str]:
    """(English, French) labels of an authority-table concept."""
    code = uri.rstrip("/").rsplit("/", 1)[1]
    if uri == FRANCE:
        return ("France", "France")
    if uri.startswith(FILE_TYPE_SCHEME + "/"):
        label = _FILE_TYPES_READ.get(code, code)
        return (label, label)
    return _LABELS.get(code, (code, code))


def frequency_uri(code: Optional[str]) -> Optional[str]:
    eu = FREQUENCIES.get(code or "")
    return f"{FREQUENCY_SCHEME}/{eu}" if eu else None


def frequency_code(uri: str) -> Optional[str]:
    """Our code for an EU frequency URI (or a Dublin Core one, cld:freq)."""
    if uri.startswith(FREQUENCY_SCHEME + "/"):
        return _FREQUENCIES_READ.get(uri.rsplit("/", 1)[1], "unknown")
    if uri.startswith(CLD_FREQ):
        name = uri[len(CLD_FREQ):]
        return {"continuous": "continuous", "completelyIrregular": "irregular",
                "irregular": "irregular"}.get(name, name if name in FREQUENCIES else None)
    return None


def iso_date(value: str, end: bool = False) -> str:
    """A date (YYYY-MM-DD) for a year, a year and month, a date or a date-time;
    the last day of the year or month when ``end``."""
    value = str(value).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return value[:10]
    if re.match(r"^\d{4}-\d{2}$", value):
        year, month = int(value[:4]), int(value[5:])
        last = calendar.monthrange(year, month)[1] if end else 1
        return f"{value}-{last:02d}"
    if re.match(r"^\d{4}$", value):
        return f"{value}-12-31" if end else f"{value}-01-01"
    return value


def access_right_uri(level: Optional[str]) -> Optional[str]:
    eu = ACCESS_RIGHTS.get(level or "")
    return f"{ACCESS_RIGHT_SCHEME}/{eu}" if eu else None


def access_level(uri: str) -> Optional[str]:
    if not uri.startswith(ACCESS_RIGHT_SCHEME + "/"):
        return None
    return _ACCESS_RIGHTS_READ.get(uri.rsplit("/", 1)[1])


def language_uri(locale: str) -> str:
    lang = (locale or "fr").split("_")[0].lower()
    return f"{LANGUAGE_SCHEME}/{LANGUAGES.get(lang, 'FRA')}"


def data_theme_uris(domain: Optional[str]) -> list[str]:
    if not domain:
        return []
    codes = DOMAIN_THEMES.get(domain, []) + [TERRITORY_THEME]
    return [f"{DATA_THEME_SCHEME}/{code}" for code in dict.fromkeys(codes)]


def file_type_uri(fmt: Optional[str]) -> Optional[str]:
    eu = FILE_TYPES.get((fmt or "").strip().upper().lstrip("."))
    return f"{FILE_TYPE_SCHEME}/{eu}" if eu else None


def file_type_label(uri: str) -> Optional[str]:
    if not uri.startswith(FILE_TYPE_SCHEME + "/"):
        return None
    code = uri.rsplit("/", 1)[1]
    return _FILE_TYPES_READ.get(code, code)


def media_type_uri(mimetype: Optional[str]) -> Optional[str]:
    value = (mimetype or "").split(";")[0].strip().lower()
    if re.match(r"^[a-z]+/[a-z0-9.+-]+$", value):
        return IANA_MEDIA_TYPES + value
    return None


def media_type(uri: str) -> str:
    for prefix in (IANA_MEDIA_TYPES, IANA_MEDIA_TYPES.replace("https:", "http:")):
        if uri.startswith(prefix):
            return uri[len(prefix):]
    return uri


def _normalise_url(url: str) -> str:
    url = url.strip().lower()
    url = re.sub(r"^https?://", "", url)
    url = re.sub(r"\.html?$", "", url)
    return url.rstrip("/")


_LICENCE_BY_URL: dict[str, str] = {}
for _id, (_uri, _types) in LICENCES.items():
    _LICENCE_BY_URL[_normalise_url(_uri)] = _id
for _id, _aliases in _LICENCE_ALIASES.items():
    for _alias in _aliases:
        _LICENCE_BY_URL[_normalise_url(_alias)] = _id


def licence_uri(license_id: Optional[str], license_url: Optional[str] = None
                ) -> Optional[str]:
    if license_id in LICENCES:
        return LICENCES[license_id][0]
    if license_url and re.match(r"^https?://", license_url):
        return license_url
    return None


def licence_types(license_id: Optional[str]) -> list[str]:
    types = LICENCES.get(license_id or "", (None, ["UnknownIPR"]))[1]
    return [LICENCE_TYPE + t for t in types]


def licence_id(uri: str) -> Optional[str]:
    return _LICENCE_BY_URL.get(_normalise_url(uri))


def territory_uri(level: Optional[str], code: str) -> Optional[str]:
    kind = TERRITORY_URI_TYPES.get(level or "")
    pattern = _TERRITORY_CODE.get(level or "")
    code = (code or "").strip().upper()
    if not kind or not pattern or not pattern.match(code):
        return None
    return f"{INSEE_GEO}{kind}/{code}"


def territory(uri: str) -> Optional[tuple[str, str]]:
    """(level, code) of an INSEE geographical URI built on a code, else None.

    INSEE's newer URIs carry a UUID instead of the code: they cannot be
    read without INSEE's registry and are left alone."""
    match = _INSEE_URI.match(uri.strip())
    if not match:
        return None
    kind, code = match.groups()
    level = {v: k for k, v in TERRITORY_URI_TYPES.items()}[kind]
    if not _TERRITORY_CODE[level].match(code):
        return None
    return level, code


def crs_uri(crs: Optional[str]) -> Optional[str]:
    match = re.match(r"^EPSG:(\d+)$", (crs or "").strip(), re.IGNORECASE)
    return f"{CRS_URI}{match.group(1)}" if match else None


def crs_code(uri: str) -> Optional[str]:
    match = _CRS_URI.match(uri.strip())
    return f"EPSG:{match.group(1)}" if match else None
