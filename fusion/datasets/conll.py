"""CoNLL / IOB2 column files -> the NER schema (WikiANN's ``en:`` token prefix stripped)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from fusion.datasets.schema import NERExample

log = logging.getLogger(__name__)

_TAG = re.compile(r"^(O|[BI]-[A-Za-z_]+)$")
_LANG_PREFIX = re.compile(r"^[a-z]{2,3}:(?=.)")


def read_conll(path: str | os.PathLike, strip_prefix: bool = True) -> tuple[list[NERExample], dict]:
    """Sentences of a column file (token ... tag per line, blank line between sentences).

    A malformed line (no tag, an unknown tag) is logged with file and line and dropped,
    and so is the rest of its sentence's tags' consistency: an ``I-`` tag after ``O`` is
    repaired to ``B-`` (IOB2).  Returns the examples and read/kept/skipped counts.
    """
    path = Path(path)
    examples: list[NERExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    read = skipped = 0

    def flush():
        if tokens:
            examples.append(NERExample(f"{path.name}:{len(examples)}", list(tokens),
                                       _repair(tags)))
            tokens.clear()
            tags.clear()

    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line.strip():
                flush()
                continue
            read += 1
            parts = line.split("\t") if "\t" in line else line.split()
            if len(parts) < 2 or not _TAG.match(parts[-1]):
                skipped += 1
                log.warning("%s:%d: not `token<TAB>IOB-tag`: %r; skipped", path, number, line[:80])
                continue
            token = _LANG_PREFIX.sub("", parts[0]) if strip_prefix else parts[0]
            tokens.append(token)
            tags.append(parts[-1])
    flush()
    counts = {"lines_read": read, "tokens_kept": read - skipped, "lines_skipped": skipped,
              "sentences": len(examples)}
    log.info("%s: %s", path, counts)
    return examples, counts


def _repair(tags: list[str]) -> list[str]:
    out, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out
