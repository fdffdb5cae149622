"""Triples of a graph directory as id tensors, the train/valid/test split, and the indexes
that training and evaluation share.

Which triples are edges (see ``docs/encoder.md``):

- an imported benchmark (``kg.json`` source ``import``): every IRI-to-IRI triple; its
  ``splits/{train,valid,test}.tsv`` when present;
- a graph built from Wikipedia: triples between two ``resource/`` IRIs (links, infobox
  facts to entities), minus ``rdf:type``, ``rdfs:label`` and ``wikiPageRedirects`` (aliases,
  not facts).  ``dct:subject`` to ``resource/Category:...`` is kept as *context*: always a
  training edge, never a valid/test triple, so the metrics measure facts and links only.
  Literals are never edges and are not used as node features.

Ids are positions in the sorted IRI lists, so the same graph always gives the same ids.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
import torch
from torch import Tensor

from common.vocab import DCT_SUBJECT, RDF_TYPE, RDFS_LABEL
from kg.store import GraphError, KnowledgeGraph

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


@dataclass
class TripleSet:
    """Entity/relation vocabularies and ``[n, 3]`` (head, relation, tail) id tensors.

    ``holdout`` triples are true (they filter the ranking) but never trained on.
    """

    entities: list[str]
    relations: list[str]
    train: Tensor
    valid: Tensor
    test: Tensor
    holdout: Tensor = field(default_factory=lambda: torch.empty(0, 3, dtype=torch.long))

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def known(self) -> Tensor:
        """Every true triple, for the filtered ranking."""
        return torch.cat([self.train, self.valid, self.test, self.holdout])

    @classmethod
    def from_iris(cls, splits: dict[str, list[tuple[str, str, str]]]) -> TripleSet:
        """Map IRI triples of the named splits (train, valid, test, holdout) to sorted ids."""
        triples = [t for part in splits.values() for t in part]
        entities = sorted({t[0] for t in triples} | {t[2] for t in triples})
        relations = sorted({t[1] for t in triples})
        ent = {iri: i for i, iri in enumerate(entities)}
        rel = {iri: i for i, iri in enumerate(relations)}

        def ids(part):
            rows = [(ent[s], rel[p], ent[o]) for s, p, o in part]
            return torch.tensor(rows, dtype=torch.long).view(-1, 3)

        return cls(entities, relations, *(ids(splits.get(name, [])) for name in
                                          (*SPLITS, "holdout")))


def read_tsv(path: str | os.PathLike) -> list[tuple[str, str, str]]:
    """``s<TAB>p<TAB>o`` IRI lines (``<...>`` brackets allowed); blank lines skipped."""
    triples = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            parts = [p.strip().removeprefix("<").removesuffix(">") for p in line.split("\t")]
            if len(parts) != 3:
                raise ValueError(f"{path}:{number}: expected 3 tab-separated IRIs")
            triples.append(tuple(parts))
    return triples


def graph_triples(graph: KnowledgeGraph, categories: bool = True):
    """(facts, context) IRI triples of a graph directory, by the rules in the module doc."""
    imported = graph.meta.get("source") == "import"
    excluded = {RDF_TYPE, RDFS_LABEL, graph.scheme.ontology("wikiPageRedirects")}
    facts, context = [], []
    for quad in graph.store.quads_for_pattern(None, None, None, ox.DefaultGraph()):
        s, p, o = quad.subject, quad.predicate.value, quad.object
        if not (isinstance(s, ox.NamedNode) and isinstance(o, ox.NamedNode)):
            continue
        if imported:
            facts.append((s.value, p, o.value))
        elif p not in excluded and graph.scheme.is_entity(s.value) and graph.scheme.is_entity(o.value):
            if p != DCT_SUBJECT:
                facts.append((s.value, p, o.value))
            elif categories:
                context.append((s.value, p, o.value))
    return facts, context


def split_facts(facts: list, context: list, fraction: float, seed: int) -> dict[str, list]:
    """A deterministic train/valid/test split of ``facts``; ``context`` stays in train.

    Triples are visited in a seeded random order of the sorted list; one goes to valid or
    test only while its head, tail and relation keep another training triple, so no
    evaluated entity or relation is unseen in training.
    """
    facts = sorted(set(facts))
    order = torch.randperm(len(facts), generator=torch.Generator().manual_seed(seed)).tolist()
    degree: dict[str, int] = {}
    for s, p, o in facts + context:
        for key in (s, o, "\0" + p):
            degree[key] = degree.get(key, 0) + 1
    wanted = int(len(facts) * fraction)
    held = {"valid": [], "test": []}
    for index in order:
        if len(held["test"]) >= wanted:
            break
        s, p, o = facts[index]
        keys = (s, o, "\0" + p)
        if all(degree[k] > keys.count(k) for k in keys):
            for key in keys:
                degree[key] -= 1
            held["valid" if len(held["valid"]) < wanted else "test"].append(facts[index])
    chosen = set(held["valid"]) | set(held["test"])
    return {"train": [t for t in facts if t not in chosen] + sorted(set(context)), **held}


def load_triples(directory: str | os.PathLike, holdout: str | os.PathLike | None = None,
                 fraction: float = 0.05, seed: int = 0, categories: bool = True) -> TripleSet:
    """The :class:`TripleSet` of a graph directory, minus the ``holdout`` file's triples.

    Holdout triples leave every split (they are neither trained on nor evaluated) but stay
    known-true for the filtered ranking.
    """
    directory = Path(directory)
    graph = KnowledgeGraph.open(directory)
    held = set(read_tsv(holdout)) if holdout else set()
    split_dir = directory / "splits"
    if (split_dir / "train.tsv").is_file():
        splits = {name: read_tsv(split_dir / f"{name}.tsv") if (split_dir / f"{name}.tsv").is_file()
                  else [] for name in SPLITS}
        present = {t for part in splits.values() for t in part}
    else:
        facts, context = graph_triples(graph, categories)
        if not facts and not context:
            raise GraphError(f"{directory}: no entity-to-entity triples to embed")
        present = set(facts) | set(context)
        splits = split_facts([t for t in facts if t not in held],
                             [t for t in context if t not in held], fraction, seed)
    if held - present:
        log.warning("%d of %d holdout triples are not in the graph (ignored)",
                    len(held - present), len(held))
    held &= present
    splits = {name: [t for t in part if t not in held] for name, part in splits.items()}
    splits["holdout"] = sorted(held)
    data = TripleSet.from_iris(splits)
    log.info("%d entities, %d relations; triples: train %d, valid %d, test %d, holdout %d",
             data.num_entities, data.num_relations, len(data.train), len(data.valid),
             len(data.test), len(data.holdout))
    return data


@dataclass(eq=False)
class RelGraph:
    """The message-passing graph: each training triple as an edge h->t of type r and an
    inverse edge t->h of type r + R.  ``node_ids`` maps the nodes of a sampled subgraph
    to entity ids (``None``: node i is entity i).  ``cache`` holds structures that layers
    derive from the edges once per graph (e.g. R-GCN's per-relation adjacency)."""

    edge_index: Tensor
    edge_type: Tensor
    num_nodes: int
    num_relations: int
    node_ids: Tensor | None = None
    cache: dict = field(default_factory=dict)

    @classmethod
    def from_triples(cls, triples: Tensor, num_entities: int, num_relations: int) -> RelGraph:
        h, r, t = triples.t()
        edge_index = torch.stack([torch.cat([h, t]), torch.cat([t, h])])
        return cls(edge_index, torch.cat([r, r + num_relations]), num_entities, num_relations)

    def to(self, device) -> RelGraph:
        """This graph (with its cache) if already on ``device``, else a copy there."""
        if self.edge_index.device == torch.device(device):
            return self
        return RelGraph(self.edge_index.to(device), self.edge_type.to(device), self.num_nodes,
                        self.num_relations,
                        None if self.node_ids is None else self.node_ids.to(device))


class AnswerIndex:
    """All answers of each query (entity, relation'), as sorted keys with CSR offsets.

    relation' < R asks for tails of (entity, r, ?); relation' = r + R asks for heads of
    (?, r, entity).  One structure gives 1-N training labels and the ranking filter.
    """

    def __init__(self, triples: Tensor, num_entities: int, num_relations: int):
        self.num_entities = num_entities
        self.width = 2 * num_relations
        h, r, t = triples.t()
        keys = torch.cat([h * self.width + r, t * self.width + r + num_relations])
        answers = torch.cat([t, h])
        pairs = torch.unique(keys * num_entities + answers)
        self.keys, counts = torch.unique_consecutive(pairs // num_entities, return_counts=True)
        self.offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
        self.answers = pairs % num_entities

    def queries(self) -> tuple[Tensor, Tensor]:
        """(entity, relation') of every query with at least one answer."""
        return self.keys // self.width, self.keys % self.width

    def lookup(self, entity: Tensor, relation: Tensor) -> tuple[Tensor, Tensor]:
        """(row, answer) pairs: ``answer`` is true for query ``row`` of the batch."""
        keys = entity.cpu() * self.width + relation.cpu()
        last = len(self.keys)
        slot = torch.searchsorted(self.keys, keys)
        hit = self.keys[slot.clamp(max=max(last - 1, 0))] == keys if last else slot < 0
        hit &= slot < last
        start = self.offsets[slot]
        count = torch.where(hit, self.offsets[(slot + 1).clamp(max=last)] - start, 0)
        rows = torch.repeat_interleave(torch.arange(len(keys)), count)
        within = torch.arange(len(rows)) - torch.repeat_interleave(count.cumsum(0) - count, count)
        return rows, self.answers[start[rows] + within]

    def mask(self, entity: Tensor, relation: Tensor) -> Tensor:
        """Dense ``[batch, num_entities]`` bool mask of the true answers."""
        rows, answers = self.lookup(entity, relation)
        mask = torch.zeros(len(entity), self.num_entities, dtype=torch.bool)
        mask[rows, answers] = True
        return mask.to(entity.device)
