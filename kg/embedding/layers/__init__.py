"""Graph convolutions, one per file, each with its equation in its docstring."""

from kg.embedding.layers.compgcn import CompGCNConv, circular_correlation, compose
from kg.embedding.layers.rgcn import RelationAdjacency, RGCNConv

__all__ = ["CompGCNConv", "RGCNConv", "RelationAdjacency", "circular_correlation", "compose"]
