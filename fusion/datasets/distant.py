"""Distantly supervised relation extraction from a build and its graph (Mintz et al. 2009).

A sentence with linked mentions of entities A and B, where the graph holds ``(A, r, B)``
or ``(B, r, A)`` for an infobox property ``r``, is an example of ``r`` with A/B as
head/tail accordingly.  Pairs with no relation in either direction are ``no_relation``
candidates, of which ``negative_ratio`` × (positives) are kept, chosen by a seeded hash
(streaming, deterministic).  Relations with fewer than ``min_examples`` examples are
**dropped** (not turned into ``no_relation``: their pairs do hold a relation, so calling
them negatives would teach the model a falsehood).  A pair with several relations gets
the most frequent one (ties by name).  Splits are by unordered entity pair: a pair never
appears in two splits; the graph triples behind dev/test examples are listed in
``heldout_triples.tsv`` for ``wikikg embed --holdout``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from common.jsonl import read_jsonl
from fusion.datasets.schema import (
    NO_RELATION,
    SPLITS,
    REExample,
    Span,
    direction_of,
    write_re_dataset,
)
from fusion.datasets.splits import split_of, unit_hash
from kg.store import KnowledgeGraph

log = logging.getLogger(__name__)


@dataclass
class DistantConfig:
    negative_ratio: float = 1.0
    min_examples: int = 5
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 13
    max_mentions: int = 16


def relation_facts(graph: KnowledgeGraph) -> dict[tuple[str, str], set[str]]:
    """``(subject IRI, object IRI) -> {property key}`` for every entity-valued infobox fact."""
    prefix = graph.scheme.base + "property/"
    rows = graph.query(f"SELECT ?s ?p ?o WHERE {{ ?s ?p ?o . FILTER(isIRI(?o) && "
                       f"STRSTARTS(STR(?p), \"{prefix}\")) }}")
    facts: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        if graph.scheme.is_entity(row["o"]) and row["s"] != row["o"]:
            facts[(row["s"], row["o"])].add(row["p"][len(prefix):])
    return facts


def _linked_mentions(sentence: dict, graph: KnowledgeGraph, limit: int) -> list[Span]:
    """The first mention of each linked entity in the sentence, in text order."""
    seen, spans = set(), []
    for mention in sentence["mentions"]:
        if mention["title"] is None:
            continue
        iri = graph.scheme.resource(mention["title"])
        if iri in seen:
            continue
        seen.add(iri)
        spans.append(Span(mention["start"], mention["end"], iri, mention["surface"]))
        if len(spans) >= limit:
            break
    return spans


def _candidates(build_dir: Path, graph: KnowledgeGraph, facts, config: DistantConfig):
    """Yield ``(sentence, first, second, [(relation, head, tail), ...])`` for every pair."""
    for sentence in read_jsonl(build_dir / "sentences.jsonl.gz"):
        spans = _linked_mentions(sentence, graph, config.max_mentions)
        for i, first in enumerate(spans):
            for second in spans[i + 1:]:
                found = [(r, first, second) for r in facts.get((first.iri, second.iri), ())]
                found += [(r, second, first) for r in facts.get((second.iri, first.iri), ())]
                yield sentence, first, second, found


def build_re_dataset(directory: str | os.PathLike, out: str | os.PathLike,
                     config: DistantConfig | None = None) -> dict:
    """Write ``train/dev/test.jsonl``, ``relations.json``, ``stats.json`` and
    ``heldout_triples.tsv`` into ``out`` (replaced atomically)."""
    config = config or DistantConfig()
    directory, out = Path(directory), Path(out)
    if not (directory / "sentences.jsonl.gz").is_file():
        raise FileNotFoundError(f"{directory}: no sentences.jsonl.gz (needs a `wikikg build` "
                                "directory, not an imported graph)")
    graph = KnowledgeGraph.open(directory)
    facts = relation_facts(graph)
    counts, negatives, sentences = Counter(), 0, set()
    for sentence, _, _, found in _candidates(directory, graph, facts, config):
        sentences.add(sentence["id"])
        if found:
            counts.update({r for r, _, _ in found})
        else:
            negatives += 1
    kept = {r for r, n in counts.items() if n >= config.min_examples}
    positives = sum(counts[r] for r in kept)
    keep_share = min(1.0, config.negative_ratio * positives / negatives) if negatives else 0.0
    log.info("%d relations (%d kept), %d positive pairs, %d negative candidates (keeping %.3f)",
             len(counts), len(kept), positives, negatives, keep_share)
    examples = {split: [] for split in SPLITS}
    heldout: set[tuple[str, str, str]] = set()
    prefix = graph.scheme.base + "property/"
    for sentence, first, second, found in _candidates(directory, graph, facts, config):
        split = split_of(tuple(sorted((first.iri, second.iri))), config.fractions, config.seed)
        chosen = _choose(found, counts, kept)
        if found and not chosen:
            continue
        if not chosen:
            if unit_hash(sentence["id"], first.iri, second.iri, seed=config.seed) >= keep_share:
                continue
            chosen = [(NO_RELATION, first, second)]
        for relation, head, tail in chosen:
            examples[split].append(REExample(sentence["text"], head, tail, relation,
                                             direction_of(head, tail), sentence["page"],
                                             sentence["id"]).to_json())
            if split != "train" and relation != NO_RELATION:
                heldout.add((head.iri, prefix + relation, tail.iri))
    stats = {"kind": "re", "source": "distant", "config": asdict(config),
             "sentences_with_pairs": len(sentences), "negative_candidates": negatives,
             "dropped_relations": sorted(set(counts) - kept)}
    return write_re_dataset(out, examples, stats, heldout)


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
