"""Deterministic, seeded split assignment by key (an entity pair, a page, a relation)."""

from __future__ import annotations

import hashlib


def unit_hash(*parts: str, seed: int = 0) -> float:
    """A stable number in [0, 1) for the parts: same input, same value, any machine."""
    digest = hashlib.blake2b("\x1f".join((str(seed), *parts)).encode("utf-8"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") / 2**64


def split_of(key: tuple[str, ...], fractions: tuple[float, float, float], seed: int = 0) -> str:
    """``train``/``dev``/``test`` for a key, by its hash against the cumulative fractions."""
    value = unit_hash(*key, seed=seed)
    if value < fractions[0]:
        return "train"
    if value < fractions[0] + fractions[1]:
        return "dev"
    return "test"
