"""The unit of parallel work: a batch of pages or a byte range in, encoded records out.

``map_pages`` and ``map_byte_range`` are pure functions of their arguments; the engines of
:mod:`extraction.engines` (a process pool, a Ray cluster) run them over the same chunks.
Records come back already encoded as JSON lines and gzip-compressed, so the process that
collects them only appends bytes.  A bad page becomes a :class:`PageError` in the chunk; a
chunk that cannot be read at all raises, and the build records it (after a retry on Ray).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson

from common.jsonl import gzip_member
from extraction.dump import parse_page_fragment
from extraction.multistream import decompress_range
from extraction.page import ExtractionConfig, PageResult, extract_batch
from extraction.records import Page, PageError
from extraction.resolve import RedirectResolver

OUTPUTS = ("entities", "facts", "links", "sentences", "redirects")
_NEWLINE = orjson.OPT_APPEND_NEWLINE


@dataclass
class MappedChunk:
    """Encoded JSON lines per output file (gzip members once :meth:`gzip_records` ran)
    plus what the collector aggregates."""

    records: dict[str, bytes | bytearray] = field(default_factory=lambda: {n: bytearray() for n in OUTPUTS})
    counts: Counter = field(default_factory=Counter)
    anchors: Counter = field(default_factory=Counter)
    titles: list[str] = field(default_factory=list)
    errors: list[PageError] = field(default_factory=list)

    def add(self, result: PageResult) -> None:
        self.counts["pages"] += 1
        if result.error:
            self.errors.append(result.error)
            return
        if result.redirect:
            source, target = result.redirect
            self._write("redirects", {"source": source, "target": target,
                                      "page_id": result.page_id})
        article = result.article
        if article is None:
            return
        self.titles.append(article.title)
        self.counts["infobox_pages"] += bool(article.infoboxes)
        self.counts["disambiguation_pages"] += article.disambiguation
        self._write("entities", article.to_json())
        for fact in result.facts:
            self._write("facts", fact.to_json())
        for target, count in result.links:
            self._write("links", {"source": article.title, "target": target, "count": count})
        for sentence in result.sentences:
            self.counts["linked_mentions"] += sum(m.title is not None for m in sentence.mentions)
            self._write("sentences", sentence.to_json())
        self.anchors.update(result.anchors)

    def gzip_records(self) -> MappedChunk:
        """Compress each output's lines into one gzip member (in the worker, see
        :class:`~common.jsonl.GzipMemberWriter`); outputs without lines are dropped."""
        self.records = {name: gzip_member(data) for name, data in self.records.items()
                        if data}
        return self

    def _write(self, name: str, record: dict) -> None:
        self.records[name] += orjson.dumps(record, option=_NEWLINE)
        self.counts[name] += 1


def map_pages(pages: list[Page], config: ExtractionConfig,
              redirects: RedirectResolver | None = None) -> MappedChunk:
    chunk = MappedChunk()
    for result in extract_batch(pages, config, redirects):
        chunk.add(result)
    return chunk


def map_byte_range(path: str, start: int, end: int, config: ExtractionConfig,
                   redirects: RedirectResolver | None = None,
                   max_pages: int | None = None) -> MappedChunk:
    """Map the pages of one multistream byte range.

    Raises :class:`DumpFormatError` if the range is damaged or not cut at pages.
    """
    pages = parse_page_fragment(decompress_range(path, start, end), f"{path}@{start}-{end}")
    return map_pages(pages[:max_pages] if max_pages is not None else pages, config, redirects)
