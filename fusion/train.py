"""``train()``: fine-tune a knowledge-enhanced model on an RE or NER dataset directory.

One entry point over replaceable parts (PyKEEN style): the dataset (``DATA/*.jsonl``),
the entity index (``--kg DIR --embeddings NAME``), the model (encoder + fusion + head),
the loop (AdamW with separate encoder/new-layer learning rates, linear warm-up and decay,
clipping, accumulation, early stopping on dev F1) and the evaluator (``fusion.metrics``).

Every epoch ends with a checkpoint (``RUN/checkpoints/last``: weights as safetensors,
optimizer/scheduler/RNG state loadable with ``torch.load(weights_only=True)``), written
beside and swapped in, so a kill or Ctrl-C leaves the last whole one.  The data order of
epoch *e* comes from a generator seeded with ``seed + e``, so ``--resume`` after a kill
continues exactly where an uninterrupted run of the same seed would be.  A run that ends
drops its checkpoint (the optimizer state is twice the model) unless ``keep_checkpoints``;
the best model and the run's config stay.

Under ``torchrun`` (:mod:`common.distributed`) the model is wrapped in DDP and a
``DistributedSampler`` deals each process its share of the same epoch order (``batch_size``
per process); gradients are all-reduced once per optimizer step.  Rank 0 alone evaluates,
on the unwrapped model with the batches a single process would use, so the dev and test
metrics are those of a one-process run with the same weights; the others get its numbers
and take the same keep-best and early-stopping decisions.  Rank 0 alone writes the run
directory; every process's RNG state goes into the checkpoint, so ``--resume`` with the
same number of processes continues exactly too.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from common import distributed
from common.atomic import atomic_directory
from common.errors import InputError
from common.plots import save_figure
from common.tensorfile import load_tensors
from fusion.config import (
    METRICS_NAME,
    PREDICTIONS_FILE,
    TRAIN_CONFIG_NAME,
    FusionConfig,
    TrainConfig,
)
from fusion.datasets.schema import SPLITS
from fusion.datasets.validate import load_split, read_labels
from fusion.features import collate, encode_ner, encode_re
from fusion.metrics import f1_interval, format_report, ner_scores, outcome_counts, re_scores
from fusion.model import WEIGHTS_NAME, KnowledgeEnhancedModel, build_model
from fusion.modes import MODES
from kg.embedding import EntityEmbeddings
from kg.iri import DEFAULT_BASE
from kg.store import graph_scheme

log = logging.getLogger(__name__)

STATE_NAME = "trainer_state.pt"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """This process's torch (CPU) and Python RNG state, as checkpoint entries."""
    version, state, _ = random.getstate()
    return {"torch_rng": torch.get_rng_state(), "python_rng": list(state),
            "python_rng_version": version}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch_rng"])
    random.setstate((state["python_rng_version"], tuple(state["python_rng"]), None))


def load_entities(config: TrainConfig) -> EntityEmbeddings | None:
    """The run's entity table (the config has checked that a mode needing one has it)."""
    if not MODES[config.fusion].needs_entities and not config.embeddings:
        return None
    table = EntityEmbeddings.from_pretrained(Path(config.kg) / "embeddings" / config.embeddings)
    return table.control(config.entity_control, config.seed)


def apply_freeze(model: KnowledgeEnhancedModel, freeze: str) -> None:
    """``none``, ``embeddings`` (word embeddings), ``encoder`` (all of it) or ``bottom-N``
    (embeddings and the first N layers)."""
    from fusion.model import encoder_layers

    encoder = model.encoder
    if freeze == "none":
        return
    if freeze == "encoder":
        for p in encoder.parameters():
            p.requires_grad = False
        return
    for p in encoder.get_input_embeddings().parameters():
        p.requires_grad = False
    if freeze.startswith("bottom-"):
        for layer in encoder_layers(encoder)[: int(freeze.split("-", 1)[1])]:
            for p in layer.parameters():
                p.requires_grad = False
    elif freeze != "embeddings":
        raise ValueError(f"--freeze {freeze!r}: use none, embeddings, encoder or bottom-N")


def optimizer_for(model: KnowledgeEnhancedModel, config: TrainConfig) -> torch.optim.AdamW:
    """Encoder at ``lr``, new layers (head, fusion) at ``head_lr``, except the parameters
    the fusion mode gives a rate of their own (``layer``'s gate at ``gate_lr``); no decay
    on biases, norms and the gate."""
    groups: dict[tuple[float, bool], list] = {}
    own = model.mode.learning_rates(config)
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        lr = config.lr if name.startswith("encoder.") else own.get(name, config.head_lr)
        decay = param.ndim > 1
        groups.setdefault((lr, decay), []).append(param)
    return torch.optim.AdamW([
        {"params": params, "lr": lr, "weight_decay": config.weight_decay if decay else 0.0}
        for (lr, decay), params in sorted(groups.items())])


class Trainer:
    def __init__(self, config: TrainConfig):
        self.config = config
        self.data = Path(config.data)
        self.out = Path(config.out)
        self.device = distributed.resolve_device(config.device)
        seed_everything(config.seed)
        self.labels = read_labels(self.data, config.task)
        # every record checked before the model loads: a bad line fails in a second
        records = {s: load_split(self.data, s, config.task, self.labels) for s in SPLITS}
        self.label_ids = {label: i for i, label in enumerate(self.labels)}
        self.entities = load_entities(config)
        fusion_config = FusionConfig(
            task=config.task, fusion=config.fusion, base_model=config.base_model,
            labels=self.labels, fusion_layer=config.fusion_layer, link_dropout=config.link_dropout,
            standardize_entities=config.standardize_entities,
            classifier_dropout=config.dropout, max_length=config.max_length,
            base_iri=graph_scheme(config.kg).base if config.kg else DEFAULT_BASE)
        self.model, self.tokenizer = build_model(fusion_config, self.entities)
        apply_freeze(self.model, config.freeze)
        self.model.to(self.device)
        # what training calls: DDP under torchrun.  Unused parameters exist (the encoder's
        # pooler feeds no head), so DDP must look for them, as the HF Trainer does.
        self.wrapped = distributed.wrap(self.model, self.device, find_unused_parameters=True)
        self.encode = encode_re if config.task == "re" else encode_ner
        self.splits = {s: self._features(records[s]) for s in SPLITS}
        if config.max_train_examples:
            self.splits["train"] = tuple(part[: config.max_train_examples]
                                         for part in self.splits["train"])
        if not self.splits["train"][0]:
            raise ValueError(f"{self.data / 'train.jsonl'} has no examples to train on")
        self.optimizer = optimizer_for(self.model, config)
        per_process = math.ceil(len(self.splits["train"][0]) / distributed.world().size)
        steps_per_epoch = math.ceil(per_process / config.batch_size / config.grad_accum)
        self.total_steps = steps_per_epoch * config.epochs
        if config.max_steps:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(config.warmup * self.total_steps), max(1, self.total_steps))
        self.autocast = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        self.step, self.epoch, self.best, self.stale = 0, 0, -1.0, 0
        self.history: list[dict] = []  # per epoch: the step it ended at, loss, dev scores
        self.losses: list[dict] = []   # per logged step (every log_every): the mean loss

    def _features(self, records: list[dict]) -> tuple[list[dict], list[dict]]:
        features = [self.encode(r, self.tokenizer, self.model.config, self.entities,
                                self.label_ids) for r in records]
        return features, records

    def _loader(self, features: list[dict], batch_size: int, epoch: int | None = None):
        """Batches in order, or shuffled for training ``epoch``: by a generator seeded with
        ``seed + epoch``, under torchrun by a ``DistributedSampler`` (seed, epoch) that gives
        each process its share (the generator then only seeds the loader itself)."""
        generator = sampler = None
        if epoch is not None:
            generator = torch.Generator().manual_seed(self.config.seed + epoch)
            if distributed.world().size > 1:
                sampler = DistributedSampler(features, seed=self.config.seed)
                sampler.set_epoch(epoch)
        return DataLoader(features, batch_size=batch_size, sampler=sampler, generator=generator,
                          shuffle=epoch is not None and sampler is None,
                          collate_fn=lambda b: collate(b, self.tokenizer.pad_token_id))

    def _bar(self, iterable=None, **options) -> tqdm:
        """A progress bar drawn by rank 0 alone, none without --progress or a terminal."""
        shown = self.config.progress and distributed.world().main
        return tqdm(iterable, leave=False, disable=not shown or None, **options)

    def _forward(self, batch: dict, model: torch.nn.Module) -> dict:
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            return model(**batch)

    def train(self) -> dict:
        config = self.config
        if config.resume:
            self._resume()
        elif self.out.exists() and any(self.out.iterdir()):
            raise FileExistsError(f"{self.out} is not empty (use --resume to continue a run, or "
                                  "another --out)")
        distributed.barrier()  # every process has looked at --out before rank 0 writes there
        main = distributed.world().main
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        # one bar over the run's optimizer steps (--max-steps included), not one per epoch
        with self._bar(total=self.total_steps, initial=self.step, desc="train",
                       unit=" steps") as bar:
            while not self._finished():
                self._run_epoch(bar)
        distributed.log_digest(self.model, "fine-tuned weights")
        return distributed.on_main(self._finish, time.perf_counter() - started)

    def _finished(self) -> bool:
        """Every epoch run, --max-steps reached, or early stopped: so a resumed run that
        ended trains no further (unless --epochs, --max-steps or --patience is raised)."""
        return (self.epoch >= self.config.epochs or self._done()
                or self.stale >= self.config.patience)

    def _run_epoch(self, bar: tqdm) -> None:
        """Train an epoch, score dev, keep the model if it is the best yet, checkpoint."""
        config, main = self.config, distributed.world().main
        loss = self._train_epoch(bar)
        dev = distributed.on_main(self.evaluate, "dev")
        self.epoch += 1
        self.history.append({"epoch": self.epoch, "step": self.step, "train_loss": loss,
                             "dev_micro_f1": dev["micro_f1"], "dev_macro_f1": dev["macro_f1"]})
        log.info("epoch %d step %d: loss %.4f, dev micro-F1 %.4f", self.epoch, self.step,
                 loss, dev["micro_f1"])
        if dev["micro_f1"] > self.best:
            self.best, self.stale = dev["micro_f1"], 0
            if main:
                self.model.save_pretrained(self.out)
                self.tokenizer.save_pretrained(self.out)
        else:
            self.stale += 1
        self._checkpoint()
        if self.stale >= config.patience:
            log.info("early stop: dev F1 has not improved for %d epochs", self.stale)

    def _done(self) -> bool:
        return bool(self.config.max_steps) and self.step >= self.config.max_steps

    def _train_epoch(self, bar: tqdm) -> float:
        """One epoch (or up to --max-steps); returns its mean loss.  Every ``log_every``
        optimizer steps, and at the end, the mean loss since the last log joins
        ``self.losses``: the curve is drawn per logged step, so a run of one epoch has one."""
        config = self.config
        self.model.train()
        loader = self._loader(self.splits["train"][0], config.batch_size, self.epoch)
        losses, window = [], []  # every micro-batch's loss; those since the last log
        for i, batch in enumerate(loader):
            step_ends = (i + 1) % config.grad_accum == 0 or i + 1 == len(loader)
            with distributed.gradient_sync(self.wrapped, step_ends):
                loss = self._forward(batch, self.wrapped)["loss"] / config.grad_accum
                loss.backward()
            losses.append(loss.item() * config.grad_accum)
            window.append(losses[-1])
            if step_ends:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                bar.update()
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{losses[-1]:.3f}")
                if self.step % config.log_every == 0:
                    self._log_loss(window)
                if self._done():
                    break
        self._log_loss(window)
        return distributed.all_reduce_mean(sum(losses) / max(1, len(losses)))

    def _log_loss(self, window: list[float]) -> None:
        """The mean loss over ``window`` (averaged over the processes), at this step; empties
        it.  Every process has as many batches, so all log at the same steps."""
        if window:
            loss = distributed.all_reduce_mean(sum(window) / len(window))
            self.losses.append({"step": self.step, "epoch": self.epoch + 1, "loss": loss})
            window.clear()

    @torch.no_grad()
    def predict(self, split: str, model: KnowledgeEnhancedModel | None = None) -> list:
        model = model or self.model
        model.eval()
        features = self.splits[split][0]
        out = []
        batches = self._loader(features, self.config.eval_batch_size)
        for batch in self._bar(batches, desc=f"evaluate {split}", unit=" batches"):
            logits = self._forward(batch, model)["logits"].float()
            if self.config.task == "re":
                out.extend(logits.argmax(-1).tolist())
            else:
                for row, labels in zip(logits.argmax(-1).tolist(), batch["labels"].tolist()):
                    out.append([p for p, g in zip(row, labels) if g != -100])
        return out

    def outcomes(self, split: str, model: KnowledgeEnhancedModel | None = None
                 ) -> tuple[list, list]:
        """(gold, predicted) label names of a split: one per RE example, a tag list per
        NER sentence."""
        features, records = self.splits[split]
        predicted = self.predict(split, model) if features else []
        if self.config.task == "re":
            return [r["relation"] for r in records], [self.labels[p] for p in predicted]
        return ([[self.labels[g] for g in f["labels"] if g != -100] for f in features],
                [[self.labels[p] for p in row] for row in predicted])

    def evaluate(self, split: str, model: KnowledgeEnhancedModel | None = None,
                 outcomes: tuple[list, list] | None = None) -> dict:
        gold, names = outcomes or self.outcomes(split, model)
        if not gold:
            return {"micro_f1": 0.0, "macro_f1": 0.0}
        if self.config.task == "ner":
            return ner_scores(gold, names)
        scores = re_scores(gold, names, self.labels)
        records = self.splits[split][1]
        linked = [i for i, r in enumerate(records)
                  if self.entities is not None and (self.entities.index(r["head"].get("iri"))
                                                    or self.entities.index(r["tail"].get("iri")))]
        if linked:
            subset = re_scores([gold[i] for i in linked], [names[i] for i in linked], self.labels)
            scores["linked"] = {"examples": len(linked), "share": len(linked) / len(gold),
                                "micro_f1": subset["micro_f1"], "macro_f1": subset["macro_f1"]}
        return scores

    def final_scores(self, split: str, model: KnowledgeEnhancedModel) -> dict:
        """A split's scores with their uncertainty (examples, gold positives, a 95 %
        bootstrap interval of micro-F1), its predictions written to
        ``RUN/<split>_predictions.jsonl`` (one line per example, in the split's order) so
        that two runs can be compared example by example (:func:`fusion.metrics.paired_bootstrap`)."""
        gold, names = self.outcomes(split, model)
        scores = self.evaluate(split, outcomes=(gold, names))
        counts = outcome_counts(self.config.task, gold, names)
        low, high = f1_interval(counts)
        scores.update(examples=len(gold), positives=int(counts[:, 2].sum()),
                      f1_interval=[low, high])
        with open(self.out / PREDICTIONS_FILE.format(split=split), "w", encoding="utf-8") as handle:
            for g, p in zip(gold, names):
                handle.write(json.dumps({"gold": g, "predicted": p}, ensure_ascii=False) + "\n")
        return scores

    # --- checkpoints ------------------------------------------------------------------

    def _checkpoint(self) -> None:
        """Weights + optimizer/scheduler/RNG state, written (by rank 0) beside and swapped
        in.  Under torchrun ``process_rng`` adds every process's RNG state: their dropout
        draws differ."""
        states = distributed.all_gather(rng_state())
        if not distributed.world().main:
            return
        with atomic_directory(self.out / "checkpoints" / "last") as tmp:
            self._write_checkpoint(tmp, states)

    def _write_checkpoint(self, tmp: Path, states: list[dict]) -> None:
        self.model.save_pretrained(tmp, entity_table=False)
        state = {"optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), **states[0],
                 "epoch": self.epoch, "step": self.step, "best": self.best,
                 "stale": self.stale, "history": self.history, "losses": self.losses}
        if len(states) > 1:
            state["process_rng"] = states
        torch.save(state, tmp / STATE_NAME)

    def _resume(self) -> None:
        source = self.out / "checkpoints" / "last"
        if not (source / STATE_NAME).exists():
            raise InputError(self._why_not_resumable())
        state = torch.load(source / STATE_NAME, weights_only=True)
        self.model.load_state_dict(load_tensors(source / WEIGHTS_NAME), strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        place, saved = distributed.world(), state.get("process_rng", [])
        # another number of processes than the run had: rank 0's state for all (the data
        # order does not depend on it, only the dropout draws)
        set_rng_state(saved[place.rank] if len(saved) == place.size else state)
        self.epoch, self.step = state["epoch"], state["step"]
        self.best, self.stale, self.history = state["best"], state["stale"], state["history"]
        self.losses = state.get("losses", [])  # checkpoints before per-step losses have none
        log.info("resumed %s at epoch %d, step %d", self.out, self.epoch, self.step)
        if self._finished():
            log.warning("%s had already ended (epoch %d, step %d%s): nothing to train; its best "
                        "model is evaluated again.  Raise --epochs, --max-steps or --patience "
                        "to train it further", self.out, self.epoch, self.step,
                        ", early stopped" if self.stale >= self.config.patience else "")

    def _why_not_resumable(self) -> str:
        if (self.out / METRICS_NAME).exists():
            return (f"{self.out}: a finished run whose checkpoint was dropped at its end (trained "
                    "without --keep-checkpoints): it cannot be resumed or trained further; its "
                    "best model is still there, to predict with or evaluate")
        return f"{self.out}: no checkpoint to resume from ({self.out / 'checkpoints' / 'last'})"

    def _finish(self, seconds: float) -> dict:
        best = KnowledgeEnhancedModel.from_pretrained(self.out, self.device)
        dev = self.final_scores("dev", best)
        test = self.final_scores("test", best)
        metrics = {"task": self.config.task, "fusion": self.config.fusion,
                   "seed": self.config.seed, "steps": self.step, "epochs": self.epoch,
                   "train_examples": len(self.splits["train"][0]),
                   "seconds": round(seconds, 1), "device": str(self.device),
                   "best_dev_micro_f1": self.best, "dev": dev, "test": test,
                   "history": self.history, "losses": self.losses, **distributed.metrics_fields()}
        (self.out / METRICS_NAME).write_text(json.dumps(metrics, indent=2) + "\n")
        (self.out / "report.txt").write_text(
            f"{self.config.task} fusion={self.config.fusion} seed={self.config.seed}\n\n"
            f"dev\n{format_report(dev)}\ntest\n{format_report(test)}")
        (self.out / TRAIN_CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        plot_curves(self.history, self.losses, self.out / "curves.png")
        if not self.config.keep_checkpoints:
            self._drop_checkpoints()
        return metrics

    def _drop_checkpoints(self) -> None:
        """The finished run keeps its best model and config; the last epoch's weights and
        optimizer state (~3x the model) only serve --resume, which --keep-checkpoints keeps."""
        checkpoints = self.out / "checkpoints"
        if checkpoints.exists():
            shutil.rmtree(checkpoints)
            log.info("removed %s (--keep-checkpoints keeps it, to resume the run)", checkpoints)


def plot_curves(history: list[dict], losses: list[dict], path: Path) -> None:
    """Training loss per logged step and dev micro-F1 at the step each epoch ended, side
    by side, both over optimizer steps."""
    def draw(axes):
        left, right = axes
        left.plot([s["step"] for s in losses], [s["loss"] for s in losses],
                  marker="o" if len(losses) < 50 else None)
        left.set(title="training loss", xlabel="step")
        right.plot([h["step"] for h in history], [h["dev_micro_f1"] for h in history],
                   marker="o", color="#dd8452")
        right.set(title="dev micro-F1", xlabel="step")

    save_figure(path, draw, size=(9, 3.2), panels=2)


def train(config: TrainConfig) -> dict:
    """Train and evaluate; returns (and writes to ``RUN/metrics.json``) the metrics.  Under
    torchrun: one DDP process per device, every process returns rank 0's metrics."""
    with distributed.session(distributed.resolve_device(config.device)):
        return Trainer(config).train()


