"""SPARQL for every way in (Python, CLI, HTTP): the safety checks, then the store.

pyoxigraph's ``Store.query`` performs ``SERVICE`` calls over HTTP itself, so every query
is checked before it reaches the store (:func:`check_query`): a ``SERVICE`` keyword or an
update is refused, found by a tokenizer that follows the grammar (:mod:`kg.sparql.grammar`),
and nesting past :data:`MAX_DEPTH` is refused before Oxigraph's recursive parser can
overflow the stack.  Where a whole process only answers queries (the endpoint's workers,
``wikikg query``), :mod:`kg.sandbox` also takes away its right to open a socket, so a
query that got past the check still could not connect anywhere.
"""

from __future__ import annotations

import re
import threading

import pyoxigraph as ox

from kg.sparql.grammar import MAX_DEPTH, QueryShape, QueryTooDeep, shape, tokens
from kg.sparql.results import FORMATS, UnsupportedFormat, write_result
from kg.sparql.terms import to_python

__all__ = ["FORMATS", "MAX_DEPTH", "QueryRefused", "QueryShape", "QuerySyntaxError",
           "QueryTooDeep", "UnsupportedFormat", "check_query", "on_large_stack", "run_query",
           "to_python", "write_result"]

# Oxigraph parses and evaluates recursively; the depth limit keeps that within 8 MiB, and
# the processes that only answer queries run them on a thread with this much stack on top.
LARGE_STACK = 512 << 20
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


class QueryRefused(ValueError):
    """A query this endpoint will not run (SERVICE, updates); maps to HTTP 403."""


class QuerySyntaxError(ValueError):
    """The parser's message, with its ``line:column`` position; maps to HTTP 400 / exit 2."""


def check_query(query: str, max_depth: int = MAX_DEPTH) -> QueryShape:
    """Refuse updates, ``SERVICE`` and too deep nesting; return what the query is."""
    try:
        found = shape(query, max_depth)
    except QueryTooDeep as exc:
        raise QuerySyntaxError(str(exc)) from None
    if found.update:
        raise QueryRefused(f"read-only endpoint: SPARQL update ({found.form}) is not allowed")
    if found.service or _service_in_escaped_form(query):
        raise QueryRefused("SERVICE (federated query) is not allowed: this endpoint never "
                           "fetches remote resources")
    return found


def _service_in_escaped_form(query: str) -> bool:
    r"""SPARQL §19.2 lets ``\uXXXX`` escapes stand anywhere and be expanded before parsing.
    Oxigraph expands them only inside strings and IRIs today; a parser that follows the
    letter of §19.2 would read ``\u0053ERVICE`` as the keyword, so that reading is refused
    too."""
    if "\\u" not in query and "\\U" not in query:
        return False
    expanded = _CODEPOINT.sub(lambda m: chr(int(m.group(1) or m.group(2), 16))
                              if int(m.group(1) or m.group(2), 16) < 0x110000 else m.group(), query)
    return any(t.kind == "name" and t.text.upper() == "SERVICE" for t in tokens(expanded))


def run_query(store: ox.Store, query: str, max_depth: int = MAX_DEPTH, **options):
    """Check, then run a query; syntax errors become :class:`QuerySyntaxError`."""
    check_query(query, max_depth)
    try:
        return store.query(query, **options)
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from exc


_stack_lock = threading.Lock()


def on_large_stack(function, *args, stack_size: int = LARGE_STACK):
    """``function(*args)`` on a thread with ``stack_size`` bytes of stack (reserved, not
    used: pages are touched only as deep as the recursion goes); exceptions re-raised."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = exc

    with _stack_lock:
        previous = threading.stack_size(stack_size)
        try:
            thread = threading.Thread(target=target, name="sparql-large-stack", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
