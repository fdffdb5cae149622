"""Filtered link-prediction ranking: MRR, MR and Hits@k over head and tail prediction.

Filtered (Bordes et al., 2013): the other true answers of a query (from train, valid,
test and holdout) are removed from the candidates before ranking.  Ties are counted as
the mean of the optimistic and the pessimistic rank, ``1 + #higher + #tied / 2``, so a
model that scores everything alike gets the random-ranking expectation, not rank 1.
Scores are ranked in fp32 (bf16 would create ties).
"""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm.auto import tqdm

from kg.embedding.data import AnswerIndex, RelGraph

HITS_AT = (1, 3, 10)


def filtered_ranks(scores: Tensor, target: Tensor, known: Tensor) -> Tensor:
    """Rank of ``target`` in each row of ``scores`` ``[B, N]``, ignoring the other
    candidates marked in ``known`` (the target itself may be marked or not)."""
    scores = torch.nan_to_num(scores.float(), nan=float("-inf"))
    rows = torch.arange(len(target), device=scores.device)
    target_score = scores[rows, target].unsqueeze(1)
    ranked = ~known
    ranked[rows, target] = False
    higher = ((scores > target_score) & ranked).sum(1)
    tied = ((scores == target_score) & ranked).sum(1)
    return 1.0 + higher.float() + tied.float() / 2


def ranking_metrics(ranks: Tensor) -> dict[str, float]:
    ranks = ranks.double()
    metrics = {"mrr": (1.0 / ranks).mean().item(), "mr": ranks.mean().item()}
    metrics.update({f"hits@{k}": (ranks <= k).double().mean().item() for k in HITS_AT})
    return metrics | {"queries": len(ranks)}


def queries_of(triples: Tensor, num_relations: int) -> tuple[Tensor, Tensor, Tensor]:
    """(entity, relation', answer): each triple as a tail query then a head query."""
    h, r, t = triples.t()
    return torch.cat([h, t]), torch.cat([r, r + num_relations]), torch.cat([t, h])


@torch.no_grad()
def evaluate(model, graph: RelGraph, triples: Tensor, known: AnswerIndex, num_relations: int,
             batch_size: int = 256, progress: bool = False) -> dict[str, float]:
    """Filtered metrics of ``triples`` (ids), the whole graph encoded once, in eval mode;
    ``progress``: a bar over the query batches (on a large graph, minutes per evaluation)."""
    model.eval()
    device = graph.edge_index.device
    encoded = model.encode(graph)
    batches = list(zip(*(q.to(device).split(batch_size)
                         for q in queries_of(triples, num_relations))))
    ranks = [filtered_ranks(model.score(encoded, entity, relation), answer, known.mask(entity, relation))
             for entity, relation, answer in tqdm(batches, desc="evaluate", unit=" batches",
                                                  leave=False, disable=None if progress else True)]
    return ranking_metrics(torch.cat(ranks)) if ranks else {"queries": 0}
