"""Command-line options derived from a settings dataclass (:mod:`common.settings`).

Every field with ``cli`` metadata becomes ``--field-name``, typed, with its help and its
default in the help text; ``--config FILE`` and ``--set KEY=VALUE`` come with them.  The
options default to ``None`` so that :func:`common.settings.resolve` can tell an option
given on the command line from one left to the config file or the dataclass.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from common.settings import default_of, field_type

CONFIG_HELP = ("A config file (JSON, e.g. the one an earlier run wrote, or TOML) with any of "
               "the settings; --set and the options above override it.")
SET_HELP = "Override one setting, KEY=VALUE (repeatable), e.g. --set lr=3e-5."


def _click_type(kind: type, metadata: dict):
    if metadata.get("choices"):
        return click.Choice(list(metadata["choices"]))
    minimum, above = metadata.get("minimum"), metadata.get("above")
    if kind is int:
        return click.IntRange(minimum) if minimum is not None else int
    if kind is float:
        if above is not None:
            return click.FloatRange(above, min_open=True)
        return click.FloatRange(minimum) if minimum is not None else float
    return str


def settings_options(cls, exclude: tuple[str, ...] = ()):
    """A decorator adding ``cls``'s options, ``--config`` and ``--set`` to a click command."""

    def decorate(command):
        for item in reversed(dataclasses.fields(cls)):
            if not item.metadata.get("cli") or item.name in exclude:
                continue
            flag = "--" + item.name.replace("_", "-")
            default = default_of(cls, item.name)
            shown = f"  [default: {default}]" if default not in (None, "") else ""
            kind = field_type(cls, item.name)
            if kind is bool:
                option = click.option(f"{flag}/--no-{flag[2:]}", item.name, default=None,
                                      help=item.metadata["help"] + shown)
            else:
                option = click.option(flag, item.name, default=None, help=item.metadata["help"] + shown,
                                      type=_click_type(kind, item.metadata))
            command = option(command)
        command = click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
                               help=SET_HELP)(command)
        return click.option("--config", "config_file", metavar="FILE", help=CONFIG_HELP,
                            type=click.Path(exists=True, dir_okay=False, path_type=Path))(command)

    return decorate


class Size(click.ParamType):
    """A memory or disk size as DuckDB reads it (``512MB``, ``2GB``): checked when the
    command starts, not hours later when the step that uses it begins."""

    name = "size"

    def convert(self, value, param, ctx):
        from common.duck import DatabaseError, parse_size

        try:
            parse_size(value)
        except DatabaseError as exc:
            self.fail(str(exc), param, ctx)
        return value


SIZE = Size()


def out_of_core_options(command):
    """``--memory-limit`` and ``--tmp-dir`` of a command whose tables grow with the wiki
    (DuckDB's budget and spill directory: :mod:`common.duck`)."""
    from common.duck import DEFAULT_MEMORY_LIMIT

    command = click.option(
        "--tmp-dir", type=click.Path(file_okay=False, path_type=Path),
        help="Where the intermediate tables and their spill files go (default: the system's "
             "temporary directory); removed at the end.")(command)
    return click.option(
        "--memory-limit", default=DEFAULT_MEMORY_LIMIT, show_default=True, type=SIZE,
        help="Memory budget of the tables keyed by IRI or title (DuckDB's memory_limit); "
             "past it, they spill to --tmp-dir.")(command)
