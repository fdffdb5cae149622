"""The ``wikikg`` subcommands, one module per group of them (loaded only when used), and
what they share."""

from __future__ import annotations

from pathlib import Path

import click


class WikikgError(click.ClickException):
    """A failure the user can act on: printed as one line, exit code 1."""

    exit_code = 1


def reports() -> bool:
    """False in torchrun's processes other than rank 0: rank 0 prints the one summary."""
    from common.distributed import World

    return World.from_env().main


def report_splits(stats: dict, out: Path) -> None:
    splits = ", ".join(f"{k} {v}" for k, v in stats["splits"].items())
    click.echo(f"{out}: {splits}", err=True)
    click.echo(str(out))
