"""Knowledge-graph completion: the trained link predictor's most likely *missing* tails,
written back into the graph as a named graph of scored claims.

For each (head, relation) query, every entity is scored as the tail
(:class:`~kg.embedding.scorer.LinkScorer`, exactly as in training's evaluation), the
tails the graph already states are masked, and the ``top_k`` best (at least
``min_score``) become claims in ``<base>graph/completions/<name>``: the triple, its
``rdf:Statement`` with ``ontology/score`` and ``ontology/rank``, and the run's provenance
(model, embeddings, time) stated once about the graph IRI.  Queries default to every
(head, relation) pair the graph states; ``heads`` and ``relations`` narrow them, and both
together ask every head for every one of those relations.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
import torch
from torch import Tensor
from tqdm.auto import tqdm

from common.distributed import resolve_device
from common.vocab import PROV
from kg.embedding.data import AnswerIndex
from kg.embedding.scorer import LinkScorer
from kg.graphs import about_lines, claim_lines, now_literal, nt_literal, replace_graph
from kg.io import read_triples
from kg.iri import IriScheme
from kg.store import KnowledgeGraph, graph_scheme

log = logging.getLogger(__name__)


@dataclass
class Completions:
    """The top tails of each query as id tensors (one row per completion, best first
    within a query) and how long scoring took."""

    head: Tensor
    relation: Tensor
    tail: Tensor
    score: Tensor
    rank: Tensor
    queries: int
    seconds: float
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.head)


def stated_triples(graph: KnowledgeGraph, scorer: LinkScorer) -> Tensor:
    """``[n, 3]`` ids of the default graph's triples between embedded entities over
    embedded relations (what completion must not propose again)."""
    iri_triples = ((q.subject.value, q.predicate.value, q.object.value)
                   for q in graph.default_graph() if isinstance(q.object, ox.NamedNode))
    rows = [row for row in scorer.triple_ids(iri_triples) if None not in row]
    return torch.tensor(rows, dtype=torch.long).view(-1, 3)


def select_queries(stated: Tensor, scorer: LinkScorer, heads: list[str] | None = None,
                   relations: list[str] | None = None) -> Tensor:
    """``[q, 2]`` (head, relation) ids: the stated pairs, narrowed to ``heads`` and
    ``relations`` (IRIs); with both, their cross product."""
    head_ids = _ids(heads, scorer.ids, "entity")
    relation_ids = _ids(relations, scorer.relation_ids, "relation")
    if head_ids is not None and relation_ids is not None:
        return torch.cartesian_prod(head_ids, relation_ids).view(-1, 2)
    pairs = torch.unique(stated[:, :2], dim=0)
    for column, wanted in ((0, head_ids), (1, relation_ids)):
        if wanted is not None:
            pairs = pairs[torch.isin(pairs[:, column], wanted)]
    return pairs


def _ids(iris: list[str] | None, table: dict[str, int], kind: str) -> Tensor | None:
    if iris is None:
        return None
    missing = [iri for iri in iris if iri not in table]
    if missing:
        raise ValueError(f"{len(missing)} {kind} IRI(s) not in the embeddings, e.g. {missing[0]}")
    return torch.tensor(sorted({table[iri] for iri in iris}), dtype=torch.long)


@torch.no_grad()
def complete(scorer: LinkScorer, stated: Tensor, queries: Tensor, top_k: int = 10,
             min_score: float | None = None, batch_size: int = 512,
             progress: bool = True) -> Completions:
    """The ``top_k`` unstated tails of each query, best first, scores at least ``min_score``."""
    known = AnswerIndex(stated, scorer.num_entities, scorer.num_relations)
    k = min(top_k, scorer.num_entities)
    started, parts = time.perf_counter(), []
    for batch in tqdm(queries.split(batch_size), desc="completing", unit="batch",
                      disable=None if progress else True):
        head, relation = batch.t()
        scores = scorer.score(head, relation).float()
        scores.masked_fill_(known.mask(head, relation).to(scores.device), float("-inf"))
        best = torch.topk(scores, k, dim=1)
        values, tails = best.values.cpu(), best.indices.cpu()
        keep = torch.isfinite(values)
        if min_score is not None:
            keep &= values >= min_score
        rank = torch.arange(1, k + 1).expand(len(batch), k)
        parts.append((head.unsqueeze(1).expand(-1, k)[keep],
                      relation.unsqueeze(1).expand(-1, k)[keep], tails[keep], values[keep],
                      rank[keep]))
    columns = [torch.cat(c) if c else torch.empty(0) for c in zip(*parts)] or [torch.empty(0)] * 5
    return Completions(*columns, queries=len(queries), seconds=time.perf_counter() - started)


def recovered(completions: Completions, expected: Tensor, num_entities: int,
              num_relations: int) -> dict:
    """How many ``expected`` triples (ids, e.g. held-out facts) are among the completions:
    in all, and among those whose (head, relation) was queried."""
    width = 2 * num_relations
    completed = completions.head * width + completions.relation
    found = set((completed * num_entities + completions.tail).tolist())
    keys = expected[:, 0] * width + expected[:, 1]
    hit = torch.tensor([key in found for key in (keys * num_entities + expected[:, 2]).tolist()],
                       dtype=torch.bool)
    asked = torch.isin(keys, torch.unique(completed))
    return {"expected": len(expected), "queried": int(asked.sum()), "recovered": int(hit.sum()),
            "share": float(hit.float().mean()) if len(hit) else 0.0}


def completion_lines(completions: Completions, scorer: LinkScorer, graph: str,
                     scheme: IriScheme, about: dict[str, str]) -> Iterator[str]:
    """N-Triples of every completion (claim, score, rank) and of the graph's provenance."""
    yield about_lines(graph, about)
    score_term, rank_term = scheme.ontology("score"), scheme.ontology("rank")
    for head, relation, tail, score, rank in zip(
            completions.head.tolist(), completions.relation.tolist(), completions.tail.tolist(),
            completions.score.tolist(), completions.rank.tolist()):
        yield claim_lines(graph, scorer.iris[head], scorer.relations[relation], scorer.iris[tail],
                          ((score_term, nt_literal(score)), (rank_term, nt_literal(rank))))


def write_completions(directory: str | os.PathLike, completions: Completions,
                      scorer: LinkScorer, embeddings: str, name: str, settings: dict
                      ) -> tuple[str, Path]:
    """Replace the named graph ``<base>graph/completions/<name>`` by ``completions``;
    ``settings`` (top_k, min_score, ...) are recorded in ``kg.json``."""
    scheme = graph_scheme(directory)
    graph = f"{scheme.base}graph/completions/{name}"
    about = {PROV + "generatedAtTime": now_literal(),
             scheme.ontology("model"): nt_literal(scorer.config.model),
             scheme.ontology("embeddings"): nt_literal(embeddings)}
    path = replace_graph(directory, graph,
                         completion_lines(completions, scorer, graph, scheme, about),
                         {"kind": "completions", "model": scorer.config.model,
                          "embeddings": embeddings, "completions": len(completions), **settings})
    return graph, path


def pipeline(directory: str | os.PathLike, embeddings: str, name: str | None = None,
             heads: list[str] | None = None, relations: list[str] | None = None,
             top_k: int = 10, min_score: float | None = None,
             expected: str | os.PathLike | None = None, device: str = "auto",
             batch_size: int = 512, progress: bool = True) -> dict:
    """Complete DIR's graph with ``DIR/embeddings/<embeddings>`` into the named graph
    ``completions/<name>`` (default: the embeddings' name).  ``heads`` and ``relations``
    are IRIs or, resolved with the graph's scheme, titles and property names;
    ``expected``: a file of held-out triples (TSV or N-Triples) to count among the
    completions.  Returns a report (counts, seconds, the graph IRI and file)."""
    scheme = graph_scheme(directory)
    scorer = LinkScorer.from_pretrained(Path(directory) / "embeddings" / embeddings,
                                        resolve_device(device))
    graph = KnowledgeGraph.open(directory)
    stated = stated_triples(graph, scorer)
    del graph                                   # the writer opens the store read-write
    queries = select_queries(stated, scorer, _as_iris(heads, scheme.resource),
                             _as_iris(relations, scheme.property))
    log.info("%d queries over %d entities (%d stated triples masked)", len(queries),
             scorer.num_entities, len(stated))
    completions = complete(scorer, stated, queries, top_k, min_score, batch_size, progress)
    started = time.perf_counter()
    iri, path = write_completions(directory, completions, scorer, embeddings, name or embeddings,
                                  {"top_k": top_k, "min_score": min_score})
    report = {"graph": iri, "file": str(path), "queries": completions.queries,
              "completions": len(completions), "score_seconds": completions.seconds,
              "write_seconds": time.perf_counter() - started}
    report["triples_per_second"] = len(completions) / max(
        report["score_seconds"] + report["write_seconds"], 1e-9)
    if expected is not None:
        report["expected"] = recovered(completions, expected_ids(expected, scheme, scorer),
                                       scorer.num_entities, scorer.num_relations)
    return report


def _as_iris(names: list[str] | None, make) -> list[str] | None:
    """IRIs as given, other names through ``make`` (a title or a property name)."""
    if names is None:
        return None
    return [name if name.startswith(("http://", "https://")) else make(name) for name in names]


def expected_ids(path: str | os.PathLike, scheme, scorer: LinkScorer) -> Tensor:
    """``[n, 3]`` ids of a file's triples between embedded entities (others are logged)."""
    rows = list(scorer.triple_ids(read_triples(path, scheme)))
    kept = [row for row in rows if None not in row]
    if len(kept) < len(rows):
        log.warning("%s: %d of %d triples name an entity or relation without an embedding; "
                    "not counted", path, len(rows) - len(kept), len(rows))
    return torch.tensor(kept, dtype=torch.long).view(-1, 3)
