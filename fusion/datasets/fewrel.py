"""FewRel 1.0 -> the RE schema, with Wikidata ids mapped to a graph's IRIs.

FewRel ships tokens; the text is the tokens joined by single spaces, and each entity span
is the character range of its first occurrence's tokens.  FewRel has no test labels, so
the instances are split 70/10/20 per relation (stratified) with a seeded shuffle.  Head
and tail get a type (PER/ORG/LOC/MISC) from spaCy's NER (:mod:`fusion.datasets.types`)
for typed markers.
``--entity-map`` maps Wikidata ids to graph IRIs: either FB15k-237's
``entity2wikidata.json`` (``{"/m/..": {"wikidata_id": "Q..", ...}}``, mapped to the IRIs that
``wikikg import`` gives those Freebase ids) or a TSV of ``QID<TAB>IRI`` lines.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fusion.datasets.schema import SPLITS, REExample, Span, direction_of
from fusion.datasets.types import type_spans
from kg.iri import DEFAULT_BASE, IriScheme

log = logging.getLogger(__name__)


@dataclass
class FewRelConfig:
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    seed: int = 13
    types: bool = True  # head/tail types from spaCy NER, for typed markers


def load_entity_map(path: str | os.PathLike, base_iri: str = DEFAULT_BASE) -> dict[str, str]:
    """Wikidata id -> graph IRI, from entity2wikidata.json or a ``QID<TAB>IRI`` TSV."""
    path = Path(path)
    if path.suffix == ".json":
        scheme = IriScheme(base_iri)
        data = json.loads(path.read_text(encoding="utf-8"))
        mapping = {}
        for freebase_id, info in sorted(data.items()):
            qid = info.get("wikidata_id") if isinstance(info, dict) else None
            if qid:
                mapping.setdefault(qid, scheme.resource(freebase_id))
        return mapping
    mapping = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            log.warning("%s:%d: expected QID<TAB>IRI; skipped", path, number)
            continue
        mapping[parts[0].strip()] = parts[1].strip()
    return mapping


def _span(tokens: list[str], starts: list[int], entity: list, qids: dict[str, str]) -> Span:
    name, qid, occurrences = entity
    indices = occurrences[0]
    start = starts[indices[0]]
    end = starts[indices[-1]] + len(tokens[indices[-1]])
    return Span(start, end, qids.get(qid), " ".join(tokens[indices[0]:indices[-1] + 1]))


def convert_instance(instance: dict, relation: str, index: int,
                     qids: dict[str, str]) -> REExample:
    tokens = instance["tokens"]
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    text = " ".join(tokens)
    head = _span(tokens, starts, instance["h"], qids)
    tail = _span(tokens, starts, instance["t"], qids)
    example = REExample(text, head, tail, relation, direction_of(head, tail), None,
                        f"fewrel:{relation}:{index}")
    example.head_wikidata = instance["h"][1]
    example.tail_wikidata = instance["t"][1]
    return example


def import_fewrel(path: str | os.PathLike, entity_map: dict[str, str] | None = None,
                  config: FewRelConfig | None = None) -> tuple[dict[str, list[dict]], dict]:
    """Split FewRel into train/dev/test example dicts; returns them and the counts."""
    config = config or FewRelConfig()
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rng = random.Random(config.seed)
    examples = {split: [] for split in SPLITS}
    read = linked_head = linked_tail = linked_any = 0
    for relation in sorted(data):
        items = []
        for index, instance in enumerate(data[relation]):
            read += 1
            example = convert_instance(instance, relation, index, entity_map or {})
            record = example.to_json()
            record["head"]["wikidata"] = example.head_wikidata
            record["tail"]["wikidata"] = example.tail_wikidata
            linked_head += record["head"]["iri"] is not None
            linked_tail += record["tail"]["iri"] is not None
            linked_any += record["head"]["iri"] is not None or record["tail"]["iri"] is not None
            items.append(record)
        rng.shuffle(items)
        n_train = round(len(items) * config.fractions[0])
        n_dev = round(len(items) * config.fractions[1])
        examples["train"] += items[:n_train]
        examples["dev"] += items[n_train:n_train + n_dev]
        examples["test"] += items[n_train + n_dev:]
    typed = type_spans([e for v in examples.values() for e in v]) if config.types else 0
    counts = {"read": read, "kept": sum(len(v) for v in examples.values()), "skipped": 0,
              "typed_spans": typed,
              "linked_head": linked_head, "linked_tail": linked_tail,
              "linked_head_or_tail": linked_any,
              "relations": dict(Counter(e["relation"] for v in examples.values() for e in v))}
    return examples, counts
