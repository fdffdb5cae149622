"""Stage 2: the knowledge graph: RDF in an Oxigraph store, SPARQL, a NetworkX view.

Imports ``extraction``'s record files only; nothing from the later stages.
"""

from kg.io import export_graph, import_graph
from kg.iri import DEFAULT_BASE, IriScheme
from kg.rdf import build_triples
from kg.sparql import QueryRefused, QuerySyntaxError
from kg.store import GraphError, KnowledgeGraph, write_graph

__all__ = [
    "DEFAULT_BASE", "GraphError", "IriScheme", "KnowledgeGraph", "QueryRefused",
    "QuerySyntaxError", "assemble", "build_triples", "export_graph", "import_graph",
    "write_graph",
]


def assemble(build_dir, base_iri: str = DEFAULT_BASE) -> dict:
    """Turn an extraction build directory into a graph directory (adds store/, graph.nt.gz)."""
    from pathlib import Path

    scheme = IriScheme(base_iri)
    return write_graph(Path(build_dir), build_triples(Path(build_dir), scheme), scheme.base)
