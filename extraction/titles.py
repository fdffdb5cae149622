"""Page titles as MediaWiki normalises them, and the namespace/interwiki test of a link."""

from __future__ import annotations

import html
import re

from extraction.records import SiteInfo

# Canonical English namespace names and aliases, valid on every wiki besides its local names.
_CANONICAL = {
    "media": -2, "special": -1, "talk": 1, "user": 2, "user talk": 3, "project": 4,
    "wikipedia": 4, "file": 6, "image": 6, "file talk": 7, "image talk": 7, "mediawiki": 8,
    "template": 10, "template talk": 11, "help": 12, "category": 14, "category talk": 15,
    "portal": 100, "book": 108, "draft": 118, "timedtext": 710, "module": 828, "wp": 4,
}
_INTERWIKI = {
    "w", "wikipedia", "wikt", "wiktionary", "s", "wikisource", "q", "wikiquote", "b",
    "wikibooks", "n", "wikinews", "v", "wikiversity", "voy", "wikivoyage", "species",
    "wikispecies", "d", "wikidata", "c", "commons", "m", "meta", "mw", "mediawikiwiki",
    "foundation", "wmf", "phab", "doi", "iarchive", "google", "imdbtitle", "imdbname",
    "oldwikisource", "incubator", "outreach", "simple", "arxiv", "rfc", "bugzilla", "irc",
}
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*|simple|be-x-old|zh-min-nan|"
                            r"zh-yue|zh-classical|roa-rup|map-bms|nds-nl|bat-smg|fiu-vro|cbk-zam")
_SPACES = re.compile(r"[\s_\u00a0]+")
_PAREN = re.compile(r"\s*\([^()]*\)$")
_MEDIA = re.compile(r"\.(?:svg|png|jpe?g|gif|tiff?|webp|ogg|oga|ogv|webm|mp3|wav|flac|mid|pdf|djvu)$",
                    re.I)

NS_MAIN, NS_FILE, NS_CATEGORY = 0, 6, 14


class TitleNormalizer:
    """Normalises link targets the way MediaWiki does for one wiki (its namespaces, case).

    ``parse`` returns ``(namespace, title)`` or ``None`` for interwiki/interlanguage links,
    which point outside the wiki and so can never become entities of this graph.  Not
    cached: a per-process cache of titles grows with the wiki (65,536 entries held 21 MiB
    per worker and pinned the allocator's arenas) and saved no measurable time.
    """

    def __init__(self, site: SiteInfo | None = None):
        site = site or SiteInfo()
        self.first_letter = site.case != "case-sensitive"
        self.names: dict[str, int] = dict(_CANONICAL)
        self.canonical_name: dict[int, str] = {}
        for key, name in site.namespaces.items():
            if name:
                self.names[name.lower()] = key
                self.canonical_name[key] = name
        for name, key in _CANONICAL.items():
            self.canonical_name.setdefault(key, name.title())

    def _upper_first(self, text: str) -> str:
        return text[:1].upper() + text[1:] if self.first_letter and text else text

    def parse(self, raw: str) -> tuple[int, str] | None:
        text = html.unescape(raw).split("#", 1)[0]
        text = _SPACES.sub(" ", text).strip()
        leading_colon = text.startswith(":")
        text = text.lstrip(":").strip()
        if not text:
            return None
        prefix, sep, rest = text.partition(":")
        if sep:
            key = prefix.strip().lower()
            if key in self.names:
                ns = self.names[key]
                name = self.canonical_name.get(ns, prefix.strip())
                return ns, f"{name}:{self._upper_first(rest.strip())}"
            if not leading_colon and (key in _INTERWIKI or _LANGUAGE_CODE.fullmatch(key)):
                return None
            if not leading_colon and _MEDIA.search(rest):
                # a file under a local name that the dump's siteinfo lacks (DBpedia's
                # minidumps carry English siteinfo: `[[Slika:Flag.svg]]`, `[[Mynd:…]]`)
                return NS_FILE, f"{self.canonical_name[NS_FILE]}:{self._upper_first(rest.strip())}"
        return NS_MAIN, self._upper_first(text)

    def article(self, raw: str) -> str | None:
        """The normalised title if ``raw`` names an article (namespace 0), else ``None``."""
        parsed = self.parse(raw)
        if parsed is None or parsed[0] != NS_MAIN:
            return None
        return parsed[1]


def strip_disambiguator(title: str) -> str:
    """``Mercury (planet)`` -> ``Mercury``: the name a text would use for the entity."""
    return _PAREN.sub("", title).strip() or title
