"""``EmbedConfig``: every knob of a training run, saved as ``config.json`` beside its output.

``save_pretrained``/``from_pretrained`` mirror Hugging Face's: the directory written by a run
can be read back into the config that made it, so a run is reproducible from its output.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from common.settings import check_bounds, setting

CONFIG_FILE = "config.json"
GNN_MODELS = ("rgcn", "compgcn")
KGE_MODELS = ("transe", "distmult", "rotate")
MODELS = GNN_MODELS + KGE_MODELS


@dataclass
class EmbedConfig:
    """Hyper-parameters of one run.  The defaults suit CPU training of a Wikipedia graph;
    ``bench/bench_embedding.py`` holds the settings tuned per benchmark."""

    model: str = setting("rgcn", help="Encoder (R-GCN, CompGCN) or KGE baseline.", choices=MODELS)
    dim: int = setting(100, help="Embedding size.", minimum=2)
    layers: int = setting(2, help="GNN layers.", minimum=1)
    num_bases: int | None = setting(20, help="R-GCN basis decomposition (none and no blocks: "
                                    "full weights).", minimum=1)
    num_blocks: int | None = setting(None, help="R-GCN block-diagonal decomposition instead "
                                     "of bases.", minimum=1)
    composition: str = setting("corr", help="CompGCN composition.", choices=("sub", "mult", "corr"))
    decoder: str = setting("distmult", help="Decoder of rgcn/compgcn.", choices=("distmult", "conve"))
    conve_height: int = setting(10, help="ConvE reshapes dim into height x dim/height.", minimum=1)
    conve_filters: int = setting(32, help="ConvE filters.", minimum=1)
    conve_kernel: int = setting(3, help="ConvE kernel size.", minimum=1)
    dropout: float = setting(0.0, help="Dropout on node features before each GNN layer.",
                             minimum=0)
    decoder_dropout: float = setting(0.2, help="Dropout on the decoder's query (ConvE: feature "
                                     "maps, hidden).", minimum=0)
    epochs: int = setting(200, help="At most this many epochs (early stopping on valid MRR).",
                          minimum=1)
    lr: float = setting(0.01, help="Adam learning rate.", above=0)
    weight_decay: float = setting(0.0, help="Adam weight decay.", minimum=0)
    batch_size: int = setting(512, help="Queries (1-N) or triples (negative sampling) per step "
                              "and process (x processes under torchrun).", minimum=1)
    label_smoothing: float = setting(0.1, help="1-N label smoothing.", minimum=0)
    margin: float = setting(1.0, help="TransE/DistMult margin, RotatE's gamma.")
    fanout: int = setting(0, help="Neighbour-sampled mini-batches with this many in-edges per "
                          "node and hop (0: the whole graph every step).", minimum=0)
    sampled_negatives: int = setting(512, help="Random entities added to each sampled subgraph.",
                                     minimum=0)
    eval_every: int = setting(5, help="Epochs between valid evaluations.", minimum=1)
    log_every: int = setting(10, help="Log (and plot) the mean training loss every N "
                             "optimizer steps.", minimum=1)
    patience: int = setting(5, help="Evaluations without a better valid MRR before stopping.",
                            minimum=1)
    eval_batch_size: int = setting(256, help="Queries per evaluation batch.", minimum=1)
    eval_fraction: float = setting(0.05, help="Valid and test share each, for graphs without "
                                   "splits.", minimum=0)
    categories: bool = setting(True, help="dct:subject edges as training-only context.")
    seed: int = setting(0, help="Random seed (same seed, same metrics on CPU).")
    device: str = setting("cpu", help="auto: CUDA with bf16 autocast when available.",
                          choices=("cpu", "cuda", "auto"))

    def __post_init__(self):
        check_bounds(self)
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r} (expected one of {', '.join(MODELS)})")
        if self.composition not in ("sub", "mult", "corr"):
            raise ValueError(f"unknown composition {self.composition!r} (sub, mult or corr)")
        if self.decoder not in ("distmult", "conve"):
            raise ValueError(f"unknown decoder {self.decoder!r} (distmult or conve)")
        if self.decoder == "conve" and self.dim % self.conve_height:
            raise ValueError(f"dim {self.dim} is not divisible by conve_height {self.conve_height}")
        if self.num_bases and self.num_blocks:
            raise ValueError("num_bases and num_blocks are exclusive")
        if self.num_blocks and self.dim % self.num_blocks:
            raise ValueError(f"dim {self.dim} is not divisible by num_blocks {self.num_blocks}")
        if self.fanout and self.model not in GNN_MODELS:
            raise ValueError("neighbour sampling (fanout) is for the GNN models rgcn and compgcn")

    @property
    def is_gnn(self) -> bool:
        return self.model in GNN_MODELS

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> EmbedConfig:
        return cls.from_json(Path(directory) / CONFIG_FILE)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> EmbedConfig:
        """Read a config file; unknown keys (from a newer version) are ignored."""
        values = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
