"""Fusion modes: how entity vectors enter the model, one small class each, one registry.

A mode says what it adds to a :class:`fusion.model.KnowledgeEnhancedModel` (its modules,
under the attribute names the saved weights use), how many features it adds to the
classifier input, what it does around the encoder, and which of its parameters train at a
learning rate of their own.  A new mode is a subclass with :func:`register`; the model,
the trainer, the CLI's ``--fusion`` choices and the config's validation read the registry.

Importing this module does not import torch (the CLI lists the modes at start-up); the
modules are built in :meth:`FusionMode.attach`.
"""

from __future__ import annotations

from typing import ClassVar

MODES: dict[str, FusionMode] = {}


def register(cls: type[FusionMode]) -> type[FusionMode]:
    MODES[cls.name] = cls()
    return cls


class FusionMode:
    """The plain encoder: no entity vectors (``none``), what every other mode is compared to."""

    name: ClassVar[str] = "none"
    needs_entities: ClassVar[bool] = False

    def extra_features(self, hidden: int, task: str) -> int:
        """Features this mode adds to the classifier input."""
        return 0

    def attach(self, model, entity_dim: int) -> None:
        """Add this mode's modules to ``model`` (after its classifier, so that every mode
        starts from the same classifier weights for one seed)."""

    def before_encoder(self, model, vectors, head_index=None, tail_index=None) -> None:
        """Called with each batch's token entity vectors (and, for RE, the head and tail
        marker positions) before the encoder runs."""

    def features(self, model, vectors, rows, head_index, tail_index) -> list:
        """Extra classifier features: per pair (RE, ``rows`` given) or per token (NER)."""
        return []

    def learning_rates(self, config) -> dict[str, float]:
        """Parameter name -> learning rate, for parameters that need their own."""
        return {}


register(FusionMode)


@register
class LateFusion(FusionMode):
    """Projected head and tail entity vectors and their product concatenated to the
    classifier input (RE); for NER, each token's projected entity vector."""

    name = "late"
    needs_entities = True

    def extra_features(self, hidden: int, task: str) -> int:
        return 3 * hidden if task == "re" else hidden

    def attach(self, model, entity_dim: int) -> None:
        from fusion.layers import LateEntityFeatures

        model.late = LateEntityFeatures(entity_dim, model.encoder.config.hidden_size)

    def features(self, model, vectors, rows, head_index, tail_index) -> list:
        if rows is None:
            return [model.late.token(vectors)]
        return [model.late.pair(vectors[rows, head_index + 1], vectors[rows, tail_index + 1])]


@register
class LayerFusion(FusionMode):
    """The projected entity vector added to its mention's token states at encoder layer
    ``fusion_layer`` (default: the middle one) through a tanh gate that starts at zero,
    so the model equals ``none`` at step 0."""

    name = "layer"
    needs_entities = True

    def attach(self, model, entity_dim: int) -> None:
        from fusion.layers import GatedEntityInjection

        model.injection = GatedEntityInjection(entity_dim, model.encoder.config.hidden_size)
        self.target(model).register_forward_hook(
            lambda _module, _inputs, output: self._inject(model, output))

    def target(self, model):
        """The module whose output receives the vectors: encoder layer ``fusion_layer``."""
        from fusion.model import encoder_layers

        layers = encoder_layers(model.encoder)
        return layers[model.config.fusion_layer if model.config.fusion_layer >= 0
                      else len(layers) // 2]

    def before_encoder(self, model, vectors, head_index=None, tail_index=None) -> None:
        model.pending_vectors = vectors

    @staticmethod
    def _inject(model, output):
        vectors = model.pending_vectors
        if vectors is None:
            return output
        hidden = output[0] if isinstance(output, tuple) else output
        hidden = model.injection(hidden, vectors)
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    def learning_rates(self, config) -> dict[str, float]:
        """The gate starts at zero and Adam moves it about one learning rate per step: at
        ``head_lr`` a few hundred steps leave it nearly shut, ``gate_lr`` opens it faster."""
        return {} if config.gate_lr is None else {"injection.gate": config.gate_lr}


@register
class MarkerFusion(LayerFusion):
    """Entity-aware input (E-BERT / ERNIE style): for RE the head entity's projected vector
    is added to the input embedding of the head's opening marker ``[H:…]`` and the tail's
    to ``[T:…]`` (the tokens the classifier reads), for NER to each linked token's, through
    the same zero-initialised gate as ``layer``.  Entering before block 1, it reaches every
    attention layer, where ``layer``'s signal enters at the mention tokens halfway up and
    has to travel to the markers in the blocks left; step 0 still equals ``none``."""

    name = "marker"

    def target(self, model):
        """The embedding module (word + position + type embeddings, LayerNorm) of BERT,
        RoBERTa, MiniLM and DistilBERT alike."""
        return model.encoder.embeddings

    def before_encoder(self, model, vectors, head_index=None, tail_index=None) -> None:
        import torch

        if head_index is None:  # NER: the linked tokens themselves
            model.pending_vectors = vectors
            return
        rows = torch.arange(vectors.shape[0], device=vectors.device)
        placed = torch.zeros_like(vectors)
        placed[rows, head_index] = vectors[rows, head_index + 1]  # the mention's first token
        placed[rows, tail_index] = vectors[rows, tail_index + 1]
        model.pending_vectors = placed
