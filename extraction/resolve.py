"""The rewrite step: one part's records, titles resolved through the whole wiki's redirects.

A part is rewritten with the lookups the reduce step (:mod:`extraction.reduce`) wrote for
it: only the titles, articles and surfaces that part refers to, so a worker's memory is
bounded by the part, not by the wiki.  The rules, record by record:

- every title (fact values, link targets, mention titles, redirect targets) becomes the
  article its redirect chain ends at;
- an article gets the sorted names of the redirects that lead to it (``redirects``), and
  its sentences a ``title`` mention wherever one of those names (3+ characters, upper-case
  first) occurs unclaimed: these count before spaCy's NER mentions, which were found in
  the map step and give way where they overlap one;
- a page's links are merged per resolved target, a link to the page itself dropped;
- an unlinked NER mention takes the alias table's clear winner for its surface (or for
  the surface without a leading "the ", when the table has no such surface), unless that
  winner is a list page, or a language where the word reads as a nationality ("the German
  chancellor").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from common.atomic import atomic_file
from common.jsonl import gzip_member, part_path, read_jsonl
from extraction.chunk import OUTPUTS, normalize_surface, part_name
from extraction.sentences import target_fits

_NEWLINE = orjson.OPT_APPEND_NEWLINE


@dataclass
class PartLookups:
    """What one part needs to know of the whole wiki."""

    targets: dict[str, str] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)
    links: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def read(cls, directory: Path, part: int) -> PartLookups:
        """The part's rows of each bucket's lookup file (sorted by part: the filter reads
        the row groups that hold the part, and the footers of the others)."""
        import pyarrow.dataset as ds

        def rows(name: str) -> list[tuple]:
            files = sorted(str(path) for path in directory.glob(f"{name}-*.parquet"))
            table = ds.dataset(files, format="parquet").to_table(filter=ds.field("part") == part)
            columns = [table.column(i).to_pylist() for i in range(1, table.num_columns)]
            return list(zip(*columns))

        return cls(dict(rows("resolve")), dict(rows("names")), dict(rows("surfaces")))

    def resolve(self, title: str) -> str:
        return self.targets.get(title, title)

    def link(self, surface: str) -> str | None:
        surface = normalize_surface(surface)
        if surface in self.links:
            return self.links[surface]
        if surface[:4].lower() == "the ":
            return self.links.get(surface[4:])
        return None


def rewrite_entity(record: dict, lookups: PartLookups) -> Iterator[dict]:
    record["redirects"] = lookups.names.get(record["title"], [])
    yield record


def rewrite_fact(record: dict, lookups: PartLookups) -> Iterator[dict]:
    if record["kind"] == "entity":
        record["value"] = lookups.resolve(record["value"])
    yield record


def rewrite_links(record: dict, lookups: PartLookups) -> Iterator[dict]:
    source = record["source"]
    merged: Counter = Counter()
    for target, count in record["targets"]:
        target = lookups.resolve(target)
        if target != source:
            merged[target] += count
    for target, count in merged.items():
        yield {"source": source, "target": target, "count": count}


def rewrite_redirect(record: dict, lookups: PartLookups) -> Iterator[dict]:
    record["target"] = lookups.resolve(record["target"])
    yield record


def rewrite_sentence(record: dict, lookups: PartLookups) -> Iterator[dict]:
    for mention in record["mentions"]:
        if mention["title"] is not None:
            mention["title"] = lookups.resolve(mention["title"])
    own = [n for n in lookups.names.get(record["page"], ()) if len(n) >= 3 and n[:1].isupper()]
    if own:
        add_name_mentions(record, own, record["page"])
    for mention in record["mentions"]:
        if mention["source"] == "ner" and mention["title"] is None:
            mention["title"] = _ner_link(mention, record["text"], lookups)
    yield record


def _ner_link(mention: dict, text: str, lookups: PartLookups) -> str | None:
    """The alias table's winner for an NER surface, unless it is a target that surface
    seldom means where it stands (a list page; a language named by a nationality word:
    :func:`extraction.sentences.target_fits`)."""
    title = lookups.link(mention["surface"])
    if title is None or target_fits(title, text, mention["start"], mention["end"],
                                    mention.get("label")):
        return title
    return None


def add_name_mentions(sentence: dict, names: list[str], title: str) -> None:
    """Add ``title`` mentions where one of ``names`` occurs on word boundaries, unclaimed
    except by NER mentions, which are dropped where a new mention overlaps them."""
    text = sentence["text"]
    kept = [m for m in sentence["mentions"] if m["source"] != "ner"]
    taken = [(m["start"], m["end"]) for m in kept]
    added = []
    for name in names:
        start = text.find(name)
        while start >= 0:
            end = start + len(name)
            boundary = ((start == 0 or not text[start - 1].isalnum())
                        and (end == len(text) or not text[end].isalnum()))
            if boundary and not any(start < e and s < end for s, e in taken):
                added.append({"start": start, "end": end, "surface": name, "title": title,
                              "source": "title"})
                taken.append((start, end))
            start = text.find(name, end)
    if not added:
        return
    ner = [m for m in sentence["mentions"] if m["source"] == "ner" and not any(
        m["start"] < a["end"] and a["start"] < m["end"] for a in added)]
    sentence["mentions"] = sorted(kept + ner + added, key=lambda m: (m["start"], m["end"]))


REWRITERS: dict[str, Callable[[dict, PartLookups], Iterator[dict]]] = {
    "entities": rewrite_entity, "facts": rewrite_fact, "links": rewrite_links,
    "sentences": rewrite_sentence, "redirects": rewrite_redirect}


def rewrite_part(parts: Path, lookups_dir: Path, out: Path, part: int) -> Counter:
    """Rewrite part ``part`` of ``parts`` into the build directory ``out`` (each output's
    part file, one gzip member); returns the records written per output and the linked
    mentions."""
    lookups = PartLookups.read(lookups_dir, part)
    counts: Counter = Counter()
    for name in OUTPUTS:
        data = bytearray()
        for record in read_jsonl(parts / part_name(name, part)):
            for rewritten in REWRITERS[name](record, lookups):
                data += orjson.dumps(rewritten, option=_NEWLINE)
                counts[name] += 1
                if name == "sentences":
                    counts["linked_mentions"] += sum(m["title"] is not None
                                                     for m in rewritten["mentions"])
        if data:
            with atomic_file(part_path(out, name, part)) as tmp:
                tmp.write_bytes(gzip_member(bytes(data)))
    return counts
