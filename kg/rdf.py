"""Build records -> RDF triples, as N-Triples lines (the bulk loader's fastest input).

- entity: ``rdf:type ont:Article`` (and ``ont:DisambiguationPage``), ``rdf:type class/<Name>``
  per infobox, ``rdfs:label "Title"@lang``, ``ont:abstract "..."@lang``,
  ``dct:subject resource/Category:<Name>``, provenance ``ont:wikiPageID`` and
  ``ont:wikiPageRevisionID``;
- fact: ``property/<key>`` to an entity IRI or a typed literal (quantities: ``"5"^^unit/km``);
- link: ``ont:wikiPageWikiLink``; redirect: ``ont:wikiPageRedirects``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from common.jsonl import read_output
from common.vocab import DCT_SUBJECT, OWL_CLASS, PREFIXES, RDF_PROPERTY, RDF_TYPE, RDFS_LABEL, XSD
from kg.iri import IriScheme, class_name

_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def iri(value: str) -> str:
    return f"<{value}>"


def literal(value: str, lang: str | None = None, datatype: str | None = None) -> str:
    text = f'"{value.translate(_ESCAPES)}"'
    if lang:
        return f"{text}@{lang}"
    if datatype:
        return f"{text}^^<{datatype}>"
    return text


def triple(s: str, p: str, o: str) -> str:
    return f"{s} {p} {o} .\n"


class TripleWriter:
    """Turns build records into N-Triples lines, declaring each class/property once."""

    def __init__(self, scheme: IriScheme):
        self.scheme = scheme
        self.declared: set[str] = set()
        self.o = {term: iri(scheme.ontology(term)) for term in (
            "Article", "DisambiguationPage", "abstract", "wikiPageID", "wikiPageRevisionID",
            "wikiPageWikiLink", "wikiPageRedirects", "infobox")}

    def _declare(self, node: str, kind: str, label: str) -> Iterator[str]:
        if node not in self.declared:
            self.declared.add(node)
            yield triple(node, iri(RDF_TYPE), iri(kind))
            yield triple(node, iri(RDFS_LABEL), literal(label))

    def entity(self, record: dict) -> Iterator[str]:
        s = iri(self.scheme.resource(record["title"]))
        lang = record.get("lang")
        yield triple(s, iri(RDF_TYPE), self.o["Article"])
        if record.get("disambiguation"):
            yield triple(s, iri(RDF_TYPE), self.o["DisambiguationPage"])
        yield triple(s, iri(RDFS_LABEL), literal(record["title"], lang))
        for infobox in record.get("infoboxes", []):
            name = class_name(infobox)
            cls = iri(self.scheme.klass(name))
            yield from self._declare(cls, OWL_CLASS, name)
            yield triple(s, iri(RDF_TYPE), cls)
        if record.get("abstract"):
            yield triple(s, self.o["abstract"], literal(record["abstract"], lang))
        for category in record.get("categories", []):
            yield triple(s, iri(DCT_SUBJECT), iri(self.scheme.resource(f"Category:{category}")))
        yield triple(s, self.o["wikiPageID"], literal(str(record["id"]), datatype=XSD + "integer"))
        if record.get("revision_id") is not None:
            yield triple(s, self.o["wikiPageRevisionID"],
                         literal(str(record["revision_id"]), datatype=XSD + "integer"))

    def fact(self, record: dict) -> Iterator[str]:
        s = iri(self.scheme.resource(record["subject"]))
        p = iri(self.scheme.property(record["property"]))
        yield from self._declare(p, RDF_PROPERTY, record["property"])
        yield triple(s, p, self.fact_object(record))

    def fact_object(self, record: dict) -> str:
        kind, value = record["kind"], record["value"]
        if kind == "entity":
            return iri(self.scheme.resource(value))
        if kind == "quantity":
            return literal(value, datatype=self.scheme.unit(record["unit"]))
        if kind == "string":
            return literal(value, record.get("lang"))
        prefix, name = record["datatype"].split(":", 1)  # xsd:date, geo:wktLiteral ...
        return literal(value, datatype=PREFIXES[prefix] + name)

    def link(self, record: dict) -> Iterator[str]:
        yield triple(iri(self.scheme.resource(record["source"])), self.o["wikiPageWikiLink"],
                     iri(self.scheme.resource(record["target"])))

    def redirect(self, record: dict) -> Iterator[str]:
        yield triple(iri(self.scheme.resource(record["source"])), self.o["wikiPageRedirects"],
                     iri(self.scheme.resource(record["target"])))


def build_triples(build_dir: Path, scheme: IriScheme) -> Iterator[str]:
    """All N-Triples lines of a build directory, file by file, in record order."""
    writer = TripleWriter(scheme)
    for name, method in (("entities", writer.entity), ("facts", writer.fact),
                         ("links", writer.link), ("redirects", writer.redirect)):
        for record in read_output(build_dir, name):
            yield from method(record)
