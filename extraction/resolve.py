"""The reduce step's lookups: transitive redirects and the alias table."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

from extraction.titles import strip_disambiguator

log = logging.getLogger(__name__)


class RedirectResolver:
    """Follows redirect chains to their final article; a cycle resolves to where it began."""

    def __init__(self, redirects: dict[str, str] | None = None):
        self.redirects = redirects or {}
        self._memo: dict[str, str] = {}
        self.cycles = 0
        self._names: dict[str, list[str]] | None = None

    def names(self, title: str) -> list[str]:
        """The redirect titles that lead to ``title``, sorted."""
        if self._names is None:
            self._names = self.names_of()
        return list(self._names.get(title, ()))

    def resolve(self, title: str) -> str:
        if title not in self.redirects:
            return title
        if title in self._memo:
            return self._memo[title]
        seen, current = [title], title
        while current in self.redirects:
            current = self.redirects[current]
            if current in seen:
                log.warning("redirect cycle: %s", " -> ".join(seen + [current]))
                self.cycles += 1
                current = title
                break
            if current in self._memo:
                current = self._memo[current]
                break
            seen.append(current)
        for name in seen:
            self._memo[name] = current
        return current

    def names_of(self) -> dict[str, list[str]]:
        """Article -> the sorted redirect titles that lead to it."""
        inverse: dict[str, list[str]] = defaultdict(list)
        for source in self.redirects:
            target = self.resolve(source)
            if target != source:
                inverse[target].append(source)
        return {target: sorted(names) for target, names in inverse.items()}


class AliasTable:
    """Surface form -> candidate articles with counts, from anchors, titles and redirects.

    A surface links to its most frequent target only when that target holds more than
    half of the surface's weight (``min_share``); otherwise it stays unlinked.  Titles and
    redirect names add a weight of 1 each to their article.
    """

    def __init__(self, min_share: float = 0.5):
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.min_share = min_share

    def add(self, surface: str, target: str, weight: int = 1) -> None:
        surface = " ".join(surface.split())
        if surface:
            self.counts[surface][target] += weight

    def add_title(self, title: str) -> None:
        self.add(title, title)
        short = strip_disambiguator(title)
        if short != title:
            self.add(short, title)

    def link(self, surface: str) -> str | None:
        """The clear winner for a surface (a leading "the" ignored), else ``None``."""
        surface = " ".join(surface.split())
        candidates = self.counts.get(surface)
        if not candidates and surface[:4].lower() == "the ":
            candidates = self.counts.get(surface[4:])
        if not candidates:
            return None
        (best, count), *_ = candidates.most_common(1)
        return best if count > self.min_share * sum(candidates.values()) else None

    def resolved(self, resolver: RedirectResolver) -> AliasTable:
        """The same table with every target followed through redirects (counts merged)."""
        table = AliasTable(self.min_share)
        for surface, candidates in self.counts.items():
            for target, count in candidates.items():
                table.counts[surface][resolver.resolve(target)] += count
        return table

    def rows(self):
        for surface in sorted(self.counts):
            candidates = self.counts[surface]
            yield {"alias": surface, "targets": dict(candidates.most_common()),
                   "link": self.link(surface)}
