"""The entity index a model is trained with: row -> IRI, and the frozen vectors.

Row 0 is "no entity" (a zero vector). Loaded from ``wikikg embed`` output
(``DIR/embeddings/NAME``) and saved inside every run directory, so that a trained model
keeps the exact index it was trained with even if the graph's embeddings are retrained.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

VECTORS = "entities.safetensors"
INDEX = "entities.tsv"


class EntityTable:
    def __init__(self, iris: list[str], matrix: torch.Tensor):
        if len(iris) != matrix.shape[0]:
            raise ValueError(f"{len(iris)} IRIs for {matrix.shape[0]} rows")
        self.iris = iris
        self.matrix = matrix.float()
        self.row = {iri: i for i, iri in enumerate(iris) if i > 0}

    def index(self, iri: str | None) -> int:
        """Row of an IRI; 0 ("no entity") when unknown or ``None``."""
        return self.row.get(iri, 0) if iri else 0

    def __len__(self) -> int:
        return len(self.iris)

    @classmethod
    def from_embeddings(cls, directory: str | os.PathLike) -> EntityTable:
        """Read ``wikikg embed`` output (``entities.tsv`` + ``entities.safetensors``)."""
        from kg.embedding import EntityEmbeddings

        embeddings = EntityEmbeddings.from_pretrained(directory)
        return cls(list(embeddings.iris), embeddings.matrix.detach().float())

    def save(self, directory: str | os.PathLike) -> None:
        directory = Path(directory)
        save_file({"entities": self.matrix.contiguous()}, str(directory / VECTORS))
        (directory / INDEX).write_text("".join(f"{i}\t{iri}\n" for i, iri in enumerate(self.iris)),
                                       encoding="utf-8")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> EntityTable:
        directory = Path(directory)
        matrix = load_file(str(directory / VECTORS))["entities"]
        iris = [line.split("\t", 1)[1] if "\t" in line else ""
                for line in (directory / INDEX).read_text(encoding="utf-8").split("\n")[:-1]]
        return cls(iris, matrix)
