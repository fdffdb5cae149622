"""Relations for marked or linked entity pairs, and predictions back into the graph.

Text input marks entities as ``[[Surface]]`` or ``[[Surface|Title]]`` (the title names the
linked entity, as in wikitext); every ordered pair of marked entities is classified.
``write_predictions`` adds the predicted triples above a threshold to a separate named
graph, each with a reified statement carrying its provenance (sentence, model, score).
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pyoxigraph as ox
import torch
from transformers import AutoTokenizer

from common.vocab import RDF, XSD
from fusion.features import collate, encode_re
from fusion.model import KnowledgeEnhancedModel
from kg.iri import DEFAULT_BASE, IriScheme

_MARKED = re.compile(r"\[\[([^\[\]|]+)(?:\|([^\[\]]+))?\]\]")


def parse_marked(text: str, scheme: IriScheme) -> tuple[str, list[dict]]:
    """``"[[Paris]] is in [[France]]"`` -> plain text and its entity spans (with IRIs)."""
    plain, spans, position = [], [], 0
    length = 0
    for match in _MARKED.finditer(text):
        plain.append(text[position:match.start()])
        length += match.start() - position
        surface = match.group(1)
        title = (match.group(2) or surface).strip()
        spans.append({"start": length, "end": length + len(surface), "surface": surface,
                      "iri": scheme.resource(title)})
        plain.append(surface)
        length += len(surface)
        position = match.end()
    plain.append(text[position:])
    return "".join(plain), spans


def pair_examples(text: str, spans: list[dict]) -> list[dict]:
    return [{"text": text, "head": head, "tail": tail, "relation": "no_relation",
             "sentence_id": f"input:{i}"}
            for i, (head, tail) in enumerate(itertools.permutations(spans, 2))]


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


def write_predictions(directory: str | os.PathLike, predictions: list[dict], run_name: str,
                      threshold: float = 0.5) -> int:
    """Add predicted triples (score >= threshold, not ``no_relation``) to the named graph
    ``<base>graph/predictions/<run_name>``, each with a reified statement holding the
    sentence, the model and the score.  Returns the number of triples added."""
    from kg.store import KnowledgeGraph

    graph = KnowledgeGraph.open(directory, read_only=False)
    scheme = graph.scheme if graph.scheme else IriScheme(DEFAULT_BASE)
    context = ox.NamedNode(f"{scheme.base}graph/predictions/{run_name}")
    ont = scheme.base + "ontology/"
    added = 0
    for n, item in enumerate(predictions):
        if item["prediction"] == "no_relation" or item["score"] < threshold:
            continue
        if not (item["head"].get("iri") and item["tail"].get("iri")):
            continue
        s = ox.NamedNode(item["head"]["iri"])
        p = ox.NamedNode(scheme.property(item["prediction"]))
        o = ox.NamedNode(item["tail"]["iri"])
        statement = ox.NamedNode(f"{context.value}/statement/{n}")
        quads = [
            ox.Quad(s, p, o, context),
            ox.Quad(statement, ox.NamedNode(RDF + "type"), ox.NamedNode(RDF + "Statement"), context),
            ox.Quad(statement, ox.NamedNode(RDF + "subject"), s, context),
            ox.Quad(statement, ox.NamedNode(RDF + "predicate"), p, context),
            ox.Quad(statement, ox.NamedNode(RDF + "object"), o, context),
            ox.Quad(statement, ox.NamedNode(ont + "sentence"), ox.Literal(item["text"]), context),
            ox.Quad(statement, ox.NamedNode(ont + "model"), ox.Literal(run_name), context),
            ox.Quad(statement, ox.NamedNode(ont + "score"),
                    ox.Literal(f"{item['score']:.6f}", datatype=ox.NamedNode(XSD + "decimal")),
                    context),
        ]
        graph.store.extend(quads)
        added += 1
    graph.store.flush()
    return added
