"""Rendering of ``wikikg query`` results for the terminal or a file."""

from __future__ import annotations

import pyoxigraph as ox

from kg import sparql


def render(graph, query: str, fmt: str | None, limit: int | None) -> str:
    """Run ``query`` and render it: table/json/xml/csv/tsv (SELECT, ASK) or ttl/nt (graphs)."""
    result = graph.query_terms(query)
    if isinstance(result, ox.QueryTriples):
        if fmt not in (None, "ttl", "nt"):
            raise sparql.QuerySyntaxError(f"--format {fmt} is for SELECT/ASK; use ttl or nt")
        triples = list(result)[:limit] if limit else list(result)
        return sparql.serialize_triples(triples, fmt or "ttl").decode("utf-8")
    fmt = fmt or "table"
    if fmt in ("ttl", "nt"):
        raise sparql.QuerySyntaxError(f"--format {fmt} is for CONSTRUCT/DESCRIBE")
    if isinstance(result, ox.QueryBoolean):
        value = bool(result)
        if fmt == "json":
            return sparql.boolean_json(value) + "\n"
        if fmt == "xml":
            return sparql.boolean_xml(value)
        return ("true" if value else "false") + "\n"
    variables, rows, _ = sparql.solution_rows(result, limit)
    if fmt == "json":
        return sparql.results_json(variables, rows) + "\n"
    if fmt == "xml":
        return sparql.results_xml(variables, rows)
    if fmt == "csv":
        return sparql.results_csv(variables, rows)
    if fmt == "tsv":
        return sparql.results_tsv(variables, rows)
    return sparql.results_table(variables, rows)
