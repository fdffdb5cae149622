"""Result formats: one registry for the query CLI and the endpoint, and the writers.

Graph results (CONSTRUCT, DESCRIBE) and ASK answers are written by pyoxigraph's own
serializers.  SELECT results are written here, because an endpoint cuts them at
``max_rows`` and says so (``"truncated"`` in JSON, a ``#truncated`` link in XML, the row
count in a header); pyoxigraph's serializer consumes the whole result and cannot stop.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

import orjson
import pyoxigraph as ox

from common.vocab import XSD

SOLUTIONS, BOOLEAN, GRAPH = "solutions", "boolean", "graph"


@dataclass(frozen=True)
class ResultFormat:
    """A way to write one kind of result: ``key`` is the CLI's ``--format`` name."""

    key: str
    media_type: str
    kinds: frozenset
    content_type: str = ""
    aliases: tuple[str, ...] = ()
    rdf: ox.RdfFormat | None = None
    results: ox.QueryResultsFormat | None = None

    @property
    def header(self) -> str:
        return self.content_type or self.media_type


# In order of preference: the first of a kind answers ``Accept: */*``.
FORMATS = (
    ResultFormat("json", "application/sparql-results+json", frozenset({SOLUTIONS, BOOLEAN}),
                 aliases=("application/json",), results=ox.QueryResultsFormat.JSON),
    ResultFormat("xml", "application/sparql-results+xml", frozenset({SOLUTIONS, BOOLEAN}),
                 aliases=("application/xml",), results=ox.QueryResultsFormat.XML),
    ResultFormat("csv", "text/csv", frozenset({SOLUTIONS}), "text/csv; charset=utf-8",
                 results=ox.QueryResultsFormat.CSV),
    ResultFormat("tsv", "text/tab-separated-values", frozenset({SOLUTIONS}),
                 "text/tab-separated-values; charset=utf-8", results=ox.QueryResultsFormat.TSV),
    ResultFormat("ttl", "text/turtle", frozenset({GRAPH}), "text/turtle; charset=utf-8",
                 rdf=ox.RdfFormat.TURTLE),
    ResultFormat("nt", "application/n-triples", frozenset({GRAPH}), rdf=ox.RdfFormat.N_TRIPLES),
    ResultFormat("rdfxml", "application/rdf+xml", frozenset({GRAPH}), rdf=ox.RdfFormat.RDF_XML),
    ResultFormat("jsonld", "application/ld+json", frozenset({GRAPH}), rdf=ox.RdfFormat.JSON_LD),
    ResultFormat("nq", "application/n-quads", frozenset({GRAPH}), rdf=ox.RdfFormat.N_QUADS),
    ResultFormat("trig", "application/trig", frozenset({GRAPH}), "application/trig; charset=utf-8",
                 rdf=ox.RdfFormat.TRIG),
)
BY_KEY = {f.key: f for f in FORMATS}
KIND_OF_FORM = {"SELECT": SOLUTIONS, "ASK": BOOLEAN, "CONSTRUCT": GRAPH, "DESCRIBE": GRAPH}
WHAT = {SOLUTIONS: "SELECT", BOOLEAN: "ASK", GRAPH: "CONSTRUCT/DESCRIBE"}


def formats_for(kind: str) -> list[ResultFormat]:
    return [f for f in FORMATS if kind in f.kinds]


def kind_of(result) -> str:
    if isinstance(result, ox.QueryBoolean):
        return BOOLEAN
    return SOLUTIONS if isinstance(result, ox.QuerySolutions) else GRAPH


class UnsupportedFormat(ValueError):
    """A format that has no form for this kind of result (CSV for ASK, Turtle for SELECT)."""

    def __init__(self, kind: str):
        names = ", ".join(f.key for f in formats_for(kind))
        super().__init__(f"a {WHAT[kind]} result can be written as {names}")
        self.kind = kind


@dataclass(frozen=True)
class Written:
    body: bytes
    format: ResultFormat
    rows: int
    truncated: bool


def write_result(result, key: str, limit: int | None = None) -> Written:
    """Serialise any query result in format ``key``, at most ``limit`` rows or triples."""
    kind = kind_of(result)
    fmt = BY_KEY.get(key)
    if fmt is None or kind not in fmt.kinds:
        raise UnsupportedFormat(kind)
    if kind == BOOLEAN:
        return Written(result.serialize(format=fmt.results), fmt, 1, False)
    if kind == GRAPH:
        triples = list(itertools.islice(result, None if limit is None else limit + 1))
        truncated = limit is not None and len(triples) > limit
        triples = triples[:limit]
        return Written(serialize_triples(triples, fmt.rdf), fmt, len(triples), truncated)
    variables = [v.value for v in result.variables]
    rows = [list(s) for s in itertools.islice(result, None if limit is None else limit + 1)]
    truncated = limit is not None and len(rows) > limit
    rows = rows[:limit]
    return Written(_SOLUTION_WRITERS[key](variables, rows, truncated), fmt, len(rows), truncated)


def serialize_triples(triples: list, rdf: ox.RdfFormat) -> bytes:
    """Triples in ``rdf``; dataset formats (N-Quads, TriG) put them in the default graph."""
    if rdf.supports_datasets:
        triples = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples]
    return ox.serialize(triples, format=rdf) or b""


# --- SELECT writers (SPARQL 1.1 Query Results JSON / XML / CSV / TSV) --------------------

def json_term(term) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD + "string":
            out["datatype"] = term.datatype.value
        return out
    return {"type": "triple", "value": str(term)}


def _json(variables: list[str], rows: list[list], truncated: bool) -> bytes:
    bindings = [{var: json_term(term) for var, term in zip(variables, row) if term is not None}
                for row in rows]
    document = {"head": {"vars": variables}, "results": {"bindings": bindings}}
    if truncated:
        document["head"]["link"] = ["#truncated"]
        document["truncated"] = True
    return orjson.dumps(document)


def _xml_term(term) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{xml_escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{xml_escape(term.value)}</bnode>"
    if term.language:
        return f'<literal xml:lang="{xml_escape(term.language)}">{xml_escape(term.value)}</literal>'
    if term.datatype.value != XSD + "string":
        return (f'<literal datatype="{xml_escape(term.datatype.value)}">'
                f"{xml_escape(term.value)}</literal>")
    return f"<literal>{xml_escape(term.value)}</literal>"


def _xml(variables: list[str], rows: list[list], truncated: bool) -> bytes:
    out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">',
           "<head>" + "".join(f'<variable name="{v}"/>' for v in variables)
           + ('<link href="#truncated"/>' if truncated else "") + "</head>", "<results>"]
    for row in rows:
        out.append("<result>" + "".join(
            f'<binding name="{v}">{_xml_term(t)}</binding>'
            for v, t in zip(variables, row) if t is not None) + "</result>")
    out.append("</results>\n</sparql>\n")
    return "\n".join(out).encode()


def _csv(variables: list[str], rows: list[list], truncated: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(variables)
    for row in rows:
        writer.writerow(["" if t is None else (f"_:{t.value}" if isinstance(t, ox.BlankNode)
                                               else t.value) for t in row])
    return buffer.getvalue().encode()


def _tsv(variables: list[str], rows: list[list], truncated: bool) -> bytes:
    lines = ["\t".join(f"?{v}" for v in variables)]
    lines += ["\t".join("" if t is None else str(t) for t in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


_SOLUTION_WRITERS = {"json": _json, "xml": _xml, "csv": _csv, "tsv": _tsv}


def results_table(result, limit: int | None = None, width: int = 60,
                  short=lambda iri: iri) -> str:
    """A plain-text table for the terminal; ASK: true/false.  IRIs as prefixed names
    (``short``), literals with their language tag (``English@en``) or datatype
    (``1809-02-12^^xsd:date``; numbers, booleans and plain strings bare), values longer
    than ``width`` cut with ``…`` and a last line that says so."""
    if kind_of(result) == BOOLEAN:
        return ("true" if result else "false") + "\n"
    if kind_of(result) == GRAPH:
        raise UnsupportedFormat(GRAPH)
    variables = [v.value for v in result.variables]
    whole = [[_cell(term, short) for term in row] for row in itertools.islice(result, limit)]
    cells = [[_cut(text, width) for text in row] for row in whole]
    widths = [max([len(v)] + [len(r[i]) for r in cells]) for i, v in enumerate(variables)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(v.ljust(w) for v, w in zip(variables, widths)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    out.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    cut = sum(len(text) > width for row in whole for text in row)
    if cut:
        out.append(f"({cut} value{'s' if cut != 1 else ''} cut at {width} characters: "
                   "--format tsv or json shows them whole)")
    return "\n".join(out) + "\n"


_BARE = {XSD + name for name in ("string", "integer", "decimal", "double", "float", "boolean",
                                 "int", "long")}


def _cell(term, short) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return short(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return f"{term.value}@{term.language}"
        if term.datatype.value in _BARE:
            return term.value
        return f"{term.value}^^{short(term.datatype.value)}"
    return str(term)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
