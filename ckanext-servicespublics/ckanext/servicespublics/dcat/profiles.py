"""``servicespublics_dcat_ap``: the service-point fields in DCAT-AP.

Runs after ``euro_dcat_ap_3`` (and ``euro_dcat_ap_scheming``), which map
CKAN's core fields; this profile adds the catalogue's own fields and turns
what DCAT-AP 3 wants as controlled vocabularies into URIs:

=========================  =================================================
CKAN                       DCAT-AP
=========================  =================================================
``domain``                 ``dcat:theme`` <site>/vocabularies/domains#<code>,
                           plus the matching EU data themes
``service_types``          ``dcat:theme`` <site>/vocabularies/service-types#<code>
``territory_level/codes``  ``dct:spatial`` INSEE URIs (``http://id.insee.fr/
                           geo/commune/<code>``, ``…/intercommunalite/<siren>``,
                           ``…/departement/<code>``, ``…/region/<code>``), the
                           EU country FRA for ``national``
``spatial``                ``locn:geometry``, ``dcat:bbox``, ``dcat:centroid``
``vintage``                ``dct:issued`` (and ``dct:temporal`` when no period)
``temporal_start/end``     ``dct:temporal`` / ``dcat:startDate``, ``dcat:endDate``
``frequency``              ``dct:accrualPeriodicity`` EU frequency
``access_level``           ``dct:accessRights`` EU access right
``license_id``             ``dct:license`` of every distribution
``contact_name/email``     ``dcat:contactPoint`` (vCard)
``name``                   ``adms:identifier`` (the dataset page, by name)
resource ``role``          point files ``dct:conformsTo`` the Table Schema
resource ``crs``           ``dct:conformsTo`` http://www.opengis.net/def/crs/EPSG/0/<n>
resource ``encoding``      ``cnt:characterEncoding``
=========================  =================================================

``parse_dataset`` reads all of it back, so that ckanext-dcat's RDF harvester
gives back the same datasets from this catalogue's DCAT output.
"""
from __future__ import annotations

import json
import logging
import re
from decimal import Decimal
from typing import Any, Iterable, Optional

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD, Namespace
from shapely.geometry import mapping, shape
from werkzeug.routing import BuildError

import ckan.plugins.toolkit as tk
from ckan.model.license import LicenseRegister

from ckanext.dcat.profiles import (ADMS, DCAT, DCT, FOAF, LOCN, RDF, RDFS, SCHEMA, SKOS,
                                   VCARD, RDFProfile)
from ckanext.dcat.profiles.base import TIME
from ckanext.dcat.utils import resource_uri
from ckanext.dcat.validators import is_date

from . import mappings, skos

log = logging.getLogger(__name__)

CNT = Namespace("http://www.w3.org/2011/content#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")

SERVICE_POINTS_TYPE = "service-points"
TABLESCHEMA_PATH = "/schemas/service-points/tableschema.json"
POINT_FILE = "point_file"
DOCUMENTATION = "documentation"
OTHER = "other"

FIELDS = ("domain", "service_types", "territory_level", "territory_codes", "vintage",
          "temporal_start", "temporal_end", "frequency", "access_level",
          "contact_name", "contact_email", "spatial")
_NAME = re.compile(r"^[a-z0-9_-]{2,100}$")


def tableschema_url() -> str:
    """The Table Schema of point files, served by ``servicespublics_dataset``."""
    return tk.url_for(TABLESCHEMA_PATH, _external=True, locale="default")


def _is_tableschema(uri: str) -> bool:
    return uri.rstrip("/").endswith(TABLESCHEMA_PATH)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class ServicesPublicsDCATAPProfile(RDFProfile):
    """Service-point fields and DCAT-AP 3 controlled vocabularies."""

    _vocabulary_warned = False

    # ------------------------------------------------------------ helpers

    def _value(self, data: dict[str, Any], key: str) -> Any:
        value = self._get_dict_value(data, key)
        return None if _empty(value) else value

    def _list(self, data: dict[str, Any], key: str) -> list[str]:
        return [str(v).strip() for v in self._read_list_value(self._value(data, key))
                if str(v).strip()]

    def _typed(self, ref: URIRef, cls: URIRef, scheme: Optional[str] = None) -> URIRef:
        """Type ``ref``; with ``scheme``, describe it as a concept of that
        authority table, as DCAT-AP's shapes check (skos:inScheme, labels)."""
        self.g.add((ref, RDF.type, cls))
        if scheme and (ref, SKOS.inScheme, URIRef(scheme)) not in self.g:
            self.g.add((ref, RDF.type, SKOS.Concept))
            self.g.add((ref, SKOS.inScheme, URIRef(scheme)))
            for label, lang in zip(mappings.labels(str(ref)), ("en", "fr")):
                self.g.add((ref, SKOS.prefLabel, Literal(label, lang=lang)))
            self._authority_scheme(scheme)
        return ref

    def _authority_scheme(self, scheme: str) -> URIRef:
        ref = URIRef(scheme)
        if (ref, RDF.type, SKOS.ConceptScheme) not in self.g:
            self.g.add((ref, RDF.type, SKOS.ConceptScheme))
            for title, lang in zip(mappings.SCHEME_TITLES[scheme], ("en", "fr")):
                self.g.add((ref, DCT.title, Literal(title, lang=lang)))
        return ref

    def _replace(self, subject, predicate, objects: Iterable[URIRef], cls: URIRef,
                 scheme: Optional[str] = None) -> None:
        for old in list(self.g.objects(subject, predicate)):
            self.g.remove((subject, predicate, old))
            if isinstance(old, BNode):
                self.g.remove((old, None, None))
        for obj in objects:
            self.g.add((subject, predicate, self._typed(obj, cls, scheme)))

    def _vocabulary(self, scheme: str) -> dict[str, dict[str, Any]]:
        try:
            return skos.vocabulary(scheme)
        except skos.VocabularyUnavailable as e:
            if not ServicesPublicsDCATAPProfile._vocabulary_warned:
                log.error("DCAT themes are written without labels: %s", e)
                ServicesPublicsDCATAPProfile._vocabulary_warned = True
            return {}

    # ------------------------------------------------------------ dataset -> RDF

    def graph_from_dataset(self, dataset_dict: dict[str, Any], dataset_ref: URIRef):
        self.g.bind("cnt", CNT)
        self.g.bind("csvw", CSVW)
        self._graph_themes(dataset_dict, dataset_ref)
        self._graph_spatial(dataset_dict, dataset_ref)
        self._graph_dates(dataset_dict, dataset_ref)
        self._graph_frequency(dataset_dict, dataset_ref)
        self._graph_access_rights(dataset_dict, dataset_ref)
        self._graph_identifier(dataset_dict, dataset_ref)
        for contact in self.g.objects(dataset_ref, DCAT.contactPoint):
            self.g.add((contact, RDF.type, VCARD.Kind))
        for page in self.g.objects(dataset_ref, DCAT.landingPage):
            self.g.add((page, RDF.type, FOAF.Document))
        if self._is_service_points(dataset_dict):
            self.g.add((dataset_ref, DCT.conformsTo, self._tableschema_ref()))
        self._graph_distributions(dataset_dict, dataset_ref)
        self._graph_byte_sizes()

    def _is_service_points(self, dataset_dict: dict[str, Any]) -> bool:
        return (dataset_dict.get("type") == SERVICE_POINTS_TYPE
                or bool(self._value(dataset_dict, "domain")
                        or self._list(dataset_dict, "service_types")))

    def _tableschema_ref(self) -> URIRef:
        ref = URIRef(tableschema_url())
        if (ref, RDF.type, DCT.Standard) not in self.g:
            self.g.add((ref, RDF.type, DCT.Standard))
            self.g.add((ref, DCT.title, Literal(
                "Schéma des fichiers de points de service public", lang="fr")))
            self.g.add((ref, DCT.title, Literal("Public service point files", lang="en")))
        return ref

    def _graph_themes(self, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
        domain = self._value(dataset_dict, "domain")
        types = self._list(dataset_dict, "service_types")
        if not domain and not types:
            return
        domains_base = skos.scheme_uri(skos.DOMAINS)
        types_base = skos.scheme_uri(skos.SERVICE_TYPES)
        concepts = []
        if domain:
            entries = self._vocabulary(skos.DOMAINS)
            concepts.append(skos.add_concept(
                self.g, skos.DOMAINS, domain, entries.get(domain, {}), domains_base))
        entries = self._vocabulary(skos.SERVICE_TYPES) if types else {}
        for code in types:
            concepts.append(skos.add_concept(self.g, skos.SERVICE_TYPES, code,
                                             entries.get(code, {}), types_base, domains_base))
        skos.add_scheme(self.g, skos.DOMAINS, domains_base)
        skos.add_scheme(self.g, skos.SERVICE_TYPES, types_base)
        for uri in mappings.data_theme_uris(domain):
            concepts.append(self._typed(URIRef(uri), SKOS.Concept,
                                        mappings.DATA_THEME_SCHEME))
        for concept in concepts:
            self.g.add((dataset_ref, DCAT.theme, concept))

    def _graph_spatial(self, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
        level = self._value(dataset_dict, "territory_level")
        if level == "national":
            self.g.add((dataset_ref, DCT.spatial, self._typed(
                URIRef(mappings.FRANCE), DCT.Location, mappings.COUNTRY_SCHEME)))
        for code in self._list(dataset_dict, "territory_codes"):
            uri = mappings.territory_uri(level, code)
            if uri:
                self.g.add((dataset_ref, DCT.spatial, self._typed(URIRef(uri), DCT.Location)))
        geometry = self._value(dataset_dict, "spatial")
        if not geometry:
            return
        try:
            geom = shape(json.loads(geometry) if isinstance(geometry, str) else geometry)
        except (ValueError, TypeError, AttributeError, KeyError):
            log.warning("Dataset %s: spatial is not GeoJSON", dataset_dict.get("name"))
            return
        for location in list(self.g.objects(dataset_ref, DCT.spatial)):
            if (location, LOCN.geometry, None) not in self.g:
                continue
            if geom.geom_type != "Point" and (location, DCAT.bbox, None) not in self.g:
                self._add_spatial_value_to_graph(location, DCAT.bbox,
                                                 mapping(geom.envelope))
            if (location, DCAT.centroid, None) not in self.g:
                self._add_spatial_value_to_graph(location, DCAT.centroid,
                                                 mapping(geom.centroid))

    def _graph_dates(self, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
        vintage = self._value(dataset_dict, "vintage")
        if not vintage or not is_date(str(vintage)[:10]):
            return
        vintage = str(vintage)[:10]
        if not self._value(dataset_dict, "issued"):
            self.g.remove((dataset_ref, DCT.issued, None))
            self._add_date_triple(dataset_ref, DCT.issued, vintage)
        if not (self._value(dataset_dict, "temporal_start")
                or self._value(dataset_dict, "temporal_end")):
            period = BNode()
            self.g.add((period, RDF.type, DCT.PeriodOfTime))
            self._add_date_triple(period, DCAT.startDate, vintage)
            self._add_date_triple(period, DCAT.endDate, vintage)
            self.g.add((dataset_ref, DCT.temporal, period))

    def _graph_frequency(self, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
        frequency = self._value(dataset_dict, "frequency")
        uri = mappings.frequency_uri(frequency)
        if uri:
            self._replace(dataset_ref, DCT.accrualPeriodicity, [URIRef(uri)],
                          DCT.Frequency, mappings.FREQUENCY_SCHEME)
            return
        for value in list(self.g.objects(dataset_ref, DCT.accrualPeriodicity)):
            if isinstance(value, Literal):
                # not a frequency DCAT-AP accepts: a code this profile does not know
                self.g.remove((dataset_ref, DCT.accrualPeriodicity, value))
            elif str(value).startswith(mappings.FREQUENCY_SCHEME + "/"):
                self._typed(value, DCT.Frequency, mappings.FREQUENCY_SCHEME)

    def _graph_access_rights(self, dataset_dict: dict[str, Any], dataset_ref: URIRef):
        uri = mappings.access_right_uri(self._value(dataset_dict, "access_level"))
        if uri:
            self._replace(dataset_ref, DCT.accessRights, [URIRef(uri)],
                          DCT.RightsStatement, mappings.ACCESS_RIGHT_SCHEME)

    def _graph_identifier(self, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
        name = dataset_dict.get("name")
        if not name:
            return
        page = None
        dataset_type = dataset_dict.get("type") or "dataset"
        for endpoint in (f"{dataset_type}.read", "dataset.read"):
            try:
                page = tk.url_for(endpoint, id=name, _external=True, locale="default")
                break
            except BuildError:  # no blueprint for this dataset type
                continue
        if not page:
            return
        identifier = URIRef(page)
        self.g.add((dataset_ref, ADMS.identifier, identifier))
        self.g.add((identifier, RDF.type, ADMS.Identifier))
        self.g.add((identifier, SKOS.notation, Literal(name)))

    def _graph_distributions(self, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
        licence = mappings.licence_uri(self._value(dataset_dict, "license_id"),
                                       self._value(dataset_dict, "license_url"))
        for resource_dict in dataset_dict.get("resources", []):
            if not resource_dict.get("id") and not resource_dict.get("uri"):
                continue
            distribution = URIRef(resource_uri(resource_dict))
            self._graph_format(resource_dict, distribution)
            if licence and (distribution, DCT.license, None) not in self.g:
                self.g.add((distribution, DCT.license, URIRef(licence)))
            for value in list(self.g.objects(distribution, DCT.license)):
                self._graph_licence(dataset_dict, value)
            self._graph_point_file(resource_dict, distribution)
            url = resource_dict.get("url")
            if url and resource_dict.get("role") == DOCUMENTATION:
                self.g.add((dataset_ref, FOAF.page, self._typed(URIRef(url), FOAF.Document)))
            if (url and resource_dict.get("url_type") == "upload"
                    and (distribution, DCAT.downloadURL, None) not in self.g):
                self.g.add((distribution, DCAT.downloadURL, URIRef(url)))
            for url_ref in self.g.objects(distribution, DCAT.accessURL):
                self.g.add((url_ref, RDF.type, RDFS.Resource))

    def _graph_byte_sizes(self) -> None:
        """``dcat:byteSize`` as ``xsd:decimal``, in the whole graph.

        ckanext-dcat's DCAT-AP 3 profile writes ``xsd:nonNegativeInteger``
        (DCAT 3's range), but SEMIC's DCAT-AP 3.0.0 shapes (``shapes.ttl``) and
        DCAT-AP 2.1.1 require ``sh:datatype xsd:decimal``, and SHACL matches
        datatypes exactly; ``dcat-ap-SHACL.ttl`` only wants a literal. A
        decimal satisfies all three, and every reader (ckanext-dcat parses
        ``int(float(value))``) takes it. The whole graph, because that profile
        converts every size of the graph each time a dataset is added to a
        catalogue page.
        """
        for distribution, _p, size in list(self.g.triples((None, DCAT.byteSize, None))):
            if getattr(size, "datatype", None) == XSD.decimal:
                continue
            try:
                value = int(float(size))
            except (TypeError, ValueError):
                continue
            self.g.remove((distribution, DCAT.byteSize, size))
            self.g.add((distribution, DCAT.byteSize,
                        Literal(Decimal(value), datatype=XSD.decimal)))

    def _graph_point_file(self, resource_dict: dict[str, Any], distribution: URIRef) -> None:
        """Role, coordinate system and CSV dialect of a resource."""
        if resource_dict.get("role") == POINT_FILE:
            self.g.add((distribution, DCT.conformsTo, self._tableschema_ref()))
        crs = mappings.crs_uri(resource_dict.get("crs"))
        if crs:
            self.g.add((distribution, DCT.conformsTo, self._typed(URIRef(crs), DCT.Standard)))
        if resource_dict.get("encoding"):
            self.g.add((distribution, CNT.characterEncoding, Literal(resource_dict["encoding"])))
        if resource_dict.get("delimiter"):
            dialect = BNode()
            self.g.add((distribution, CSVW.dialect, dialect))
            self.g.add((dialect, RDF.type, CSVW.Dialect))
            self.g.add((dialect, CSVW.delimiter, Literal(resource_dict["delimiter"])))
        mapping_ = _json_object(resource_dict.get("column_mapping"))
        if mapping_:
            table_schema = BNode()
            self.g.add((distribution, CSVW.tableSchema, table_schema))
            self.g.add((table_schema, RDF.type, CSVW.Schema))
            for standard, source in sorted(mapping_.items()):
                column = BNode()
                self.g.add((table_schema, CSVW.column, column))
                self.g.add((column, CSVW.name, Literal(standard)))
                self.g.add((column, CSVW.title, Literal(source)))

    def _graph_format(self, resource_dict: dict[str, Any], distribution: URIRef) -> None:
        for value in list(self.g.objects(distribution, DCT["format"])):
            if isinstance(value, URIRef):
                if str(value).startswith(mappings.FILE_TYPE_SCHEME + "/"):
                    self._typed(value, DCT.MediaTypeOrExtent, mappings.FILE_TYPE_SCHEME)
                continue
            self.g.remove((distribution, DCT["format"], value))
            uri = mappings.file_type_uri(str(value))
            if uri:
                self.g.add((distribution, DCT["format"], self._typed(
                    URIRef(uri), DCT.MediaTypeOrExtent, mappings.FILE_TYPE_SCHEME)))
        for value in list(self.g.objects(distribution, DCAT.mediaType)):
            if isinstance(value, Literal):
                self.g.remove((distribution, DCAT.mediaType, value))
                uri = mappings.media_type_uri(str(value))
                if uri:
                    self.g.add((distribution, DCAT.mediaType,
                                self._typed(URIRef(uri), DCT.MediaType)))

    def _graph_licence(self, dataset_dict: dict[str, Any], licence: URIRef) -> None:
        self.g.add((licence, RDF.type, DCT.LicenseDocument))
        license_id = mappings.licence_id(str(licence))
        if license_id is None and str(licence) == mappings.licence_uri(
                None, self._value(dataset_dict, "license_url")):
            license_id = self._value(dataset_dict, "license_id")
        types = mappings.licence_types(license_id)
        self.g.remove((licence, DCT.type, None))
        if self._value(dataset_dict, "license_title") and license_id:
            self.g.set((licence, DCT.title, Literal(dataset_dict["license_title"])))
        for licence_type in types:
            self.g.add((licence, DCT.type, self._typed(URIRef(licence_type), SKOS.Concept,
                                                       mappings.LICENCE_TYPE_SCHEME)))

    # ------------------------------------------------------------ catalogue -> RDF

    def graph_from_catalog(self, catalog_dict: Optional[dict[str, Any]], catalog_ref: URIRef):
        g = self.g
        config = tk.config
        language = mappings.language_uri(config.get("ckan.locale_default"))
        self._replace(catalog_ref, DCT.language, [URIRef(language)], DCT.LinguisticSystem,
                      mappings.LANGUAGE_SCHEME)
        if (catalog_ref, DCT.description, None) not in g:
            g.add((catalog_ref, DCT.description, Literal(
                config.get("ckanext.servicespublics.dcat.catalog_description"),
                lang=language_tag())))
        for homepage in g.objects(catalog_ref, FOAF.homepage):
            g.add((homepage, RDF.type, FOAF.Document))
        if (catalog_ref, DCT.publisher, None) not in g:
            g.add((catalog_ref, DCT.publisher, add_site_publisher(g)))
        licence = mappings.licence_uri(
            config.get("ckanext.servicespublics.dcat.catalog_license_id"))
        if licence:
            g.add((catalog_ref, DCT.license, URIRef(licence)))
            g.add((URIRef(licence), RDF.type, DCT.LicenseDocument))
        for scheme in skos.SCHEMES:
            g.add((catalog_ref, DCAT.themeTaxonomy, skos.add_scheme(g, scheme)))
        g.add((catalog_ref, DCAT.themeTaxonomy,
               self._authority_scheme(mappings.DATA_THEME_SCHEME)))
        g.add((catalog_ref, DCT.spatial, self._typed(
            URIRef(mappings.FRANCE), DCT.Location, mappings.COUNTRY_SCHEME)))
        # ckanext-dcat dates the catalogue from every public dataset, harvest
        # sources included, read without permission labels: date it from the
        # datasets the catalogue lists to the current user
        g.remove((catalog_ref, DCT.modified, None))
        modified = _visible_dataset_date("metadata_modified desc")
        if modified:
            self._add_date_triple(catalog_ref, DCT.modified, modified)
        issued = _visible_dataset_date("metadata_created asc", "metadata_created")
        if issued and (catalog_ref, DCT.issued, None) not in g:
            self._add_date_triple(catalog_ref, DCT.issued, issued)

    # ------------------------------------------------------------ RDF -> dataset

    def parse_dataset(self, dataset_dict: dict[str, Any], dataset_ref: URIRef):
        values, consumed = self._read_values(dataset_ref)
        service_points = bool(consumed["conforms_to"] or values.get("domain")
                              or values.get("service_types"))
        schema = self._service_points_schema() if service_points else None
        if schema is not None:
            dataset_dict["type"] = SERVICE_POINTS_TYPE
        else:
            schema = self._dataset_schema
        dataset_dict.setdefault("extras", [])
        self._forget(dataset_dict, self._replaced_keys(values))
        self._forget_consumed(dataset_dict, consumed)
        name = values.pop("name", None)
        if name and not _name_taken(name):
            dataset_dict["name"] = name
        license_id = values.pop("license_id", None)
        if license_id:
            dataset_dict["license_id"] = license_id
        for key in FIELDS:
            self._place(dataset_dict, key, values.get(key), schema)
        self._settle_extras(dataset_dict, schema)
        self._parse_resources(dataset_dict, dataset_ref)
        return dataset_dict

    @staticmethod
    def _replaced_keys(values: dict[str, Any]) -> set[str]:
        """What earlier profiles wrote that the values read here replace."""
        keys = {key for key in FIELDS if not _empty(values.get(key))}
        keys |= values.pop("_seen", set())
        if "spatial" in keys:
            keys |= {"spatial_bbox", "spatial_centroid"}
        if "territory_level" in keys:
            keys |= {"spatial_uri"}
        if "contact_name" in keys or "contact_email" in keys:
            keys |= {"contact", "contact_uri", "contact_identifier", "contact_url"}
        if "access_level" in keys:
            keys.add("access_rights")
        if "vintage" in keys:
            keys.add("issued")
        return keys

    @staticmethod
    def _service_points_schema() -> Optional[dict[str, Any]]:
        """The scheming schema of service points, if this site has one."""
        try:
            return tk.get_action("scheming_dataset_schema_show")(
                {}, {"type": SERVICE_POINTS_TYPE})
        except (KeyError, tk.ObjectNotFound):
            return None

    def _read_values(self, dataset_ref: URIRef) -> tuple[dict[str, Any], dict[str, set[str]]]:
        consumed: dict[str, set[str]] = {"theme": set(), "conforms_to": set(),
                                         "alternate_identifier": set()}
        values: dict[str, Any] = {}
        self._read_themes(dataset_ref, values, consumed["theme"])
        self._read_territory(dataset_ref, values)
        consumed["conforms_to"] |= {str(o) for o in self.g.objects(dataset_ref, DCT.conformsTo)
                                    if _is_tableschema(str(o))}
        issued = self._object_value(dataset_ref, DCT.issued)
        if issued and is_date(issued):
            values["vintage"] = issued
        self._read_temporal(dataset_ref, values)
        for key, end in (("temporal_start", False), ("temporal_end", True)):
            if values.get(key):
                values[key] = mappings.iso_date(values[key], end=end)
        frequencies = list(self.g.objects(dataset_ref, DCT.accrualPeriodicity))
        if frequencies:
            # a frequency no vocabulary here knows is dropped rather than
            # stored in a field whose values are checked
            values["frequency"] = next((mappings.frequency_code(str(f)) for f in frequencies
                                        if mappings.frequency_code(str(f))), None)
            values.setdefault("_seen", set()).add("frequency")
        for uri in self.g.objects(dataset_ref, DCT.accessRights):
            values["access_level"] = (mappings.access_level(str(uri))
                                      or values.get("access_level"))
        contacts = self._contact_details(dataset_ref, DCAT.contactPoint)
        if contacts:
            values["contact_name"] = contacts[0].get("name")
            values["contact_email"] = contacts[0].get("email")
        geometry = self._spatial(dataset_ref, DCT.spatial).get("geom")
        if geometry:
            values["spatial"] = geometry
        for identifier in self.g.objects(dataset_ref, ADMS.identifier):
            notation = str(self.g.value(identifier, SKOS.notation) or "")
            if (isinstance(identifier, URIRef) and _NAME.match(notation)
                    and str(identifier).rstrip("/").endswith("/" + notation)):
                values["name"] = notation
                consumed["alternate_identifier"].add(str(identifier))
        values["license_id"] = self._read_licence(dataset_ref)
        return values, consumed

    def _read_themes(self, dataset_ref: URIRef, values: dict[str, Any],
                     consumed: set[str]) -> None:
        known_types = self._vocabulary(skos.SERVICE_TYPES)
        types = []
        for theme in self.g.objects(dataset_ref, DCAT.theme):
            domain = skos.code_from_concept(self.g, theme, skos.DOMAINS)
            if domain:
                values["domain"] = domain
                consumed.add(str(theme))
                continue
            code = skos.code_from_concept(self.g, theme, skos.SERVICE_TYPES)
            if code and (not known_types or code in known_types):
                types.append(code)
                consumed.add(str(theme))
        if types:
            values["service_types"] = sorted(set(types))
        if values.get("domain"):
            consumed.update(mappings.data_theme_uris(values["domain"]))

    def _read_territory(self, dataset_ref: URIRef, values: dict[str, Any]) -> None:
        found: dict[str, list[str]] = {}
        for location in self.g.objects(dataset_ref, DCT.spatial):
            if str(location) == mappings.FRANCE:
                found.setdefault("national", [])
                continue
            territory = mappings.territory(str(location))
            if territory:
                found.setdefault(territory[0], []).append(territory[1])
        for level in ("commune", "epci", "departement", "region", "national"):
            if level in found:
                values["territory_level"] = level
                values["territory_codes"] = sorted(found[level])
                break

    def _period(self, period) -> tuple[Optional[str], Optional[str]]:
        for start_p, end_p in ((DCAT.startDate, DCAT.endDate),
                               (SCHEMA.startDate, SCHEMA.endDate)):
            start = self._object_value(period, start_p) or None
            end = self._object_value(period, end_p) or None
            if start or end:
                return start, end
        instants = [self.g.value(period, TIME.hasBeginning), self.g.value(period, TIME.hasEnd)]
        return tuple(  # type: ignore[return-value]
            self._object_value_multiple_predicate(
                i, [TIME.inXSDDateTimeStamp, TIME.inXSDDateTime, TIME.inXSDDate]) or None
            if i is not None else None
            for i in instants)

    def _read_temporal(self, dataset_ref: URIRef, values: dict[str, Any]) -> None:
        vintage = values.get("vintage")
        for period in self.g.objects(dataset_ref, DCT.temporal):
            start, end = self._period(period)
            if (start or end) and not (vintage and start == end == vintage):
                values["temporal_start"], values["temporal_end"] = start, end
                return

    def _read_licence(self, dataset_ref: URIRef) -> Optional[str]:
        """The licence id of the first distribution licence this profile knows,
        as the site's licence register names it when it has that licence."""
        register = {key: mappings.licence_id(lic.url or "") or key
                    for key, lic in LicenseRegister().items()}
        for distribution in self._distributions(dataset_ref):
            for licence in self.g.objects(distribution, DCT.license):
                license_id = mappings.licence_id(str(licence))
                if not license_id:
                    continue
                if license_id in register:
                    return license_id
                same = [key for key, known in register.items() if known == license_id]
                return same[0] if same else license_id
        return None

    @staticmethod
    def _forget(dataset_dict: dict[str, Any], keys: set[str]) -> None:
        dataset_dict["extras"] = [e for e in dataset_dict["extras"] if e["key"] not in keys]
        for key in keys:
            dataset_dict.pop(key, None)

    def _forget_consumed(self, dataset_dict: dict[str, Any],
                         consumed: dict[str, set[str]]) -> None:
        """Remove from list fields the values this profile has turned into fields."""
        extras = []
        for extra in dataset_dict["extras"]:
            used = consumed.get(extra["key"])
            if used:
                rest = [v for v in self._read_list_value(extra["value"]) if v not in used]
                if not rest:
                    continue
                extra = {"key": extra["key"], "value": json.dumps(rest)}
            extras.append(extra)
        dataset_dict["extras"] = extras
        for key, used in consumed.items():
            if isinstance(dataset_dict.get(key), list):
                rest = [v for v in dataset_dict[key] if v not in used]
                if rest:
                    dataset_dict[key] = rest
                else:
                    del dataset_dict[key]

    @staticmethod
    def _place(dataset_dict: dict[str, Any], key: str, value: Any,
               schema: Optional[dict[str, Any]]) -> None:
        if _empty(value):
            return
        if _schema_has(schema, key):
            dataset_dict[key] = value
        else:
            dataset_dict["extras"].append({
                "key": key, "value": json.dumps(value) if isinstance(value, list) else value})

    @staticmethod
    def _settle_extras(dataset_dict: dict[str, Any], schema: Optional[dict[str, Any]]) -> None:
        """Extras named like a field of the target schema become that field
        (CKAN refuses an extra with the name of a field)."""
        if not schema:
            return
        extras = []
        for extra in dataset_dict["extras"]:
            if _schema_has(schema, extra["key"]):
                dataset_dict.setdefault(extra["key"], extra["value"])
            else:
                extras.append(extra)
        dataset_dict["extras"] = extras

    def _parse_resources(self, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
        distributions = {str(d): d for d in self._distributions(dataset_ref)}
        licence = mappings.licence_uri(dataset_dict.get("license_id"))
        pages = set(self._object_value_list(dataset_ref, FOAF.page))
        service_points = dataset_dict.get("type") == SERVICE_POINTS_TYPE
        documented = set()
        for resource_dict in dataset_dict.get("resources", []):
            distribution = distributions.get(resource_dict.pop("distribution_ref", None))
            if distribution is None:
                continue
            self._parse_resource(resource_dict, distribution, licence)
            if resource_dict.get("role"):
                continue
            if resource_dict.get("url") in pages:
                resource_dict["role"] = DOCUMENTATION
                documented.add(resource_dict["url"])
            elif service_points:
                resource_dict["role"] = OTHER
        if documented:
            self._forget_consumed(dataset_dict, {"documentation": documented})

    def _parse_resource(self, resource_dict: dict[str, Any], distribution,
                        licence: Optional[str]) -> None:
        fmt = resource_dict.get("format") or ""
        label = mappings.file_type_label(fmt)
        if label:
            resource_dict["format"] = label
        if resource_dict.get("mimetype"):
            resource_dict["mimetype"] = mappings.media_type(resource_dict["mimetype"])
            if not label and fmt.startswith("http"):
                resource_dict["format"] = mappings.media_type(fmt)
        conforms = []
        for uri in self._object_value_list(distribution, DCT.conformsTo):
            if _is_tableschema(uri):
                resource_dict["role"] = POINT_FILE
            elif mappings.crs_code(uri):
                resource_dict["crs"] = mappings.crs_code(uri)
            else:
                conforms.append(uri)
        resource_dict.pop("conforms_to", None)
        if conforms:
            resource_dict["conforms_to"] = json.dumps(conforms)
        self._parse_dialect(resource_dict, distribution)
        if licence and resource_dict.get("license") == licence:
            del resource_dict["license"]
        for key in ("access_url", "download_url"):
            if resource_dict.get(key) == resource_dict.get("url"):
                resource_dict.pop(key, None)

    def _parse_dialect(self, resource_dict: dict[str, Any], distribution) -> None:
        encoding = self._object_value(distribution, CNT.characterEncoding)
        if encoding:
            resource_dict["encoding"] = encoding
        for dialect in self.g.objects(distribution, CSVW.dialect):
            delimiter = self.g.value(dialect, CSVW.delimiter)
            if delimiter is not None:
                resource_dict["delimiter"] = str(delimiter)
        columns = {}
        for table_schema in self.g.objects(distribution, CSVW.tableSchema):
            for column in self.g.objects(table_schema, CSVW.column):
                name = self.g.value(column, CSVW.name)
                title = self.g.value(column, CSVW.title)
                if name is not None and title is not None:
                    columns[str(name)] = str(title)
        if columns:
            resource_dict["column_mapping"] = json.dumps(columns, sort_keys=True)


def _json_object(value: Any) -> dict[str, str]:
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if v not in (None, "")}


def _schema_has(schema: Optional[dict[str, Any]], key: str) -> bool:
    return bool(schema) and any(f["field_name"] == key
                                for f in schema.get("dataset_fields", []))


def _name_taken(name: str) -> bool:
    import ckan.model as model
    return model.Package.get(name) is not None


def language_tag() -> str:
    return (tk.config.get("ckan.locale_default") or "fr").split("_")[0]


def add_site_publisher(graph) -> URIRef | BNode:
    """The agent publishing the catalogue (and its vocabularies)."""
    config = tk.config
    uri = config.get("ckanext.servicespublics.dcat.publisher_uri")
    ref: URIRef | BNode = URIRef(uri) if uri else BNode()
    graph.add((ref, RDF.type, FOAF.Agent))
    graph.add((ref, RDF.type, FOAF.Organization))
    name = (config.get("ckanext.servicespublics.dcat.publisher_name")
            or config.get("ckan.site_title"))
    graph.add((ref, FOAF.name, Literal(name)))
    email = config.get("ckanext.servicespublics.dcat.publisher_email")
    if email:
        graph.add((ref, FOAF.mbox, URIRef("mailto:" + email)))
    homepage = config.get("ckan.site_url")
    if homepage:
        graph.add((ref, FOAF.homepage, URIRef(homepage)))
    return ref


def _visible_dataset_date(sort: str, key: str = "metadata_modified") -> Optional[str]:
    """A date of the first dataset the current user may see, in this order."""
    try:
        result = tk.get_action("package_search")({}, {
            "sort": sort, "rows": 1, "fl": "id,metadata_created,metadata_modified",
            "fq": "-dataset_type:harvest"})
    except (tk.ValidationError, tk.NotAuthorized):
        return None
    if result.get("results"):
        return result["results"][0].get(key)
    return None

