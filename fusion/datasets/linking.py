"""Entity links for raw text: the longest matches of an alias table, as at prediction time.

A fused NER model must not be handed its labels: links taken from the gold mentions (the
spans the tags are made of) mark exactly the entities it has to find (precision = recall =
1 on every split).  This linker never sees the tags: every run of up to
:data:`MAX_WORDS` tokens that starts with a capital letter or a digit and whose text is a
surface of the alias table is a candidate; the longest candidates win, then the earliest,
without overlap.  Surfaces match without their whitespace, so CoNLL's ``Sioux Falls ,
South Dakota`` finds the anchor ``Sioux Falls, South Dakota``.

Surfaces come from a build's ``aliases/`` (an anchor text and the article it
links to more than half the time) or from FB15k-237's ``entity2wikidata.json`` (labels
and alternative names).  The n-grams of every sentence are joined with the table by
DuckDB (nothing held per sentence or per alias), then read back in sentence order.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from common.duck import DEFAULT_MEMORY_LIMIT, Database, OrderedGroups, ParquetRows
from common.jsonl import read_output
from kg.iri import DEFAULT_BASE, IriScheme
from kg.store import graph_scheme

MAX_WORDS = 6
NGRAM_COLUMNS = {"unit": "int64", "start": "int64", "end": "int64", "key": "string",
                 "fold": "int64"}
ALIAS_COLUMNS = {"key": "string", "iri": "string", "fold": "int64"}
ALL = -1  # the alias table of every fold; n-grams of fold k match the table without fold k


def match_key(surface: str) -> str:
    """What two surfaces must share to match: the text without whitespace."""
    return "".join(surface.split())


def linkable(text: str) -> bool:
    """Whether a surface (or an n-gram's first token) may start a link: a capital or a digit,
    so common words never link."""
    return bool(text) and (text[0].isupper() or text[0].isdigit())


def alias_source(path: str | os.PathLike, base_iri: str = DEFAULT_BASE
                 ) -> Iterator[tuple[str, str]]:
    """``(surface, IRI)`` pairs of a build directory (its alias table) or of an
    ``entity2wikidata.json`` (labels and alternatives of Freebase ids, as ``wikikg import``
    names them)."""
    path = Path(path)
    if path.is_dir():
        scheme = graph_scheme(path)
        for row in read_output(path, "aliases"):
            if row.get("link"):
                yield row["alias"], scheme.resource(row["link"])
        return
    scheme = IriScheme(base_iri)
    for freebase_id, info in json.loads(path.read_text(encoding="utf-8")).items():
        iri = scheme.resource(freebase_id)
        for surface in {info.get("label"), *info.get("alternatives", [])} - {None, ""}:
            yield surface, iri


def write_aliases(pairs: Iterable[tuple[str, str]], path: Path) -> int:
    """An external alias table (no folds: every sentence matches all of it)."""
    with ParquetRows(path, ALIAS_COLUMNS) as rows:
        for surface, iri in pairs:
            key = match_key(surface)
            if linkable(key):
                rows.add((key, iri, ALL))
    return rows.count


def add_ngrams(rows: ParquetRows, unit: int, tokens: list[str], fold: int = ALL) -> None:
    """The candidate n-grams of one sentence (given as its tokens' texts); ``fold``: which
    alias table it matches (see :func:`fusion.datasets.ner.train_aliases`)."""
    for start, first in enumerate(tokens):
        if not linkable(first):
            continue
        key = ""
        for end in range(start, min(start + MAX_WORDS, len(tokens))):
            key += match_key(tokens[end])
            rows.add((unit, start, end + 1, key, fold))


class UnitLinks(OrderedGroups):
    """Each sentence's links ``[start, end, IRI]`` (token ranges), read in sentence order
    from the join of ``ngrams.parquet`` with ``aliases.parquet`` on key and fold (an alias
    with several IRIs: the smallest, so the choice is stable)."""

    def __init__(self, db: Database, scratch: Path):
        super().__init__(db.rows(f"""SELECT n.unit, n.start, n."end", min(a.iri)
            FROM '{scratch}/ngrams.parquet' n JOIN '{scratch}/aliases.parquet' a
                 USING (key, fold)
            GROUP BY ALL ORDER BY n.unit"""))

    def of(self, unit: int) -> list[list]:
        return longest_first(self.take(unit))


def longest_first(candidates: list[tuple[int, int, str]]) -> list[list]:
    """Non-overlapping matches, the longest first, then the earliest; in text order."""
    taken: list[list] = []
    for start, end, iri in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
        if all(end <= s or start >= e for s, e, _ in taken):
            taken.append([start, end, iri])
    return sorted(taken)


def link_examples(examples: Iterable, source: str | os.PathLike, base_iri: str = DEFAULT_BASE,
                  memory_limit: str = DEFAULT_MEMORY_LIMIT,
                  tmp_dir: str | os.PathLike | None = None) -> dict:
    """Set the ``links`` of imported NER examples (held in memory by their importer anyway)
    from the aliases of ``source`` (:func:`alias_source`); returns the counts."""
    examples = list(examples)
    with tempfile.TemporaryDirectory(prefix="wikikg-link-", dir=tmp_dir) as scratch:
        scratch = Path(scratch)
        aliases = write_aliases(alias_source(source, base_iri), scratch / "aliases.parquet")
        with ParquetRows(scratch / "ngrams.parquet", NGRAM_COLUMNS) as rows:
            for unit, example in enumerate(examples):
                add_ngrams(rows, unit, example.tokens)
        with Database(scratch / "spill", memory_limit) as db:
            links = UnitLinks(db, scratch)
            for unit, example in enumerate(examples):
                example.links = links.of(unit)
    linked = sum(bool(e.links) for e in examples)
    return {"source": str(source), "aliases": aliases, "sentences": len(examples),
            "sentences_linked": linked, "links": sum(len(e.links) for e in examples)}
