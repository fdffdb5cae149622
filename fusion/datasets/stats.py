"""``wikikg dataset stats``: what is in a dataset directory, and a relation-frequency chart."""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from pathlib import Path

from common.jsonl import read_jsonl
from common.plots import save_figure
from fusion.datasets.schema import SPLITS


def _lengths(values: list[int]) -> dict:
    if not values:
        return {}
    return {"mean": round(statistics.mean(values), 1), "median": statistics.median(values),
            "max": max(values), "min": min(values)}


def _in_graph(iri: str | None, graph, cache: dict) -> bool:
    if iri is None or graph is None:
        return iri is not None
    if iri not in cache:
        cache[iri] = (next(graph.triples(iri), None) is not None
                      or next(graph.triples(obj=iri), None) is not None)
    return cache[iri]


def dataset_stats(data: str | os.PathLike, graph=None, chart: bool = True) -> dict:
    """Counts per split and label, lengths, entity coverage; writes ``relation_frequencies.png``."""
    data = Path(data)
    splits = {s: list(read_jsonl(data / f"{s}.jsonl")) for s in SPLITS if (data / f"{s}.jsonl").exists()}
    if not splits:
        raise FileNotFoundError(f"{data}: no train/dev/test.jsonl")
    records = [r for items in splits.values() for r in items]
    if "relation" in records[0]:
        stats = _re_stats(splits, records, graph)
        counts = stats["relations"]
    else:
        stats = _ner_stats(splits, records)
        counts = stats["entities"]
    stats["splits"] = {s: len(v) for s, v in splits.items()}
    if chart:
        stats["chart"] = str(bar_chart(counts, data / "relation_frequencies.png",
                                    "relation" if "relation" in records[0] else "entity class"))
    return stats


def _re_stats(splits, records, graph) -> dict:
    cache: dict = {}
    head = sum(_in_graph(r["head"]["iri"], graph, cache) for r in records)
    tail = sum(_in_graph(r["tail"]["iri"], graph, cache) for r in records)
    either = sum(_in_graph(r["head"]["iri"], graph, cache) or _in_graph(r["tail"]["iri"], graph, cache)
                 for r in records)
    return {
        "kind": "re",
        "relations": dict(Counter(r["relation"] for r in records).most_common()),
        "per_split": {s: dict(Counter(r["relation"] for r in v).most_common())
                      for s, v in splits.items()},
        "sentence_words": _lengths([len(r["text"].split()) for r in records]),
        "entity_in_graph": {"head": round(head / len(records), 4),
                            "tail": round(tail / len(records), 4),
                            "head_or_tail": round(either / len(records), 4),
                            "checked_against": "graph" if graph is not None else "linked IRI"},
    }


def _ner_stats(splits, records) -> dict:
    return {
        "kind": "ner",
        "entities": dict(Counter(t[2:] for r in records for t in r["tags"]
                                 if t.startswith("B-")).most_common()),
        "sentence_tokens": _lengths([len(r["tokens"]) for r in records]),
    }


def bar_chart(counts: dict[str, int], path: Path, what: str) -> Path:
    labels = list(counts)[:40]

    def draw(axis):
        axis.barh(labels[::-1], [counts[label] for label in labels][::-1], color="#4c72b0")
        axis.set(xlabel="examples", title=f"Examples per {what}")

    return save_figure(path, draw, size=(8, max(2.5, 0.28 * len(labels) + 1)))


def print_table(stats: dict) -> str:
    return json.dumps(stats, indent=2, ensure_ascii=False)
