"""RDF vocabulary: the W3C and Dublin Core namespaces and the terms the project writes.

One home, so a graph written by ``kg.rdf``, a page rendered by ``kg.server`` and a report
drawn by ``wikikg.report`` spell an IRI the same way.
"""

from __future__ import annotations

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCT = "http://purl.org/dc/terms/"
SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
GEO = "http://www.opengis.net/ont/geosparql#"
PROV = "http://www.w3.org/ns/prov#"

# prefix -> namespace, as shown on pages and written in Turtle
PREFIXES = {"rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD, "dct": DCT, "geo": GEO,
            "prov": PROV}

RDF_TYPE = RDF + "type"
RDF_PROPERTY = RDF + "Property"
RDF_LANG_STRING = RDF + "langString"
RDFS_LABEL = RDFS + "label"
OWL_CLASS = OWL + "Class"
DCT_SUBJECT = DCT + "subject"
XSD_STRING = XSD + "string"
XSD_INTEGER = XSD + "integer"
XSD_BOOLEAN = XSD + "boolean"
