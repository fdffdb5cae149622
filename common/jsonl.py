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


class GzipMemberWriter:
    """A ``.gz`` file written as concatenated gzip members, each one compressed where its
    records were made (a worker), so the collecting process only appends bytes: gzip on
    the collector was the largest serial cost left to a parallel build.  Every gzip
    reader (Python's ``gzip``, ``zcat``) reads concatenated members as one stream."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.count = 0
        self._raw = open(self.path, "wb")

    def write_member(self, member: bytes, count: int) -> None:
        self._raw.write(member)
        self.count += count

    def close(self) -> None:
        if self._raw.tell() == 0:  # an empty file is not valid gzip: write an empty member
            self._raw.write(gzip_member(b""))
        self._raw.close()


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
