"""``wikikg query``: one query, checked, run without network access, written to stdout."""

from __future__ import annotations

import logging
import sys

from kg.sandbox import deny_network
from kg.sparql import on_large_stack
from kg.sparql.results import GRAPH, kind_of, results_table, write_result

log = logging.getLogger(__name__)


def render(graph, query: str, fmt: str | None, limit: int | None,
           base_iri: str | None = None) -> bytes:
    """Run ``query`` and write it: a table (default for SELECT/ASK), or any format of
    :data:`kg.sparql.results.FORMATS` (Turtle by default for CONSTRUCT/DESCRIBE)."""
    result = graph.query_terms(query, base_iri=base_iri)
    if fmt in (None, "table") and kind_of(result) != GRAPH:
        return results_table(result, limit, short=graph.scheme.short).encode()
    return write_result(result, fmt or "ttl", limit).body


def run_sandboxed(graph, query: str, fmt: str | None, limit: int | None,
                  base_iri: str | None = None) -> bytes:
    """:func:`render` in this process after it has lost the right to open sockets, on a
    thread with a large stack (see :mod:`kg.sandbox`, :mod:`kg.sparql`)."""
    problem = deny_network()
    if problem:
        (log.warning if sys.platform == "linux" else log.debug)(
            "outbound connections are not blocked by the kernel here (%s)", problem)
    return on_large_stack(render, graph, query, fmt, limit, base_iri)
