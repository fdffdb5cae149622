"""Relation extraction (TACRED convention) and NER (seqeval, entity level) scores."""

from __future__ import annotations

from collections import Counter

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
    return "\n".join(lines) + "\n"
