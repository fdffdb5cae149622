"""safetensors files read with the file named in the error: safetensors' own error on a
damaged or cut file ("incomplete metadata, file not fully covered") names none."""

from __future__ import annotations

import os

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from common.errors import InputError


def load_tensors(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of one ``.safetensors`` file; a damaged one raises :class:`InputError`."""
    try:
        return load_file(str(path), device=str(device))
    except SafetensorError as exc:
        raise InputError(f"{path}: not a readable safetensors file ({exc})") from exc
