"""Relations for marked or linked entity pairs, and predictions back into the graph.

Text input marks entities with Wikipedia's link syntax, ``[[Title]]`` or
``[[Title|surface]]`` (the title names the linked entity); the text is split into
sentences and every ordered pair of marked entities *within one sentence* is classified.
A pair's relation is the model's best label when that is not ``no_relation`` and its
probability reaches the threshold; otherwise it is ``no_relation``.
``write_predictions`` adds the accepted triples to the run's named graph
``<base>graph/predictions/<run-id>`` (:mod:`kg.graphs`), each with a reified statement
(sentence, score, time); the same claim written twice is one statement.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
from pathlib import Path

import torch
from transformers import AutoTokenizer

from common.vocab import PROV
from extraction.sentences import RuleSplitter
from fusion.datasets.validate import DatasetError, record_problems
from fusion.features import collate, encode_re
from fusion.model import KnowledgeEnhancedModel
from kg.graphs import about_lines, add_to_graph, claim_lines, now_literal, nt_literal
from kg.iri import IriScheme
from kg.store import graph_scheme

log = logging.getLogger(__name__)

NO_RELATION = "no_relation"
_MARKED = re.compile(r"\[\[([^\[\]|]+)(?:\|([^\[\]]+))?\]\]")


def parse_marked(text: str, scheme: IriScheme) -> tuple[str, list[dict]]:
    """``"[[Paris]] is in [[France|the French Republic]]"`` -> plain text and its entity
    spans (surface, character offsets, IRI of the title)."""
    plain, spans, position = [], [], 0
    length = 0
    for match in _MARKED.finditer(text):
        plain.append(text[position:match.start()])
        length += match.start() - position
        title = match.group(1).strip()
        surface = match.group(2) if match.group(2) is not None else match.group(1)
        spans.append({"start": length, "end": length + len(surface), "surface": surface,
                      "iri": scheme.resource(title)})
        plain.append(surface)
        length += len(surface)
        position = match.end()
    plain.append(text[position:])
    return "".join(plain), spans


def pair_examples(text: str, spans: list[dict]) -> list[dict]:
    """One example per ordered pair of spans in the same sentence, the sentence as text
    (offsets moved into it)."""
    examples = []
    protected = [(span["start"], span["end"]) for span in spans]
    for number, (start, end) in enumerate(RuleSplitter().split(text, protected)):
        inside = [{**span, "start": span["start"] - start, "end": span["end"] - start}
                  for span in spans if start <= span["start"] and span["end"] <= end]
        for i, (head, tail) in enumerate(itertools.permutations(inside, 2)):
            examples.append({"text": text[start:end], "head": head, "tail": tail,
                             "relation": NO_RELATION, "sentence_id": f"input:{number}:{i}"})
    return examples


def read_input(path: str | os.PathLike, labels: list[str]) -> list[dict]:
    """RE examples to classify, checked as a dataset's are (docs/formats.md; ``relation``
    may be absent): the first bad record raises :class:`DatasetError` naming its line and
    field."""
    records = []
    for record, problems in record_problems(Path(path), "re", set(labels)):
        problems = [problem for problem in problems if problem.field != "relation"]
        if problems:
            raise DatasetError(str(problems[0]))
        records.append(record)
    return records


def run_id(run: str | os.PathLike) -> str:
    """A run's name in IRIs: its folder name and a hash of its absolute path (two runs in
    different folders of the same name are two runs)."""
    path = Path(run).resolve()
    return f"{path.name}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


class RelationPredictor:
    """A trained RE run, ready to classify entity pairs."""

    def __init__(self, model: KnowledgeEnhancedModel, tokenizer, run: Path):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.run = run
        self.labels = model.config.labels
        self.entities = getattr(model, "entity_table", None)

    @classmethod
    def from_pretrained(cls, run: str | os.PathLike) -> RelationPredictor:
        model = KnowledgeEnhancedModel.from_pretrained(run)
        tokenizer = AutoTokenizer.from_pretrained(run)
        if model.config.task != "re":
            raise ValueError(f"{run} is a {model.config.task} model; predict needs an RE model")
        if NO_RELATION not in model.config.labels:
            log.warning("%s was trained without %s examples: it gives every pair a relation, "
                        "however unrelated; raise --threshold or train with negatives", run,
                        NO_RELATION)
        return cls(model, tokenizer, Path(run))

    @torch.no_grad()
    def predict(self, examples: list[dict], batch_size: int = 32) -> list[dict]:
        """Each example with ``prediction`` (label), ``score`` and ``scores`` (all labels)."""
        label_ids = {label: i for i, label in enumerate(self.labels)}
        results = []
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            features = [encode_re({**e, "relation": e.get("relation") if e.get("relation") in
                                   label_ids else self.labels[0]}, self.tokenizer,
                                  self.model.config, self.entities, label_ids) for e in chunk]
            batch = collate(features, self.tokenizer.pad_token_id)
            batch.pop("labels")
            probabilities = torch.softmax(self.model(**batch)["logits"].float(), dim=-1)
            for example, row in zip(chunk, probabilities.tolist()):
                best = max(range(len(row)), key=row.__getitem__)
                results.append({**example, "prediction": self.labels[best], "score": row[best],
                                "scores": dict(zip(self.labels, row))})
        return results


def accepted(item: dict, threshold: float) -> bool:
    """The model claims a relation for this pair: not ``no_relation``, probability at least
    ``threshold``."""
    return item["prediction"] != NO_RELATION and item["score"] >= threshold


def write_predictions(directory: str | os.PathLike, predictions: list[dict],
                      run: str | os.PathLike, threshold: float = 0.5) -> dict:
    """Add the accepted predictions between linked entities to the run's named graph
    ``<base>graph/predictions/<run-id>`` (``kg.json`` records it).  Returns the graph IRI
    and counts: claims written, and why the others were not."""
    scheme = graph_scheme(directory)
    graph = f"{scheme.base}graph/predictions/{run_id(run)}"
    counts = {"written": 0, "no_relation": 0, "below_threshold": 0, "unlinked": 0}
    lines = [about_lines(graph, {scheme.ontology("run"): nt_literal(str(Path(run).resolve())),
                                 PROV + "generatedAtTime": now_literal()})]
    for item in predictions:
        if item["prediction"] == NO_RELATION:
            counts["no_relation"] += 1
        elif item["score"] < threshold:
            counts["below_threshold"] += 1
        elif not (item["head"].get("iri") and item["tail"].get("iri")):
            counts["unlinked"] += 1
        else:
            counts["written"] += 1
            lines.append(claim_lines(
                graph, item["head"]["iri"], scheme.property(item["prediction"]),
                item["tail"]["iri"],
                ((scheme.ontology("sentence"), nt_literal(item["text"])),
                 (scheme.ontology("score"), nt_literal(float(item["score"])))), item["text"]))
    info = {"kind": "predictions", "run": str(Path(run).resolve()), "threshold": threshold}
    if counts["written"]:
        add_to_graph(directory, graph, "".join(lines), info)
    counts["graph"] = graph
    return counts
