"""Figures written straight to PNG with matplotlib's Agg canvas: no pyplot, so no global
state, no display backend and nothing to close (safe in workers and threads)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def save_figure(path: str | Path, draw: Callable, size: tuple[float, float] = (6.5, 3.4),
                panels: int = 1, dpi: int = 100) -> Path:
    """``draw(axes)`` (one axes, or a tuple of ``panels`` side by side), then save as PNG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=dpi)
    axes = figure.subplots(1, panels)
    draw(axes)
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    return Path(path)
