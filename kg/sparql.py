"""SPARQL safety checks, term conversion and result serialisation.

pyoxigraph's ``Store.query`` performs ``SERVICE`` calls over HTTP itself, so every query
is checked *before* it reaches the store: a ``SERVICE`` clause or an update keyword is
refused.  The check runs on the query with comments, strings and IRIs blanked out, so
``"SERVICE"`` in a literal or an IRI does not trip it.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape as xml_escape

import pyoxigraph as ox

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

_BLANKABLE = re.compile(
    r"#[^\n]*"                                   # comment
    r"|'''.*?'''|\"\"\".*?\"\"\""                # long strings
    r"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\""  # strings
    r"|<[^<>\"{}|^`\\\s]*>",                     # IRIs
    re.S)
_SERVICE = re.compile(r"\bSERVICE\b", re.I)
_UPDATE = re.compile(r"^\s*(?:(?:PREFIX\s+\S*\s*<[^>]*>|BASE\s*<[^>]*>)\s*)*"
                     r"(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.I)
_FORM = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.I)


class QueryRefused(ValueError):
    """A query this endpoint will not run (SERVICE, updates); maps to HTTP 4xx."""


class QuerySyntaxError(ValueError):
    """The parser's message, with its ``line:column`` position."""


def _blanked(query: str) -> str:
    return _BLANKABLE.sub(lambda m: " " * len(m.group(0)) if not m.group(0).startswith("<")
                          else "<>", query)


def check_query(query: str) -> str:
    """Refuse updates and anything that would fetch a remote resource; return the form."""
    bare = _blanked(query)
    update = _UPDATE.match(bare)
    if update:
        raise QueryRefused(f"read-only endpoint: SPARQL update ({update.group(1).upper()}) "
                           "is not allowed")
    if _SERVICE.search(bare):
        raise QueryRefused("SERVICE (federated query) is not allowed: this endpoint never "
                           "fetches remote resources")
    form = _FORM.search(bare)
    return form.group(1).upper() if form else "SELECT"


def run_query(store: ox.Store, query: str, **options):
    """Check, then run a query; syntax errors become :class:`QuerySyntaxError`."""
    check_query(query)
    try:
        return store.query(query, **options)
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from exc


# --- terms -> Python values -------------------------------------------------------------

def _date(text: str):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return text


def _datetime(text: str):
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text


def _decimal(text: str):
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def _integer(text: str):
    try:
        return int(text)
    except ValueError:
        return text


def _double(text: str):
    try:
        return float(text)
    except ValueError:
        return text


_CONVERTERS = {
    XSD + "integer": _integer, XSD + "int": _integer, XSD + "long": _integer,
    XSD + "short": _integer, XSD + "nonNegativeInteger": _integer,
    XSD + "positiveInteger": _integer, XSD + "decimal": _decimal, XSD + "double": _double,
    XSD + "float": _double, XSD + "boolean": lambda t: t in ("true", "1"),
    XSD + "date": _date, XSD + "dateTime": _datetime, XSD + "string": str,
    RDF_LANG_STRING: str,
}


def to_python(term):
    """IRI -> ``str``; literal -> int/Decimal/float/bool/date/datetime/str; blank -> ``_:id``."""
    kind = type(term)
    if kind is ox.NamedNode:
        return term.value
    if term is None:
        return None
    if kind is ox.Literal:
        convert = _CONVERTERS.get(term.datatype.value)
        return convert(term.value) if convert else term.value
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return str(term)


# --- serialisation (SPARQL 1.1 Query Results JSON / XML / CSV / TSV) --------------------

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


def results_json(variables: list[str], rows: list[list], truncated: bool = False) -> str:
    bindings = [{var: json_term(term) for var, term in zip(variables, row) if term is not None}
                for row in rows]
    document = {"head": {"vars": variables}, "results": {"bindings": bindings}}
    if truncated:
        document["head"]["link"] = ["#truncated"]
        document["truncated"] = True
    return json.dumps(document, ensure_ascii=False)


def boolean_json(value: bool) -> str:
    return json.dumps({"head": {}, "boolean": bool(value)})


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


def results_xml(variables: list[str], rows: list[list], truncated: bool = False) -> str:
    out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">',
           "<head>" + "".join(f'<variable name="{v}"/>' for v in variables)
           + ('<link href="#truncated"/>' if truncated else "") + "</head>", "<results>"]
    for row in rows:
        out.append("<result>" + "".join(
            f'<binding name="{v}">{_xml_term(t)}</binding>'
            for v, t in zip(variables, row) if t is not None) + "</result>")
    out.append("</results>\n</sparql>\n")
    return "\n".join(out)


def boolean_xml(value: bool) -> str:
    return ('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
            f"<head/><boolean>{'true' if value else 'false'}</boolean></sparql>\n")


def results_csv(variables: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(variables)
    for row in rows:
        writer.writerow(["" if t is None else (f"_:{t.value}" if isinstance(t, ox.BlankNode)
                                               else t.value) for t in row])
    return buffer.getvalue()


def results_tsv(variables: list[str], rows: list[list]) -> str:
    lines = ["\t".join(f"?{v}" for v in variables)]
    for row in rows:
        lines.append("\t".join("" if t is None else str(t) for t in row))
    return "\n".join(lines) + "\n"


def results_table(variables: list[str], rows: list[list], width: int = 60) -> str:
    """A plain-text table for the terminal (values shortened to ``width``)."""
    cells = [[_short(to_python(t), width) for t in row] for row in rows]
    widths = [max([len(v)] + [len(r[i]) for r in cells]) for i, v in enumerate(variables)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(v.ljust(w) for v, w in zip(variables, widths)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def _short(value, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def solution_rows(solutions, limit: int | None = None) -> tuple[list[str], list[list], bool]:
    """Variables, up to ``limit`` rows of terms, and whether rows were cut."""
    variables = [v.value for v in solutions.variables]
    rows, truncated = [], False
    for solution in solutions:
        if limit is not None and len(rows) >= limit:
            truncated = True
            break
        rows.append(list(solution))
    return variables, rows, truncated


def serialize_triples(triples, format_name: str) -> bytes:
    fmt = {"nt": ox.RdfFormat.N_TRIPLES, "ttl": ox.RdfFormat.TURTLE}[format_name]
    return ox.serialize(triples, format=fmt) or b""
