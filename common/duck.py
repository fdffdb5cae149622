"""DuckDB, the out-of-core engine of every step that joins or groups tables keyed by title.

A build's redirects and aliases, a distant dataset's facts × sentence pairs: tables as
large as the wiki.  DuckDB's hash joins, aggregates and sorts spill to disk past
``memory_limit`` instead of growing, so no Python dict holds one entry per title.  One
database file per job, in its spill directory; errors come out as one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from common.errors import InputError

DEFAULT_MEMORY_LIMIT = "2GB"  # a laptop's share; `--memory-limit` on build and dataset
MEMORY_PER_THREAD = 128 << 20  # below this per thread, DuckDB's sorts fail to pin, not spill
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


class DatabaseError(InputError):
    """A step failed: the spill disk is full, the budget too small, a bad input file."""


class Database:
    """A DuckDB database in ``spill`` (created), under ``memory_limit``."""

    def __init__(self, spill: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT,
                 threads: int | None = None, spill_limit: str | None = None):
        """``threads`` (default: every CPU) is capped at one per ``MEMORY_PER_THREAD`` of the
        budget: each thread's sort and join keep blocks pinned, and a small budget shared by
        many threads runs out of memory where fewer threads would spill."""
        import duckdb

        self.error = duckdb.Error
        self.spill = spill
        self.results = 0
        self.peak_spill = 0  # bytes: the most DuckDB's spill files held (only past the budget)
        spill.mkdir(parents=True, exist_ok=True)
        threads = max(1, min(threads or os.cpu_count() or 1,
                             parse_size(memory_limit) // MEMORY_PER_THREAD))
        config = {"memory_limit": memory_limit, "temp_directory": str(spill),
                  "preserve_insertion_order": False, "threads": threads}
        if spill_limit:
            config["max_temp_directory_size"] = spill_limit
        try:
            self.db = duckdb.connect(str(spill / "work.duckdb"), config=config)
            self.db.execute("SET enable_progress_bar = false")  # no bar drawn on our stderr
        except duckdb.Error as exc:
            raise DatabaseError(f"DuckDB in {spill}: {one_line(exc)}") from exc

    def sql(self, query: str):
        """Run ``query``; ``peak_spill`` notes the most its spill files held meanwhile."""
        try:
            with SpillWatch(self.spill) as watch:
                result = self.db.execute(query)
        except self.error as exc:
            raise DatabaseError(one_line(exc)) from exc
        finally:
            self.peak_spill = max(self.peak_spill, watch.peak)
        return result

    def scalar(self, query: str):
        """The one value of ``query`` (fetched to the end: DuckDB keeps the connection busy
        until a result is complete)."""
        return self.sql(query).fetchall()[0][0]

    def rows(self, query: str, batch_rows: int = 65_536) -> Iterator[tuple]:
        """The rows of ``query``, in its order, streamed.

        DuckDB writes the whole result to a Parquet file in the spill directory (its sorts
        and joins spill under the budget; a result streamed to the client would have to
        keep its blocks pinned in memory), read back a row group at a time.
        """
        import pyarrow.parquet as pq

        path = self._result(query, batch_rows)
        try:
            for batch in pq.ParquetFile(path).iter_batches(batch_rows):
                yield from zip(*(column.to_pylist() for column in batch.columns))
        finally:
            path.unlink(missing_ok=True)

    def table(self, query: str):
        """The whole result of ``query`` as a pyarrow Table (columns of numbers become
        arrays without a copy per value), through a Parquet file as in :meth:`rows`."""
        import pyarrow.parquet as pq

        path = self._result(query)
        try:
            return pq.read_table(path)
        finally:
            path.unlink(missing_ok=True)

    def _result(self, query: str, batch_rows: int = 65_536) -> Path:
        self.results += 1
        path = self.spill / f"result-{self.results}.parquet"
        self.sql(f"COPY ({query}) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE {batch_rows})")
        return path

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SpillWatch:
    """The peak disk use of DuckDB's spill files in ``directory`` while a block runs,
    sampled by a thread: a sort or join may spill and free its files within one statement,
    where a look afterwards would see nothing."""

    INTERVAL = 0.05

    def __init__(self, directory: Path):
        import threading

        self.directory = directory
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> SpillWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, self.size())

    def _sample(self) -> None:
        while not self.done.wait(self.INTERVAL):
            self.peak = max(self.peak, self.size())

    def size(self) -> int:
        """Bytes on disk (allocated blocks: DuckDB's block files may be sparse)."""
        total = 0
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if entry.name.startswith("duckdb_temp"):
                        try:
                            total += entry.stat().st_blocks * 512
                        except FileNotFoundError:
                            pass
        except FileNotFoundError:
            pass
        return total


def parse_size(text: str) -> int:
    """Bytes of a size as DuckDB reads it: ``512MB``, ``2GB``, ``1.5GiB`` (1000 or 1024 based)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise DatabaseError(f"{text!r} is not a size (e.g. 512MB, 2GB, 1.5GiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def one_line(exc: Exception) -> str:
    """DuckDB's message without its multi-line hints; a full spill disk said plainly."""
    text = " ".join(str(exc).split())
    if "max_temp_directory_size" in text or "No space left" in text:
        return f"out of spill space: {text[:160]}"
    if "Out of Memory" in text:
        return f"the memory budget is too small for this step (raise it): {text[:160]}"
    return text[:300]


def parquet_glob(directory: Path, name: str) -> str:
    """``read_parquet`` of the parts ``name-*.parquet`` of ``directory``."""
    return f"read_parquet('{directory}/{name}-*.parquet')"


class OrderedGroups:
    """The rows of a query sorted by a key (its first ``width`` columns), handed out a key
    at a time to a second pass over the same input: :meth:`take` is called with increasing
    keys, may skip some, and gets the rest of each row of its key.  The rows stream
    (:meth:`Database.rows`): nothing is held per key."""

    def __init__(self, rows: Iterator[tuple], width: int = 1):
        self.rows, self.width = rows, width
        self.next = next(rows, None)

    def take(self, *key) -> list[tuple]:
        while self.next is not None and self.next[:self.width] < key:
            self.next = next(self.rows, None)
        found = []
        while self.next is not None and self.next[:self.width] == key:
            found.append(self.next[self.width:])
            self.next = next(self.rows, None)
        return found


class ParquetRows:
    """Rows appended to one Parquet file, a row group per ``batch`` rows (pyarrow's
    ``ParquetWriter``): a table as large as the wiki, written without being held.

    ``columns`` maps each name to a pyarrow type name (``"string"``, ``"int64"``...).
    """

    def __init__(self, path: Path, columns: dict[str, str], batch: int = 100_000):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in columns.items()])
        self.writer = pq.ParquetWriter(str(path), self.schema)
        self.batch: list[tuple] = []
        self.size = batch
        self.count = 0

    def add(self, row: tuple) -> None:
        self.batch.append(row)
        self.count += 1
        if len(self.batch) >= self.size:
            self._flush()

    def _flush(self) -> None:
        columns = list(zip(*self.batch)) or [()] * len(self.schema)
        self.writer.write_table(self.pa.Table.from_arrays(
            [self.pa.array(values, field.type) for values, field in zip(columns, self.schema)],
            schema=self.schema))
        self.batch = []

    def close(self) -> None:
        if self.batch or self.count == 0:  # an empty table still has its columns
            self._flush()
        self.writer.close()

    def __enter__(self) -> ParquetRows:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
