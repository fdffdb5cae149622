"""The trained link predictor back from disk: ``LinkScorer.from_pretrained(DIR/embeddings/NAME)``
scores (head, relation, ?) and (?, relation, tail) queries exactly as the run that wrote
``metrics.json`` did.

A run saves what scoring needs beside the vectors: ``decoder.safetensors`` holds the GNN
models' per-entity bias and their decoder's parameters (DistMult has none, ConvE its
convolution, linear layer and batch-norm statistics); the KGE baselines need nothing but
their config.  The scorer rebuilds the model class on PyTorch's ``meta`` device (no memory
for the entity table it will never use), loads the decoder into it and calls the model's
own ``score`` on the saved encoded vectors, so there is one scoring function, not a copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from common.tensorfile import load_tensors
from kg.embedding.config import EmbedConfig
from kg.embedding.models import Encoded, GraphModel, build_model
from kg.embedding.store import EntityEmbeddings, load_relations

DECODER_FILE = "decoder.safetensors"
BIAS = "bias"


def decoder_state(model: nn.Module, encoded: Encoded) -> dict[str, Tensor]:
    """What scoring needs besides the encoded vectors: the bias and the decoder's state for
    the GNN models, nothing for the KGE baselines."""
    if not isinstance(model, GraphModel):
        return {}
    state = {f"decoder.{key}": value for key, value in model.decoder.state_dict().items()}
    return {BIAS: encoded.bias, **state}


def save_decoder(directory: Path, state: dict[str, Tensor]) -> None:
    save_file({key: value.detach().cpu().contiguous() for key, value in state.items()},
              directory / DECODER_FILE)


class LinkScorer:
    """Scores of every entity as the answer of (entity, relation) queries.

    Entities and relations are addressed by *id*: entity id ``i`` is row ``i + 1`` of
    ``entities.tsv`` (row 0 is "no entity"); relation id ``r`` asks for tails of (e, r, ?)
    and ``r + R`` for heads of (?, r, e), R being :attr:`num_relations`.
    """

    def __init__(self, config: EmbedConfig, entities: EntityEmbeddings, relations: list[str],
                 relation_matrix: Tensor, decoder: dict[str, Tensor], device="cpu"):
        self.config, self.relations = config, relations
        self.iris = entities.iris[1:]
        self.ids = {iri: row - 1 for iri, row in entities.rows.items()}
        self.relation_ids = {iri: r for r, iri in enumerate(relations)}
        with torch.device("meta"):
            model = build_model(config, len(self.iris), len(relations))
        self.device = torch.device(device)
        if isinstance(model, GraphModel):
            model.decoder.load_state_dict(
                {key.removeprefix("decoder."): value for key, value in decoder.items()
                 if key.startswith("decoder.")}, assign=True)
            model.decoder.to(self.device)
        self.model = model.eval()
        self.encoded = Encoded(entities.matrix[1:].to(self.device), relation_matrix.to(self.device),
                               decoder[BIAS].to(self.device) if BIAS in decoder else None)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device="cpu") -> LinkScorer:
        directory = Path(directory)
        path = directory / DECODER_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; these embeddings were written before "
                                    "wikikg saved its decoder, run `wikikg embed` again")
        rows, matrix = load_relations(directory)
        relations = [iri for iri, direction in rows if direction == "forward"]
        return cls(EmbedConfig.from_pretrained(directory),
                   EntityEmbeddings.from_pretrained(directory), relations, matrix,
                   load_tensors(path), device)

    @property
    def num_entities(self) -> int:
        return len(self.iris)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def triple_ids(self, triples) -> Iterator[tuple[int | None, int | None, int | None]]:
        """(head, relation, tail) ids of IRI triples, as they come; None where one has no
        vector."""
        return ((self.ids.get(s), self.relation_ids.get(p), self.ids.get(o)) for s, p, o in triples)

    @torch.no_grad()
    def score(self, entity: Tensor, relation: Tensor) -> Tensor:
        """``[batch, entities]`` scores (higher is more likely; a logit for the GNN models)."""
        return self.model.score(self.encoded, entity.to(self.device), relation.to(self.device))
