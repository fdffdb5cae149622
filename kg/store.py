"""``KnowledgeGraph``: a persistent Oxigraph store in ``DIR/store`` and its metadata.

A graph directory holds ``store/`` (RocksDB, filled with ``bulk_load``), ``graph.nt.gz``
(the same triples as N-Triples) and ``kg.json`` (format, base IRI, counts).  ``kg.json``
is written last, so a directory without it is an unfinished build.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import pyoxigraph as ox

from common.errors import InputError
from common.jsonl import has_output
from common.vocab import OWL_CLASS, RDF_PROPERTY, XSD_BOOLEAN, XSD_INTEGER
from kg.iri import DEFAULT_BASE, IriScheme
from kg.sparql import run_query, to_python

log = logging.getLogger(__name__)

FORMAT = "wikikg-kg/1"
META = "kg.json"
GRAPH_FILE = "graph.nt.gz"
STORE_DIR = "store"
# N-Triples lines per ``bulk_load`` call.  Oxigraph's bulk loader buffers up to a million
# quads per thread before it writes, so one call over a whole graph file holds memory in
# proportion to the graph (~0.7 KB a line); slices keep the build's peak memory flat.  On
# FB15k-237's 310k lines, slices of 16k peak at 63 MiB instead of 285 MiB and load 1.45x
# slower; loading is a small share of a build, extraction dominates.  0 = one call.
LOAD_BATCH = 16_384


class GraphError(InputError):
    """A graph directory that is missing, unfinished or of another format."""


def write_graph(directory: str | os.PathLike, lines: Iterable[str], base_iri: str = DEFAULT_BASE,
                source: str = "build", extra: dict | None = None,
                load_batch: int = LOAD_BATCH) -> dict:
    """Write ``graph.nt.gz`` from N-Triples lines, bulk-load ``store/``, then ``kg.json``.

    The store is loaded into a temporary sibling and renamed, so a failed load never
    leaves a half-filled store under the final name.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / META).unlink(missing_ok=True)
    graph_tmp = directory / f".{GRAPH_FILE}.part"
    count = 0
    with open(graph_tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                     compresslevel=3) as out:
        buffered: list[str] = []
        for line in lines:  # one gzip write per 4096 lines: per-line writes cost a third
            buffered.append(line)
            if len(buffered) == 4096:
                out.write("".join(buffered).encode("utf-8"))
                count, buffered = count + len(buffered), []
        out.write("".join(buffered).encode("utf-8"))
        count += len(buffered)
    graph_tmp.replace(directory / GRAPH_FILE)
    store_tmp = directory / f".{STORE_DIR}.part"
    shutil.rmtree(store_tmp, ignore_errors=True)
    store = ox.Store(str(store_tmp))
    bulk_load(store, directory / GRAPH_FILE, load_batch)
    store.optimize()
    triples = len(store)
    del store
    shutil.rmtree(directory / STORE_DIR, ignore_errors=True)
    store_tmp.rename(directory / STORE_DIR)
    meta = {"format": FORMAT, "base_iri": base_iri, "source": source, "triples": triples,
            "lines": count}
    meta.update(extra or {})
    (directory / META).write_text(json.dumps(meta, indent=2) + "\n")
    log.info("graph: %d triples in %s", triples, directory / STORE_DIR)
    return meta


def bulk_load(store: ox.Store, graph_file: Path, batch: int = LOAD_BATCH,
              to_graph: ox.NamedNode | None = None) -> None:
    """Bulk-load a gzipped N-Triples file ``batch`` lines at a time (0: in one call) into
    the default graph or ``to_graph``."""
    target = {"to_graph": to_graph} if to_graph is not None else {}
    with gzip.open(graph_file, "rb") as handle:
        if not batch:
            store.bulk_load(input=handle, format=ox.RdfFormat.N_TRIPLES, **target)
            return
        while block := b"".join(islice(handle, batch)):
            store.bulk_load(input=block, format=ox.RdfFormat.N_TRIPLES, **target)


def open_store(directory: str | os.PathLike, read_only: bool = True,
               memory: bool = False) -> ox.Store:
    """The RocksDB store of a graph directory, or with ``memory=True`` an in-memory copy.

    In memory, joins run 2–5× faster than on RocksDB (see docs/benchmarks.md), at the
    cost of RAM and a load of about a second per 100k triples.  The default graph is read
    from ``graph.nt.gz`` (three times faster than scanning RocksDB); the store's named
    graphs, such as predictions, are copied from it.
    """
    path = str(Path(directory) / STORE_DIR)
    on_disk = ox.Store.read_only(path) if read_only or memory else ox.Store(path)
    if not memory:
        return on_disk
    store = ox.Store()
    with gzip.open(Path(directory) / GRAPH_FILE, "rb") as handle:
        store.load(handle, format=ox.RdfFormat.N_TRIPLES)
    for graph in on_disk.named_graphs():
        store.load(on_disk.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=graph),
                   format=ox.RdfFormat.N_TRIPLES, to_graph=graph)
    return store


def graph_scheme(directory: str | os.PathLike) -> IriScheme:
    """The IRI scheme of a graph directory (its ``kg.json``; the default base without one),
    for readers that need its IRIs but not its store."""
    meta = Path(directory) / META
    base = json.loads(meta.read_text()).get("base_iri", DEFAULT_BASE) if meta.is_file() else DEFAULT_BASE
    return IriScheme(base)


class KnowledgeGraph:
    """Read access to a graph directory: SPARQL, triple patterns, NetworkX and rdflib views."""

    def __init__(self, directory: Path, store: ox.Store, meta: dict):
        self.directory = directory
        self.store = store
        self.meta = meta
        self.scheme = IriScheme(meta.get("base_iri", DEFAULT_BASE))

    @classmethod
    def open(cls, directory: str | os.PathLike, read_only: bool = True,
             memory: bool = False) -> KnowledgeGraph:
        """Open a graph directory; ``memory=True`` copies its store into memory (see
        :func:`open_store`)."""
        directory = Path(directory)
        if not directory.is_dir():
            raise GraphError(f"{directory}: no such graph directory")
        meta_path = directory / META
        if not meta_path.is_file():
            hint = ("it holds an extraction build without a graph; run `wikikg build` again"
                    if has_output(directory, "entities")
                    else "the build that made it was interrupted, or it is not a wikikg graph")
            raise GraphError(f"{directory}: no {META} ({hint})")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise GraphError(f"{directory}: graph format {meta.get('format')!r}, this wikikg "
                             f"reads {FORMAT!r}; rebuild it")
        try:
            store = open_store(directory, read_only=read_only, memory=memory)
        except OSError as exc:
            raise GraphError(f"{directory / STORE_DIR}: cannot open the store: {exc}") from exc
        for graph in meta.get("graphs", {}):
            if not meta["graphs"][graph].get("loaded", True):
                log.warning("%s: the named graph <%s> was being replaced when its writer stopped; "
                            "it may be incomplete (run the command that wrote it again)",
                            directory, graph)
        return cls(directory, store, meta)

    def default_graph(self) -> Iterator[ox.Quad]:
        """The default graph's triples, streamed from ``graph.nt.gz`` (the file the store
        was bulk-loaded from): memory stays flat, where a full scan of RocksDB grows its
        cache with the graph, and it is three times faster."""
        with gzip.open(self.directory / GRAPH_FILE, "rb") as handle:
            yield from ox.parse(handle, format=ox.RdfFormat.N_TRIPLES)

    def query(self, sparql: str, limit: int | None = None, base_iri: str | None = None):
        """SELECT -> list of ``{var: value}``; ASK -> bool; CONSTRUCT/DESCRIBE -> triples.

        Values are Python values (:func:`kg.sparql.to_python`); unbound variables are None.
        The query is checked first (:func:`kg.sparql.check_query`: no ``SERVICE``, no
        update, bounded nesting); relative IRIs resolve against ``base_iri``.
        """
        result = self.query_terms(sparql, base_iri)
        if isinstance(result, ox.QueryBoolean):
            return bool(result)
        if isinstance(result, ox.QuerySolutions):
            variables = [v.value for v in result.variables]
            rows = []
            for solution in result:
                if limit is not None and len(rows) >= limit:
                    break
                rows.append(dict(zip(variables, map(to_python, solution))))
            return rows
        return [(to_python(t.subject), to_python(t.predicate), to_python(t.object))
                for t in result]

    def query_terms(self, sparql: str, base_iri: str | None = None):
        """The raw pyoxigraph result (terms, not Python values), after the safety check.
        The graph's prefixes (``resource:``, ``property:``, …) and the usual ones (``rdf:``,
        ``rdfs:``, ``xsd:``, ``owl:``, ``dct:``, ``geo:``) are predeclared."""
        return run_query(self.store, sparql, base_iri=base_iri, prefixes=self.scheme.prefixes())

    def triples(self, subject: str | None = None, predicate: str | None = None,
                obj=None) -> Iterator[tuple]:
        """Triples matching a pattern (IRIs as ``str``; an object may be an IRI or a value)."""
        s = ox.NamedNode(subject) if subject else None
        p = ox.NamedNode(predicate) if predicate else None
        o = _object_term(obj)
        for quad in self.store.quads_for_pattern(s, p, o, ox.DefaultGraph()):
            yield to_python(quad.subject), to_python(quad.predicate), to_python(quad.object)

    def __len__(self) -> int:
        return len(self.store)

    def stats(self) -> dict:
        """Triple, entity, predicate counts and the most frequent predicates and classes."""
        rows = self.query("SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p "
                          "ORDER BY DESC(?n)")
        classes = self.query(
            f"SELECT ?c (COUNT(*) AS ?n) WHERE {{ ?s a ?c FILTER(?c NOT IN (<{RDF_PROPERTY}>, "
            f"<{OWL_CLASS}>)) }} GROUP BY ?c ORDER BY DESC(?n) LIMIT 20")
        subjects = self.query("SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }")[0]["n"]
        return {"triples": len(self), "subjects": subjects, "predicates": len(rows),
                "top_predicates": {r["p"]: r["n"] for r in rows[:20]},
                "top_classes": {r["c"]: r["n"] for r in classes}}

    def to_networkx(self):
        """MultiDiGraph of IRI nodes: one edge per IRI-to-IRI triple (``relation`` = the
        predicate); literal objects become node attributes (a list per predicate)."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        for quad in self.store.quads_for_pattern(None, None, None, ox.DefaultGraph()):
            subject, predicate, obj = quad.subject, quad.predicate.value, quad.object
            s = to_python(subject)
            if isinstance(obj, ox.Literal):
                graph.add_node(s)
                graph.nodes[s].setdefault(predicate, []).append(to_python(obj))
            else:
                graph.add_edge(s, to_python(obj), relation=predicate)
        return graph

    def to_rdflib(self, max_triples: int = 2_000_000):
        """An in-memory ``rdflib.Graph`` copy (for small graphs and rdflib tooling)."""
        import rdflib

        if len(self) > max_triples:
            raise GraphError(f"{len(self)} triples is more than max_triples={max_triples} "
                             "for an in-memory rdflib copy")
        graph = rdflib.Graph()
        with gzip.open(self.directory / GRAPH_FILE, "rb") as handle:
            graph.parse(handle, format="nt")
        return graph


def _object_term(obj):
    if obj is None or isinstance(obj, (ox.NamedNode, ox.Literal, ox.BlankNode)):
        return obj
    if isinstance(obj, str) and obj.startswith(("http://", "https://", "urn:")):
        return ox.NamedNode(obj)
    if isinstance(obj, bool):
        return ox.Literal("true" if obj else "false",
                          datatype=ox.NamedNode(XSD_BOOLEAN))
    if isinstance(obj, int):
        return ox.Literal(str(obj), datatype=ox.NamedNode(XSD_INTEGER))
    return ox.Literal(str(obj))
