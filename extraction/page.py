"""The per-page map step: one :class:`Page` in, everything the page says out.

``extract_page`` and ``extract_batch`` are pure functions of their arguments (and of the
config), so that any engine (a process pool here; Ray or Spark elsewhere) can run them.
Titles are left as the page writes them (normalised, not yet resolved through redirects):
no worker holds the whole wiki's redirect map; the reduce step (:mod:`extraction.reduce`)
resolves them afterwards.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from extraction.infobox import infobox_facts
from extraction.records import Article, Fact, Mention, Page, PageError, Sentence, SiteInfo
from extraction.sentences import SPACY_MODEL, MentionFinder, make_splitter, word_count
from extraction.titles import NS_MAIN, TitleNormalizer
from extraction.wikitext import HEADING_LINE, LIST_LINE, clean_page, is_disambiguation

log = logging.getLogger(__name__)

NER_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "WORK_OF_ART",
                        "PRODUCT", "LAW", "LANGUAGE"})
_REDIRECT_TEXT = re.compile(r"^\s*#\s*redirect\s*:?\s*\[\[([^\]|]+)", re.I)


@dataclass(frozen=True)
class ExtractionConfig:
    """Everything the map step depends on; hashable so workers can cache per config."""

    lang: str = "en"
    case: str = "first-letter"
    namespaces: tuple[tuple[int, str], ...] = ()
    splitter: str = "rules"
    spacy_model: str = SPACY_MODEL
    ner: bool = False
    max_page_bytes: int = 8 << 20
    page_timeout: float = 60.0
    min_sentence_words: int = 3

    @classmethod
    def for_site(cls, site: SiteInfo, **options) -> ExtractionConfig:
        return cls(lang=site.lang, case=site.case,
                   namespaces=tuple(sorted(site.namespaces.items())), **options)

    def site(self) -> SiteInfo:
        return SiteInfo(lang=self.lang, case=self.case, namespaces=dict(self.namespaces))


@dataclass
class PageResult:
    """What one page yields. ``anchors`` feed the alias table: (surface, target) pairs."""

    page_id: int
    title: str
    ns: int
    article: Article | None = None
    redirect: tuple[str, str] | None = None
    facts: list[Fact] = field(default_factory=list)
    links: list[tuple[str, int]] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    anchors: list[tuple[str, str]] = field(default_factory=list)
    error: PageError | None = None


class PageTimeout(Exception):
    pass


@lru_cache(maxsize=8)
def _titles(config: ExtractionConfig) -> TitleNormalizer:
    return TitleNormalizer(config.site())


@lru_cache(maxsize=8)
def _splitter(config: ExtractionConfig):
    return make_splitter(config.splitter, config.spacy_model, config.lang)


def redirect_target(page: Page, titles: TitleNormalizer) -> str | None:
    """The article a redirect page points to (``<redirect>`` element or ``#REDIRECT``)."""
    raw = page.redirect
    if raw is None:
        match = _REDIRECT_TEXT.match(page.text)
        raw = match.group(1) if match else None
    return titles.article(raw) if raw else None


def extract_page(page: Page, config: ExtractionConfig) -> PageResult:
    """Map one page; any failure becomes a :class:`PageError`, never an exception."""
    result = PageResult(page.id, page.title, page.ns)
    try:
        size = len(page.text.encode("utf-8"))
        if size > config.max_page_bytes:
            raise ValueError(f"page is {size} bytes, over the {config.max_page_bytes} byte bound")
        with _time_limit(config.page_timeout):
            _fill(result, page, config)
    except Exception as exc:  # a malformed page must never kill the build
        reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, PageTimeout) else str(exc)
        log.warning("skipping page %s (%r) at %s:%s: %s", page.id, page.title, page.source,
                    page.line, reason)
        return PageResult(page.id, page.title, page.ns, error=PageError(
            file=page.source, reason=reason, page_id=page.id, title=page.title, line=page.line))
    return result


def _fill(result: PageResult, page: Page, config: ExtractionConfig) -> None:
    titles = _titles(config)
    if page.ns != NS_MAIN or page.model != "wikitext":
        return
    title = titles.article(page.title) or page.title
    result.title = title
    if page.redirect is not None or _REDIRECT_TEXT.match(page.text):
        target = redirect_target(page, titles)
        if target and target != title:
            result.redirect = (title, target)
        return
    clean = clean_page(page.text, titles)
    infoboxes, result.facts = infobox_facts(title, page.id, page.text, titles, config.lang)
    disambiguation = is_disambiguation(title, page.text)
    counts = Counter(a.target for a in clean.anchors if a.target != title)
    result.links = list(counts.items())
    result.anchors = [(clean.text[a.start:a.end], a.target) for a in clean.anchors]
    abstract, sentences = _sentences(title, page.id, clean, config)
    result.sentences = [] if disambiguation else sentences
    result.article = Article(
        id=page.id, title=title, revision_id=page.revision_id, timestamp=page.timestamp,
        lang=config.lang, abstract=abstract, categories=clean.categories, infoboxes=infoboxes,
        bold_names=clean.bold_names, disambiguation=disambiguation)


def _sentences(title: str, page_id: int, clean, config: ExtractionConfig):
    """Split each prose paragraph into sentences carrying their mentions; return the
    abstract too.  List items and lines of table or gallery debris give no sentence."""
    splitter = _splitter(config)
    finder = MentionFinder(title, clean.bold_names, clean.anchors, clean.text)
    anchors = clean.anchors
    abstract, in_lead, offset = "", True, 0
    sentences: list[Sentence] = []
    cursor = 0
    for line in clean.text.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        if line == HEADING_LINE:
            in_lead = False
            continue
        if line.startswith(LIST_LINE) or "|" in line or not line.strip():
            continue  # list items, and table or gallery debris, are not sentences
        line_end = line_start + len(line)
        while cursor < len(anchors) and anchors[cursor].end <= line_start:
            cursor += 1
        spans, found = [], []
        index = cursor
        while index < len(anchors) and anchors[index].start < line_end:
            anchor = anchors[index]
            start, end = anchor.start - line_start, anchor.end - line_start
            spans.append((start, end))
            found.append(Mention(start, end, line[start:end], anchor.target, "wikilink"))
            index += 1
        found.extend(finder.find(line, spans))
        found.sort(key=lambda m: m.start)
        first = 0
        for start, end in splitter.split(line, spans):
            text = line[start:end]
            while first < len(found) and found[first].start < start:
                first += 1
            mentions = []
            for mention in found[first:]:
                if mention.start >= end:
                    break
                if mention.end <= end:
                    mention.start -= start
                    mention.end -= start
                    mentions.append(mention)
            if word_count(text) < config.min_sentence_words:
                continue
            if in_lead and not abstract:
                abstract = line.strip()
            sentences.append(Sentence(f"{page_id}:{len(sentences)}", title, page_id, text,
                                      mentions))
    return abstract, sentences


def extract_batch(pages: list[Page], config: ExtractionConfig) -> list[PageResult]:
    """Map a batch of pages; with ``config.ner`` spaCy NER runs over the batch's sentences."""
    results = [extract_page(page, config) for page in pages]
    if config.ner:
        add_ner_mentions([s for r in results for s in r.sentences], config.spacy_model)
    return results


@lru_cache(maxsize=2)
def ner_pipeline(model: str = SPACY_MODEL):
    """spaCy with only what NER needs (tok2vec, ner), loaded once per process."""
    import spacy

    return spacy.load(model, exclude=["parser", "lemmatizer", "senter", "attribute_ruler",
                                      "tagger"])


def add_ner_mentions(sentences: list[Sentence], model: str) -> None:
    """Add spaCy entities that overlap no existing mention, unlinked (linked in reduce)."""
    nlp = ner_pipeline(model)
    for sentence, doc in zip(sentences, nlp.pipe((s.text for s in sentences), batch_size=64)):
        taken = [(m.start, m.end) for m in sentence.mentions]
        for ent in doc.ents:
            if ent.label_ not in NER_LABELS:
                continue
            if any(ent.start_char < end and start < ent.end_char for start, end in taken):
                continue
            sentence.mentions.append(Mention(ent.start_char, ent.end_char, ent.text, None, "ner",
                                             ent.label_))
        sentence.mentions.sort(key=lambda m: (m.start, m.end))


class _time_limit:
    """Interrupt a page that runs past ``seconds`` (SIGALRM; main thread on POSIX only).

    C code (a regex, the mwparserfromhell tokenizer) is interrupted when it returns.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.active = (seconds > 0 and hasattr(signal, "SIGALRM")
                       and threading.current_thread() is threading.main_thread())

    def _expire(self, *_args):
        raise PageTimeout(f"page took longer than the {self.seconds:g} s bound")

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False
