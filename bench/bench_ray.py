"""Extraction with ``--engine ray`` against ``--engine local`` on the multistream sample.

The input is the sample dump re-packed as Wikimedia multistream (100 pages a stream, with
its index), its pages ``--times`` over in one file: the sample alone is 3 streams of 100,
100 and 6 pages, one of which holds 60 % of the text, so 2 workers would have nothing to
share.  Local builds run in fresh processes; Ray builds run in this process against one
local Ray instance of 2 CPUs, whose start-up is timed apart: ``ray.init``, then one task
per CPU that imports the extraction code (Ray starting its worker processes).  Every
throughput is pages / the build's own clock (``seconds.total`` of stats.json), so
interpreter start-up counts for none; repetitions are interleaved; cells are ``median
(min–max)``.  The CPU seconds of the 1-worker builds give the per-core rate that
docs/scaling.md extrapolates from, which a loaded machine disturbs less than wall time.

    nice -n 10 .venv/bin/python bench/bench_ray.py [--reps 3] [--times 4]
"""

from __future__ import annotations

import argparse
import bz2
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extraction import dump_facts, repeated_dump  # noqa: E402
from harness import SHARED, machine, summary, table, write_section  # noqa: E402

from extraction.build import BuildOptions, build  # noqa: E402
from extraction.multistream import repack_multistream, stream_starts  # noqa: E402

log = logging.getLogger("bench_ray")

LOCAL = ("import json, sys, time\nfrom extraction.build import BuildOptions, build\n"
         "cpu = time.process_time()\n"
         "s = build([sys.argv[1]], sys.argv[2], BuildOptions(workers=int(sys.argv[3]), "
         "progress=False))\n"
         "print(json.dumps({'total': s['seconds']['total'], 'cpu': time.process_time() - cpu}))\n")


def local_seconds(dump: Path, out: Path, workers: int) -> tuple[float, float]:
    """``seconds.total`` of a local build in a fresh process, and the CPU seconds its
    ``build()`` call used in that process (all of them with 1 worker)."""
    done = subprocess.run([sys.executable, "-c", LOCAL, str(dump), str(out), str(workers)],
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    return result["total"], result["cpu"]


def _import_extraction() -> None:
    import extraction.build  # noqa: F401


def ray_seconds(dump: Path, out: Path) -> float:
    return build([dump], out, BuildOptions(engine="ray", workers=2, progress=False))["seconds"]["total"]


def boundary_costs(dump: Path) -> tuple[float, float]:
    """Seconds to find the stream starts by scanning bytes, and by decompressing every stream."""
    started = time.perf_counter()
    list(stream_starts(dump))
    scan = time.perf_counter() - started
    started = time.perf_counter()
    data = dump.read_bytes()
    while data:
        decompressor = bz2.BZ2Decompressor()
        decompressor.decompress(data)
        data = decompressor.unused_data
    return scan, time.perf_counter() - started


def measure(dump: Path, tmp: Path, reps: int) -> dict:
    """Interleaved builds; Ray's start-up; CPU seconds of the 1-worker builds; load average."""
    import ray

    load = os.getloadavg()[0]
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = {"ray.init": time.perf_counter() - started}
    started = time.perf_counter()
    ray.get([ray.remote(num_cpus=1)(_import_extraction).remote() for _ in range(2)])
    startup["workers"] = time.perf_counter() - started
    runs: dict[str, list[float]] = {"local, 1 worker": [], "local, 2 workers": [],
                                    "ray, 2 workers": []}
    cpu = []
    try:
        for rep in range(reps):
            log.info("repetition %d of %d", rep + 1, reps)
            seconds, used = local_seconds(dump, tmp / "l1", 1)
            runs["local, 1 worker"].append(seconds)
            cpu.append(used)
            runs["local, 2 workers"].append(local_seconds(dump, tmp / "l2", 2)[0])
            runs["ray, 2 workers"].append(ray_seconds(dump, tmp / "r2"))
    finally:
        ray.shutdown()
    return {"runs": runs, "startup": startup, "cpu": cpu,
            "load": (load, os.getloadavg()[0])}


def report(facts: dict, measured: dict, args: argparse.Namespace) -> str:
    pages, megabytes, size = facts["pages"], facts["megabytes"], facts["bz2_mb"]
    runs, startup, cpu = measured["runs"], measured["startup"], measured["cpu"]
    median = {name: statistics.median(seconds) for name, seconds in runs.items()}
    rows = [[name, summary(seconds), summary([pages / s for s in seconds], 1),
             summary([megabytes / s for s in seconds]),
             f"{median['local, 1 worker'] / median[name]:.2f}×",
             f"{median['local, 2 workers'] / median[name]:.2f}×"] for name, seconds in runs.items()]
    return (
        f"Machine: {machine()}, shared with other benchmarks while this ran, under `nice -n "
        f"10` (1-minute load average {measured['load'][0]:.1f} before, {measured['load'][1]:.1f} "
        f"after, on 2 cores: parallel speed-ups here are not what an idle machine gives). "
        f"Command: `nice -n 10 .venv/bin/python bench/bench_ray.py --reps {args.reps} "
        f"--times {args.times}`.\n\nInput: the sample's pages ×{args.times} re-packed as "
        f"multistream with its index ({pages} pages, {megabytes:.1f} MB of wikitext, "
        f"{size:.1f} MB bz2, {facts['streams']} page streams). Seconds are the build's own "
        f"clock (`seconds.total`: map, reduce, rewrite), {args.reps} interleaved "
        "repetitions, median (min–max); ratios are speed against the row named in the header "
        "(>1 = faster).\n\n"
        + table(["engine", "build s", "pages/s", "wikitext MB/s", "vs local 1 worker",
                 "vs local 2 workers"], rows)
        + f"\n\nPer core: the 1-worker builds used {summary(cpu)} CPU seconds, "
        f"**{pages / statistics.median(cpu):.1f} pages** and **{megabytes / statistics.median(cpu):.2f} "
        "MB of wikitext per CPU second**."
        f"\n\nRay start-up, apart from the above: `ray.init` of a local 2-CPU instance "
        f"**{startup['ray.init']:.1f} s**, then **{startup['workers']:.1f} s** until one task per "
        "CPU has run in a worker process that imported the extraction code."
        f"\n\nFinding the stream boundaries of this {size:.1f} MB file without its index: "
        f"scanning the bytes (`extraction.multistream.stream_starts`) {facts['scan'] * 1000:.0f} ms "
        f"({size / facts['scan']:.0f} MB/s), decompressing stream after stream to follow "
        f"`unused_data` {facts['decompress']:.1f} s ({size / facts['decompress']:.1f} MB/s).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--times", type=int, default=4, help="copies of the sample's pages")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        repeated = repeated_dump(SHARED / "dumps" / "enwiki-sample.xml.bz2", args.times,
                                 tmp / "sample-repeated.xml.bz2")
        dump = tmp / f"sample-x{args.times}-multistream.xml.bz2"
        repack_multistream(repeated, dump, pages_per_stream=100)
        pages, megabytes = dump_facts(dump)
        scan, decompress = boundary_costs(dump)
        facts = {"pages": pages, "megabytes": megabytes, "bz2_mb": dump.stat().st_size / 1e6,
                 "streams": len(list(stream_starts(dump))) - 2, "scan": scan,
                 "decompress": decompress}
        body = report(facts, measure(dump, tmp, args.reps), args)
    write_section("scaling", "## Scaling: extraction on Ray\n\n" + body)
    log.info("written to docs/benchmarks.md:\n%s", body)


if __name__ == "__main__":
    main()
