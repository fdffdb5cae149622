"""Settings dataclasses as the one source of a stage's options.

A stage's config is a dataclass whose fields carry their help text
(``field(metadata=...)`` via :func:`setting`).  From it come the command line's options
(``wikikg.options``), a config file (JSON or TOML, ``--config``), ``--set key=value``
overrides (spaCy's pattern) and the pipeline's TOML sections; nothing restates a default.

Precedence, lowest first: the dataclass defaults, the config file, ``--set``, options given
on the command line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
import typing
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def setting(default=dataclasses.MISSING, *, help: str, choices=None, minimum=None, above=None,
            cli: bool = True, **kwargs):
    """A dataclass field with what the command line needs to offer it: ``help``,
    ``choices``, a ``minimum`` (or a bound it must be ``above``); ``cli=False`` keeps it
    off the command line.  :func:`check_bounds` enforces them for every way in."""
    metadata = {"help": help, "choices": choices, "minimum": minimum, "above": above, "cli": cli}
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def check_bounds(config) -> None:
    """Raise ``ValueError`` for a value outside its field's ``choices``/``minimum``/``above``."""
    for item in dataclasses.fields(config):
        value, meta = getattr(config, item.name), item.metadata
        if value is None or not meta:
            continue
        flag = "--" + item.name.replace("_", "-")
        if meta.get("choices") and value not in meta["choices"]:
            raise ValueError(f"{flag} {value!r}: expected one of {', '.join(map(str, meta['choices']))}")
        if meta.get("minimum") is not None and value < meta["minimum"]:
            raise ValueError(f"{flag} {value}: must be at least {meta['minimum']}")
        if meta.get("above") is not None and value <= meta["above"]:
            raise ValueError(f"{flag} {value}: must be more than {meta['above']}")


def field_type(cls, name: str) -> type:
    """The plain type of field ``name`` (``int | None`` -> ``int``)."""
    hint = typing.get_type_hints(cls)[name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.get_origin(hint) or hint


def default_of(cls, name: str):
    item = next(f for f in dataclasses.fields(cls) if f.name == name)
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return None if item.default is dataclasses.MISSING else item.default


def defaults(cls) -> dict:
    return {f.name: default_of(cls, f.name) for f in dataclasses.fields(cls)}


def read_file(path: str | os.PathLike) -> dict:
    """A config file: JSON (e.g. the ``config.json`` a run wrote) or TOML."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: not a valid {path.suffix.lstrip('.') or 'config'} file: {exc}") from exc


def parse_assignment(cls, text: str) -> tuple[str, object]:
    """``key=value`` with the value converted to the field's type (``none`` for None)."""
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    known = {f.name for f in dataclasses.fields(cls)}
    if not sep or key not in known:
        raise ValueError(f"--set {text!r}: expected key=value with key one of {sorted(known)}")
    raw = raw.strip()
    if raw.lower() in ("none", "null"):
        return key, None
    kind = field_type(cls, key)
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return key, raw.lower() in ("true", "1", "yes")
        if kind in (int, float, str):
            return key, kind(raw)
        return key, json.loads(raw)
    except ValueError:
        raise ValueError(f"--set {text!r}: {raw!r} is not a {kind.__name__}") from None


def check_keys(cls, values: dict, where: str, allowed: set[str] = frozenset()) -> None:
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)} - set(allowed)
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {sorted(unknown)} for {cls.__name__}")


def resolve(cls, file: str | os.PathLike | None = None, assignments=(), given: dict | None = None,
            fixed: dict | None = None, ignore_unknown_in_file: bool = False):
    """Build ``cls`` from defaults < ``file`` < ``assignments`` < ``given`` (``None``
    values in ``given`` are options not given) < ``fixed``."""
    values: dict = {}
    if file:
        found = read_file(file)
        known = {f.name for f in dataclasses.fields(cls)}
        if ignore_unknown_in_file:
            found = {k: v for k, v in found.items() if k in known}
        check_keys(cls, found, str(file))
        values.update(found)
    values.update(parse_assignment(cls, a) for a in assignments)
    values.update({k: v for k, v in (given or {}).items() if v is not None})
    values.update(fixed or {})
    return cls(**values)
