"""The reduce step: what needs the whole wiki at once, as out-of-core SQL over hash buckets.

Redirect chains, the alias table and the lookups each part needs are joins and group-bys
keyed by title, over tables as large as the wiki (English: ~10 M redirects, ~100 M anchor
votes).  They run as *tasks* on the build's engine (a process pool or Ray, like the map),
each a DuckDB database of its own under a memory budget (``memory_limit``): past it,
DuckDB's hash joins, aggregates and sorts spill to disk instead of growing, so no Python
dict ever holds one entry per title and no task holds a whole table.

The keys are split into ``buckets`` by ``hash(key) % buckets`` (MapReduce's shuffle, with
files on the build's shared storage in between).  A row joins only rows of its own
bucket, so the tasks of a stage are independent:

1. ``shuffle`` (one task per group of parts; skipped with one bucket): the parts'
   redirects by source, anchor votes by target, references by value, into their buckets.
2. ``dedupe`` (per bucket of sources): one target per redirect source (the last page
   read wins), re-bucketed by target.
3. ``direct`` (per bucket of titles): a redirect whose target is no redirect resolves to
   it; the others (double redirects) and the redirects they go through are set aside.
4. ``chains`` (one task): the double redirects' chains followed hop by hop; a chain that
   never ends (a cycle, or longer than ``MAX_CHAIN``) resolves to its own title.  Wikipedia's
   bots keep double redirects few, so this table is small; it spills like the rest if not.
5. ``titles`` (per bucket of titles): each part's titles that are redirects
   (``lookups/resolve``), its articles' redirect names (``lookups/names``), and the anchor
   votes with their targets resolved, re-bucketed by surface.
6. ``surfaces`` (per bucket of surfaces): the alias table, its rows (``aliases/*.jsonl.gz``,
   sorted by surface within the bucket) and each part's NER surfaces' verdict
   (``lookups/surfaces``).

The number of buckets depends on the input only (pages read), never on the workers, so
1 worker, N workers and Ray give the same files.  The lookups of a stage are one Parquet
file per bucket (``part, ...``), each sorted by part: a part's rows are a few row groups
of each (:class:`extraction.resolve.PartLookups` reads them with a filter).
"""

from __future__ import annotations

import glob
import math
import os
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from common.duck import Database, parse_size
from common.jsonl import PART_FILE, JsonlWriter

MAX_CHAIN = 64  # redirect hops followed before a chain counts as a cycle
MIN_SHARE = 0.5  # a surface links to its top target only above this share of its weight
PAGES_PER_BUCKET = 250_000  # English (~23 M pages): ~90 buckets
MAX_BUCKETS = 512
BUFFERED_BYTES_PER_ROW = 1000  # ~10x a row: a partitioned COPY's buffers, a tenth of the budget
MIN_FLUSH_ROWS = 2048

# The columns of every table that goes from one stage to the next (empty buckets included).
SCHEMAS = {
    "redirects": {"part": "INTEGER", "row": "INTEGER", "source": "VARCHAR", "target": "VARCHAR"},
    "votes": {"surface": "VARCHAR", "target": "VARCHAR", "weight": "BIGINT"},
    "refs": {"part": "INTEGER", "kind": "VARCHAR", "value": "VARCHAR"},
    **dict.fromkeys(("redirect", "by_target", "double", "hops", "resolved_by_source",
                     "resolved_by_target"), {"source": "VARCHAR", "target": "VARCHAR"}),
    "alias_votes": {"surface": "VARCHAR", "target": "VARCHAR", "weight": "BIGINT"},
}


def buckets_for(pages: int) -> int:
    """How many buckets a build of ``pages`` pages gets: one per ``PAGES_PER_BUCKET``."""
    return max(1, min(MAX_BUCKETS, math.ceil(pages / PAGES_PER_BUCKET)))


@dataclass(frozen=True)
class ReduceJob:
    """Where a reduce reads and writes, and each task's share of the budget.  Paths are
    absolute (tasks may run on other nodes); ``work`` must be storage every task sees,
    ``spill`` may be a node's own disk (a task's DuckDB files live only while it runs)."""

    parts: Path
    work: Path
    lookups: Path
    spill: Path
    aliases: Path  # the build's ``aliases/`` folder: one part per bucket
    buckets: int
    memory_limit: str
    threads: int = 1
    spill_limit: str | None = None

    def tasks(self, stage: str, part_numbers: list[int]) -> list[tuple[int, list[int]]]:
        """The tasks of ``stage``: ``(index, parts)`` (a shuffle task's group of parts)."""
        if stage == "shuffle":
            if self.buckets == 1:
                return []
            groups = min(self.buckets, len(part_numbers))
            return [(g, part_numbers[g::groups]) for g in range(groups)]
        if stage == "chains":
            return [(0, [])]
        return [(b, []) for b in range(self.buckets)]

    def with_share(self, memory_limit: str, threads: int) -> ReduceJob:
        return replace(self, memory_limit=memory_limit, threads=threads)


def run_task(task: tuple) -> dict:
    """Run one reduce task, ``(stage, job, index, parts)`` (module level: engines pickle it
    by name); returns its counts (``spilled_bytes`` is the most its DuckDB held in spill
    files at once)."""
    stage, job, index, parts = task
    with _Task(job, f"{stage}-{index}") as db:
        counts = STAGES[stage](db, index, parts) or {}
    counts["spilled_bytes"] = db.peak_spill
    return counts


class _Task(Database):
    """One task's DuckDB, in a spill directory of its own, removed when the task ends."""

    def __init__(self, job: ReduceJob, name: str):
        self.job = job
        super().__init__(job.spill / f"{name}-{uuid.uuid4().hex[:8]}", job.memory_limit,
                         job.threads, job.spill_limit)
        # A partitioned COPY buffers rows per bucket (DuckDB's default: 524,288 each, which
        # cannot spill): flush at a tenth of the budget over all buckets (rows of ~100 B).
        rows = parse_size(job.memory_limit) // (job.buckets * BUFFERED_BYTES_PER_ROW)
        self.sql(f"SET partitioned_write_flush_threshold = {max(MIN_FLUSH_ROWS, rows)}")

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.spill, ignore_errors=True)

    def read(self, table: str, bucket: int) -> str:
        """The rows of ``table`` in ``bucket`` (the parts themselves with one bucket)."""
        if table in ("redirects", "votes", "refs"):
            files = (sorted(glob.glob(f"{self.job.parts}/{table}-*.parquet")) if self.job.buckets == 1
                     else _bucket_files(self.job.work / "shuffle" / table, bucket))
        else:
            files = _bucket_files(self.job.work / table, bucket)
        columns = SCHEMAS[table]
        if not files:
            return "(SELECT {} LIMIT 0)".format(
                ", ".join(f"NULL::{kind} AS {name}" for name, kind in columns.items()))
        listed = ", ".join(f"'{path}'" for path in files)
        return (f"(SELECT {', '.join(columns)} FROM read_parquet([{listed}], "
                "hive_partitioning = false))")

    def scatter(self, query: str, key: str, table: str, name: str) -> None:
        """Write the rows of ``query`` into ``table``'s buckets by ``hash(key)``, as files
        ``name_*`` (those of an earlier try of this task replaced, never added to)."""
        target = self.job.work / table
        for old in glob.glob(f"{target}/bucket=*/{name}_*.parquet"):
            os.unlink(old)
        target.mkdir(parents=True, exist_ok=True)
        staging = target / f".{name}-{uuid.uuid4().hex[:8]}"
        self.sql(f"""COPY (SELECT *, hash({key}) % {self.job.buckets} AS bucket FROM ({query}))
            TO '{staging}' (FORMAT parquet, PARTITION_BY (bucket), FILENAME_PATTERN '{name}_{{i}}')""")
        for path in staging.glob("bucket=*/*.parquet"):
            bucket = target / path.parent.name
            bucket.mkdir(parents=True, exist_ok=True)
            os.replace(path, bucket / path.name)
        shutil.rmtree(staging, ignore_errors=True)

    def write_lookup(self, name: str, bucket: int, query: str) -> None:
        path = self.job.lookups / f"{name}-{bucket:05d}.parquet"
        staging = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        self.sql(f"COPY ({query} ORDER BY part) TO '{staging}' (FORMAT parquet)")
        os.replace(staging, path)


def _bucket_files(table: Path, bucket: int) -> list[str]:
    return sorted(glob.glob(f"{table}/bucket={bucket}/*.parquet"))


def _shuffle(db: _Task, group: int, parts: list[int]) -> None:
    """The group's parts' rows into buckets: redirects by source, votes by target, refs by
    value (a title or a surface: the key each is joined on next)."""
    for table, key in (("redirects", "source"), ("votes", "target"), ("refs", "value")):
        files = [db.job.parts / f"{table}-{part:06d}.parquet" for part in parts]
        listed = ", ".join(f"'{path}'" for path in files if path.exists())
        if listed:
            db.scatter(f"SELECT * FROM read_parquet([{listed}])", key, f"shuffle/{table}",
                       f"g{group}")


def _dedupe(db: _Task, bucket: int, _parts) -> None:
    """One target per source: the last row read (part, then row) of a title given twice."""
    db.sql(f"""CREATE TABLE redirect AS
        SELECT source, arg_max(target, part::BIGINT * 4294967296 + row) AS target
        FROM {db.read('redirects', bucket)} GROUP BY source""")
    db.scatter("SELECT * FROM redirect", "source", "redirect", f"b{bucket}")
    db.scatter("SELECT * FROM redirect", "target", "by_target", f"b{bucket}")


def _direct(db: _Task, bucket: int, _parts) -> None:
    """This bucket's titles as redirect targets (``incoming``) and as redirects (``here``):
    a redirect to a title that is no redirect is resolved; a double redirect, and the
    redirects that double redirects go through, are kept for the chain task."""
    db.sql(f"CREATE TABLE incoming AS SELECT * FROM {db.read('by_target', bucket)}")
    db.sql(f"CREATE TABLE here AS SELECT * FROM {db.read('redirect', bucket)}")
    direct = "SELECT i.* FROM incoming i ANTI JOIN here h ON i.target = h.source"
    db.scatter(direct, "source", "resolved_by_source", f"b{bucket}")
    db.scatter(direct, "target", "resolved_by_target", f"b{bucket}")
    db.scatter("SELECT i.* FROM incoming i SEMI JOIN here h ON i.target = h.source", "source",
               "double", f"b{bucket}")
    db.scatter("SELECT h.* FROM here h SEMI JOIN incoming i ON h.source = i.target", "source",
               "hops", f"b{bucket}")


def _chains(db: _Task, _index: int, _parts) -> dict:
    """Follow every double redirect hop by hop through ``hops`` (every title on such a chain
    after its first is a redirect that another redirect points to: it is in ``hops``)."""
    every = range(db.job.buckets)
    db.sql("CREATE TABLE hop AS " + " UNION ALL ".join(
        f"SELECT * FROM {db.read('hops', b)}" for b in every))
    db.sql("CREATE TABLE frontier AS " + " UNION ALL ".join(
        f"SELECT * FROM {db.read('double', b)}" for b in every))
    db.sql("CREATE TABLE resolved (source VARCHAR, target VARCHAR)")
    caught = 0
    for _ in range(MAX_CHAIN):
        if db.scalar("SELECT count(*) FROM frontier") == 0:
            break
        db.sql("""CREATE OR REPLACE TABLE frontier AS
            SELECT f.source, h.target FROM frontier f JOIN hop h ON f.target = h.source""")
        caught += db.scalar("SELECT count(*) FROM frontier WHERE target = source")
        db.sql("INSERT INTO resolved SELECT source, source FROM frontier WHERE target = source")
        db.sql("""INSERT INTO resolved SELECT f.* FROM frontier f
            ANTI JOIN hop h ON f.target = h.source""")
        db.sql("""CREATE OR REPLACE TABLE frontier AS SELECT f.* FROM frontier f
            SEMI JOIN hop h ON f.target = h.source WHERE f.target <> f.source""")
    caught += db.scalar("SELECT count(*) FROM frontier")
    db.sql("INSERT INTO resolved SELECT source, source FROM frontier")
    db.scatter("SELECT * FROM resolved", "source", "resolved_by_source", "chains")
    db.scatter("SELECT * FROM resolved", "target", "resolved_by_target", "chains")
    return {"redirect_cycles": caught}


def _titles(db: _Task, bucket: int, _parts) -> None:
    """Lookups keyed by title, and the anchor votes with resolved targets, by surface."""
    refs, by_source = db.read("refs", bucket), db.read("resolved_by_source", bucket)
    db.sql(f"CREATE TABLE resolved AS SELECT * FROM {by_source}")
    db.write_lookup("resolve", bucket, f"""SELECT r.part, r.value AS title, m.target
        FROM {refs} r JOIN resolved m ON r.value = m.source
        WHERE r.kind = 'title' AND m.target <> m.source""")
    db.write_lookup("names", bucket, f"""SELECT r.part, r.value AS title, n.names FROM {refs} r
        JOIN (SELECT target, list(source ORDER BY source) AS names
              FROM {db.read('resolved_by_target', bucket)}
              WHERE target <> source GROUP BY target) n ON r.value = n.target
        WHERE r.kind = 'article'""")
    db.scatter(f"""SELECT v.surface, coalesce(m.target, v.target) AS target, v.weight
        FROM {db.read('votes', bucket)} v LEFT JOIN resolved m ON v.target = m.source
        UNION ALL SELECT source, target, 1 FROM resolved""",
               "surface", "alias_votes", f"b{bucket}")


def _surfaces(db: _Task, bucket: int, _parts) -> dict:
    """The alias table of this bucket's surfaces, its rows, and the parts' surface lookups."""
    db.sql(f"""CREATE TABLE alias_counts AS
        SELECT surface, target, sum(weight)::BIGINT AS count
        FROM {db.read('alias_votes', bucket)} GROUP BY surface, target""")
    db.sql(f"""CREATE TABLE alias_links AS
        SELECT surface, CASE WHEN max(count) > {MIN_SHARE} * sum(count)
                             THEN arg_max(target, count) END AS link
        FROM alias_counts GROUP BY surface""")
    db.write_lookup("surfaces", bucket, f"""SELECT r.part, r.value AS surface, a.link
        FROM {db.read('refs', bucket)} r JOIN alias_links a ON r.value = a.surface
        WHERE r.kind = 'surface'""")
    _write_aliases(db, db.job.aliases / PART_FILE.format(bucket))
    return {"aliases": db.scalar("SELECT count(*) FROM alias_links")}


def _write_aliases(db: _Task, path: Path) -> None:
    """One row per surface, sorted by surface (code point order), targets by count then
    title.  A sort (which spills) streamed through Python and grouped there: DuckDB's
    ordered ``list()`` aggregates cannot spill.  The join comes first, on its own: a join
    and a sort in one query need more pinned memory."""
    db.sql("""CREATE TABLE alias_rows AS SELECT c.surface, c.target, c.count, l.link
        FROM alias_counts c JOIN alias_links l USING (surface)""")
    rows = db.rows("SELECT * FROM alias_rows ORDER BY surface, count DESC, target")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{uuid.uuid4().hex[:8]}-{path.name}")  # still .gz: compressed
    current, targets, link = None, {}, None
    with JsonlWriter(staging) as out:
        for surface, target, count, surface_link in rows:
            if surface != current:
                if current is not None:
                    out.write({"alias": current, "targets": targets, "link": link})
                current, targets, link = surface, {}, surface_link
            targets[target] = count
        if current is not None:
            out.write({"alias": current, "targets": targets, "link": link})
    os.replace(staging, path)


ALIASES = "aliases"  # the build output the surfaces stage writes

STAGES = {"shuffle": _shuffle, "dedupe": _dedupe, "direct": _direct, "chains": _chains,
          "titles": _titles, "surfaces": _surfaces}  # in the order they run
