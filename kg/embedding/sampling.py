"""Neighbour sampling for graphs too large to encode whole at every training step.

For a batch of queries, the seeds are the query entities, their training answers and
some random entities; the subgraph is their ``hops``-hop in-neighbourhood with at most
``fanout`` incoming edges drawn per node and hop (all of them when a node has fewer).
The GNN encodes only that subgraph and each query is scored against the subgraph's
nodes: the true answers are in it by construction, the other nodes are its negatives
(neighbours of the batch, i.e. hard ones, plus the random seeds).
"""

from __future__ import annotations

import torch
from torch import Tensor

from kg.embedding.data import RelGraph


class NeighbourSampler:
    """Samples :class:`RelGraph` subgraphs of a graph kept in CSR form by target node."""

    def __init__(self, graph: RelGraph, hops: int, fanout: int):
        order = torch.argsort(graph.edge_index[1], stable=True)
        self.src = graph.edge_index[0, order]
        self.dst = graph.edge_index[1, order]
        self.edge_type = graph.edge_type[order]
        counts = torch.bincount(self.dst, minlength=graph.num_nodes)
        self.rowptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
        self.num_relations = graph.num_relations
        self.hops, self.fanout = hops, fanout

    def incoming(self, nodes: Tensor, generator: torch.Generator) -> Tensor:
        """Up to ``fanout`` distinct in-edge ids per node: all of a node's edges when it has
        at most ``fanout``, else ``fanout`` draws with replacement (duplicates dropped)."""
        start = self.rowptr[nodes].unsqueeze(1)
        degree = self.rowptr[nodes + 1].unsqueeze(1) - start
        slots = torch.arange(self.fanout).expand(len(nodes), -1)
        drawn = (torch.rand(len(nodes), self.fanout, generator=generator) * degree).long()
        offset = torch.where(degree > self.fanout, drawn, slots)
        return torch.unique((start + offset)[offset < degree])

    def sample(self, seeds: Tensor, generator: torch.Generator) -> RelGraph:
        nodes = frontier = torch.unique(seeds)
        edges = []
        for _ in range(self.hops):
            picked = self.incoming(frontier, generator)
            edges.append(picked)
            reached = torch.unique(self.src[picked])
            frontier = reached[~torch.isin(reached, nodes)]
            nodes = torch.cat([nodes, frontier])
        picked = torch.unique(torch.cat(edges))
        node_ids = torch.sort(nodes).values
        edge_index = torch.stack([torch.searchsorted(node_ids, self.src[picked]),
                                  torch.searchsorted(node_ids, self.dst[picked])])
        return RelGraph(edge_index, self.edge_type[picked], len(node_ids), self.num_relations,
                        node_ids)
