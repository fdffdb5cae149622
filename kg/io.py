"""Graph import (N-Triples, Turtle, TSV) and export (N-Triples, Turtle, GraphML, GEXF).

``import_graph`` makes the same kind of graph directory as ``wikikg build``, so the
encoder and fusion stages work on an external benchmark (FB15k-237, WN18RR...) too.
TSV files are ``head<TAB>relation<TAB>tail`` lines; their names become entity and
property IRIs under the base.  Files named ``train``/``valid``/``test`` keep their split:
``DIR/splits/<name>.tsv`` lists the split's triples as IRIs for the encoder.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox

from common.atomic import atomic_directory
from kg.iri import DEFAULT_BASE, IriScheme
from kg.rdf import iri, triple
from kg.store import GRAPH_FILE, GraphError, KnowledgeGraph, write_graph

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "valid", "test")
FORMATS = {"nt": ox.RdfFormat.N_TRIPLES, "ttl": ox.RdfFormat.TURTLE}


class ImportReport:
    """Per-file counts of records read, kept and skipped (bad lines are logged)."""

    def __init__(self):
        self.files: list[dict] = []

    def add(self, path: Path, read: int, kept: int, skipped: int) -> None:
        self.files.append({"path": str(path), "read": read, "kept": kept, "skipped": skipped})
        log.info("%s: read %d, kept %d, skipped %d", path, read, kept, skipped)


def _tsv_triples(path: Path, scheme: IriScheme, report: ImportReport,
                 split_out) -> Iterator[str]:
    read = kept = skipped = 0
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            read += 1
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or not all(p.strip() for p in parts):
                skipped += 1
                log.warning("%s:%d: expected 3 tab-separated fields, got %d; skipped",
                            path, number, len(parts))
                continue
            head, relation, tail = (p.strip() for p in parts)
            s, p, o = scheme.resource(head), scheme.property(relation), scheme.resource(tail)
            if split_out is not None:
                split_out.write(f"{s}\t{p}\t{o}\n")
            kept += 1
            yield triple(iri(s), iri(p), iri(o))
    report.add(path, read, kept, skipped)


def _rdf_triples(path: Path, fmt: str, report: ImportReport) -> Iterator[str]:
    read = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        try:
            for quad in ox.parse(handle, format=FORMATS[fmt]):
                read += 1
                yield f"{quad.subject} {quad.predicate} {quad.object} .\n"
        except SyntaxError as exc:
            raise GraphError(f"{path}: {exc}") from exc
    report.add(path, read, read, 0)


def guess_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for suffix, fmt in ((".nt", "nt"), (".ttl", "ttl"), (".tsv", "tsv"), (".txt", "tsv")):
        if name.endswith(suffix):
            return fmt
    raise GraphError(f"{path}: cannot tell the format from the name; pass --format nt|ttl|tsv")


def import_graph(files: list[str | os.PathLike], out: str | os.PathLike, fmt: str | None = None,
                 base_iri: str = DEFAULT_BASE) -> dict:
    """Load external graph files into a new graph directory ``out`` (replaced atomically)."""
    scheme = IriScheme(base_iri)
    paths = [Path(f) for f in files]
    for path in paths:
        if not path.is_file():
            raise GraphError(f"{path}: no such file")
    report = ImportReport()
    with atomic_directory(out) as work:
        meta = write_graph(work, _import_lines(paths, fmt, scheme, report, work), scheme.base,
                           source="import", extra={"inputs": report.files})
    return meta


def read_triples(path: str | os.PathLike, scheme: IriScheme, fmt: str | None = None
                 ) -> list[tuple[str, str, str]]:
    """The (s, p, o) IRIs of one importable file (a TSV's names resolved with ``scheme``, as
    ``import`` would), e.g. held-out triples to check predictions against."""
    path = Path(path)
    if not path.is_file():
        raise GraphError(f"{path}: no such file")
    lines = "".join(_import_lines([path], fmt, scheme, ImportReport(), None))
    return [(t.subject.value, t.predicate.value, t.object.value)
            for t in ox.parse(input=lines.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)
            if isinstance(t.object, ox.NamedNode)]


def _import_lines(paths: list[Path], fmt: str | None, scheme: IriScheme, report: ImportReport,
                  work: Path | None) -> Iterator[str]:
    """N-Triples lines of ``paths``; a TSV named after a split also lists its triples in
    ``work/splits/`` (none without ``work``)."""
    for path in paths:
        kind = fmt or guess_format(path)
        if kind == "tsv":
            split = path.stem if work is not None and path.stem in SPLIT_NAMES else None
            if split:
                (work / "splits").mkdir(exist_ok=True)
            with (open(work / "splits" / f"{split}.tsv", "w", encoding="utf-8") if split
                  else _Nothing()) as split_out:
                yield from _tsv_triples(path, scheme, report, split_out if split else None)
        elif kind in FORMATS:
            yield from _rdf_triples(path, kind, report)
        else:
            raise GraphError(f"unknown import format {kind!r} (expected nt, ttl or tsv)")


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


QUAD_FORMATS = {"nq": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG}


def export_graph(directory: str | os.PathLike, fmt: str, out, graph: str | None = None) -> int:
    """Write the graph as ``nt``, ``ttl``, ``graphml`` or ``gexf`` (the default graph: what
    the dump states), or ``nq``/``trig`` (every graph: predictions and completions too), to
    a path or binary stream.  ``graph``: one named graph instead (an IRI, or a name
    under ``<base>graph/``, e.g. ``completions/distmult``), in ``nt``, ``ttl``, ``nq`` or
    ``trig``."""
    kg = KnowledgeGraph.open(directory)
    if graph is not None:
        return _export_named(kg, fmt, out, graph)
    if fmt == "nt":
        with gzip.open(Path(directory) / GRAPH_FILE, "rb") as handle:
            return _copy(handle, out)
    if fmt == "ttl":
        data = ox.serialize(kg.store.quads_for_pattern(None, None, None, ox.DefaultGraph()),
                            format=ox.RdfFormat.TURTLE, prefixes=kg.scheme.prefixes())
        return _copy_bytes(data, out)
    if fmt in QUAD_FORMATS:
        kg.store.dump(out, format=QUAD_FORMATS[fmt], prefixes=kg.scheme.prefixes()
                      if fmt == "trig" else None)
        return 0
    if fmt in ("graphml", "gexf"):
        import networkx as nx

        view = _flat_attributes(kg.to_networkx())
        writer = nx.write_graphml if fmt == "graphml" else nx.write_gexf
        if hasattr(out, "write"):
            writer(view, out)
        else:
            with open(out, "wb") as handle:
                writer(view, handle)
        return view.number_of_edges()
    raise GraphError(f"unknown export format {fmt!r} (expected nt, ttl, nq, trig, graphml or gexf)")


def _export_named(kg: KnowledgeGraph, fmt: str, out, graph: str) -> int:
    iri = graph if graph.startswith(("http://", "https://")) else f"{kg.scheme.base}graph/{graph}"
    node = ox.NamedNode(iri)
    if node not in set(kg.store.named_graphs()):
        known = ", ".join(sorted(kg.meta.get("graphs", {}))) or "none"
        raise GraphError(f"{kg.directory}: no named graph <{iri}> (named graphs: {known})")
    formats = {"nt": ox.RdfFormat.N_TRIPLES, "ttl": ox.RdfFormat.TURTLE, **QUAD_FORMATS}
    if fmt not in formats:
        raise GraphError(f"a named graph exports as nt, ttl, nq or trig, not {fmt}")
    prefixes = None if fmt in ("nt", "nq") else kg.scheme.prefixes()
    if fmt in QUAD_FORMATS:  # quads keep their graph name
        data = ox.serialize(kg.store.quads_for_pattern(None, None, None, node),
                            format=formats[fmt], prefixes=prefixes)
    else:
        data = kg.store.dump(format=formats[fmt], from_graph=node, prefixes=prefixes)
    return _copy_bytes(data, out)


def _flat_attributes(graph):
    """GraphML/GEXF hold scalar attributes only: literal lists joined with `` | ``; the
    predicate IRIs used as keys are shortened to their last segment."""
    for _, data in graph.nodes(data=True):
        for key in list(data):
            value = data.pop(key)
            short = key.rsplit("/", 1)[-1].rsplit("#", 1)[-1]
            data[short] = " | ".join(str(v) for v in value)
    return graph


def _copy(handle, out) -> int:
    if hasattr(out, "write"):
        shutil.copyfileobj(handle, out)
        return 0
    with open(out, "wb") as target:
        shutil.copyfileobj(handle, target)
    return 0


def _copy_bytes(data: bytes, out) -> int:
    if hasattr(out, "write"):
        out.write(data)
    else:
        Path(out).write_bytes(data)
    return len(data)
