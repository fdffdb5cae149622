"""The relation-extraction and NER example schemas shared by every dataset builder.

RE (JSONL, one example per line)::

    {"text": "...", "head": {"start": 0, "end": 11, "iri": "...", "surface": "Animal Farm"},
     "tail": {...}, "relation": "author", "direction": "forward", "page": "Animal Farm",
     "sentence_id": "620:0"}

``head``/``tail`` are the relation's subject/object; ``direction`` is ``forward`` when the
head comes first in the text, else ``backward``.  ``relation`` is ``no_relation`` for pairs
with no relation in the graph.  NER (JSONL and CoNLL columns): tokens with IOB2 tags.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from common.atomic import atomic_directory

NO_RELATION = "no_relation"
CLASSES = ("PER", "ORG", "LOC", "MISC")
SPLITS = ("train", "dev", "test")
_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|\d+(?:[.,:]\d+)*|\w+(?:[-'’.]\w+)*|[^\w\s]", re.UNICODE)


@dataclass
class Span:
    start: int
    end: int
    iri: str | None
    surface: str


@dataclass
class REExample:
    text: str
    head: Span
    tail: Span
    relation: str
    direction: str
    page: str | None
    sentence_id: str

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> REExample:
        return cls(data["text"], Span(**data["head"]), Span(**data["tail"]), data["relation"],
                   data["direction"], data.get("page"), data["sentence_id"])


def direction_of(head: Span, tail: Span) -> str:
    return "forward" if head.start < tail.start else "backward"


@dataclass
class NERExample:
    id: str
    tokens: list[str]
    tags: list[str]
    text: str | None = None
    links: list | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def tokenize(text: str) -> list[tuple[int, int]]:
    """Character spans of word and punctuation tokens (``U.S.``, ``don't`` stay whole)."""
    return [m.span() for m in _TOKEN.finditer(text)]


def bio_tags(token_spans: list[tuple[int, int]], entities: Iterable[tuple[int, int, str]]
             ) -> list[str]:
    """IOB2 tags for tokens from character-level entity spans (a token inside a span is tagged)."""
    tags = ["O"] * len(token_spans)
    for start, end, label in sorted(entities):
        inside = [i for i, (s, e) in enumerate(token_spans) if s >= start and e <= end]
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + label
    return tags


def write_jsonl(path: Path, records: Iterable[dict]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_conll(path: Path, examples: Iterable[NERExample]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for example in examples:
            for token, tag in zip(example.tokens, example.tags):
                out.write(f"{token}\t{tag}\n")
            out.write("\n")


def write_relations(path: Path, counts: dict[str, int], names: dict[str, str] | None = None) -> dict:
    """``relations.json``: ids with ``no_relation`` = 0, then relations by name."""
    labels = [NO_RELATION] + sorted(r for r in counts if r != NO_RELATION)
    table = {"relations": [{"id": i, "name": label, "label": (names or {}).get(label, label),
                            "examples": counts.get(label, 0)} for i, label in enumerate(labels)]}
    path.write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n")
    return table


def _write_stats(work: Path, stats: dict) -> None:
    (work / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")


def write_re_dataset(out: str | os.PathLike, examples: dict[str, list[dict]], stats: dict,
                     heldout: Iterable[tuple[str, str, str]] = (),
                     names: dict[str, str] | None = None) -> dict:
    """``<split>.jsonl``, ``relations.json``, ``heldout_triples.tsv``, ``stats.json``."""
    per_relation: Counter = Counter()
    heldout = sorted(set(heldout))
    with atomic_directory(out) as work:
        for split in SPLITS:
            write_jsonl(work / f"{split}.jsonl", examples[split])
            per_relation.update(e["relation"] for e in examples[split])
        write_relations(work / "relations.json", per_relation, names)
        with open(work / "heldout_triples.tsv", "w", encoding="utf-8") as handle:
            for triple in heldout:
                handle.write("\t".join(triple) + "\n")
        stats = {**stats, "splits": {s: len(examples[s]) for s in SPLITS},
                 "relations": dict(per_relation.most_common()), "heldout_triples": len(heldout)}
        _write_stats(work, stats)
    return stats


def write_ner_dataset(out: str | os.PathLike, examples: dict[str, list[NERExample]],
                      stats: dict) -> dict:
    """``<split>.jsonl`` + ``<split>.conll`` + ``labels.json`` + ``stats.json``."""
    with atomic_directory(out) as work:
        for split, items in examples.items():
            write_jsonl(work / f"{split}.jsonl", (e.to_json() for e in items))
            write_conll(work / f"{split}.conll", items)
        labels = ["O"] + [f"{p}-{c}" for c in CLASSES for p in ("B", "I")]
        (work / "labels.json").write_text(json.dumps({"labels": labels}, indent=2) + "\n")
        stats = {**stats, "splits": {s: len(v) for s, v in examples.items()}}
        _write_stats(work, stats)
    return stats
