"""``build``: dumps in, a build directory out (entities, facts, links, sentences, ...).

1. Map: pages are read in one process and mapped in batches by the workers of an engine
   (:mod:`extraction.engines`: a process pool or Ray); for a multistream dump, each
   worker reads its own byte ranges (whole bz2 streams, from the index or found by a
   scan).  Each task writes one *part* (:mod:`extraction.chunk`): its records with titles
   as the pages wrote them, and the redirects, anchor votes and references the reduce
   step needs, as Parquet.  Only counts and errors come back to this process.
2. Reduce (:mod:`extraction.reduce`): redirect chains, the alias table and each part's
   lookups are out-of-core joins and group-bys in DuckDB, as tasks on the same engine
   over hash buckets of the keys, sharing ``memory_limit`` and spilling to ``tmp_dir``:
   nothing keyed by title is held in Python, nor a whole table by one task.
3. Rewrite (:mod:`extraction.resolve`): each part's records get their titles resolved and
   their redirect names, in parallel on the engine, each worker reading its part's lookups
   only.  Each worker writes its part of every output straight into the build directory
   (``entities/part-000003.jsonl.gz`` ...): nothing is copied through this process, which
   only plans and commits.

Memory is bounded by the budget and the size of a part, not by the wiki.  Everything goes
to a temporary sibling directory renamed into place at the end: an interrupted build
leaves the previous output untouched, and the next one clears what it left behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from common.atomic import atomic_directory
from common.duck import DEFAULT_MEMORY_LIMIT, DatabaseError, parse_size
from common.errors import InputError
from common.jsonl import JsonlWriter
from extraction.chunk import OUTPUTS, MappedChunk, PartSummary, map_byte_range, map_pages, part_name
from extraction.dump import DumpFormatError, DumpReader, read_siteinfo
from extraction.engines import Failure, make_engine
from extraction.multistream import find_index, scan_stream_ranges, stream_ranges
from extraction.page import ExtractionConfig
from extraction.records import PageError
from extraction.reduce import ALIASES, STAGES, ReduceJob, buckets_for, run_task
from extraction.resolve import rewrite_part
from extraction.sentences import SPACY_MODEL

log = logging.getLogger(__name__)

FORMAT = "wikikg-build/2"  # 2: outputs are folders of parts


class BuildError(InputError):
    """The build could not complete (``--strict`` fault, unreadable input...)."""


@dataclass
class BuildOptions:
    workers: int | None = 1  # None: the engine's default (local 1, Ray the cluster's CPUs)
    limit_pages: int | None = None
    strict: bool = False
    splitter: str = "rules"
    spacy_model: str = SPACY_MODEL
    ner: bool = False
    max_page_bytes: int = 8 << 20
    page_timeout: float = 60.0
    batch_bytes: int = 1 << 20  # wikitext per part, read by this process (a plain dump)
    range_bytes: int = 1 << 20  # compressed bytes per part, read by a worker (multistream)
    memory_limit: str = DEFAULT_MEMORY_LIMIT  # the reduce step's budget (DuckDB's), all tasks
    reduce_buckets: int | None = None  # hash buckets of the reduce; default: by pages read
    tmp_dir: str | None = None  # where the reduce step spills; default: inside the build
    spill_limit: str | None = None  # the most disk it may spill (default: the disk's free space)
    progress: bool = True
    use_index: bool = True
    engine: str = "local"
    ray_address: str | None = None

    def config_for(self, site) -> ExtractionConfig:
        return ExtractionConfig.for_site(
            site, splitter=self.splitter, spacy_model=self.spacy_model, ner=self.ner,
            max_page_bytes=self.max_page_bytes, page_timeout=self.page_timeout)


@dataclass(frozen=True)
class _Layout:
    """Where a build's intermediate files go (all under the temporary build directory,
    unless the spill directory is elsewhere); absolute, for workers in other dirs/nodes."""

    parts: Path
    reduce: Path
    lookups: Path
    spill: Path
    out: Path  # the build directory itself: the outputs' folders of parts

    @classmethod
    def under(cls, work: Path, tmp_dir: str | None) -> _Layout:
        work = work.resolve()
        spill = Path(tmp_dir).resolve() / f"wikikg-spill-{work.name}" if tmp_dir else work / "_spill"
        return cls(work / "_parts", work / "_reduce", work / "_lookups", spill, work)

    def make(self) -> None:
        for path in (self.parts, self.reduce, self.lookups, self.spill,
                     *(self.out / name for name in (*OUTPUTS, ALIASES))):
            path.mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        """The intermediate files (the outputs stay)."""
        for path in (self.parts, self.reduce, self.lookups, self.spill):
            shutil.rmtree(path, ignore_errors=True)


def _map_task(task: tuple) -> PartSummary:
    kind, payload, config, part, parts = task
    if kind == "pages":
        chunk = map_pages(payload, config)
    else:
        chunk = _map_ranges(*payload, config)
    return chunk.write_part(parts, part)


def _map_ranges(path: str, ranges: list[tuple[int, int]], max_pages: int | None,
                config: ExtractionConfig) -> MappedChunk:
    """The streams of a part one by one: a damaged stream is recorded and skipped alone."""
    chunk = MappedChunk()
    for start, end in ranges:
        left = None if max_pages is None else max_pages - chunk.counts["pages"]
        if left is not None and left <= 0:
            break
        try:
            mapped = map_byte_range(path, start, end, config, left)
        except DumpFormatError as exc:
            log.error("%s@%d-%d: chunk skipped: %s", path, start, end, exc.reason)
            chunk.errors.append(PageError(file=f"{path}@{start}-{end}", reason=exc.reason,
                                          kind="chunk"))
            continue
        chunk.merge(mapped)
    return chunk


def _rewrite_task(task: tuple) -> Counter:
    layout, part = task
    return rewrite_part(layout.parts, layout.lookups, layout.out, part)


def _failed_part(task: tuple, failure: Failure) -> PartSummary:
    """What a part whose task raised leaves: its byte ranges, or each page of its batch, as errors."""
    kind, payload, _config, part, _parts = task
    if failure.fatal:
        raise BuildError(failure.reason)
    summary = PartSummary(part)
    if kind == "range":
        path, ranges, _ = payload
        where = f"{path}@{ranges[0][0]}-{ranges[-1][1]}"
        log.error("%s: chunk skipped: %s", where, failure.reason)
        summary.errors.append(PageError(file=where, reason=failure.reason, kind="chunk"))
        return summary
    log.error("%s: batch of %d pages skipped: %s", payload[0].source, len(payload), failure.reason)
    for page in payload:
        summary.counts["pages"] += 1
        summary.errors.append(PageError(file=page.source, reason=failure.reason, page_id=page.id,
                                        title=page.title, line=page.line))
    return summary


class _Tasks:
    """The stream of map tasks over all inputs, honouring ``limit_pages``; task ``n`` writes
    part ``n``."""

    def __init__(self, inputs: list[Path], options: BuildOptions, parts: Path, split: bool):
        self.inputs = inputs
        self.options = options
        self.parts = parts
        self.split = split
        self.errors: list[PageError] = []  # whole files that could not be read to the end
        # faults of files that gave no page at all (not a dump?): logged once the map step
        # has told whether any file could be read, else the build's one error
        self.unread: list[str] = []
        self.pages_read = 0
        self.count = 0
        self.files: list[dict] = []
        self.ranged: dict[str, dict] = {}  # absolute path -> its entry, pages counted as parts come

    def _find_ranges(self, path: Path) -> tuple[list, Path | None] | None:
        """The file's byte ranges of whole streams and its index, or None to read it in one go."""
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
            ranges = self._find_ranges(path)
            yield from (self._range_tasks(path, *ranges) if ranges else self._pages(path))
            if self._left() == 0:
                return

    def _task(self, kind: str, payload, config: ExtractionConfig) -> tuple:
        self.count += 1
        return kind, payload, config, self.count - 1, self.parts

    def _left(self) -> int | None:
        limit = self.options.limit_pages
        return None if limit is None else max(0, limit - self.pages_read)

    def _range_tasks(self, path: Path, ranges: list, index: Path | None) -> Iterator[tuple]:
        """Consecutive streams grouped up to ``range_bytes``; the path is absolute, for
        workers on other nodes or dirs."""
        site = read_siteinfo(path)
        config = self.options.config_for(site)
        entry = {"path": str(path), "index": str(index) if index else None,
                 "streams": len(ranges), "lang": site.lang, "dbname": site.dbname, "pages": 0}
        self.files.append(entry)
        log.info("%s: multistream, %d streams (%s), workers read byte ranges", path, len(ranges),
                 f"index {index}" if index else "found by a scan")
        absolute = str(path.resolve())
        self.ranged[absolute] = entry
        limited = self.options.limit_pages is not None
        group: list[tuple[int, int]] = []
        allowed = 0  # pages the group may read, under --limit-pages
        for start, end, pages in ranges:
            left = self._left()
            if left == 0:
                break
            group.append((start, end))
            if limited:
                allowed += min(pages, left)
                self.pages_read += min(pages, left)
            if end - group[0][0] >= self.options.range_bytes or self._left() == 0:
                yield self._task("range", (absolute, group, allowed if limited else None), config)
                group, allowed = [], 0
        if group:
            yield self._task("range", (absolute, group, allowed if limited else None), config)

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
                    yield self._task("pages", batch, config)
                    batch, batch_bytes = [], 0
                if self._left() == 0:
                    break
        except DumpFormatError as exc:
            if self.options.strict:
                raise BuildError(str(exc)) from exc
            if pages:
                log.error("%s (kept the %d pages read before it)", exc, pages)
            else:
                self.unread.append(f"{exc} (no page could be read)")
            self.errors.append(PageError(file=exc.file, reason=exc.reason, line=exc.line,
                                         kind="file"))
            entry["fault"] = f"line {exc.line}: {exc.reason}"
        entry.update(lang=reader.siteinfo.lang, dbname=reader.siteinfo.dbname, pages=pages)
        if batch:
            yield self._task("pages", batch, config or self.options.config_for(reader.siteinfo))


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
    try:  # a bad size is found now, not after hours of the map step
        [parse_size(size) for size in (options.memory_limit, options.spill_limit) if size]
    except DatabaseError as exc:
        raise BuildError(str(exc)) from exc
    with atomic_directory(out) as work:
        layout = _Layout.under(work, options.tmp_dir)
        try:
            stats = _build_into(work, layout, paths, options)
        finally:
            layout.remove()
        if finalize is not None:
            stats.update(finalize(work))
        (work / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats


class _Errors:
    """errors.jsonl, written as errors come (a whole dump's bad pages are never all held)."""

    def __init__(self, path: Path):
        self.writer = JsonlWriter(path)
        self.first: PageError | None = None

    def write(self, errors: list[PageError]) -> None:
        for error in errors:
            self.first = self.first or error
            self.writer.write(error.to_json())


def _build_into(work: Path, layout: _Layout, paths: list[Path], options: BuildOptions) -> dict:
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    counts: Counter = Counter()
    layout.make()
    errors = _Errors(work / "errors.jsonl")
    try:
        with make_engine(options.engine, options.workers, options.ray_address) as engine:
            seconds["engine"] = time.perf_counter() - started
            tasks = _Tasks(paths, options, layout.parts, split=engine.parallel)
            parts = _map(tasks, engine, errors, counts, options.progress)
            errors.write(tasks.errors)
            _check_read(tasks, counts)
            seconds["map"] = _since(started, seconds)
            if options.strict and errors.writer.count:
                raise BuildError(f"{errors.writer.count} page(s) failed; first: "
                                 f"{errors.first.to_json()}")
            engine.idle()
            reduced = _reduce(layout, options, engine, parts, counts["pages"])
            seconds["reduce"] = _since(started, seconds)
            engine.idle()  # the rewrite's workers start without the reduce's DuckDB memory
            _rewrite(layout, parts, engine, counts, options.progress)
            seconds["rewrite"] = _since(started, seconds)
    finally:
        errors.writer.close()
    seconds["total"] = time.perf_counter() - started
    return {
        "pages": counts["pages"],
        "articles": counts["entities"],
        "redirects": counts["redirects"],
        "disambiguation_pages": counts["disambiguation_pages"],
        "infobox_pages": counts["infobox_pages"],
        "facts": counts["facts"],
        "links": counts["links"],
        "sentences": counts["sentences"],
        "linked_mentions": counts["linked_mentions"],
        "aliases": reduced["aliases"],
        "redirect_cycles": reduced["redirect_cycles"],
        "spilled_bytes": reduced["spilled_bytes"],
        "reduce_buckets": reduced["reduce_buckets"],
        "errors": errors.writer.count,
        "parts": len(parts),
        "format": FORMAT,
        "inputs": tasks.files,
        "options": asdict(options),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }


def _check_read(tasks: _Tasks, counts: Counter) -> None:
    """Fail if no input gave a page (a text file, an empty file, a refused DTD), naming the
    first such input and its fault: there is nothing to build.  Otherwise log the inputs
    that gave none and go on, as for any other fault."""
    if not counts["pages"]:
        raise BuildError(tasks.unread[0] if tasks.unread else
                         f"{', '.join(str(f['path']) for f in tasks.files)}: no pages")
    for fault in tasks.unread:
        log.error("%s", fault)


def _since(started: float, seconds: dict[str, float]) -> float:
    return time.perf_counter() - started - sum(seconds.values())


def _map(tasks: _Tasks, engine, errors: _Errors, counts: Counter, progress: bool) -> list[int]:
    """Run the map tasks; returns the parts written (a failed task writes none)."""
    written: list[int] = []
    with tqdm(desc="extract", unit=" pages", disable=not progress or None, leave=False) as bar:
        for task, summary in engine.map(_map_task, tasks):
            if isinstance(summary, Failure):
                summary = _failed_part(task, summary)
            else:
                written.append(summary.part)
            errors.write(summary.errors)
            counts.update(summary.counts)
            if task[0] == "range":  # the input's pages, known once its parts are read
                tasks.ranged[task[1][0]]["pages"] += summary.counts["pages"]
            bar.update(summary.counts["pages"])
    return written


def _reduce(layout: _Layout, options: BuildOptions, engine, parts: list[int],
            pages: int) -> dict:
    """The reduce step's stages (:mod:`extraction.reduce`), each a set of tasks on the
    engine; the budget is shared by the tasks that run at once (a Ray task asks for its
    share, so the cluster places it where that memory is free)."""
    buckets = options.reduce_buckets or buckets_for(pages)
    job = ReduceJob(layout.parts, layout.reduce, layout.lookups, layout.spill,
                    layout.out / ALIASES, buckets, options.memory_limit,
                    spill_limit=options.spill_limit)
    log.info("reduce step: %d bucket(s), DuckDB under %s in all, spilling to %s", buckets,
             options.memory_limit, layout.spill)
    stages = {stage: job.tasks(stage, parts) for stage in STAGES}
    totals: Counter = Counter()
    spilled = 0
    with tqdm(total=sum(map(len, stages.values())), desc="reduce", unit=" tasks", leave=False,
              disable=not options.progress or None) as bar:
        for stage, tasks in stages.items():
            bar.set_postfix_str(stage)
            share, threads, memory = _share(options.memory_limit, engine.workers, len(tasks))
            shared = job.with_share(share, threads)
            for task, outcome in engine.map(run_task, [(stage, shared, index, group)
                                                      for index, group in tasks],
                                            cpus=threads, memory=memory, width=len(tasks)):
                if isinstance(outcome, Failure):
                    raise BuildError(f"reduce step, {stage} task {task[2]} (spilling to "
                                     f"{layout.spill}): {outcome.reason}")
                spilled = max(spilled, outcome.pop("spilled_bytes"))
                totals.update(outcome)
                bar.update()
    if totals["redirect_cycles"]:
        log.warning("%d redirect(s) in or leading into a cycle: each resolves to itself",
                    totals["redirect_cycles"])
    if spilled:
        log.info("the reduce step spilled %.1f MB past its %s budget", spilled / 1e6,
                 options.memory_limit)
    return {"aliases": totals["aliases"], "redirect_cycles": totals["redirect_cycles"],
            "spilled_bytes": spilled, "reduce_buckets": buckets}


def _share(memory_limit: str, workers: int, tasks: int) -> tuple[str, int, int]:
    """Each of ``tasks`` tasks' budget, threads and bytes when ``min(workers, tasks)`` run at
    once: a stage of one task (a small wiki's) gets the whole budget and every worker's CPU."""
    running = max(1, min(workers, tasks))
    memory = parse_size(memory_limit) // running
    return f"{max(1, memory // 1_000_000)}MB", max(1, workers // running), memory


def _rewrite(layout: _Layout, parts: list[int], engine, counts: Counter, progress: bool) -> None:
    """Resolve each part's titles (a part that fails here fails the build: its pages were
    read and mapped, and leaving them out would lose them silently)."""
    with tqdm(desc="resolve", total=len(parts), unit=" parts", disable=not progress or None,
              leave=False) as bar:
        for (_layout, part), outcome in engine.map(_rewrite_task, [(layout, p) for p in parts]):
            if isinstance(outcome, Failure):
                raise BuildError(f"part {part}: rewrite failed: {outcome.reason}")
            for name in ("links", "linked_mentions"):
                counts[name] += outcome[name]
            for name in OUTPUTS:  # the part's raw records are no longer needed: free the disk
                (layout.parts / part_name(name, part)).unlink(missing_ok=True)
            bar.update()
