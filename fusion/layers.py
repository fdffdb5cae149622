"""The two ways entity vectors enter the model (each a small module)."""

from __future__ import annotations

import torch
from torch import nn


class GatedEntityInjection(nn.Module):
    r"""Adds projected entity vectors to their mention tokens' hidden states.

    .. math:: h'_i = h_i + \tanh(g) \odot W e_{\mathrm{ent}(i)}

    ``g`` is a per-dimension gate initialised at zero, so the wrapped encoder is unchanged
    at step 0 (the fused model starts exactly as the baseline, as in ERNIE/KnowBert-style
    knowledge injection); ``W`` has no bias, so tokens without an entity (id 0, a zero
    vector) are never touched.
    """

    def __init__(self, entity_dim: int, hidden_size: int):
        super().__init__()
        self.project = nn.Linear(entity_dim, hidden_size, bias=False)
        self.gate = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, hidden: torch.Tensor, entity_vectors: torch.Tensor) -> torch.Tensor:
        injected = self.project(entity_vectors.to(self.project.weight.dtype))
        return hidden + torch.tanh(self.gate) * injected.to(hidden.dtype)


class LateEntityFeatures(nn.Module):
    """Projected head and tail entity vectors and their element-wise product (RE), or a
    token's projected entity vector (NER), to concatenate with the text features."""

    def __init__(self, entity_dim: int, size: int):
        super().__init__()
        self.project = nn.Linear(entity_dim, size, bias=False)

    def pair(self, head: torch.Tensor, tail: torch.Tensor) -> torch.Tensor:
        h, t = self.project(head), self.project(tail)
        return torch.cat([h, t, h * t], dim=-1)

    def token(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.project(vectors)
