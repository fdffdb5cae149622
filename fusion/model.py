"""``KnowledgeEnhancedModel``: a HuggingFace encoder + entity fusion + an RE or NER head.

One code path for all fusion modes (:mod:`fusion.modes`): ``none`` builds no entity module
at all (a plain fine-tuned encoder), ``late`` widens the classifier input, ``layer`` hooks
one encoder layer.  The classifier is created before any fusion module, so with the same
seed every mode starts from the same classifier weights, and ``layer`` at step 0 equals
``none``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer

from common.atomic import atomic_file
from common.tensorfile import load_tensors
from fusion.config import FusionConfig
from fusion.modes import MODES
from kg.embedding import EntityEmbeddings

WEIGHTS_NAME = "model.safetensors"
ENCODER_DIR = "encoder"


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The list of transformer blocks of a HF encoder (BERT/RoBERTa/MiniLM, DistilBERT...)."""
    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
        module = encoder
        for name in path.split("."):
            module = getattr(module, name, None)
            if module is None:
                break
        if isinstance(module, nn.ModuleList):
            return module
    raise ValueError(f"cannot find the transformer layers of {type(encoder).__name__}")


def standardized(matrix: torch.Tensor) -> torch.Tensor:
    """Each dimension at zero mean and unit variance over the entities, row 0 ("no
    entity") kept at zero: vectors from any KG model then enter the new layers at the
    scale their default initialisation expects, whatever the scale the KG model learnt."""
    rows = matrix[1:]
    scaled = (matrix - rows.mean(dim=0)) / rows.std(dim=0).clamp_min(1e-6)
    scaled[0] = 0
    return scaled


class KnowledgeEnhancedModel(nn.Module):
    def __init__(self, config: FusionConfig, encoder: nn.Module, entities: EntityEmbeddings | None):
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.mode = MODES[config.fusion]
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        text_features = 2 * hidden if config.task == "re" else hidden
        self.classifier = nn.Linear(text_features + self.mode.extra_features(hidden, config.task),
                                    len(config.labels))
        self.entities = None
        self.pending_vectors: torch.Tensor | None = None
        if self.mode.needs_entities:
            if entities is None:
                raise ValueError(f"fusion={config.fusion!r} needs entity embeddings")
            matrix = entities.matrix.float()
            if config.standardize_entities:
                matrix = standardized(matrix)
            self.entities = nn.Embedding.from_pretrained(matrix, freeze=True, padding_idx=0)
            self.entity_table = entities
            self.mode.attach(self, entities.matrix.shape[1])

    def _link_dropout(self, entity_ids: torch.Tensor) -> torch.Tensor:
        """Replace a share of entity links by "no entity" (the same draw for all tokens of
        one entity in one example), so the model learns to work without a link."""
        if not self.training or self.config.link_dropout <= 0:
            return entity_ids
        table = torch.rand(entity_ids.shape[0], 1024, device=entity_ids.device)
        keep = torch.gather(table >= self.config.link_dropout, 1, entity_ids % 1024)
        return entity_ids * keep

    def forward(self, input_ids, attention_mask, entity_ids=None, head_index=None,
                tail_index=None, labels=None, token_type_ids=None, **_unused) -> dict:
        vectors = None
        if self.entities is not None and entity_ids is not None:
            vectors = self.entities(self._link_dropout(entity_ids))
            self.mode.before_encoder(self, vectors, head_index, tail_index)
        try:
            extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  **extra).last_hidden_state
        finally:
            self.pending_vectors = None
        rows = None
        if self.config.task == "re":
            rows = torch.arange(states.shape[0], device=states.device)
            features = [states[rows, head_index], states[rows, tail_index]]
        else:
            features = [states]
        if vectors is not None:
            features += self.mode.features(self, vectors, rows, head_index, tail_index)
        logits = self.classifier(self.dropout(torch.cat(features, dim=-1)))
        output = {"logits": logits}
        if labels is not None:
            output["loss"] = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)
        return output

    # --- persistence ------------------------------------------------------------------

    def save_pretrained(self, directory: str | os.PathLike, entity_table: bool = True) -> None:
        """``fusion_config.json``, the encoder's config, safetensors weights (without the
        frozen entity matrix) and, with ``entity_table``, the run's entity index (a
        checkpoint, which the run directory already has it beside, leaves it out).  The
        tokenizer is saved by its own ``save_pretrained``, as in transformers."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.config.save_pretrained(directory)
        self.encoder.config.save_pretrained(directory / ENCODER_DIR)
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()
                 if not k.startswith("entities.")}
        with atomic_file(directory / WEIGHTS_NAME) as tmp:  # a Ctrl-C leaves the last whole one
            save_file(state, str(tmp))
        if entity_table and self.entities is not None:
            self.entity_table.save_pretrained(directory)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike,
                        device: str | torch.device = "cpu") -> KnowledgeEnhancedModel:
        """Rebuild a saved model (no download: the encoder comes from its saved config,
        which holds the vocabulary size the markers grew it to)."""
        directory = Path(directory)
        config = FusionConfig.from_pretrained(directory)
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(directory / ENCODER_DIR))
        needs = MODES[config.fusion].needs_entities
        entities = EntityEmbeddings.from_pretrained(directory) if needs else None
        model = cls(config, encoder, entities)
        state = load_tensors(directory / WEIGHTS_NAME, device)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("entities.")]
        if missing or unexpected:
            raise ValueError(f"{directory}: weights do not fit the model "
                             f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
        return model.to(device).eval()


def build_model(config: FusionConfig, entities: EntityEmbeddings | None):
    """A fresh model and tokenizer: the encoder from ``config.base_model`` (a local path or a
    model name already in the HF cache), the markers added as special tokens."""
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    if config.task == "re":
        tokenizer.add_special_tokens({"additional_special_tokens": config.markers()})
    encoder = AutoModel.from_pretrained(config.base_model)
    encoder.resize_token_embeddings(len(tokenizer))
    if entities is not None and MODES[config.fusion].needs_entities:
        config = dataclasses.replace(config, entity_dim=int(entities.matrix.shape[1]))
    return KnowledgeEnhancedModel(config, encoder, entities), tokenizer
