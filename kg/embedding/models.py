"""Models behind one interface: ``encode(graph) -> Encoded`` then ``score(encoded, entity,
relation, candidates)`` -> logits of every candidate answer.

A query is (entity, relation') with relation' < R asking for tails of (entity, r, ?) and
relation' = r + R for heads of (?, r, entity).  The GNN models give each inverse relation
its own embedding (reciprocal training); the KGE baselines answer a head query with the
inverse of their relation operator (-r for TransE, a rotation by -theta for RotatE).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import kge

from kg.embedding.config import EmbedConfig
from kg.embedding.data import RelGraph
from kg.embedding.layers import CompGCNConv, RelationAdjacency, RGCNConv


class Encoded(NamedTuple):
    """Entity vectors (row i = node i of the encoded graph), relation vectors and, for the
    GNN models, each node's score bias."""

    entity: Tensor
    relation: Tensor
    bias: Tensor | None = None


class DistMultDecoder(nn.Module):
    r"""DistMult: the query vector :math:`\mathbf{x}_e \odot \mathbf{z}_r`, so
    :math:`f(e, r, c) = \langle \mathbf{x}_e, \mathbf{z}_r, \mathbf{x}_c \rangle`.
    Symmetric in e and c: it cannot tell (a, r, b) from (b, r, a)."""

    def __init__(self, config: EmbedConfig):
        super().__init__()
        self.dropout = config.decoder_dropout

    def forward(self, entity: Tensor, relation: Tensor) -> Tensor:
        return F.dropout(entity * relation, self.dropout, self.training)


class ConvEDecoder(nn.Module):
    r"""ConvE (Dettmers et al., 2018): the query vector
    :math:`g(\mathrm{vec}(g([\bar{\mathbf{x}}_e; \bar{\mathbf{z}}_r] * \omega))\, \mathbf{W})`,
    a 2-D convolution over the stacked ``height x dim/height`` reshapings of entity and
    relation, then a linear layer (g: batch norm + ReLU); whole feature maps are dropped.
    Not symmetric in e and c."""

    def __init__(self, config: EmbedConfig):
        super().__init__()
        self.height, self.width = config.conve_height, config.dim // config.conve_height
        kernel = config.conve_kernel
        self.input_norm = nn.BatchNorm2d(1)
        self.conv = nn.Conv2d(1, config.conve_filters, kernel)
        self.feature_norm = nn.BatchNorm2d(config.conve_filters)
        features = config.conve_filters * (2 * self.height - kernel + 1) * (self.width - kernel + 1)
        self.linear = nn.Linear(features, config.dim)
        self.output_norm = nn.BatchNorm1d(config.dim)
        self.dropout = config.decoder_dropout

    def forward(self, entity: Tensor, relation: Tensor) -> Tensor:
        image = torch.cat([entity, relation], dim=1).view(-1, 1, 2 * self.height, self.width)
        x = F.relu(self.feature_norm(self.conv(self.input_norm(image))))
        x = self.linear(F.dropout2d(x, self.dropout, self.training).flatten(1))
        return F.relu(self.output_norm(F.dropout(x, self.dropout, self.training)))


DECODERS = {"distmult": DistMultDecoder, "conve": ConvEDecoder}


class GraphModel(nn.Module):
    r"""A GNN encoder over learned entity embeddings and a decoder that turns (entity,
    relation) into a query vector: :math:`f(e, r, c) = q(\mathbf{x}_e, \mathbf{z}_r) \cdot
    \mathbf{x}_c + b_c`, all candidates at once as one matmul (1-N scoring).  The
    per-entity bias lets the 1-N loss push the many wrong answers down without bending the
    vectors (as in ConvE and CompGCN); it is not part of the saved vectors."""

    reciprocal = True

    def __init__(self, num_entities: int, num_relations: int, config: EmbedConfig):
        super().__init__()
        self.num_relations = num_relations
        # N(0, 1/dim): xavier_normal_ on the [N, dim] table would shrink with N (0.012 on
        # FB15k-237), leaving DistMult's three-way products and their gradients near zero
        self.entity = nn.Parameter(torch.randn(num_entities, config.dim) / config.dim ** 0.5)
        self.relation = nn.Parameter(torch.randn(2 * num_relations, config.dim) / config.dim ** 0.5)
        # log-odds of the base rate 1/N: training starts where "no answer is likely" is
        # already learnt (from 0, Adam needs ~log N / lr steps to get there: ~1000 on FB15k-237)
        self.bias = nn.Parameter(torch.full((num_entities,), -math.log(max(num_entities - 1, 1))))
        self.dropout = config.dropout
        self.decoder = DECODERS[config.decoder](config)

    def encode(self, graph: RelGraph) -> Encoded:
        nodes = slice(None) if graph.node_ids is None else graph.node_ids
        x, rel = self.layers(self.entity[nodes], graph)
        return Encoded(x, rel, self.bias[nodes])

    def layers(self, x: Tensor, graph: RelGraph) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def score(self, encoded: Encoded, entity: Tensor, relation: Tensor,
              candidates: Tensor | None = None) -> Tensor:
        query = self.decoder(encoded.entity[entity], encoded.relation[relation])
        nodes = slice(None) if candidates is None else candidates
        return torch.addmm(encoded.bias[nodes], query, encoded.entity[nodes].t())


class RGCN(GraphModel):
    """R-GCN encoder (basis or block decomposition), ReLU between layers; the decoder's
    relation embeddings are its own (Schlichtkrull et al., 2018, with DistMult)."""

    def __init__(self, num_entities: int, num_relations: int, config: EmbedConfig):
        super().__init__(num_entities, num_relations, config)
        self.convs = nn.ModuleList(
            RGCNConv(config.dim, config.dim, 2 * num_relations, config.num_bases, config.num_blocks)
            for _ in range(config.layers))

    def layers(self, x: Tensor, graph: RelGraph) -> tuple[Tensor, Tensor]:
        if "rgcn" not in graph.cache:
            graph.cache["rgcn"] = RelationAdjacency.from_edges(
                graph.edge_index, graph.edge_type, graph.num_nodes, 2 * self.num_relations)
        for layer, conv in enumerate(self.convs):
            x = conv(F.dropout(x, self.dropout, self.training), graph.cache["rgcn"])
            if layer < len(self.convs) - 1:
                x = F.relu(x)
        return x, self.relation


class CompGCN(GraphModel):
    """CompGCN encoder (Vashishth et al., 2020): entity and relation embeddings updated by
    each layer, then batch norm and tanh; the decoder reads the last layer's output."""

    def __init__(self, num_entities: int, num_relations: int, config: EmbedConfig):
        super().__init__(num_entities, num_relations, config)
        self.convs = nn.ModuleList(
            CompGCNConv(config.dim, config.dim, num_relations, config.composition)
            for _ in range(config.layers))
        self.norms = nn.ModuleList(nn.BatchNorm1d(config.dim) for _ in range(config.layers))

    def layers(self, x: Tensor, graph: RelGraph) -> tuple[Tensor, Tensor]:
        rel = self.relation
        for conv, norm in zip(self.convs, self.norms):
            x, rel = conv(F.dropout(x, self.dropout, self.training), rel, graph.edge_index,
                          graph.edge_type)
            x = torch.tanh(norm(x))
        return x, rel


class KGEBaseline(nn.Module):
    """A ``torch_geometric.nn.kge`` model, trained with its own negative-sampling ``loss``;
    subclasses add the 1-N scoring that evaluation needs (PyG's ``test`` scores one triple
    at a time)."""

    reciprocal = False
    kge_class: type[kge.KGEModel]

    def __init__(self, num_entities: int, num_relations: int, config: EmbedConfig):
        super().__init__()
        self.kge = self.kge_class(num_entities, num_relations, config.dim, margin=config.margin)

    def loss(self, triples: Tensor) -> Tensor:
        return self.kge.loss(*triples.t())

    def encode(self, graph: RelGraph | None = None) -> Encoded:
        return Encoded(self.kge.node_emb.weight, self.kge.rel_emb.weight)

    def split(self, relation: Tensor) -> tuple[Tensor, Tensor]:
        """(relation id, +1 for a tail query or -1 for a head query)."""
        inverse = relation >= self.kge.num_relations
        return relation % self.kge.num_relations, 1.0 - 2.0 * inverse.unsqueeze(-1).float()

    def candidates(self, encoded: Encoded, candidates: Tensor | None) -> Tensor:
        return encoded.entity if candidates is None else encoded.entity[candidates]


class DistMult(KGEBaseline):
    r""":math:`\langle \mathbf{h}, \mathbf{r}, \mathbf{t} \rangle` (symmetric in h, t)."""

    kge_class = kge.DistMult

    def score(self, encoded, entity, relation, candidates=None):
        rel, _ = self.split(relation)
        query = encoded.entity[entity] * encoded.relation[rel]
        return query @ self.candidates(encoded, candidates).t()


class TransE(KGEBaseline):
    r""":math:`-\|\mathbf{h} + \mathbf{r} - \mathbf{t}\|_p` on L_p-normalised entities;
    a head query is answered as :math:`-\|(\mathbf{t} - \mathbf{r}) - \mathbf{h}\|_p`."""

    kge_class = kge.TransE

    def encode(self, graph=None):
        entity = F.normalize(self.kge.node_emb.weight, p=self.kge.p_norm, dim=-1)
        return Encoded(entity, self.kge.rel_emb.weight)

    def score(self, encoded, entity, relation, candidates=None):
        rel, sign = self.split(relation)
        query = encoded.entity[entity] + sign * encoded.relation[rel]
        return -torch.cdist(query, self.candidates(encoded, candidates), p=self.kge.p_norm)


class RotatE(KGEBaseline):
    r""":math:`\gamma - \|\mathbf{h} \circ e^{i\theta_r} - \mathbf{t}\|` in complex space;
    entity vectors are ``[re, im]``; a head query rotates the tail by :math:`-\theta_r`."""

    kge_class = kge.RotatE

    def encode(self, graph=None):
        entity = torch.cat([self.kge.node_emb.weight, self.kge.node_emb_im.weight], dim=-1)
        return Encoded(entity, self.kge.rel_emb.weight)

    def score(self, encoded, entity, relation, candidates=None):
        rel, sign = self.split(relation)
        theta = sign * encoded.relation[rel]
        re, im = encoded.entity[entity].chunk(2, dim=-1)
        query = torch.cat([re * theta.cos() - im * theta.sin(),
                           re * theta.sin() + im * theta.cos()], dim=-1)
        return self.kge.margin - torch.cdist(query, self.candidates(encoded, candidates), p=2)


MODEL_CLASSES = {"rgcn": RGCN, "compgcn": CompGCN, "transe": TransE, "distmult": DistMult,
                 "rotate": RotatE}


def build_model(config: EmbedConfig, num_entities: int, num_relations: int) -> nn.Module:
    return MODEL_CLASSES[config.model](num_entities, num_relations, config)
