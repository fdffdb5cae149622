"""``pipeline()``: graph directory -> trained model -> ``DIR/embeddings/<NAME>/``.

The parts are replaceable: the dataset (:func:`kg.embedding.data.load_triples` or any
:class:`TripleSet`), the model (:mod:`kg.embedding.models`), the training loop (one of the
classes below: ``loss(model, batch, generator)`` for each of ``batches(generator)``) and
the evaluator.
:func:`fit` runs them on a :class:`TripleSet` without touching the disk.

Under ``torchrun`` (:mod:`common.distributed`) every process trains on its share of
each epoch's batches (``batch_size`` per process), DDP averages the gradients, rank 0
evaluates and writes, and every process ends with the same weights.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from common import distributed
from common.atomic import atomic_directory
from common.duck import DEFAULT_MEMORY_LIMIT
from kg.embedding.config import EmbedConfig
from kg.embedding.data import AnswerIndex, RelGraph, TripleSet, load_triples
from kg.embedding.evaluate import evaluate
from kg.embedding.models import build_model
from kg.embedding.sampling import NeighbourSampler
from kg.embedding.scorer import decoder_state, save_decoder
from kg.embedding.store import (
    CURVE_FILE,
    EntityEmbeddings,
    plot_curve,
    save_relations,
    write_metrics,
)

log = logging.getLogger(__name__)


class SmoothedBCE(torch.autograd.Function):
    """Mean binary cross-entropy of ``[B, N]`` logits against the smoothed multi-hot target
    ``y' = (1 - eps) y + 1/N``, given as the (row, answer) pairs of its ones.

    Per element the loss is ``softplus(l) - y' l`` and its gradient ``sigmoid(l) - y'``;
    neither needs the dense target, and a hand-written backward makes one pass over the
    logits where autograd would make a dozen (on CPU each pass costs about as much as the
    matmul that made the logits).
    """

    @staticmethod
    def forward(ctx, logits: Tensor, rows: Tensor, answers: Tensor, smoothing: float) -> Tensor:
        ctx.save_for_backward(logits, rows, answers)
        ctx.smoothing = smoothing
        total = (F.softplus(logits).sum() - logits.sum() / logits.size(1)
                 - (1.0 - smoothing) * logits[rows, answers].sum())
        return total / logits.numel()

    @staticmethod
    def backward(ctx, grad: Tensor):
        logits, rows, answers = ctx.saved_tensors
        scale = grad / logits.numel()
        gradient = torch.sigmoid(logits).sub_(1.0 / logits.size(1)).mul_(scale)
        gradient.index_put_((rows, answers), -(1.0 - ctx.smoothing) * scale.expand(len(rows)),
                            accumulate=True)
        return gradient, None, None, None


def smoothed_bce(logits: Tensor, rows: Tensor, answers: Tensor, smoothing: float) -> Tensor:
    return SmoothedBCE.apply(logits.float(), rows, answers, smoothing)


class OneToN:
    """1-N scoring: every step encodes the whole graph and scores a batch of distinct
    (entity, relation') queries (inverse relations included) against all entities;
    binary cross-entropy with label smoothing (:func:`smoothed_bce`)."""

    def __init__(self, data: TripleSet, graph: RelGraph, config: EmbedConfig, device):
        self.graph, self.device = graph.to(device), device
        self.labels = AnswerIndex(data.train, data.num_entities, data.num_relations)
        self.queries = torch.stack(self.labels.queries(), dim=1)
        self.batch_size, self.smoothing = config.batch_size, config.label_smoothing

    def batches(self, generator: torch.Generator) -> list[Tensor]:
        order = torch.randperm(len(self.queries), generator=generator)
        return list(self.queries[order].split(self.batch_size))

    def loss(self, model: nn.Module, batch: Tensor, generator: torch.Generator) -> Tensor:
        entity, relation = batch.t()
        rows, answers = self.labels.lookup(entity, relation)
        logits = model.score(model.encode(self.graph), entity.to(self.device),
                             relation.to(self.device))
        return smoothed_bce(logits, rows.to(self.device), answers.to(self.device), self.smoothing)


class SampledOneToN(OneToN):
    """1-N scoring on a neighbour-sampled subgraph per batch (:mod:`kg.embedding.sampling`):
    each query is scored against the subgraph's nodes instead of all entities."""

    def __init__(self, data: TripleSet, graph: RelGraph, config: EmbedConfig, device):
        super().__init__(data, graph, config, device)
        self.sampler = NeighbourSampler(graph, config.layers, config.fanout)
        self.num_entities, self.negatives = data.num_entities, config.sampled_negatives

    def loss(self, model: nn.Module, batch: Tensor, generator: torch.Generator) -> Tensor:
        entity, relation = batch.t()
        rows, answers = self.labels.lookup(entity, relation)
        noise = torch.randint(self.num_entities, (self.negatives,), generator=generator)
        subgraph = self.sampler.sample(torch.cat([entity, answers, noise]), generator)
        local = torch.searchsorted(subgraph.node_ids, torch.cat([entity, answers])).to(self.device)
        logits = model.score(model.encode(subgraph.to(self.device)), local[:len(entity)],
                             relation.to(self.device))
        return smoothed_bce(logits, rows.to(self.device), local[len(entity):], self.smoothing)


class NegativeSampling:
    """The KGE baselines' own ``loss``: PyG corrupts the head or the tail of each triple
    once, margin ranking (TransE, DistMult) or logistic (RotatE)."""

    def __init__(self, data: TripleSet, graph: RelGraph, config: EmbedConfig, device):
        self.triples, self.device, self.batch_size = data.train, device, config.batch_size

    def batches(self, generator: torch.Generator) -> list[Tensor]:
        order = torch.randperm(len(self.triples), generator=generator)
        return list(self.triples[order].split(self.batch_size))

    def loss(self, model: nn.Module, batch: Tensor, generator: torch.Generator) -> Tensor:
        return model.loss(batch.to(self.device))


def make_loop(config: EmbedConfig, data: TripleSet, graph: RelGraph, device):
    loop = (SampledOneToN if config.fanout else OneToN) if config.is_gnn else NegativeSampling
    return loop(data, graph, config, device)


class LoopLoss(nn.Module):
    """``loop.loss(model, batch, generator)`` as a module's ``forward``: what DDP wraps, since
    it syncs gradients only of what goes through its own ``forward`` (the loops call
    ``encode``, ``score`` or ``loss``)."""

    def __init__(self, model: nn.Module, loop):
        super().__init__()
        self.model, self.loop = model, loop

    def forward(self, batch: Tensor, generator: torch.Generator) -> Tensor:
        return self.loop.loss(self.model, batch, generator)


class Evaluator:
    """Filtered ranking of a split against every known triple, the whole graph encoded."""

    def __init__(self, data: TripleSet, graph: RelGraph, batch_size: int, device,
                 progress: bool = False):
        self.data, self.graph, self.batch_size = data, graph.to(device), batch_size
        self.known = AnswerIndex(data.known(), data.num_entities, data.num_relations)
        self.progress = progress

    def __call__(self, model: nn.Module, split: str) -> dict[str, float]:
        return evaluate(model, self.graph, getattr(self.data, split), self.known,
                        self.data.num_relations, self.batch_size, self.progress)


class StepLog:
    """The mean training loss every ``every`` optimizer steps (and at an epoch's end), into
    ``into``: the curve is drawn per logged step, not per epoch.  Under torchrun, this
    process's batches (rank 0's are the ones written): the processes' shares of an epoch
    may differ by a batch, so there is no common step to average them at."""

    def __init__(self, every: int, into: list[dict]):
        self.every, self.into = every, into
        self.step, self.total, self.count = 0, 0.0, 0

    def add(self, loss: float, examples: int, epoch: int) -> None:
        self.step += 1
        self.total, self.count = self.total + loss * examples, self.count + examples
        if self.step % self.every == 0:
            self.flush(epoch)

    def flush(self, epoch: int) -> None:
        if self.count:
            self.into.append({"step": self.step, "epoch": epoch, "loss": self.total / self.count})
            self.total, self.count = 0.0, 0


def train(model: nn.Module, loop, evaluator: Evaluator, config: EmbedConfig,
          device: torch.device, progress: bool = True) -> dict:
    """Adam over ``loop``'s batches; valid MRR every ``eval_every`` epochs; stops after
    ``patience`` evaluations without improvement; leaves the best valid state loaded.

    Under torchrun: this process's share of the batches, gradients averaged by DDP (every
    parameter takes part in every step's loss, hence no ``find_unused_parameters``); rank 0
    evaluates and the others get its numbers, so all keep the same best state and stop
    together."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step = distributed.wrap(LoopLoss(model, loop), device)
    generator = torch.Generator().manual_seed(config.seed)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else nullcontext())
    history = {"loss": [], "valid": [], "steps": [], "train_seconds": 0.0, "eval_seconds": 0.0}
    best, best_state, stale = float("-inf"), None, 0
    steps = StepLog(config.log_every, history["steps"])
    bar = tqdm(range(1, config.epochs + 1), desc=config.model, disable=None if progress else True)
    for epoch in bar:
        model.train()
        started, total, count = time.perf_counter(), 0.0, 0
        distributed.sync_generator(generator)
        for batch in distributed.shard(loop.batches(generator)):
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                loss = step(batch, generator)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the training loss is {loss.item()} at epoch {epoch}; "
                                         "try a lower learning rate")
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(batch), count + len(batch)
            steps.add(loss.item(), len(batch), epoch)
        steps.flush(epoch)
        history["train_seconds"] += time.perf_counter() - started
        total, count = distributed.all_reduce_sum(total, count)
        history["loss"].append(total / max(count, 1))
        if epoch % config.eval_every and epoch != config.epochs:
            continue
        started = time.perf_counter()
        valid = {"epoch": epoch, "step": steps.step, "loss": history["loss"][-1],
                 **distributed.on_main(evaluator, model, "valid")}
        history["eval_seconds"] += time.perf_counter() - started
        history["valid"].append(valid)
        bar.set_postfix(loss=f"{valid['loss']:.4f}", mrr=f"{valid['mrr']:.3f}")
        log.info("epoch %d: loss %.4f, valid MRR %.4f, Hits@10 %.4f", epoch, valid["loss"],
                 valid["mrr"], valid["hits@10"])
        if valid["mrr"] > best:
            best, stale = valid["mrr"], 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                log.info("early stop at epoch %d (best valid MRR %.4f)", epoch, best)
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    distributed.sync_buffers(model)
    distributed.log_digest(model, "graph encoder weights")
    return history


@dataclass
class Result:
    config: EmbedConfig
    data: TripleSet
    model: nn.Module
    metrics: dict
    entities: EntityEmbeddings
    relations: Tensor
    decoder: dict[str, Tensor]


def fit(data: TripleSet, config: EmbedConfig, progress: bool = True) -> Result:
    """Train ``config.model`` on ``data``, pick the best valid epoch, measure test."""
    if not len(data.train) or not len(data.valid):
        raise ValueError(f"too few triples to train and validate on (train {len(data.train)}, "
                         f"valid {len(data.valid)})")
    torch.manual_seed(config.seed)
    device = distributed.resolve_device(config.device)
    graph = RelGraph.from_triples(data.train, data.num_entities, data.num_relations)
    model = build_model(config, data.num_entities, data.num_relations).to(device)
    shown = progress and distributed.world().main
    evaluator = Evaluator(data, graph, config.eval_batch_size, device, shown)
    history = train(model, make_loop(config, data, graph, device), evaluator, config, device,
                    shown)
    best = max(history["valid"], key=lambda v: v["mrr"])
    test = distributed.on_main(evaluator, model, "test")
    log.info("test (epoch %d): MRR %.4f, Hits@1 %.4f, Hits@10 %.4f", best["epoch"], test["mrr"],
             test["hits@1"], test["hits@10"])
    model.eval()
    with torch.no_grad():
        encoded = model.encode(evaluator.graph)
    epochs = len(history["loss"])
    metrics = {"model": config.model, "device": device.type, "entities": data.num_entities,
               "relations": data.num_relations,
               "triples": {name: len(getattr(data, name))
                           for name in ("train", "valid", "test", "holdout")},
               "epochs_run": epochs, "best_epoch": best["epoch"], "valid": history["valid"],
               "loss": history["loss"], "steps": history["steps"], "best_valid": best, "test": test,
               "seconds_per_epoch": history["train_seconds"] / max(epochs, 1),
               "eval_seconds": history["eval_seconds"], **distributed.metrics_fields()}
    return Result(config, data, model, metrics,
                  EntityEmbeddings.from_vectors(data.entities, encoded.entity),
                  encoded.relation.detach().float().cpu(), decoder_state(model, encoded))


def save_result(result: Result, out: str | os.PathLike) -> Path:
    """Write every output file of a run into ``out`` (replaced atomically)."""

    with atomic_directory(out) as work:
        result.entities.save_pretrained(work)
        save_relations(work, result.data.relations, result.relations)
        save_decoder(work, result.decoder)
        result.config.save_pretrained(work)
        write_metrics(work, result.metrics)
        plot_curve(result.metrics["steps"], result.metrics["valid"], work / CURVE_FILE,
                   f"{result.config.model}: test MRR {result.metrics['test']['mrr']:.3f}")
    return Path(out)


def pipeline(directory: str | os.PathLike, config: EmbedConfig | None = None,
             holdout: str | os.PathLike | None = None, name: str | None = None,
             progress: bool = True, memory_limit: str = DEFAULT_MEMORY_LIMIT,
             tmp_dir: str | os.PathLike | None = None) -> Result:
    """Load DIR's triples, train, test and write ``DIR/embeddings/<name>/`` (default: the
    model's name).  Under torchrun: one DDP process per device, rank 0 writes; every
    process returns the same result once the files are there.  ``memory_limit`` and
    ``tmp_dir``: the loading's IRI tables (:func:`kg.embedding.data.load_triples`)."""
    config = config or EmbedConfig()
    with distributed.session(distributed.resolve_device(config.device)):
        data = load_triples(directory, holdout, config.eval_fraction, config.seed,
                            config.categories, memory_limit, tmp_dir)
        result = fit(data, config, progress)
        out = distributed.on_main(save_result, result,
                                  Path(directory) / "embeddings" / (name or config.model))
        log.info("embeddings written to %s", out)
    return result
