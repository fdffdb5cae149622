"""Distantly supervised relation extraction from a build and its graph (Mintz et al. 2009).

A sentence with linked mentions of entities A and B, where the graph holds ``(A, r, B)``
or ``(B, r, A)`` for an infobox property ``r``, is an example of ``r`` with A/B as
head/tail accordingly.  Pairs with no relation in either direction are ``no_relation``
candidates, of which ``negative_ratio`` × (positives) are kept, chosen by a seeded hash
(streaming, deterministic).  Relations with fewer than ``min_examples`` examples are
**dropped** (not turned into ``no_relation``: their pairs do hold a relation, so calling
them negatives would teach the model a falsehood).  A pair with several relations gets
the most frequent one (ties by name).  Splits are by unordered entity pair: a pair never
appears in two splits; the entity pairs of every example (all splits) are listed in
``heldout_pairs.tsv`` for ``wikikg embed --holdout``.

Nothing is held per fact, pair or example: the pairs and the graph's facts are joined
out of core (DuckDB), and examples are written as they come.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from common.duck import DEFAULT_MEMORY_LIMIT, Database, OrderedGroups, ParquetRows, parse_size
from common.jsonl import has_output, read_output
from fusion.datasets.ner import ClassTable, SentenceClasses, add_titles, write_classes
from fusion.datasets.schema import (
    NO_RELATION,
    REDatasetWriter,
    REExample,
    Span,
    direction_of,
    re_dataset_writer,
)
from fusion.datasets.splits import split_of, unit_hash
from kg.iri import IriScheme
from kg.store import graph_scheme

log = logging.getLogger(__name__)


@dataclass
class DistantConfig:
    negative_ratio: float = 1.0
    min_examples: int = 5
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 13
    max_mentions: int = 16


def _write_facts(build_dir: Path, scheme: IriScheme, path: Path) -> int:
    """``(s, o, p)`` of every entity-valued infobox fact (``p`` the property key): the
    graph's infobox triples between two entities, read from the build's facts file that
    they are made of (a scan of the store would fill RocksDB's block cache as it goes)."""
    with ParquetRows(path, {"s": "string", "o": "string", "p": "string"}) as rows:
        for fact in read_output(build_dir, "facts"):
            if fact["kind"] == "entity" and fact["subject"] != fact["value"]:
                rows.add((scheme.resource(fact["subject"]), scheme.resource(fact["value"]),
                          fact["property"]))
    return rows.count


def _linked_mentions(sentence: dict, scheme: IriScheme, limit: int) -> list[Span]:
    """The first mention of each linked entity in the sentence, in text order."""
    seen, spans = set(), []
    for mention in sentence["mentions"]:
        if mention["title"] is None:
            continue
        iri = scheme.resource(mention["title"])
        if iri in seen:
            continue
        seen.add(iri)
        spans.append(Span(mention["start"], mention["end"], iri, mention["surface"]))
        if len(spans) >= limit:
            break
    return spans


def _pairs(build_dir: Path, scheme: IriScheme, config: DistantConfig):
    """Yield ``(sentence number, sentence, pair number, first, second)`` for every pair of
    linked mentions, in file order."""
    for number, sentence in enumerate(read_output(build_dir, "sentences")):
        spans = _linked_mentions(sentence, scheme, config.max_mentions)
        pair = 0
        for i, first in enumerate(spans):
            for second in spans[i + 1:]:
                yield number, sentence, pair, first, second
                pair += 1


class _Found(OrderedGroups):
    """The graph's relations of each pair, from the join, consumed in pair order."""

    def __init__(self, db: Database):
        super().__init__(db.rows("SELECT sentence, pair, reverse, relation FROM found "
                                 "ORDER BY sentence, pair, reverse, relation"), width=2)

    def of(self, number: int, pair: int, first: Span, second: Span) -> list[tuple]:
        return [(relation, second, first) if reverse else (relation, first, second)
                for reverse, relation in self.take(number, pair)]


def build_re_dataset(directory: str | os.PathLike, out: str | os.PathLike,
                     config: DistantConfig | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT,
                     tmp_dir: str | os.PathLike | None = None) -> dict:
    """Write ``train/dev/test.jsonl``, ``relations.json``, ``stats.json`` and
    ``heldout_pairs.tsv`` into ``out`` (replaced atomically).

    Two passes over the sentences, nothing held per fact or per pair: the pairs go to
    Parquet, DuckDB joins them with the graph's facts (under ``memory_limit``, spilling
    to ``tmp_dir``), and the second pass reads the join's verdicts in pair order.
    """
    config = config or DistantConfig()
    parse_size(memory_limit)  # a bad size fails now, before the passes over the sentences
    directory, out = Path(directory), Path(out)
    if not has_output(directory, "sentences"):
        raise FileNotFoundError(f"{directory}: no sentences/ (needs a `wikikg build` "
                                "directory, not an imported graph)")
    scheme = graph_scheme(directory)
    with tempfile.TemporaryDirectory(prefix="wikikg-re-", dir=tmp_dir) as scratch:
        scratch = Path(scratch)
        _write_facts(directory, scheme, scratch / "facts.parquet")
        write_classes(directory, ClassTable(), scratch / "classes.parquet")
        with ParquetRows(scratch / "pairs.parquet", {"sentence": "int64", "pair": "int64",
                                                      "first": "string", "second": "string"}
                         ) as pairs, ParquetRows(scratch / "mentions.parquet",
                                                 {"sentence": "int64", "title": "string"}) as titles:
            for number, sentence, pair, first, second in _pairs(directory, scheme, config):
                pairs.add((number, pair, first.iri, second.iri))
                if pair == 0:
                    add_titles(titles, number, sentence)
        with Database(scratch / "spill", memory_limit) as db:
            counts, negatives, sentences = _join(db, scratch)
            kept = {r for r, n in counts.items() if n >= config.min_examples}
            positives = sum(counts[r] for r in kept)
            keep_share = min(1.0, config.negative_ratio * positives / negatives) if negatives else 0.0
            log.info("%d relations (%d kept), %d positive pairs, %d negative candidates "
                     "(keeping %.3f)", len(counts), len(kept), positives, negatives, keep_share)
            stats = {"kind": "re", "source": "distant", "config": asdict(config),
                     "sentences_with_pairs": sentences, "negative_candidates": negatives,
                     "dropped_relations": sorted(set(counts) - kept)}
            with re_dataset_writer(out) as writer:
                _write_examples(writer, directory, scheme, config,
                                (_Found(db), SentenceClasses(db, scratch)),
                                (counts, kept, keep_share))
                return writer.finish(stats)


def _join(db: Database, scratch: Path) -> tuple[Counter, int, int]:
    """Table ``found(sentence, pair, reverse, relation)``; returns the pairs per relation,
    the pairs with none (negative candidates) and the sentences with a pair."""
    db.sql(f"""CREATE TABLE found AS
        SELECT p.sentence, p.pair, false AS reverse, f.p AS relation
        FROM '{scratch}/pairs.parquet' p JOIN '{scratch}/facts.parquet' f
             ON f.s = p.first AND f.o = p.second
        UNION SELECT p.sentence, p.pair, true, f.p
        FROM '{scratch}/pairs.parquet' p JOIN '{scratch}/facts.parquet' f
             ON f.s = p.second AND f.o = p.first""")
    counts = Counter(dict(db.rows("SELECT relation, count(DISTINCT (sentence, pair)) FROM found "
                                  "GROUP BY relation")))
    with_relation = db.scalar("SELECT count(*) FROM (SELECT DISTINCT sentence, pair FROM found)")
    pairs = db.scalar(f"SELECT count(*) FROM '{scratch}/pairs.parquet'")
    sentences = db.scalar(f"SELECT count(DISTINCT sentence) FROM '{scratch}/pairs.parquet'")
    return counts, pairs - with_relation, sentences


def _write_examples(writer: REDatasetWriter, directory: Path, scheme: IriScheme,
                    config: DistantConfig, joins: tuple, verdicts: tuple) -> None:
    """The second pass: each pair's relations and its entities' classes (the typed
    markers' types, from the infobox class table) read from the joins in pair order."""
    (found, classes), (counts, kept, keep_share) = joins, verdicts
    types: dict[str, str] = {}
    for number, sentence, pair, first, second in _pairs(directory, scheme, config):
        if pair == 0:
            types = {scheme.resource(title): label for title, label in classes.of(number).items()}
        first = replace(first, type=types.get(first.iri))
        second = replace(second, type=types.get(second.iri))
        relations = found.of(number, pair, first, second)
        split = split_of(tuple(sorted((first.iri, second.iri))), config.fractions, config.seed)
        chosen = _choose(relations, counts, kept)
        if relations and not chosen:
            continue
        if not chosen:
            if unit_hash(sentence["id"], first.iri, second.iri, seed=config.seed) >= keep_share:
                continue
            chosen = [(NO_RELATION, first, second)]
        for relation, head, tail in chosen:
            writer.add(split, REExample(sentence["text"], head, tail, relation,
                                        direction_of(head, tail), sentence["page"],
                                        sentence["id"]).to_json())


def _choose(found, counts: Counter, kept: set[str]):
    """One relation per (head, tail) direction: the most frequent kept one, ties by name."""
    best: dict[tuple[str, str], tuple] = {}
    for relation, head, tail in found:
        if relation not in kept:
            continue
        key = (head.iri, tail.iri)
        if key not in best or (-counts[relation], relation) < (-counts[best[key][0]], best[key][0]):
            best[key] = (relation, head, tail)
    return list(best.values())
