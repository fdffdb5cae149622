"""The unit of parallel work: a batch of pages or a byte range in, one *part* on disk out.

``map_pages`` and ``map_byte_range`` are pure functions of their arguments; the engines of
:mod:`extraction.engines` (a process pool, a Ray cluster) run them over the same chunks.
The worker writes its own part files and hands back only counts and errors, so nothing
per page or per title travels through the process that drives the build:

- ``{output}-{part}.jsonl.gz``: the records, titles *not yet* resolved through redirects
  (one page's links as one record ``{"source", "targets": [[title, count], ...]}``);
- ``redirects-{part}.parquet`` (``part, row, source, target``), ``votes-{part}.parquet``
  (``surface, target, weight``: anchors, titles) and ``refs-{part}.parquet`` (``part, kind,
  value``: the titles, articles and NER surfaces this part needs looked up): the inputs of
  the reduce step (:mod:`extraction.reduce`), read by DuckDB.

A bad page becomes a :class:`PageError`; a chunk that cannot be read at all raises, and
the build records it (after a retry on Ray).  Every file is written beside its name and
renamed into place, so a part redone after its worker died replaces, never duplicates.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from common.atomic import atomic_file
from common.jsonl import gzip_member
from extraction.dump import parse_page_fragment
from extraction.multistream import decompress_range
from extraction.page import ExtractionConfig, PageResult, extract_batch
from extraction.records import Page, PageError
from extraction.titles import strip_disambiguator

OUTPUTS = ("entities", "facts", "links", "sentences", "redirects")
PART_COMPRESSLEVEL = 1  # parts are read once more by the rewrite step: speed over size
_NEWLINE = orjson.OPT_APPEND_NEWLINE
REF_TITLE, REF_ARTICLE, REF_SURFACE = "title", "article", "surface"


def normalize_surface(surface: str) -> str:
    """The alias table's key for a surface form: whitespace runs collapsed to one space."""
    return " ".join(surface.split())


def part_name(name: str, part: int, suffix: str = ".jsonl.gz") -> str:
    return f"{name}-{part:06d}{suffix}"


@dataclass
class PartSummary:
    """What a part hands back to the driver: small, whatever the size of the part."""

    part: int
    counts: Counter = field(default_factory=Counter)
    errors: list[PageError] = field(default_factory=list)


@dataclass
class MappedChunk:
    """The records of one chunk, encoded, and the reduce step's inputs, until written."""

    records: dict[str, bytearray] = field(default_factory=lambda: {n: bytearray() for n in OUTPUTS})
    counts: Counter = field(default_factory=Counter)
    votes: Counter = field(default_factory=Counter)  # (surface, target) -> weight
    redirects: list[tuple[str, str]] = field(default_factory=list)
    refs: dict[str, set[str]] = field(default_factory=lambda: {REF_TITLE: set(), REF_ARTICLE: set(),
                                                               REF_SURFACE: set()})
    errors: list[PageError] = field(default_factory=list)

    def add(self, result: PageResult) -> None:
        self.counts["pages"] += 1
        if result.error:
            self.errors.append(result.error)
            return
        if result.redirect:
            self._add_redirect(result)
        article = result.article
        if article is None:
            return
        title = article.title
        self.refs[REF_ARTICLE].add(title)
        self.votes[(title, title)] += 1
        short = strip_disambiguator(title)
        if short != title:
            self.votes[(short, title)] += 1
        self.counts["infobox_pages"] += bool(article.infoboxes)
        self.counts["disambiguation_pages"] += article.disambiguation
        self._write("entities", article.to_json())
        for fact in result.facts:
            if fact.value.kind == "entity":
                self.refs[REF_TITLE].add(fact.value.value)
            self._write("facts", fact.to_json())
        if result.links:
            self.refs[REF_TITLE].update(target for target, _ in result.links)
            self.records["links"] += orjson.dumps({"source": title, "targets": result.links},
                                                  option=_NEWLINE)
        for sentence in result.sentences:
            self._add_sentence(sentence)
        for surface, target in result.anchors:
            surface = normalize_surface(surface)
            if surface:
                self.votes[(surface, target)] += 1

    def merge(self, other: MappedChunk) -> None:
        """Append ``other`` (the next streams of the same part) to this chunk."""
        for name, data in other.records.items():
            self.records[name] += data
        self.counts.update(other.counts)
        self.votes.update(other.votes)
        self.redirects.extend(other.redirects)
        for kind, values in other.refs.items():
            self.refs[kind].update(values)
        self.errors.extend(other.errors)

    def _add_redirect(self, result: PageResult) -> None:
        source, target = result.redirect
        self.redirects.append((source, target))
        self.refs[REF_TITLE].add(target)
        self._write("redirects", {"source": source, "target": target, "page_id": result.page_id})

    def _add_sentence(self, sentence) -> None:
        for mention in sentence.mentions:
            if mention.title is not None:
                self.refs[REF_TITLE].add(mention.title)
            elif mention.source == "ner":
                surface = normalize_surface(mention.surface)
                self.refs[REF_SURFACE].add(surface)
                if surface[:4].lower() == "the ":
                    self.refs[REF_SURFACE].add(surface[4:])
        self._write("sentences", sentence.to_json())

    def _write(self, name: str, record: dict) -> None:
        self.records[name] += orjson.dumps(record, option=_NEWLINE)
        self.counts[name] += 1

    def write_part(self, directory: str | Path, part: int) -> PartSummary:
        """Write this chunk as part ``part`` of ``directory``; return what the driver keeps."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        directory = Path(directory)
        for name, data in self.records.items():
            with atomic_file(directory / part_name(name, part)) as tmp:
                tmp.write_bytes(gzip_member(bytes(data), PART_COMPRESSLEVEL))
        redirects = list(zip(*self.redirects)) or [(), ()]
        votes = list(zip(*((s, t, w) for (s, t), w in self.votes.items()))) or [(), (), ()]
        refs = [(kind, value) for kind, values in self.refs.items() for value in sorted(values)]
        tables = {
            "redirects": pa.table({
                "part": pa.array([part] * len(self.redirects), pa.int32()),
                "row": pa.array(range(len(self.redirects)), pa.int32()),
                "source": pa.array(redirects[0], pa.string()),
                "target": pa.array(redirects[1], pa.string())}),
            "votes": pa.table({"surface": pa.array(votes[0], pa.string()),
                               "target": pa.array(votes[1], pa.string()),
                               "weight": pa.array(votes[2], pa.int64())}),
            "refs": pa.table({"part": pa.array([part] * len(refs), pa.int32()),
                              "kind": pa.array([k for k, _ in refs], pa.string()),
                              "value": pa.array([v for _, v in refs], pa.string())}),
        }
        for name, table in tables.items():
            with atomic_file(directory / part_name(name, part, ".parquet")) as tmp:
                pq.write_table(table, tmp)
        return PartSummary(part, self.counts, self.errors)


def map_pages(pages: list[Page], config: ExtractionConfig) -> MappedChunk:
    chunk = MappedChunk()
    for result in extract_batch(pages, config):
        chunk.add(result)
    return chunk


def map_byte_range(path: str, start: int, end: int, config: ExtractionConfig,
                   max_pages: int | None = None) -> MappedChunk:
    """Map the pages of one multistream byte range (one or more whole streams).

    Raises :class:`DumpFormatError` if the range is damaged or not cut at pages.
    """
    pages = parse_page_fragment(decompress_range(path, start, end), f"{path}@{start}-{end}")
    return map_pages(pages[:max_pages] if max_pages is not None else pages, config)
