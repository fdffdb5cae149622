"""Scores and their uncertainty: the bootstrap interval and the paired test, checked against
direct computations on the sample RE set's real test labels."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from fusion.metrics import (
    f1_interval,
    ner_counts,
    paired_bootstrap,
    paired_seeds,
    re_counts,
    re_scores,
    verdict,
)


@pytest.fixture(scope="module")
def gold(sample_graph, tmp_path_factory):
    """400 relation labels of the sample's distantly supervised RE set."""
    from fusion.datasets import DistantConfig, build_re_dataset

    out = tmp_path_factory.mktemp("metrics") / "re"
    build_re_dataset(sample_graph, out, DistantConfig())
    labels = [json.loads(line)["relation"] for split in ("dev", "test", "train")
              for line in (out / f"{split}.jsonl").read_text().splitlines()]
    return labels[:400]


def noisy(gold: list[str], error: float, seed: int) -> list[str]:
    """A system that gets ``1 - error`` of the examples right, the rest wrong."""
    rng = random.Random(seed)
    labels = sorted(set(gold))
    return [g if rng.random() >= error else rng.choice([x for x in labels if x != g])
            for g in gold]


def test_counts_give_the_same_micro_f1_as_the_scores(gold):
    predicted = noisy(gold, 0.3, 1)
    counts = re_counts(gold, predicted)
    correct, found, expected = counts.sum(axis=0)
    assert 2 * correct / (found + expected) == pytest.approx(
        re_scores(gold, predicted, sorted(set(gold)))["micro_f1"])
    low, high = f1_interval(counts)
    point = 2 * correct / (found + expected)
    assert low < point < high and 0.03 < high - low < 0.2
    assert f1_interval(counts) == (low, high)  # seeded


def test_interval_narrows_with_more_examples(gold):
    small = re_counts(gold[:100], noisy(gold[:100], 0.3, 2))
    large = re_counts(gold, noisy(gold, 0.3, 2))
    assert np.subtract(*f1_interval(small)[::-1]) > np.subtract(*f1_interval(large)[::-1])


def test_paired_test_tells_a_real_gap_from_noise(gold):
    strong = re_counts(gold, noisy(gold, 0.1, 3))
    weak = re_counts(gold, noisy(gold, 0.4, 4))
    gap = paired_bootstrap(strong, weak)
    assert gap["significant"] and gap["p"] < 0.01 and gap["interval"][0] > 0
    assert verdict("late", "none", gap).startswith("late better than none: ΔF1 +")
    same = paired_bootstrap(strong, strong)
    assert same == {"delta": 0.0, "interval": [0.0, 0.0], "p": 1.0, "significant": False}
    close = paired_bootstrap(re_counts(gold, noisy(gold, 0.30, 5)),
                             re_counts(gold, noisy(gold, 0.31, 6)))
    assert not close["significant"] and close["interval"][0] < 0 < close["interval"][1]
    assert verdict("layer", "none", close).startswith("no significant difference between layer")
    with pytest.raises(ValueError, match="different example sets"):
        paired_bootstrap(strong, strong[:10])


def test_ner_counts_are_seqeval_spans():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "O"]]
    assert ner_counts(gold, predicted).tolist() == [[1, 2, 2], [0, 0, 1]]


def test_several_seeds_pair_seed_by_seed(gold):
    strong = np.stack([re_counts(gold, noisy(gold, 0.20, seed)) for seed in range(3)])
    weak = np.stack([re_counts(gold, noisy(gold, 0.35, 10 + seed)) for seed in range(3)])
    pooled = paired_bootstrap(strong, weak)
    means = [paired_bootstrap(s, w)["delta"] for s, w in zip(strong, weak)]
    assert pooled["delta"] == pytest.approx(np.mean(means)) and pooled["significant"]
    f1 = {name: [2 * c / (p + g) for c, p, g in runs.sum(axis=1)]
          for name, runs in (("strong", strong), ("weak", weak))}
    across = paired_seeds(f1["strong"], f1["weak"])
    assert across["seeds"] == 3 and across["delta"] > 0.05 and across["p"] < 0.05
    assert paired_seeds([0.8, 0.81, 0.79], [0.8, 0.79, 0.81])["significant"] is False
