"""Deterministic gzip JSONL files (mtime 0 in the header: same input, same bytes)."""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path


class JsonlWriter:
    def __init__(self, path: str | os.PathLike, compresslevel: int = 5):
        self.path = Path(path)
        self.count = 0
        raw = open(self.path, "wb")
        if self.path.suffix == ".gz":
            self._binary = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                         compresslevel=compresslevel)
            self._raw = raw
        else:
            self._binary, self._raw = raw, None
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8", newline="\n")

    def write(self, record: dict) -> None:
        self._text.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        self._text.write("\n")
        self.count += 1

    def close(self) -> None:
        self._text.close()
        if self._raw is not None:
            self._raw.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Records of a ``.jsonl`` or ``.jsonl.gz`` file; a bad line names the file and line."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
