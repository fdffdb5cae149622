"""The HTML side of the endpoint: a query page (``/``) and entity pages (``/entity``).

Rendered on the server, everything escaped, no external resources (a strict
Content-Security-Policy); results come through the same worker pool as ``/sparql``.
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode

import pyoxigraph as ox

from common.vocab import RDFS, RDFS_LABEL
from kg.iri import IriScheme
from kg.sparql.results import json_term
from kg.store import KnowledgeGraph

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;
background:#f6f7f9}
header{background:#243447;color:#fff;padding:.7em 1.5em}header a{color:#fff;text-decoration:none}
header h1{font-size:1.2em;margin:0}header small{opacity:.75}
main{padding:1em 1.5em;max-width:1300px}
textarea{width:100%;box-sizing:border-box;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace;
padding:.6em;border:1px solid #b8c0cc;border-radius:4px;min-height:9em}
button{margin-top:.5em;padding:.45em 1.4em;font-size:1em;background:#2f6fb3;color:#fff;border:0;
border-radius:4px;cursor:pointer}
.examples{margin:.6em 0 1em}.examples a{display:inline-block;margin:.15em .3em .15em 0;padding:.15em .6em;
background:#e3eaf3;border-radius:3px;color:#1f4e80;text-decoration:none;font-size:.9em}
table{border-collapse:collapse;background:#fff;margin:.6em 0;font-size:.92em;max-width:100%}
th,td{border:1px solid #d5dbe3;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#edf1f6}td{word-break:break-word}
a{color:#1f5fa6}.lit{color:#1d232a}.meta{color:#6b7684;font-size:.85em}
.error{background:#fdecec;border:1px solid #e3a1a1;padding:.6em 1em;border-radius:4px;white-space:pre-wrap}
.note{color:#8a5a00}.prefixes{color:#6b7684;font-size:.8em;margin-top:2em}
"""

SCRIPT = """
document.querySelectorAll('a.example').forEach(function(a){a.addEventListener('click',function(e){
e.preventDefault();var t=document.getElementById('query');t.value=a.dataset.query;t.focus();});});
"""

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "form-action 'self'; base-uri 'none'")



class Pages:
    """Server-side rendering of the query page, results and entity pages (all escaped)."""

    def __init__(self, scheme: IriScheme, examples: list[tuple[str, str]]):
        self.scheme = scheme
        self.examples = examples
        self.prefixes = scheme.prefixes()
        self.short = scheme.short

    def iri_link(self, iri: str) -> str:
        return (f'<a href="/entity?{urlencode({"iri": iri})}" title="{html.escape(iri)}">'
                f"{html.escape(self.short(iri))}</a>")

    def cell(self, term: dict | None) -> str:
        if term is None:
            return ""
        value = term["value"]
        if term["type"] == "uri":
            return self.iri_link(value)
        if term["type"] == "bnode":
            return html.escape(f"_:{value}")
        shown = value if len(value) <= 400 else value[:399] + "…"
        out = f'<span class="lit">{html.escape(shown)}</span>'
        if "xml:lang" in term:
            out += f' <span class="meta">@{html.escape(term["xml:lang"])}</span>'
        elif "datatype" in term:
            out += f' <span class="meta">^^{html.escape(self.short(term["datatype"]))}</span>'
        return out

    def table(self, variables: list[str], rows: list[dict]) -> str:
        head = "".join(f"<th>{html.escape(v)}</th>" for v in variables)
        body = "".join("<tr>" + "".join(f"<td>{self.cell(row.get(v))}</td>" for v in variables)
                       + "</tr>" for row in rows)
        return f'<table class="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def page(self, title: str, body: str) -> str:
        prefixes = " · ".join(f"{html.escape(k)}: &lt;{html.escape(v)}&gt;" for k, v in self.prefixes.items())
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width,initial-scale=1">'
                f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
                f'<header><h1><a href="/">wikikg SPARQL</a></h1>'
                f"<small>read-only endpoint at /sparql</small></header><main>{body}"
                f'<p class="prefixes">Prefixes: {prefixes}</p></main>'
                f"<script>{SCRIPT}</script></body></html>")

    def form(self, query: str) -> str:
        examples = "".join(
            f'<a class="example" href="/?{urlencode({"query": q})}" data-query="{html.escape(q)}">'
            f"{html.escape(label)}</a>" for label, q in self.examples)
        return (f'<form method="get" action="/"><textarea id="query" name="query" spellcheck="false">'
                f'{html.escape(query)}</textarea><br><button type="submit">Run query</button></form>'
                f'<div class="examples">Examples: {examples}</div>')


    def results(self, fmt: str, body: bytes, rows: int, truncated: bool, limit: int,
                max_rows: int) -> str:
        """The result section of the query page for a worker's answer (JSON or N-Triples)."""
        if fmt == "nt":
            triples = ox.parse(body, format=ox.RdfFormat.N_TRIPLES)
            variables = ["subject", "predicate", "object"]
            table_rows = [dict(zip(variables, map(json_term, (t.subject, t.predicate, t.object))))
                          for t in triples]
        else:
            document = json.loads(body)
            if "boolean" in document:
                return f"<p>ASK: <strong>{'true' if document['boolean'] else 'false'}</strong></p>"
            variables, table_rows = document["head"]["vars"], document["results"]["bindings"]
        note = (f' <span class="note">(cut at {limit} rows; add a LIMIT or use /sparql for up to '
                f"{max_rows})</span>" if truncated else "")
        return (f'<p class="meta">{rows} result{"s" * (rows != 1)}{note}</p>'
                + self.table(variables, table_rows))

    def section(self, title: str, variables: list[str], body: bytes, rows: int, truncated: bool,
                limit: int) -> str:
        """One table of an entity page (triples as subject, or as object)."""
        bindings = json.loads(body)["results"]["bindings"]
        more = f' <span class="note">(first {limit})</span>' if truncated else ""
        return (f'<h2>{title} <span class="meta">{rows} triple{"s" * (rows != 1)}</span>{more}</h2>'
                + (self.table(variables, bindings) if rows else ""))

    @staticmethod
    def error(message: str) -> str:
        return f'<div class="error">{html.escape(message)}</div>'

    def entity_queries(self, node: ox.NamedNode) -> tuple[str, list[tuple[str, str, list[str]]]]:
        """The label query and the (title, query, variables) of each section of an entity page."""
        label = f"SELECT ?label WHERE {{ {node} <{RDFS_LABEL}> ?label }} LIMIT 1"
        return label, [
            ("As subject", f"SELECT ?predicate ?object WHERE {{ {node} ?predicate ?object }} "
                           "ORDER BY ?predicate ?object", ["predicate", "object"]),
            ("As object", f"SELECT ?subject ?predicate WHERE {{ ?subject ?predicate {node} }} "
                          "ORDER BY ?predicate ?subject", ["subject", "predicate"])]

    def entity(self, iri: str, label: str | None, sections: list[str]) -> tuple[str, str]:
        """(title, body) of an entity page."""
        heading = label or self.short(iri)
        describe = urlencode({"query": f"DESCRIBE <{iri}>"})
        return heading, (f"<h1>{html.escape(heading)}</h1><p class=\"meta\">{html.escape(iri)} · "
                         f'<a href="/?{describe}">DESCRIBE</a></p>' + "".join(sections))

def examples(scheme: IriScheme, entity: str | None) -> list[tuple[str, str]]:
    base = scheme.base
    out = [
        ("Predicates by use", "SELECT ?predicate (COUNT(*) AS ?triples)\nWHERE { ?s ?predicate ?o }\n"
                              "GROUP BY ?predicate\nORDER BY DESC(?triples)"),
        ("Classes", "SELECT ?class (COUNT(?s) AS ?members)\nWHERE { ?s a ?class }\n"
                    "GROUP BY ?class\nORDER BY DESC(?members)\nLIMIT 50"),
        ("Entity labels", f"PREFIX rdfs: <{RDFS}>\nSELECT ?entity ?label\n"
                          f"WHERE {{\n  ?entity rdfs:label ?label .\n"
                          f'  FILTER(STRSTARTS(STR(?entity), "{base}resource/"))\n}}\nLIMIT 50'),
        ("Infobox facts", f"SELECT ?s ?p ?o\nWHERE {{\n  ?s ?p ?o .\n"
                          f'  FILTER(STRSTARTS(STR(?p), "{base}property/"))\n}}\nLIMIT 50'),
    ]
    if entity:
        name = scheme.title_of(entity) or entity
        out += [(f"Triples of {name}", f"SELECT ?p ?o\nWHERE {{ <{entity}> ?p ?o }}"),
                (f"What points to {name}", f"SELECT ?s ?p\nWHERE {{ ?s ?p <{entity}> }}\nLIMIT 100"),
                (f"DESCRIBE {name}", f"DESCRIBE <{entity}>")]
    return out


def sample_entity(graph: KnowledgeGraph) -> str | None:
    article = graph.scheme.ontology("Article")
    for query in (f"SELECT ?s WHERE {{ ?s a <{article}> }} LIMIT 1",
                  "SELECT ?s WHERE { ?s ?p ?o FILTER(isIRI(?s)) } LIMIT 1"):
        rows = graph.query(query)
        if rows:
            return rows[0]["s"]
    return None
