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
Loading holds no table keyed by IRI: the triples stream from the store to a Parquet file,
and DuckDB numbers the IRIs, drops the held-out triples and encodes the rest under a memory
budget (spilling past it); what comes back is the id tensors and the sorted IRI lists.
"""

from __future__ import annotations

import logging
import os
import tempfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyoxigraph as ox
import torch
from torch import Tensor

from common.duck import DEFAULT_MEMORY_LIMIT, Database, ParquetRows
from common.vocab import DCT_SUBJECT, RDF_TYPE, RDFS_LABEL
from kg.store import GraphError, KnowledgeGraph

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
FACT, CONTEXT = "fact", "context"  # the kinds of a built graph's triples, split or not
BLOCK = 1 << 16  # triples of the random order turned into Python ints at a time in the split


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


def read_tsv(path: str | os.PathLike, pairs: bool = False) -> Iterator[tuple[str, ...]]:
    """``s<TAB>p<TAB>o`` IRI lines (``<...>`` brackets allowed); blank lines skipped.  With
    ``pairs``, ``s<TAB>o`` lines (an entity pair) are read too."""
    widths = (2, 3) if pairs else (3,)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            parts = [p.strip().removeprefix("<").removesuffix(">") for p in line.split("\t")]
            if len(parts) not in widths:
                raise ValueError(f"{path}:{number}: expected 3 tab-separated IRIs"
                                 + (" (or 2: an entity pair)" if pairs else ""))
            yield tuple(parts)


def graph_triples(graph: KnowledgeGraph, categories: bool = True
                  ) -> Iterator[tuple[str, str, str, str]]:
    """``(s, p, o, kind)`` IRI triples of a graph directory, by the rules in the module doc;
    ``kind`` is :data:`FACT` or :data:`CONTEXT`."""
    imported = graph.meta.get("source") == "import"
    excluded = {RDF_TYPE, RDFS_LABEL, graph.scheme.ontology("wikiPageRedirects")}
    is_entity = graph.scheme.is_entity
    for quad in graph.default_graph():
        s, p, o = quad.subject, quad.predicate.value, quad.object
        if not (isinstance(s, ox.NamedNode) and isinstance(o, ox.NamedNode)):
            continue
        if imported:
            yield s.value, p, o.value, FACT
        elif p not in excluded and is_entity(s.value) and is_entity(o.value):
            if p != DCT_SUBJECT:
                yield s.value, p, o.value, FACT
            elif categories:
                yield s.value, p, o.value, CONTEXT


def split_facts(facts: Tensor, context: Tensor, num_entities: int, num_relations: int,
                fraction: float, seed: int) -> dict[str, Tensor]:
    """A deterministic train/valid/test split of ``facts`` (id triples in sorted order);
    ``context`` stays in train.

    Triples are visited in a seeded random order; one goes to valid or test only while its
    head, tail and relation keep another training triple, so no evaluated entity or
    relation is unseen in training.  The degrees are two int arrays (one slot per entity,
    one per relation), read item by item in the loop as :class:`array.array`.
    """
    both = torch.cat([facts, context])
    entity_degree = array("q", torch.bincount(both[:, [0, 2]].reshape(-1),
                                              minlength=num_entities).numpy().tobytes())
    relation_degree = array("q", torch.bincount(both[:, 1], minlength=num_relations)
                            .numpy().tobytes())
    wanted = int(len(facts) * fraction)
    order = torch.randperm(len(facts), generator=torch.Generator().manual_seed(seed))
    chosen = {"valid": array("q"), "test": array("q")}
    for start in range(0, len(order), BLOCK):
        if len(chosen["test"]) >= wanted:
            break
        block = order[start:start + BLOCK]
        for index, (s, p, o) in zip(block.tolist(), facts[block].tolist()):
            if len(chosen["test"]) >= wanted:
                break
            if relation_degree[p] > 1 and (entity_degree[s] > 2 if s == o else
                                           entity_degree[s] > 1 and entity_degree[o] > 1):
                relation_degree[p] -= 1
                entity_degree[s] -= 1
                entity_degree[o] -= 1
                chosen["valid" if len(chosen["valid"]) < wanted else "test"].append(index)
    held = {name: torch.from_numpy(np.frombuffer(rows, dtype=np.int64).copy())
            for name, rows in chosen.items()}
    train = torch.ones(len(facts), dtype=torch.bool)
    train[torch.cat(list(held.values()))] = False
    return {"train": torch.cat([facts[train], context]),
            **{name: facts[rows] for name, rows in held.items()}}


def load_triples(directory: str | os.PathLike, holdout: str | os.PathLike | None = None,
                 fraction: float = 0.05, seed: int = 0, categories: bool = True,
                 memory_limit: str = DEFAULT_MEMORY_LIMIT,
                 tmp_dir: str | os.PathLike | None = None) -> TripleSet:
    """The :class:`TripleSet` of a graph directory, minus the ``holdout`` file's triples
    (its ``s<TAB>o`` lines: every triple between the two entities, either way).

    Holdout triples leave every split (they are neither trained on nor evaluated) but stay
    known-true for the filtered ranking.  ``memory_limit`` bounds the IRI tables (DuckDB
    spills to ``tmp_dir`` past it).
    """
    directory = Path(directory)
    graph = KnowledgeGraph.open(directory)
    with tempfile.TemporaryDirectory(prefix="wikikg-embed-", dir=tmp_dir) as spill, \
            Database(Path(spill), memory_limit) as db:
        presplit = _write_triples(graph, directory, categories, Path(spill) / "triples.parquet")
        if not presplit and not db.scalar(f"SELECT count(*) FROM '{spill}/triples.parquet'"):
            raise GraphError(f"{directory}: no entity-to-entity triples to embed")
        _write_holdout(holdout, Path(spill))
        entities, relations = _number_iris(db, Path(spill))
        parts = {name: _ids(db, f"SELECT s, p, o FROM encoded WHERE part = '{name}' ORDER BY "
                                + ("n" if presplit else "s, p, o"))
                 for name in (SPLITS if presplit else (FACT, CONTEXT)) + ("holdout",)}
    if not presplit:  # DuckDB closed: its memory is back before the split's
        parts.update(split_facts(parts.pop(FACT), parts.pop(CONTEXT), len(entities),
                                 len(relations), fraction, seed))
    data = TripleSet(entities, relations, *(parts[name] for name in (*SPLITS, "holdout")))
    log.info("%d entities, %d relations; triples: train %d, valid %d, test %d, holdout %d",
             data.num_entities, data.num_relations, len(data.train), len(data.valid),
             len(data.test), len(data.holdout))
    return data


def _write_triples(graph: KnowledgeGraph, directory: Path, categories: bool, path: Path) -> bool:
    """``(s, p, o, part, n)`` rows to ``path``: the graph's ``splits/*.tsv`` in file order
    when there are some (returns True), else the store's triples of each kind."""
    split_dir = directory / "splits"
    presplit = (split_dir / "train.tsv").is_file()
    columns = {"s": "string", "p": "string", "o": "string", "part": "string", "n": "int64"}
    with ParquetRows(path, columns) as rows:
        if presplit:
            for name in SPLITS:
                if (split_dir / f"{name}.tsv").is_file():
                    for s, p, o in read_tsv(split_dir / f"{name}.tsv"):
                        rows.add((s, p, o, name, rows.count))
        else:
            for s, p, o, kind in graph_triples(graph, categories):
                rows.add((s, p, o, kind, rows.count))
    return presplit


def _write_holdout(holdout: str | os.PathLike | None, spill: Path) -> None:
    """The holdout file's triples to ``holdout.parquet``, its pairs (sorted within) to
    ``pairs.parquet``."""
    with ParquetRows(spill / "holdout.parquet", {"s": "string", "p": "string", "o": "string"}
                     ) as triples, ParquetRows(spill / "pairs.parquet", {"a": "string", "b": "string"}
                                               ) as pairs:
        for row in read_tsv(holdout, pairs=True) if holdout else ():
            if len(row) == 3:
                triples.add(row)
            else:
                pairs.add(tuple(sorted(row)))


def _number_iris(db: Database, spill: Path) -> tuple[list[str], list[str]]:
    """Table ``encoded(s, p, o, part, n)`` of id triples: the held-out triples present in the
    graph become part ``holdout``, duplicates within a part go; ids are ranks of the sorted
    IRIs.  Returns the sorted entity and relation IRIs."""
    db.sql(f"CREATE TABLE held AS SELECT DISTINCT s, p, o FROM '{spill}/holdout.parquet'")
    db.sql(f"CREATE TABLE pairs AS SELECT DISTINCT a, b FROM '{spill}/pairs.parquet'")
    db.sql(f"""CREATE TABLE triples AS
               SELECT t.s, t.p, t.o,
                      CASE WHEN h.s IS NULL AND q.a IS NULL THEN t.part ELSE 'holdout' END AS part,
                      min(n) AS n
               FROM '{spill}/triples.parquet' t LEFT JOIN held h USING (s, p, o)
               LEFT JOIN pairs q ON q.a = least(t.s, t.o) AND q.b = greatest(t.s, t.o)
               GROUP BY ALL""")
    absent = db.scalar("SELECT count(*) FROM held ANTI JOIN triples USING (s, p, o)")
    if absent:
        log.warning("%d of %d holdout triples are not in the graph (ignored)", absent,
                    db.scalar("SELECT count(*) FROM held"))
    if db.scalar("SELECT count(*) FROM pairs"):
        log.info("holdout pairs: %d of %d have an edge in the graph",
                 db.scalar("SELECT count(*) FROM pairs SEMI JOIN triples "
                           "ON a = least(s, o) AND b = greatest(s, o)"),
                 db.scalar("SELECT count(*) FROM pairs"))
    for table, query in (("entity", "SELECT s FROM triples UNION SELECT o FROM triples"),
                         ("relation", "SELECT DISTINCT p FROM triples")):
        db.sql(f"CREATE TABLE {table} AS SELECT iri, row_number() OVER (ORDER BY iri) - 1 "
               f"AS id FROM ({query}) AS names(iri)")
    db.sql("""CREATE TABLE encoded AS
              SELECT hs.id AS s, r.id AS p, ho.id AS o, part, min(n) AS n FROM triples
              JOIN entity hs ON hs.iri = triples.s JOIN relation r ON r.iri = triples.p
              JOIN entity ho ON ho.iri = triples.o GROUP BY ALL""")
    db.sql("DROP TABLE triples")
    return tuple([iri for (iri,) in db.rows(f"SELECT iri FROM {table} ORDER BY id")]
                 for table in ("entity", "relation"))


def _ids(db: Database, query: str) -> Tensor:
    """The ``[n, 3]`` long tensor of a query's three id columns."""
    table = db.table(query)
    return torch.from_numpy(np.stack([column.to_numpy() for column in table.columns], axis=1)
                            .reshape(-1, 3).astype(np.int64))


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
