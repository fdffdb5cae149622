"""Shared benchmark helpers: timed child processes, medians, and docs/benchmarks.md sections."""

from __future__ import annotations

import multiprocessing
import os
import re
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"


def run_measured(command: list[str], env: dict | None = None,
                 log: Path | None = None) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS MiB of it and its waited-for children).
    Its stderr goes to ``log`` (a file) when given, and into the error if it fails.

    Linux starts a child's ``ru_maxrss`` at its parent's peak RSS (``exec`` carries the
    old address space's high-water mark over), so keep the bench process small: build big
    inputs through :func:`in_fresh_process`."""
    log = log or Path(tempfile.mkstemp(prefix="bench-", suffix=".log")[1])
    started = time.perf_counter()
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr,
                                   env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n"
                           f"{log.read_text(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def in_fresh_process(function, *args):
    """``function(*args)`` run in a spawned process: its memory peak does not raise the
    floor of every later :func:`run_measured` reading."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def summary(values: list[float], digits: int = 2) -> str:
    """``median (min–max)``."""
    fmt = f"{{:.{digits}f}}"
    return (f"{fmt.format(statistics.median(values))} "
            f"({fmt.format(min(values))}–{fmt.format(max(values))})")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between ``<!-- bench:NAME -->`` markers."""
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS_MD.write_text(text)


def machine() -> str:
    import platform

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
