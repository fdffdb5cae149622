"""Deterministic gzip JSONL files (mtime 0 in the header: same input, same bytes).

orjson is used for speed: JSON encoding was a third of the reduce step with ``json``.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import orjson

COMPRESSLEVEL = 3  # one gzip level for every JSONL file, streamed or written in members


class JsonlWriter:
    def __init__(self, path: str | os.PathLike, compresslevel: int = COMPRESSLEVEL):
        self.path = Path(path)
        self.count = 0
        raw = open(self.path, "wb")
        if self.path.suffix == ".gz":
            self._binary = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                         compresslevel=compresslevel)
            self._raw = raw
        else:
            self._binary, self._raw = raw, None

    def write(self, record: dict) -> None:
        self._binary.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        self.count += 1

    def close(self) -> None:
        self._binary.close()
        if self._raw is not None:
            self._raw.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def gzip_member(data: bytes, compresslevel: int = COMPRESSLEVEL) -> bytes:
    """``data`` as one deterministic gzip member (mtime 0)."""
    return gzip.compress(data, compresslevel=compresslevel, mtime=0)


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Records of a ``.jsonl`` or ``.jsonl.gz`` file; a bad line names the file and line."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON: {exc}") from exc


PART_FILE = "part-{:06d}.jsonl.gz"  # one part of a build output: ``entities/part-000003.jsonl.gz``


def part_path(directory: str | os.PathLike, name: str, part: int) -> Path:
    """Where part ``part`` of output ``name`` of a build directory lives."""
    return Path(directory) / name / PART_FILE.format(part)


def output_files(directory: str | os.PathLike, name: str) -> list[Path]:
    """The files of a build output, in part order: ``name/part-*.jsonl.gz`` (the workers'
    parts, never concatenated), or ``name.jsonl.gz`` of a build made before parts.  Raises
    FileNotFoundError naming the directory when the build has no such output."""
    folder = Path(directory) / name
    if folder.is_dir():
        return sorted(folder.glob("part-*.jsonl.gz"))
    single = Path(directory) / f"{name}.jsonl.gz"
    if single.is_file():
        return [single]
    raise FileNotFoundError(f"{directory}: no {name}/ (not a `wikikg build` directory, or one "
                            "without this output)")


def has_output(directory: str | os.PathLike, name: str) -> bool:
    try:
        output_files(directory, name)
    except FileNotFoundError:
        return False
    return True


def read_output(directory: str | os.PathLike, name: str) -> Iterator[dict]:
    """Every record of a build output, part after part (see :func:`output_files`)."""
    for path in output_files(directory, name):
        yield from read_jsonl(path)
