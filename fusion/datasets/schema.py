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
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from common.atomic import atomic_directory

NO_RELATION = "no_relation"
CLASSES = ("PER", "ORG", "LOC", "MISC")
SPLITS = ("train", "dev", "test")
HELDOUT_FILE = "heldout_pairs.tsv"  # every example's entity pair: `wikikg embed --holdout`
_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|\d+(?:[.,:]\d+)*|\w+(?:[-'’.]\w+)*|[^\w\s]", re.UNICODE)


@dataclass
class Span:
    start: int
    end: int
    iri: str | None
    surface: str
    type: str | None = None  # PER / ORG / LOC / MISC, for typed markers; None: unknown


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


def write_relations(path: Path, counts: dict[str, int], names: dict[str, str] | None = None) -> dict:
    """``relations.json``: ids with ``no_relation`` = 0, then relations by name."""
    labels = [NO_RELATION] + sorted(r for r in counts if r != NO_RELATION)
    table = {"relations": [{"id": i, "name": label, "label": (names or {}).get(label, label),
                            "examples": counts.get(label, 0)} for i, label in enumerate(labels)]}
    path.write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n")
    return table


def _write_stats(work: Path, stats: dict) -> None:
    (work / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")


class REDatasetWriter:
    """Writes an RE dataset as its examples come (nothing held per example): ``<split>.jsonl``
    line by line, then :meth:`finish` writes ``relations.json``, ``heldout_pairs.tsv`` and
    ``stats.json``.  Use :func:`re_dataset_writer`.

    ``heldout_pairs.tsv`` lists the entity pair of every linked example of *every* split,
    train included, sorted and unique (out of core): ``wikikg embed --holdout`` takes every
    graph edge between the two out of the encoder's graph.  Otherwise a fused model learns
    to read the label off the pair's edge on train examples, and on test examples, whose
    triples must be held out, that signal is gone.
    """

    def __init__(self, work: Path):
        self.work = work
        self.files = {split: open(work / f"{split}.jsonl", "w", encoding="utf-8")
                      for split in SPLITS}
        self.sizes: Counter = Counter()
        self.per_relation: Counter = Counter()
        self.pairs = _PairSpool(work / ".heldout")

    def add(self, split: str, example: dict) -> None:
        self.files[split].write(json.dumps(example, ensure_ascii=False) + "\n")
        self.sizes[split] += 1
        self.per_relation[example["relation"]] += 1
        head, tail = example["head"].get("iri"), example["tail"].get("iri")
        if head and tail and head != tail:
            self.pairs.add(head, tail)

    def finish(self, stats: dict, names: dict[str, str] | None = None) -> dict:
        for handle in self.files.values():
            handle.close()
        write_relations(self.work / "relations.json", self.per_relation, names)
        pairs = self.pairs.write_sorted_unique(self.work / HELDOUT_FILE)
        stats = {**stats, "splits": {s: self.sizes[s] for s in SPLITS},
                 "relations": dict(sorted(self.per_relation.items(), key=lambda kv: (-kv[1], kv[0]))),
                 "heldout_pairs": pairs}
        _write_stats(self.work, stats)
        return stats


class _PairSpool:
    """Unordered IRI pairs spooled to Parquet, then written as sorted, unique TSV lines by
    DuckDB: the pairs of a whole Wikipedia's dataset never sit in a set."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.rows = None

    def add(self, first: str, second: str) -> None:
        if self.rows is None:
            from common.duck import ParquetRows

            self.directory.mkdir(exist_ok=True)
            self.rows = ParquetRows(self.directory / "pairs.parquet", {"a": "string", "b": "string"})
        self.rows.add((first, second) if first < second else (second, first))

    def write_sorted_unique(self, path: Path) -> int:
        written = 0
        with open(path, "w", encoding="utf-8") as handle:
            if self.rows is not None:
                from common.duck import Database

                self.rows.close()
                with Database(self.directory / "spill", threads=1) as db:
                    for pair in db.rows(f"SELECT DISTINCT a, b FROM "
                                        f"'{self.directory}/pairs.parquet' ORDER BY ALL"):
                        handle.write("\t".join(pair) + "\n")
                        written += 1
        shutil.rmtree(self.directory, ignore_errors=True)
        return written


@contextmanager
def re_dataset_writer(out: str | os.PathLike) -> Iterator[REDatasetWriter]:
    """A writer into a temporary sibling of ``out``, renamed into place when the block ends
    (call :meth:`REDatasetWriter.finish` inside it)."""
    with atomic_directory(out) as work:
        yield REDatasetWriter(work)


def write_re_dataset(out: str | os.PathLike, examples: dict[str, list[dict]], stats: dict,
                     names: dict[str, str] | None = None) -> dict:
    """``<split>.jsonl``, ``relations.json``, ``heldout_pairs.tsv``, ``stats.json``."""
    with re_dataset_writer(out) as writer:
        for split in SPLITS:
            for example in examples[split]:
                writer.add(split, example)
        return writer.finish(stats, names)


class NERDatasetWriter:
    """Writes an NER dataset as its examples come: ``<split>.jsonl`` and ``<split>.conll``
    line by line for each of ``splits``; :meth:`finish` writes ``labels.json`` and
    ``stats.json``.  Use :func:`ner_dataset_writer`."""

    def __init__(self, work: Path, splits: Iterable[str] = SPLITS):
        self.work = work
        self.files = {split: (open(work / f"{split}.jsonl", "w", encoding="utf-8"),
                              open(work / f"{split}.conll", "w", encoding="utf-8"))
                      for split in splits}
        self.sizes: Counter = Counter()

    def add(self, split: str, example: NERExample) -> None:
        jsonl, conll = self.files[split]
        jsonl.write(json.dumps(example.to_json(), ensure_ascii=False) + "\n")
        for token, tag in zip(example.tokens, example.tags):
            conll.write(f"{token}\t{tag}\n")
        conll.write("\n")
        self.sizes[split] += 1

    def finish(self, stats: dict) -> dict:
        for handles in self.files.values():
            for handle in handles:
                handle.close()
        labels = ["O"] + [f"{p}-{c}" for c in CLASSES for p in ("B", "I")]
        (self.work / "labels.json").write_text(json.dumps({"labels": labels}, indent=2) + "\n")
        stats = {**stats, "splits": {s: self.sizes[s] for s in self.files}}
        _write_stats(self.work, stats)
        return stats


@contextmanager
def ner_dataset_writer(out: str | os.PathLike, splits: Iterable[str] = SPLITS
                       ) -> Iterator[NERDatasetWriter]:
    """A writer into a temporary sibling of ``out``, renamed into place when the block ends
    (call :meth:`NERDatasetWriter.finish` inside it)."""
    with atomic_directory(out) as work:
        yield NERDatasetWriter(work, splits)


def write_ner_dataset(out: str | os.PathLike, examples: dict[str, list[NERExample]],
                      stats: dict) -> dict:
    """``<split>.jsonl`` + ``<split>.conll`` + ``labels.json`` + ``stats.json``."""
    with ner_dataset_writer(out, examples) as writer:
        for split, items in examples.items():
            for example in items:
                writer.add(split, example)
        return writer.finish(stats)
