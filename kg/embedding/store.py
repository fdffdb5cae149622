"""Trained vectors on disk (``DIR/embeddings/<NAME>/``) and the API the fusion stage reads.

- ``entities.safetensors`` (``embeddings``: ``[1 + entities, d]``) and ``entities.tsv``
  (``row<TAB>IRI``): row 0 is "no entity", a zero vector with an empty IRI;
- ``relations.safetensors`` (``embeddings``) and ``relations.tsv``
  (``row<TAB>IRI<TAB>forward|inverse``): the decoder's relation vectors, inverse rows
  (r + R) only for the reciprocal GNN models;
- ``decoder.safetensors``: what scoring needs besides the vectors (:mod:`kg.embedding.scorer`);
- ``config.json``, ``metrics.json`` and ``valid_mrr.png``.

A run is written into a temporary sibling directory that replaces the output at the end,
so an interrupted run leaves the previous output as it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor

from common.plots import save_figure
from common.tensorfile import load_tensors

ENTITY_FILES = ("entities.safetensors", "entities.tsv")
RELATION_FILES = ("relations.safetensors", "relations.tsv")
METRICS_FILE = "metrics.json"
CURVE_FILE = "valid_mrr.png"


class EntityEmbeddings:
    """Entity vectors by IRI: ``index`` (row, 0 if unknown), ``vector``, cosine ``nearest``.

    ``matrix`` includes row 0 (zeros), so ``matrix[index(iri)]`` works for unknown IRIs too.
    """

    def __init__(self, iris: list[str], matrix: Tensor):
        if len(iris) != len(matrix) or iris[0] != "" or matrix[0].any():
            raise ValueError("row 0 must be the empty IRI with a zero vector")
        self.iris, self.matrix = iris, matrix
        self.rows = {iri: row for row, iri in enumerate(iris) if row}
        self._unit: Tensor | None = None

    @classmethod
    def from_vectors(cls, entities: list[str], vectors: Tensor) -> EntityEmbeddings:
        """Prepend row 0 to the trained ``vectors`` of ``entities``."""
        matrix = torch.cat([vectors.new_zeros(1, vectors.size(1)), vectors]).detach().float().cpu()
        return cls(["", *entities], matrix.contiguous())

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> EntityEmbeddings:
        directory = Path(directory)
        matrix = load_tensors(directory / ENTITY_FILES[0])["embeddings"]
        return cls([row[1] for row in _read_rows(directory / ENTITY_FILES[1])], matrix)

    def control(self, kind: str, seed: int = 0) -> EntityEmbeddings:
        """A control table for fusion experiments, same IRIs and row 0: ``random``, each
        entity's vector replaced by a random direction of the same norm (what extra
        parameters and a per-entity identity give, without the graph's knowledge);
        ``shuffled``, each entity given another entity's real vector (the graph's vector
        distribution, without the right entity).  ``none``: this table."""
        if kind == "none":
            return self
        generator = torch.Generator().manual_seed(seed)
        rows = self.matrix[1:]
        if kind == "random":
            noise = torch.randn(rows.shape, generator=generator, dtype=rows.dtype)
            replaced = noise / noise.norm(dim=1, keepdim=True) * rows.norm(dim=1, keepdim=True)
        elif kind == "shuffled":
            replaced = rows[torch.randperm(len(rows), generator=generator)]
        else:
            raise ValueError(f"entity control must be none, random or shuffled, not {kind!r}")
        return EntityEmbeddings(self.iris, torch.cat([self.matrix[:1], replaced]).contiguous())

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"embeddings": self.matrix}, directory / ENTITY_FILES[0])
        _write_rows(directory / ENTITY_FILES[1], ((iri,) for iri in self.iris))

    @property
    def dim(self) -> int:
        return self.matrix.size(1)

    def __len__(self) -> int:
        """Entities, row 0 excluded."""
        return len(self.iris) - 1

    def __contains__(self, iri: str) -> bool:
        return iri in self.rows

    def index(self, iri: str) -> int:
        return self.rows.get(iri, 0)

    def vector(self, iri: str) -> Tensor:
        return self.matrix[self.index(iri)]

    def nearest(self, query: str | Tensor, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` entities of highest cosine similarity to an IRI (itself excluded) or a
        vector."""
        if isinstance(query, str):
            if query not in self.rows:
                raise KeyError(f"no embedding for {query}")
            row, query = self.rows[query], self.matrix[self.rows[query]]
        else:
            row = 0
        if self._unit is None:
            self._unit = F.normalize(self.matrix, dim=-1)
        similarity = self._unit @ F.normalize(query.float(), dim=-1)
        similarity[0] = similarity[row] = float("-inf")
        top = torch.topk(similarity, min(k, len(self) - (row > 0)))
        return [(self.iris[i], s) for i, s in zip(top.indices.tolist(), top.values.tolist())]


def save_relations(directory: Path, relations: list[str], matrix: Tensor) -> None:
    """``matrix`` rows are the relations in order, then (if twice as many) their inverses."""
    save_file({"embeddings": matrix.detach().float().cpu().contiguous()},
              directory / RELATION_FILES[0])
    rows = [(iri, "forward") for iri in relations]
    if len(matrix) == 2 * len(relations):
        rows += [(iri, "inverse") for iri in relations]
    _write_rows(directory / RELATION_FILES[1], rows)


def load_relations(directory: str | os.PathLike) -> tuple[list[tuple[str, str]], Tensor]:
    """((IRI, direction) per row, matrix)."""
    directory = Path(directory)
    rows = [(row[1], row[2]) for row in _read_rows(directory / RELATION_FILES[1])]
    return rows, load_tensors(directory / RELATION_FILES[0])["embeddings"]


def _write_rows(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for number, fields in enumerate(rows):
            handle.write("\t".join((str(number), *fields)) + "\n")


def _read_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n").split("\t") for line in handle]


def plot_curve(steps: list[dict], valid: list[dict], path: Path, title: str) -> None:
    """The training loss per logged step and the valid MRR at the step of each evaluation,
    side by side, as a PNG."""

    def draw(axes):
        left, right = axes
        left.plot([s["step"] for s in steps], [s["loss"] for s in steps],
                  marker="o" if len(steps) < 50 else None)
        left.set(xlabel="step", ylabel="training loss", title=title)
        right.plot([p["step"] for p in valid], [p["mrr"] for p in valid], marker="o",
                   color="#dd8452")
        right.set(xlabel="step", ylabel="filtered MRR (valid)")
        for axis in axes:
            axis.grid(alpha=0.3)

    save_figure(path, draw, size=(10, 4), panels=2)


def write_metrics(directory: Path, metrics: dict) -> None:
    (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
