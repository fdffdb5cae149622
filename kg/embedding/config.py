"""``EmbedConfig``: every knob of a training run, saved as ``config.json`` beside its output.

``save_pretrained``/``from_pretrained`` mirror Hugging Face's: the directory written by a run
can be read back into the config that made it, so a run is reproducible from its output.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

CONFIG_FILE = "config.json"
GNN_MODELS = ("rgcn", "compgcn")
KGE_MODELS = ("transe", "distmult", "rotate")
MODELS = GNN_MODELS + KGE_MODELS


@dataclass
class EmbedConfig:
    """Hyper-parameters of one run.  The defaults suit CPU training of a Wikipedia graph;
    ``bench/bench_embedding.py`` holds the settings tuned per benchmark."""

    model: str = "rgcn"
    dim: int = 100
    layers: int = 2
    num_bases: int | None = 20       # R-GCN basis decomposition (None and no blocks: full weights)
    num_blocks: int | None = None    # R-GCN block-diagonal decomposition instead of bases
    composition: str = "corr"        # CompGCN: sub | mult | corr
    decoder: str = "distmult"        # GNN decoder: distmult | conve
    conve_height: int = 10           # ConvE reshapes dim into height x dim/height
    conve_filters: int = 32
    conve_kernel: int = 3
    dropout: float = 0.0             # on node features before each GNN layer
    decoder_dropout: float = 0.2     # on the decoder's query (ConvE: feature maps, hidden)
    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 0.0
    batch_size: int = 512            # queries (1-N) or triples (negative sampling) per step
    label_smoothing: float = 0.1
    margin: float = 1.0              # TransE/DistMult margin, RotatE's gamma
    fanout: int = 0                  # > 0: neighbour-sampled mini-batches, this many edges per node
    sampled_negatives: int = 512     # random entities added to each sampled subgraph
    eval_every: int = 5
    patience: int = 5                # evaluations without a better valid MRR before stopping
    eval_batch_size: int = 256
    eval_fraction: float = 0.05      # valid and test share each, for graphs without splits
    categories: bool = True          # dct:subject edges as training-only context
    seed: int = 0
    device: str = "cpu"              # cpu | cuda | auto

    def __post_init__(self):
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
