"""R-GCN convolution (Schlichtkrull et al., 2018) whose aggregation is one sparse matmul.

PyG's ``RGCNConv`` computes the same function with one dense ``[N, d]`` aggregation per
relation type, kept for backward: on FB15k-237 (474 edge types) ~90 s and 13.6 GiB per
epoch on CPU.  Here the neighbours are averaged per (relation, node) pair by a single
sparse matmul, each pair's mean is multiplied by its relation's weight and the pairs are
summed into their nodes.  The relations are batched by size class (a few ``bmm`` calls
padded at most 2x, instead of one small matmul per relation: on a busy 2-core CPU each
small op costs far more than its arithmetic).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.utils import spmm


class SizeClass(NamedTuple):
    """A block of consecutive pairs whose relations have between 2^(k-1) and 2^k pairs
    each: multiplied by their weights in one ``bmm``, each relation padded to ``length``."""

    num_pairs: int
    num_relations: int
    length: int
    slot: Tensor       # each pair's relation, as an index into the class's relations
    position: Tensor   # each pair's row within its relation


class RelationAdjacency(NamedTuple):
    """Edges grouped into (relation r, target node i) pairs.

    ``adj_t`` is a ``[pairs, nodes]`` CSR matrix holding ``1 / |N_r(i)|`` for every edge
    j -> i of type r, so ``adj_t @ x`` is each pair's neighbour mean.  Pairs are ordered by
    size class, then relation (``relations``: the relations that have pairs, in that
    order), then node, so every class and every relation is a block of rows.
    """

    adj_t: Tensor
    pair_node: Tensor
    relations: Tensor
    classes: list[SizeClass]
    num_nodes: int

    @classmethod
    def from_edges(cls, edge_index: Tensor, edge_type: Tensor, num_nodes: int,
                   num_relations: int) -> RelationAdjacency:
        src, dst = edge_index
        pair_keys, pair_of_edge, size = torch.unique(edge_type * num_nodes + dst,
                                                     return_inverse=True, return_counts=True)
        counts = torch.bincount(pair_keys // num_nodes, minlength=num_relations)
        size_class = torch.where(counts > 0, torch.ceil(torch.log2(counts.clamp(min=1))), -1)
        relations = torch.argsort(size_class, stable=True)[int((counts == 0).sum()):]
        rank = torch.empty(num_relations, dtype=torch.long)
        rank[relations] = torch.arange(len(relations))
        pairs = torch.argsort(rank[pair_keys // num_nodes], stable=True)  # new row -> old pair
        row_of_pair = torch.empty_like(pairs)
        row_of_pair[pairs] = torch.arange(len(pairs))
        adj_t = _csr(row_of_pair[pair_of_edge], src, (1.0 / size.float())[pair_of_edge],
                     (len(pairs), num_nodes))
        pair_relation = (pair_keys // num_nodes)[pairs]
        first = (counts[relations].cumsum(0) - counts[relations])[rank[pair_relation]]
        position = torch.arange(len(pairs)) - first
        classes, start = [], 0
        for k in torch.unique(size_class[relations]).tolist():
            members = relations[size_class[relations] == k]
            end = start + int(counts[members].sum())
            slot = rank[pair_relation[start:end]] - rank[members[0]]
            classes.append(SizeClass(end - start, len(members), int(counts[members].max()), slot,
                                     position[start:end]))
            start = end
        return cls(adj_t, (pair_keys % num_nodes)[pairs], relations, classes, num_nodes)


def _csr(rows: Tensor, cols: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    order = torch.argsort(rows * shape[1] + cols)
    counts = torch.bincount(rows, minlength=shape[0])
    crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, cols[order], values[order], shape,
                                       check_invariants=False)


class RGCNConv(MessagePassing):
    r"""Relational graph convolution with basis, block-diagonal or full relation weights.

    .. math::
        \mathbf{x}'_i = \mathbf{W}_0 \mathbf{x}_i + \mathbf{b} + \sum_{r \in \mathcal{R}}
        \mathbf{W}_r \frac{1}{|\mathcal{N}_r(i)|} \sum_{j \in \mathcal{N}_r(i)} \mathbf{x}_j

    with :math:`\mathbf{W}_r = \sum_b a_{rb} \mathbf{V}_b` (``num_bases``) or
    :math:`\mathbf{W}_r = \bigoplus_b \mathbf{Q}_{rb}` (``num_blocks``).  Moving
    :math:`\mathbf{W}_r` out of the inner sum (it is linear) is what lets one sparse matmul
    do the aggregation for all relations.  Parameters are laid out as in PyG's
    ``RGCNConv(aggr="mean")`` (``weight``, ``comp``, ``root``, ``bias``), which computes
    the same function.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int,
                 num_bases: int | None = None, num_blocks: int | None = None):
        super().__init__(aggr="add")
        if num_bases and num_blocks:
            raise ValueError("num_bases and num_blocks are exclusive")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.num_bases, self.num_blocks = num_relations, num_bases, num_blocks
        if num_blocks:
            if in_channels % num_blocks or out_channels % num_blocks:
                raise ValueError("channels must be divisible by num_blocks")
            self.weight = Parameter(torch.empty(num_relations, num_blocks, in_channels // num_blocks,
                                                out_channels // num_blocks))
        else:
            self.weight = Parameter(torch.empty(num_bases or num_relations, in_channels,
                                                out_channels))
        self.comp = Parameter(torch.empty(num_relations, num_bases)) if num_bases else None
        self.root = Parameter(torch.empty(in_channels, out_channels))
        self.bias = Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        glorot(self.weight)
        glorot(self.comp)
        glorot(self.root)
        zeros(self.bias)

    def relation_weights(self, relations: Tensor) -> Tensor:
        r"""``[len(relations), in, out]``: :math:`\mathbf{W}_r` of the given relations only
        (a sampled subgraph has few of them)."""
        if self.num_bases:
            return (self.comp[relations] @ self.weight.flatten(1)).view(
                -1, self.in_channels, self.out_channels)
        if self.num_blocks:
            eye = torch.eye(self.num_blocks, dtype=self.weight.dtype, device=self.weight.device)
            return torch.einsum("rbio,bc->rbico", self.weight[relations], eye).reshape(
                -1, self.in_channels, self.out_channels)
        return self.weight[relations]

    def forward(self, x: Tensor, adj: RelationAdjacency) -> Tensor:
        mean = self.propagate(adj.adj_t, x=x)  # [pairs, in]: neighbour mean per (r, i)
        weights = self.relation_weights(adj.relations)
        products = []
        for size_class, block, class_weights in zip(
                adj.classes, mean.split([c.num_pairs for c in adj.classes]),
                weights.split([c.num_relations for c in adj.classes])):
            index = (size_class.slot, size_class.position)
            padded = block.new_zeros(size_class.num_relations, size_class.length, block.size(1))
            products.append(torch.bmm(padded.index_put(index, block), class_weights)[index])
        products = torch.cat(products)
        out = products.new_zeros(adj.num_nodes, self.out_channels).index_add_(
            0, adj.pair_node, products)
        return out + x @ self.root + self.bias

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        # sparse kernels take no autocast: aggregate in the adjacency's precision (fp32)
        return spmm(adj_t, x.to(adj_t.dtype), reduce="sum")

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"num_relations={self.num_relations}, num_bases={self.num_bases}, "
                f"num_blocks={self.num_blocks})")
