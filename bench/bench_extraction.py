"""Extraction speed and memory against its floor and WikiExtractor, in one interleaved run.

Every measured command is a fresh process (wall time includes interpreter start-up for
all of them alike); repetitions are interleaved round-robin so that the machine's noise
hits every command equally; cells are ``median (min–max)``.

    .venv/bin/python bench/bench_extraction.py [--reps 5]
"""

from __future__ import annotations

import argparse
import bz2
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SHARED, in_fresh_process, machine, run_measured, summary, table, write_section  # noqa: E402

PY = sys.executable
FLOOR = ("import sys\nfrom extraction.dump import DumpReader\n"
         "n = sum(1 for _ in DumpReader(sys.argv[1]))\n")
MWPARSE = ("import sys, mwparserfromhell\nfrom extraction.dump import DumpReader\n"
           "for p in DumpReader(sys.argv[1]):\n    mwparserfromhell.parse(p.text)\n")


def dump_facts(path: Path) -> tuple[int, float]:
    """Pages and MB of wikitext."""
    from extraction.dump import DumpReader

    pages = megabytes = 0
    for page in DumpReader(path):
        pages += 1
        megabytes += len(page.text.encode()) / 1e6
    return pages, megabytes


def repeated_dump(path: Path, times: int, target: Path) -> Path:
    """The dump's pages ``times`` over in one file (same siteinfo): the streaming test input."""
    xml = bz2.open(path).read()
    first, last = xml.find(b"<page>"), xml.rfind(b"</page>") + len(b"</page>")
    body = xml[first:last]
    with bz2.open(target, "wb") as out:
        out.write(xml[:first])
        for _ in range(times):
            out.write(body + b"\n")
        out.write(xml[last:])
    return target


def multistream_copy(dump: Path, tmp: Path) -> Path:
    """The dump repacked as Wikipedia publishes it: 100 pages per bz2 stream, with an index."""
    from extraction.multistream import repack_multistream

    target = tmp / f"{dump.name.split('.')[0]}-multistream.xml.bz2"
    repack_multistream(dump, target, pages_per_stream=100)
    return target


def prepare_inputs(dumps: list[Path], tmp: Path) -> list[tuple[Path, Path, int, float]]:
    """Each dump, then the sample ×10, with its multistream copy, pages and MB of wikitext."""
    dumps = dumps + [repeated_dump(dumps[0], 10, tmp / "sample-x10.xml.bz2")]
    return [(dump, multistream_copy(dump, tmp), *dump_facts(dump)) for dump in dumps]


def commands(dump: Path, multistream_dump: Path, tmp: Path) -> dict[str, list[str]]:
    wikikg = [PY, "-m", "wikikg.cli", "-q", "build", str(dump), "--no-index"]
    multistream = [PY, "-m", "wikikg.cli", "-q", "build", str(multistream_dump)]
    return {
        "floor: bz2 + XML pages": [PY, "-c", FLOOR, str(dump)],
        "mwparserfromhell.parse every page": [PY, "-c", MWPARSE, str(dump)],
        "WikiExtractor 3.1.0 --no-templates": [
            PY, "-m", "wikiextractor.WikiExtractor", str(dump), "--no-templates",
            "--processes", "1", "-q", "-o", str(tmp / "wikiextractor")],
        "wikikg build, 1 worker": wikikg + ["--out", str(tmp / "w1")],
        "wikikg build, 2 workers": wikikg + ["--workers", "2", "--out", str(tmp / "w2")],
        "wikikg build, multistream + index, 1 worker": multistream + ["--out", str(tmp / "m1")],
        "wikikg build, multistream + index, 2 workers": multistream + [
            "--workers", "2", "--out", str(tmp / "m2")],
    }


def measure(named: dict[str, list[str]], reps: int) -> dict[str, tuple[list, list]]:
    results = {name: ([], []) for name in named}
    for _ in range(reps):
        for name, command in named.items():
            wall, rss = run_measured(command)
            results[name][0].append(wall)
            results[name][1].append(rss)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    dumps = [SHARED / "dumps" / "enwiki-sample.xml.bz2",
             SHARED / "dumps" / "dbpedia-minidumps" / "en.xml.bz2"]
    sections = [f"Machine: {machine()}. Command: `.venv/bin/python bench/bench_extraction.py "
                f"--reps {args.reps}`. Wall time of each whole command (fresh process, "
                f"interpreter start-up included), {args.reps} interleaved repetitions, "
                "median (min–max)."]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        inputs = in_fresh_process(prepare_inputs, dumps, tmp)
        for dump, multistream_dump, pages, megabytes in inputs:
            results = measure(commands(dump, multistream_dump, tmp), args.reps)
            extractor = statistics.median(results["WikiExtractor 3.1.0 --no-templates"][0])
            one = statistics.median(results["wikikg build, 1 worker"][0])
            two = statistics.median(results["wikikg build, 2 workers"][0])
            ms_one, ms_two = (statistics.median(results[f"wikikg build, multistream + index, {n}"][0])
                              for n in ("1 worker", "2 workers"))
            rows = []
            for name, (walls, rss) in results.items():
                rows.append([name, summary(walls), summary([pages / w for w in walls], 1),
                             summary([megabytes / w for w in walls]),
                             f"{statistics.median(rss):.0f}",
                             f"{extractor / statistics.median(walls):.2f}×"])
            sections.append(
                f"### {dump.name}: {pages} pages, {megabytes:.2f} MB of wikitext\n\n"
                + table(["command", "wall s", "pages/s", "wikitext MB/s", "peak RSS MiB",
                         "speed vs WikiExtractor"], rows)
                + f"\n\n2 workers vs 1: **{one / two:.2f}×**; "
                f"1 worker vs WikiExtractor: **{extractor / one:.2f}×** (>1 = wikikg faster). "
                f"On the multistream copy (100 pages per stream, as Wikipedia publishes dumps; "
                f"workers decompress their own streams): 2 workers vs 1 **{ms_one / ms_two:.2f}×**.")
    write_section("extraction", "## Extraction\n\n" + "\n\n".join(sections))
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()
