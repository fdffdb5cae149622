"""Text and graph together: for a candidate triple (s, p, o), the link predictor's score
and the RE model's evidence from sentences that mention both s and o, combined into one
probability.

The two experts speak different scales (a logit over all entities, a softmax over
relation labels), so they are combined by a logistic regression over :func:`features`
fitted on facts *neither* model was trained on: the dev split of an RE set whose pairs
were held out of the graph encoder (``wikikg embed --holdout heldout_pairs.tsv``).  A
candidate without a sentence gets its "no sentence" flag, so the graph decides it.

    scorer = LinkScorer.from_pretrained("out/graph/embeddings/held-out")
    predictor = RelationPredictor.from_pretrained("runs/re")
    def x(found):
        return features(graph_logits(scorer, found.triples),
                        text_probabilities(predictor, found, scheme))
    dev = candidates(list(read_jsonl("out/re/dev.jsonl")), relations, stated)
    combination = Combination.fit(x(dev), dev.labels)
    test = candidates(list(read_jsonl("out/re/test.jsonl")), relations, stated)
    probability = combination.predict(x(test))

``bench/bench_reasoning.py`` runs this on the sample build against either expert alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fusion.predict import RelationPredictor
from kg.embedding.scorer import LinkScorer
from kg.iri import IriScheme

EPSILON = 1e-6


@dataclass
class Candidates:
    """Candidate triples (IRIs) of the entity pairs of some RE examples, every relation
    for every ordered pair; ``labels``: 1 where the graph states the triple."""

    triples: list[tuple[str, str, str]]
    labels: np.ndarray
    examples: dict[tuple[str, str], list[dict]]   # (head IRI, tail IRI) -> its sentences


def candidates(examples: list[dict], relations: list[str], stated: set[tuple[str, str, str]]
               ) -> Candidates:
    """Every ordered linked pair of ``examples`` x every relation IRI in ``relations``."""
    by_pair: dict[tuple[str, str], list[dict]] = {}
    for example in examples:
        head, tail = example["head"].get("iri"), example["tail"].get("iri")
        if head and tail:
            by_pair.setdefault((head, tail), []).append(example)
    triples = [(s, p, o) for s, o in by_pair for p in relations]
    labels = np.array([triple in stated for triple in triples], dtype=np.int64)
    return Candidates(triples, labels, by_pair)


def graph_logits(scorer: LinkScorer, triples: list[tuple[str, str, str]]) -> np.ndarray:
    """The link predictor's score of each triple; NaN where it has no vector for an entity
    or relation (e.g. every edge of the entity was held out)."""
    rows = list(scorer.triple_ids(triples))
    known = [i for i, row in enumerate(rows) if None not in row]
    out = np.full(len(triples), np.nan)
    if known:
        head, relation, tail = torch.tensor([rows[i] for i in known]).t()
        scores = scorer.score(head, relation)
        out[known] = scores[torch.arange(len(known)), tail].double().cpu().numpy()
    return out


def text_probabilities(predictor: RelationPredictor, found: Candidates, scheme: IriScheme
                       ) -> np.ndarray:
    """For each triple, the highest probability the RE model gives its relation over the
    sentences that mention the pair (NaN: no sentence, or a relation the model lacks)."""
    label_of = {scheme.property(label): label for label in predictor.labels}
    pairs = list(found.examples)
    predicted = predictor.predict([e for pair in pairs for e in found.examples[pair]])
    best: dict[tuple[str, str], dict[str, float]] = {}
    for item in predicted:
        pair = (item["head"]["iri"], item["tail"]["iri"])
        kept = best.setdefault(pair, {})
        for label, probability in item["scores"].items():
            kept[label] = max(kept.get(label, 0.0), probability)
    return np.array([best.get((s, o), {}).get(label_of.get(p), np.nan)
                     for s, p, o in found.triples])


def features(graph: np.ndarray, text: np.ndarray) -> np.ndarray:
    """``[n, 4]``: graph logit, "no graph score", text log-odds, "no sentence" (a missing
    score is 0 with its flag set, so the regression learns what missing means)."""
    clipped = np.clip(np.nan_to_num(text, nan=0.5), EPSILON, 1 - EPSILON)
    return np.stack([np.nan_to_num(graph, nan=0.0), np.isnan(graph).astype(float),
                     np.log(clipped / (1 - clipped)), np.isnan(text).astype(float)], axis=1)


@dataclass
class Combination:
    """Logistic regression over :func:`features` (weights and intercept)."""

    weights: np.ndarray
    intercept: float

    @classmethod
    def fit(cls, x: np.ndarray, labels: np.ndarray, l2: float = 1.0) -> Combination:
        from sklearn.linear_model import LogisticRegression

        if labels.min() == labels.max():
            raise ValueError("fitting the combination needs both true and false candidates")
        model = LogisticRegression(C=1.0 / l2, max_iter=1000).fit(x, labels)
        return cls(model.coef_[0], float(model.intercept_[0]))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(x @ self.weights + self.intercept)))
