"""Full-dump scale: memory and time of a build as the wiki grows, on distinct titles.

Inputs are N distinct copies of the sample dump (``../shared/tools/make_distinct_dump.py``:
copy k's titles, redirects and link targets get the suffix " k", so every per-title table
grows with N, as in a larger wiki), plain and repacked as multistream.  Every command is a
fresh process measured by ``../shared/tools/peak_rss.py``: wall time and the peak of the
*summed* RSS of its whole process tree (driver and workers).

    .venv/bin/python bench/bench_scale.py [--copies 1 10 40] [--budget 256MB]

Reported: the per-article slope of peak memory from the smallest to the largest copy (and
its extrapolation to English's 6.8 M articles), pages/s at each size, 2 workers vs 1, and a
1-worker build against WikiExtractor on the same input, all measured in this run.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SHARED, machine, table, write_section  # noqa: E402

PY = sys.executable
TOOLS = SHARED.parent / "tools"
SAMPLE = SHARED / "dumps" / "enwiki-sample.xml.bz2"
ENGLISH_ARTICLES = 6_800_000
_MEASURED = re.compile(r"rc=(\d+) wall=([\d.]+)s peak_tree_rss=(\d+)MiB")


def measured(command: list[str]) -> tuple[float, int]:
    """(wall s, peak summed tree RSS MiB) of ``command``; raises if it failed."""
    done = subprocess.run([PY, str(TOOLS / "peak_rss.py"), *command], capture_output=True,
                          text=True, check=True)
    rc, wall, rss = _MEASURED.search(done.stdout).groups()
    if rc != "0":
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}")
    return float(wall), int(rss)


def distinct_dumps(copies: list[int], tmp: Path) -> dict[int, tuple[Path, Path]]:
    """N -> (plain dump, multistream copy with its index: ``wikikg repack``)."""
    dumps = {}
    for n in copies:
        plain = tmp / f"d{n}.xml.bz2"
        subprocess.run([PY, str(TOOLS / "make_distinct_dump.py"), str(SAMPLE), str(n), str(plain)],
                       check=True)
        multistream = tmp / f"d{n}-multistream.xml.bz2"
        subprocess.run([PY, "-m", "wikikg.cli", "-q", "repack", str(plain), "--out",
                        str(multistream)], check=True, capture_output=True)
        dumps[n] = (plain, multistream)
    return dumps


def build_command(dump: Path, out: Path, workers: int, budget: str | None,
                  graph: bool = False, buckets: int | None = None) -> list[str]:
    """``wikikg build`` (with the graph), or the extraction alone (``extraction.build``)."""
    if graph:
        command = [PY, "-m", "wikikg.cli", "-q", "build", str(dump), "--out", str(out),
                   "--workers", str(workers)]
        return command + (["--memory-limit", budget] if budget else [])
    options = (f"workers={workers}, progress=False" + (f", memory_limit={budget!r}" if budget else "")
               + (f", reduce_buckets={buckets}" if buckets else ""))
    code = ("import sys\nfrom extraction.build import build, BuildOptions\n"
            f"build([sys.argv[1]], sys.argv[2], BuildOptions({options}))\n")
    return [PY, "-c", code, str(dump), str(out)]


def run_build(dump: Path, out: Path, workers: int, budget: str | None, graph: bool = False,
              buckets: int | None = None) -> dict:
    wall, rss = measured(build_command(dump, out, workers, budget, graph, buckets))
    stats = json.loads((out / "stats.json").read_text())
    return {"wall": wall, "rss": rss, "pages": stats["pages"], "articles": stats["articles"],
            "spilled": stats.get("spilled_bytes", 0), "seconds": stats["seconds"]}


def run_dataset(graph: Path, out: Path, budget: str) -> dict:
    """``wikikg dataset re`` on a graph built by :func:`run_build` (its stats give the size)."""
    wall, rss = measured([PY, "-m", "wikikg.cli", "-q", "dataset", "re", str(graph), "--out",
                          str(out), "--memory-limit", budget])
    build_stats = json.loads((graph / "stats.json").read_text())
    return {"wall": wall, "rss": rss, "pages": build_stats["pages"],
            "articles": build_stats["articles"], "spilled": 0, "seconds": {}}


def loading_section(copies: list[int], dumps: dict, tmp: Path, args) -> str:
    """``wikikg embed``'s data loading (:func:`kg.embedding.data.load_triples`: triples,
    ids, split; the training itself is sized by the model) on graphs built from the copies."""
    code = ("import sys\nfrom kg.embedding.data import load_triples\n"
            "d = load_triples(sys.argv[1], memory_limit=sys.argv[2])\n"
            "open(sys.argv[3], 'w').write(f'{d.num_entities} {len(d.known())}')\n")
    rows, runs = [], {}
    for n in copies:
        graph = tmp / f"graph{n}"
        run_build(dumps[n][1], graph, args.workers, args.budget, graph=True)
        wall, rss = measured([PY, "-c", code, str(graph), args.budget, str(tmp / "sizes")])
        entities, triples = map(int, (tmp / "sizes").read_text().split())
        articles = json.loads((graph / "stats.json").read_text())["articles"]
        runs[n] = {"rss": rss, "articles": articles, "triples": triples}
        rows.append([f"{n}×", f"{articles:,}", f"{triples:,}", f"{entities:,}", f"{wall:.1f}",
                     str(rss)])
    small, large = runs[copies[0]], runs[copies[-1]]
    per_triple = (large["rss"] - small["rss"]) * 1024 ** 2 / (large["triples"] - small["triples"])
    return ("### `wikikg embed`'s data loading as the graph grows\n\n"
            f"Machine: {machine()}. Command: `.venv/bin/python bench/bench_scale.py --copies "
            f"{' '.join(map(str, copies))} --loading-only --budget {args.budget}` (graphs built "
            "with `wikikg build --workers 2`, then `load_triples` in a fresh process under "
            "`peak_rss.py`).\n\n"
            + table(["copies", "articles", "edges (all splits)", "entities", "wall s",
                     "peak tree RSS MiB"], rows)
            + f"\n\nPeak memory slope {copies[0]}× → {copies[-1]}×: **{slope(small, large):.1f} KiB "
            f"per added article, {per_triple:.0f} B per added edge**.")


def slope(small: dict, large: dict) -> float:
    """KiB of peak memory per added article."""
    return (large["rss"] - small["rss"]) * 1024 / (large["articles"] - small["articles"])


def scaling_rows(runs: dict[int, dict]) -> list[list[str]]:
    rows = []
    for n, run in sorted(runs.items()):
        seconds = run["seconds"]
        rows.append([f"{n}×", f"{run['articles']:,}", f"{run['pages']:,}", f"{run['wall']:.1f}",
                     f"{run['pages'] / run['wall']:.1f}", str(run["rss"]),
                     f"{run['spilled'] / 1e6:.1f}",
                     " / ".join(f"{seconds.get(k, 0):.1f}" for k in ("map", "reduce", "rewrite"))])
    return rows


def scaling_section(title: str, runs: dict[int, dict]) -> tuple[str, float]:
    """The table, the slope over the whole range and over the last segment, and English
    extrapolated from the last segment (memory bounded by a budget stops growing once the
    budget is reached: the whole-range slope would overstate it)."""
    sizes = sorted(runs)
    small, large = runs[sizes[0]], runs[sizes[-1]]
    per_article = slope(small, large)
    last = slope(runs[sizes[-2]], large) if len(sizes) >= 3 else per_article
    english = large["rss"] + max(last, 0) * (ENGLISH_ARTICLES - large["articles"]) / 1024
    speed = {n: runs[n]["pages"] / runs[n]["wall"] for n in sizes}
    text = (f"#### {title}\n\n"
            + table(["copies", "articles", "pages", "wall s", "pages/s", "peak tree RSS MiB",
                     "spilled MB", "map / reduce / rewrite s"], scaling_rows(runs))
            + f"\n\nPeak memory slope {sizes[0]}× → {sizes[-1]}×: **{per_article:.1f} KiB per added "
            f"article**")
    if len(sizes) >= 3:
        text += (f"; {sizes[-2]}× → {sizes[-1]}×: **{last:.1f} KiB** (linear from this segment to "
                 f"{ENGLISH_ARTICLES / 1e6:.1f} M articles, which overstates memory capped by a "
                 f"budget: {english / 1024:.1f} GiB). "
                 f"Pages/s at {sizes[-1]}× vs {sizes[-2]}×: "
                 f"**{speed[sizes[-1]] / speed[sizes[-2]]:.2f}×**.")
    else:
        text += "."
    return text, per_article


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 10, 40])
    parser.add_argument("--budget", default="256MB", help="--memory-limit of the small-budget runs")
    parser.add_argument("--spill-budget", default="64MB",
                        help="a budget the larger copies must spill past")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plateau", type=int, nargs="*", default=[100],
                        help="larger copies for the first configuration only (memory plateau)")
    parser.add_argument("--buckets", type=int, default=8,
                        help="--reduce-buckets of one configuration (a wiki this small gets 1)")
    parser.add_argument("--loading-only", action="store_true",
                        help="only the graphs and the embedding loader (section scale-loading)")
    args = parser.parse_args()
    copies = sorted(args.copies)
    command = (f".venv/bin/python bench/bench_scale.py --copies {' '.join(map(str, copies))} "
               f"--plateau {' '.join(map(str, args.plateau))} --budget {args.budget} "
               f"--spill-budget {args.spill_budget} --buckets {args.buckets} "
               f"--workers {args.workers}" + (" --loading-only" if args.loading_only else ""))
    sections = [f"Machine: {machine()}. Command: `{command}`. One run per cell (each a fresh "
                "process; peak = summed RSS of the whole process tree, sampled every 0.2 s by "
                "`../shared/tools/peak_rss.py`)."]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        dumps = distinct_dumps(sorted(set(copies + args.plateau)), tmp)
        largest = copies[-1]
        small = f"--memory-limit {args.budget}"
        plans = {
            f"extraction, multistream, {args.workers} workers, {small}":
                (copies + args.plateau, lambda n: run_build(dumps[n][1], tmp / "ms", args.workers,
                                                            args.budget)),
            f"extraction, multistream, {args.workers} workers, --memory-limit {args.spill_budget}":
                (copies + args.plateau, lambda n: run_build(dumps[n][1], tmp / "spill",
                                                            args.workers, args.spill_budget)),
            f"extraction, multistream, {args.workers} workers, {small}, --reduce-buckets "
            f"{args.buckets}": (copies, lambda n: run_build(dumps[n][1], tmp / "buckets",
                                                            args.workers, args.budget,
                                                            buckets=args.buckets)),
            f"extraction, plain dump, {args.workers} workers, {small}":
                (copies, lambda n: run_build(dumps[n][0], tmp / "plain", args.workers, args.budget)),
            f"extraction, multistream, {args.workers} workers, default budget":
                (copies, lambda n: run_build(dumps[n][1], tmp / "default", args.workers, None)),
            f"`wikikg build` (extraction and graph), multistream, {args.workers} workers, {small}":
                (copies, lambda n: run_build(dumps[n][1], tmp / f"graph{n}", args.workers,
                                             args.budget, True)),
            f"`wikikg dataset re` on that graph, {small}":
                (copies, lambda n: run_dataset(tmp / f"graph{n}", tmp / "re", args.budget)),
        }
        if args.loading_only:
            write_section("scale-loading", loading_section(copies, dumps, tmp, args))
            return
        for title, (sizes, plan) in plans.items():
            runs = {n: plan(n) for n in sizes}
            text, _ = scaling_section(title, runs)
            sections.append(text)
            print(text, flush=True)
        one = run_build(dumps[largest][1], tmp / "one", 1, args.budget)
        two = run_build(dumps[largest][1], tmp / "two", 2, args.budget)
        mid = copies[len(copies) // 2]
        extractor, _ = measured([PY, "-m", "wikiextractor.WikiExtractor", str(dumps[mid][0]),
                                 "--no-templates", "--processes", "1", "-q", "-o",
                                 str(tmp / "wikiextractor")])
        single = run_build(dumps[mid][0], tmp / "single", 1, args.budget)
        sections.append(
            "#### Workers and per-core speed\n\n"
            + table(["command", "input", "wall s", "pages/s", "peak tree RSS MiB"], [
                ["extraction, 1 worker", f"{largest}× multistream", f"{one['wall']:.1f}",
                 f"{one['pages'] / one['wall']:.1f}", str(one["rss"])],
                ["extraction, 2 workers", f"{largest}× multistream", f"{two['wall']:.1f}",
                 f"{two['pages'] / two['wall']:.1f}", str(two["rss"])],
                ["WikiExtractor 3.1.0 --no-templates, 1 process", f"{mid}× plain",
                 f"{extractor:.1f}", f"{single['pages'] / extractor:.1f}", "–"],
                ["extraction, 1 worker", f"{mid}× plain", f"{single['wall']:.1f}",
                 f"{single['pages'] / single['wall']:.1f}", str(single["rss"])]])
            + f"\n\n2 workers vs 1 on the {largest}× multistream copy: **{one['wall'] / two['wall']:.2f}×**."
            f" 1 worker vs WikiExtractor on the {mid}× plain copy: "
            f"**{extractor / single['wall']:.2f}×** (>1 = wikikg faster).")
        print(sections[-1], flush=True)
    write_section("scale", "## Scale: a build as the wiki grows (distinct titles)\n\n"
                  + "\n\n".join(sections))


if __name__ == "__main__":
    main()
