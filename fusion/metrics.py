"""Relation extraction (TACRED convention) and NER (seqeval, entity level) scores, and
their uncertainty: a bootstrap interval for one system's micro-F1 and a paired bootstrap
test between two systems on the same examples (Efron & Tibshirani 1993; Berg-Kirkpatrick
et al. 2012).  Both resample *examples* (RE) or *sentences* (NER): micro-F1 is not a mean
over examples, so each replicate recomputes it from the resampled (correct, predicted,
gold) counts.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

BOOTSTRAP_SAMPLES = 2000
LEVEL = 0.95

NO_RELATION = "no_relation"


def re_scores(gold: list[str], predicted: list[str], labels: list[str],
              negative: str = NO_RELATION) -> dict:
    """Micro P/R/F1 over relations other than ``no_relation`` (TACRED: a ``no_relation``
    prediction is no prediction), macro F1 over those relations, and a per-relation report."""
    per = {label: Counter() for label in labels if label != negative}
    for g, p in zip(gold, predicted):
        if p != negative:
            per[p]["predicted"] += 1
            per[p]["correct"] += g == p
        if g != negative:
            per[g]["gold"] += 1
    total = sum(per.values(), Counter())
    micro = _prf(total["correct"], total["predicted"], total["gold"])
    report = {label: {**_prf(c["correct"], c["predicted"], c["gold"]), "support": c["gold"]}
              for label, c in per.items()}
    with_support = [r["f1"] for r in report.values() if r["support"]]
    return {"micro_precision": micro["precision"], "micro_recall": micro["recall"],
            "micro_f1": micro["f1"],
            "macro_f1": sum(with_support) / len(with_support) if with_support else 0.0,
            "accuracy": sum(g == p for g, p in zip(gold, predicted)) / max(1, len(gold)),
            "per_relation": report}


def _prf(correct: int, predicted: int, gold: int) -> dict:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def ner_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """Entity-level P/R/F1 (exact span and type match, seqeval's default IOB2 reading)."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    return {"micro_precision": precision_score(gold, predicted),
            "micro_recall": recall_score(gold, predicted),
            "micro_f1": f1_score(gold, predicted),
            "macro_f1": report.get("macro avg", {}).get("f1-score", 0.0),
            "per_type": {k: {"precision": v["precision"], "recall": v["recall"],
                             "f1": v["f1-score"], "support": int(v["support"])}
                         for k, v in report.items() if "avg" not in k}}


def format_report(scores: dict) -> str:
    """A plain-text classification report."""
    rows = scores.get("per_relation") or scores.get("per_type") or {}
    lines = [f"{'label':<40} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    for label, r in sorted(rows.items()):
        lines.append(f"{label:<40} {r['precision']:>9.4f} {r['recall']:>9.4f} {r['f1']:>9.4f} "
                     f"{r['support']:>8}")
    lines.append("")
    lines.append(f"{'micro (excluding no_relation)':<40} {scores['micro_precision']:>9.4f} "
                 f"{scores['micro_recall']:>9.4f} {scores['micro_f1']:>9.4f}")
    lines.append(f"{'macro F1':<40} {'':>9} {'':>9} {scores['macro_f1']:>9.4f}")
    if "f1_interval" in scores:
        low, high = scores["f1_interval"]
        lines.append(f"micro-F1 95 % bootstrap interval [{low:.4f}, {high:.4f}] over "
                     f"{scores['examples']} examples, {scores['positives']} gold "
                     f"{'positives' if 'per_relation' in scores else 'entities'}")
    return "\n".join(lines) + "\n"


def re_counts(gold: list[str], predicted: list[str], negative: str = NO_RELATION) -> np.ndarray:
    """``[n, 3]`` (correct, predicted, gold) per example, micro-F1's terms."""
    return np.array([[g == p != negative, p != negative, g != negative]
                     for g, p in zip(gold, predicted)], dtype=np.int64).reshape(-1, 3)


def ner_counts(gold: list[list[str]], predicted: list[list[str]]) -> np.ndarray:
    """``[n, 3]`` (correct, predicted, gold) entities per sentence, seqeval's spans."""
    from seqeval.metrics.sequence_labeling import get_entities

    rows = []
    for g, p in zip(gold, predicted):
        true, found = set(get_entities(g)), set(get_entities(p))
        rows.append((len(true & found), len(found), len(true)))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def outcome_counts(task: str, gold: list, predicted: list) -> np.ndarray:
    """:func:`re_counts` or :func:`ner_counts` by task."""
    return re_counts(gold, predicted) if task == "re" else ner_counts(gold, predicted)


def prediction_counts(run: str | os.PathLike, split: str = "test") -> np.ndarray:
    """``[n, 3]`` micro-F1 counts of a run's ``<split>_predictions.jsonl``, for
    :func:`paired_bootstrap`."""
    from common.jsonl import read_jsonl
    from fusion.config import PREDICTIONS_FILE

    return rows_counts(list(read_jsonl(Path(run) / PREDICTIONS_FILE.format(split=split))))


def rows_counts(rows: list[dict]) -> np.ndarray:
    """``[n, 3]`` micro-F1 counts of prediction rows (``gold``, ``predicted``): RE labels or
    NER tag lists, told apart by the gold field."""
    task = "re" if not rows or isinstance(rows[0]["gold"], str) else "ner"
    return outcome_counts(task, [r["gold"] for r in rows], [r["predicted"] for r in rows])


def _f1(sums: np.ndarray) -> np.ndarray:
    """Micro-F1 = 2C / (P + G) of summed counts (last axis), 0 where nothing was predicted
    or expected."""
    denominator = sums[..., 1] + sums[..., 2]
    return np.where(denominator > 0, 2 * sums[..., 0] / np.maximum(denominator, 1), 0.0)


def _replicates(counts: list[np.ndarray], samples: int, seed: int) -> list[np.ndarray]:
    """Micro-F1 of each system on the same ``samples`` resamplings of the examples.  A
    system's counts are ``[n, 3]``, or ``[seeds, n, 3]`` for runs of several seeds on the
    same examples: then a replicate's F1 is the mean over the seeds, each resampled alike."""
    rng = np.random.default_rng(seed)
    n = counts[0].shape[-2]
    out = [np.empty(samples) for _ in counts]
    for start in range(0, samples, 100):  # 100 resamplings at a time: memory seeds x n x 100
        index = rng.integers(0, n, size=(min(100, samples - start), n))
        for system, table in enumerate(counts):
            f1 = _f1(table[..., index, :].sum(axis=-2))
            out[system][start:start + len(index)] = f1 if f1.ndim == 1 else f1.mean(axis=0)
    return out


def f1_interval(counts: np.ndarray, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
                ) -> tuple[float, float]:
    """The percentile bootstrap interval (95 %) of micro-F1 over resampled examples."""
    if not counts.shape[-2]:
        return 0.0, 0.0
    (values,) = _replicates([counts], samples, seed)
    tail = (1 - LEVEL) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))


def _point(counts: np.ndarray) -> float:
    """Micro-F1 of the counts (the mean over seeds for ``[seeds, n, 3]``)."""
    return float(np.mean(_f1(counts.sum(axis=-2))))


def paired_bootstrap(first: np.ndarray, second: np.ndarray, samples: int = BOOTSTRAP_SAMPLES,
                     seed: int = 0) -> dict:
    """``first`` vs ``second`` on the same examples (``[n, 3]`` counts, or ``[seeds, n, 3]``
    with seed *i* of each paired): the F1 difference, its 95 % interval and a two-sided
    p-value (twice the share of resamplings where the difference changes sign, as in
    Koehn 2004 / Berg-Kirkpatrick et al. 2012)."""
    if first.shape != second.shape:
        raise ValueError(f"paired test on different example sets ({first.shape} vs {second.shape})")
    delta = _point(first) - _point(second)
    a, b = _replicates([first, second], samples, seed)
    diff = a - b
    tail = (1 - LEVEL) / 2
    worse = np.mean(diff <= 0) if delta > 0 else np.mean(diff >= 0)
    return {"delta": delta, "interval": [float(np.quantile(diff, tail)),
                                         float(np.quantile(diff, 1 - tail))],
            "p": float(min(1.0, 2 * worse)) if delta else 1.0,
            "significant": bool(delta) and 2 * worse < 1 - LEVEL}


def paired_seeds(first: list[float], second: list[float]) -> dict:
    """Scores of runs paired by seed: the mean difference and the paired t-test's
    two-sided p (the seed-to-seed variance the bootstrap over examples does not see)."""
    from scipy.stats import ttest_rel

    diff = np.subtract(first, second)
    p = float(ttest_rel(first, second).pvalue) if len(diff) > 1 and diff.std() > 0 else 1.0
    return {"delta": float(diff.mean()), "p": p, "significant": p < 1 - LEVEL, "seeds": len(diff)}


def verdict(name: str, baseline: str, test: dict) -> str:
    """One line a reader can quote: the difference, its interval, and whether it counts."""
    low, high = test["interval"]
    words = (f"{name} {'better' if test['delta'] > 0 else 'worse'} than {baseline}"
             if test["significant"] else f"no significant difference between {name} and {baseline}")
    return (f"{words}: ΔF1 {test['delta']:+.4f} (95 % CI {low:+.4f} … {high:+.4f}, paired "
            f"bootstrap p = {test['p']:.3f})")
