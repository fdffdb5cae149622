"""Named graphs that later stages write into a built graph: a text model's predictions
(``<base>graph/predictions/<run>``) and a link predictor's completions
(``<base>graph/completions/<name>``).  The default graph (what the dump states) is never
touched, so "predicted but not stated" is one ``FILTER NOT EXISTS`` away.

Each inferred triple is asserted in its named graph and described by a reified
``rdf:Statement`` in the same graph, whose IRI is a hash of what makes the claim (graph,
triple, and for predictions the sentence): writing the same claim twice gives the same
node, two claims never share one.  Provenance of the whole graph (model, embeddings,
time) is stated once about the graph IRI, inside it, with PROV-O terms.

``kg.json`` lists every named graph (``graphs``: IRI -> kind, triples, time, source) and
the store's total; it is rewritten atomically after each change.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import pyoxigraph as ox

from common.atomic import atomic_file
from common.vocab import RDF, XSD
from kg.store import META, KnowledgeGraph, bulk_load

log = logging.getLogger(__name__)

GRAPHS_DIR = "graphs"
CLEAR_CHUNK = 100_000


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def now_literal() -> str:
    """The current time as an N-Triples ``xsd:dateTime`` literal (``prov:generatedAtTime``)."""
    return f'"{now()}"^^<{XSD}dateTime>'


def statement_iri(graph: str, *claim: str) -> str:
    """A stable IRI for one claim in ``graph``: the same claim always maps to it."""
    digest = hashlib.sha256("\x1f".join((graph, *claim)).encode("utf-8")).hexdigest()[:24]
    return f"{graph}/statement/{digest}"


def nt_literal(value) -> str:
    """A value as an N-Triples literal: float -> ``xsd:double``, int -> ``xsd:integer``,
    anything else a string (escaped by Oxigraph)."""
    if isinstance(value, float):
        return f'"{value!r}"^^<{XSD}double>'
    if isinstance(value, int):
        return f'"{value}"^^<{XSD}integer>'
    return str(ox.Literal(str(value)))


def claim_lines(graph: str, subject: str, predicate: str, obj: str,
                annotations: Iterable[tuple[str, str]], *key: str) -> str:
    """N-Triples of a claim: the asserted triple and its reified ``rdf:Statement`` with
    ``annotations`` (predicate IRI, N-Triples object); ``key`` adds what besides the triple
    identifies the claim (a prediction's sentence)."""
    statement = statement_iri(graph, subject, predicate, obj, *key)
    lines = [f"<{subject}> <{predicate}> <{obj}> .",
             f"<{statement}> <{RDF}type> <{RDF}Statement> .",
             f"<{statement}> <{RDF}subject> <{subject}> .",
             f"<{statement}> <{RDF}predicate> <{predicate}> .",
             f"<{statement}> <{RDF}object> <{obj}> ."]
    lines += [f"<{statement}> <{term}> {value} ." for term, value in annotations]
    return "\n".join(lines) + "\n"


def about_lines(graph: str, about: dict[str, str]) -> str:
    """Provenance of the whole graph (predicate IRI -> N-Triples object), stated about the
    graph's IRI inside it."""
    return "".join(f"<{graph}> <{term}> {value} .\n" for term, value in about.items())


def add_to_graph(directory: str | os.PathLike, graph: str, lines: str, info: dict) -> None:
    """Add the N-Triples ``lines`` to the named ``graph`` in one transaction (a claim already
    there is not duplicated) and record the graph in ``kg.json``."""
    kg = KnowledgeGraph.open(directory, read_only=False)
    node = ox.NamedNode(graph)
    kg.store.extend(ox.Quad(t.subject, t.predicate, t.object, node)
                    for t in ox.parse(input=lines.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES))
    kg.store.flush()
    record_graph(kg, graph, info, sum(1 for _ in kg.store.quads_for_pattern(None, None, None, node)))


def replace_graph(directory: str | os.PathLike, graph: str, lines: Iterator[str],
                  info: dict) -> Path:
    """Replace the named ``graph`` by the N-Triples ``lines``.

    The lines go first to ``DIR/graphs/<name>.nt.gz`` (a temporary file renamed into
    place), so an interrupted computation leaves the previous graph and file as they were.
    Then the old graph is removed and the file bulk-loaded; ``kg.json`` says
    ``"loaded": false`` while that runs, and a graph opened in between logs a warning
    naming the graph (run the command again: it reloads the file).
    """
    directory = Path(directory)
    path = directory / GRAPHS_DIR / (graph.rsplit("graph/", 1)[-1].replace("/", "-") + ".nt.gz")
    path.parent.mkdir(exist_ok=True)
    count = 0
    with atomic_file(path) as part, open(part, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=3) as out:
        lines = iter(lines)
        while block := "".join(islice(lines, 4096)):
            out.write(block.encode("utf-8"))
            count += block.count("\n")
    kg = KnowledgeGraph.open(directory, read_only=False)
    info = {**info, "file": str(path.relative_to(directory))}
    record_graph(kg, graph, {**info, "loaded": False}, count)
    node = ox.NamedNode(graph)
    clear_graph(kg.store, node)
    bulk_load(kg.store, path, to_graph=node)
    kg.store.flush()
    record_graph(kg, graph, {**info, "loaded": True}, count)
    return path


def clear_graph(store: ox.Store, graph: ox.NamedNode, chunk: int = CLEAR_CHUNK) -> None:
    """Remove every quad of ``graph``, ``chunk`` quads per transaction: Oxigraph holds a
    whole transaction in memory, and one ``remove_graph`` of FB15k-237's 6.8 M completion
    quads was seen at 8.9 GB RSS (bench/bench_complete.py, before this); chunks bound it."""
    delete = (f"DELETE {{ GRAPH {graph} {{ ?s ?p ?o }} }} WHERE {{ SELECT ?s ?p ?o WHERE "
              f"{{ GRAPH {graph} {{ ?s ?p ?o }} }} LIMIT {chunk} }}")
    while next(iter(store.quads_for_pattern(None, None, None, graph)), None) is not None:
        store.update(delete)


def record_graph(kg: KnowledgeGraph, graph: str, info: dict, triples: int) -> None:
    """``kg.json``: this graph's entry and the store's total, rewritten atomically."""
    kg.meta.setdefault("graphs", {})[graph] = {**info, "triples": triples, "updated": now()}
    kg.meta["triples"] = len(kg.store)
    with atomic_file(kg.directory / META) as part:
        part.write_text(json.dumps(kg.meta, indent=2) + "\n")
