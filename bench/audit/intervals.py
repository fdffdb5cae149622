"""95 % intervals of the hand audit's precision and recall (#16).

    .venv/bin/python bench/audit/intervals.py STAGE [--set SET] [--seed 0] [--resamples 10000]

Two intervals for each figure: Wilson's score interval on the pooled counts (treats every
fact or parameter as independent), and a percentile bootstrap over *articles* (the
articles are resampled with replacement and the pooled ratio recomputed), which allows
for facts of one article failing together, so it is the wider and the one to quote.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import audit  # noqa: E402


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def bootstrap(per: dict[str, tuple[int, int]], seed: int, resamples: int) -> tuple[float, float]:
    rng = random.Random(seed)
    articles = sorted(per)
    ratios = []
    for _ in range(resamples):
        draw = [per[rng.choice(articles)] for _ in articles]
        n = sum(d[1] for d in draw)
        ratios.append(sum(d[0] for d in draw) / n if n else 1.0)
    ratios.sort()
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage")
    parser.add_argument("--set", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=10000)
    args = parser.parse_args()
    audit.SET = args.set
    facts = audit.read_tsv(audit._path("facts", args.stage))
    params = [r for r in audit.read_tsv(audit._path("params")) if r["real"] == "y"]
    ok_keys = {(r["article"], r["infobox"], r["raw_key"]) for r in facts if r["verdict"] == "ok"}
    counts = defaultdict(Counter)
    for row in facts:
        counts[row["article"]]["facts"] += 1
        counts[row["article"]]["ok"] += row["verdict"] == "ok"
    for row in params:
        counts[row["article"]]["params"] += 1
        counts[row["article"]]["recalled"] += (row["article"], row["infobox"], row["raw_key"]) in ok_keys
    for name, hit, total in (("precision", "ok", "facts"), ("recall", "recalled", "params")):
        k = sum(c[hit] for c in counts.values())
        n = sum(c[total] for c in counts.values())
        low, high = wilson(k, n)
        per = {a: (c[hit], c[total]) for a, c in counts.items()}
        b_low, b_high = bootstrap(per, args.seed, args.resamples)
        print(f"{name}: {k}/{n} = {k / n:.1%}; Wilson 95% [{low:.1%}, {high:.1%}]; "
              f"bootstrap over {len(per)} articles 95% [{b_low:.1%}, {b_high:.1%}]")


if __name__ == "__main__":
    main()
