"""The reduce step: what needs the whole wiki at once, as out-of-core SQL over the parts.

Redirect chains, the alias table and the lookups each part needs are joins and group-bys
keyed by title, over tables as large as the wiki (English: ~10 M redirects, ~100 M anchor
votes).  They run in DuckDB on a database file in the spill directory, under a memory
budget (``memory_limit``): past it, DuckDB's hash joins, aggregates and sorts spill to
disk instead of growing, so no Python dict ever holds one entry per title.

Inputs are the parts' Parquet files (:mod:`extraction.chunk`).  Outputs:

- ``lookup/resolve.parquet`` (``part, title, target``): every title a part refers to that
  is a redirect, with its final article; ``lookup/names.parquet`` (``part, title,
  names``): the redirect names of each part's articles; ``lookup/surfaces.parquet``
  (``part, surface, link``): the alias table's verdict on each NER surface of a part.
  Each file is sorted by part, so a part's rows are a few row groups
  (:class:`extraction.resolve.PartLookups` reads them with a filter);
- ``aliases.jsonl.gz``, sorted by surface.
"""

from __future__ import annotations

from pathlib import Path

from common.duck import Database, parquet_glob
from common.jsonl import JsonlWriter

MAX_CHAIN = 64  # redirect hops followed before a chain counts as a cycle
MIN_SHARE = 0.5  # a surface links to its top target only above this share of its weight


class Reduction(Database):
    """The reduce step's database over the parts of ``parts``; call the steps in order."""

    def __init__(self, parts: Path, spill: Path, memory_limit: str, threads: int | None = None,
                 spill_limit: str | None = None):
        super().__init__(spill, memory_limit, threads, spill_limit)
        self.parts = Path(parts)

    def _parts(self, name: str) -> str:
        return parquet_glob(self.parts, name)

    def resolve_redirects(self) -> int:
        """Table ``resolved(source, target)``: every redirect title and the article its chain
        ends at; a chain that never ends (a cycle, or longer than ``MAX_CHAIN``) resolves to
        its own title.  Returns how many titles are caught so."""
        self.sql(f"""CREATE TABLE redirect AS
            SELECT source, arg_max(target, part::BIGINT * 4294967296 + row) AS target
            FROM {self._parts('redirects')} GROUP BY source""")
        self.sql("""CREATE TABLE resolved AS
            SELECT r.source, r.target FROM redirect r ANTI JOIN redirect s ON r.target = s.source""")
        self.sql("""CREATE TABLE frontier AS
            SELECT r.source, r.target FROM redirect r SEMI JOIN redirect s ON r.target = s.source""")
        caught = 0
        for _ in range(MAX_CHAIN):
            self.sql("""CREATE OR REPLACE TABLE frontier AS
                SELECT f.source, r.target FROM frontier f JOIN redirect r ON f.target = r.source""")
            self.sql("""INSERT INTO resolved SELECT f.source, f.source FROM frontier f
                WHERE f.target = f.source""")
            caught += self.scalar("SELECT count(*) FROM frontier WHERE target = source")
            self.sql("""INSERT INTO resolved SELECT f.source, f.target FROM frontier f
                ANTI JOIN redirect s ON f.target = s.source""")
            self.sql("""CREATE OR REPLACE TABLE frontier AS SELECT f.* FROM frontier f
                SEMI JOIN redirect s ON f.target = s.source WHERE f.target <> f.source""")
            if self.scalar("SELECT count(*) FROM frontier") == 0:
                break
        caught += self.scalar("SELECT count(*) FROM frontier")
        self.sql("INSERT INTO resolved SELECT source, source FROM frontier")
        return caught

    def build_aliases(self) -> int:
        """Table ``alias_counts(surface, target, count)`` (anchors, titles and redirect names,
        targets resolved) and ``alias_links(surface, link)``; returns the number of surfaces."""
        self.sql(f"""CREATE TABLE alias_counts AS
            SELECT surface, target, sum(weight)::BIGINT AS count FROM (
                SELECT v.surface, coalesce(m.target, v.target) AS target, v.weight
                FROM {self._parts('votes')} v LEFT JOIN resolved m ON v.target = m.source
                UNION ALL SELECT source, target, 1 FROM resolved)
            GROUP BY surface, target""")
        self.sql(f"""CREATE TABLE alias_links AS
            SELECT surface, CASE WHEN max(count) > {MIN_SHARE} * sum(count)
                                 THEN arg_max(target, count) END AS link
            FROM alias_counts GROUP BY surface""")
        return self.scalar("SELECT count(*) FROM alias_links")

    def write_lookups(self, directory: Path) -> None:
        """The per-part lookups (see the module's docstring), each sorted by part."""
        directory.mkdir(parents=True, exist_ok=True)
        refs = self._parts("refs")
        queries = {
            "resolve": f"""SELECT r.part, r.value AS title, m.target FROM {refs} r
                JOIN resolved m ON r.value = m.source
                WHERE r.kind = 'title' AND m.target <> m.source""",
            "names": f"""SELECT r.part, r.value AS title, n.names FROM {refs} r
                JOIN (SELECT target, list(source ORDER BY source) AS names FROM resolved
                      WHERE target <> source GROUP BY target) n ON r.value = n.target
                WHERE r.kind = 'article'""",
            "surfaces": f"""SELECT r.part, r.value AS surface, a.link FROM {refs} r
                JOIN alias_links a ON r.value = a.surface WHERE r.kind = 'surface'""",
        }
        for name, query in queries.items():
            self.sql(f"COPY ({query} ORDER BY part) TO '{directory / name}.parquet' (FORMAT parquet)")

    def write_aliases(self, path: Path) -> None:
        """``aliases.jsonl.gz``: one row per surface, sorted by surface (code point order),
        targets by count then title.  A sort (which spills) streamed through Python and
        grouped there: DuckDB's ordered ``list()`` aggregates cannot spill.  The join comes
        first, on its own: a join and a sort in one query need more pinned memory."""
        self.sql("""CREATE TABLE alias_rows AS SELECT c.surface, c.target, c.count, l.link
            FROM alias_counts c JOIN alias_links l USING (surface)""")
        rows = self.rows("SELECT * FROM alias_rows ORDER BY surface, count DESC, target")
        current, targets, link = None, {}, None
        with JsonlWriter(path) as out:
            for surface, target, count, surface_link in rows:
                if surface != current:
                    if current is not None:
                        out.write({"alias": current, "targets": targets, "link": link})
                    current, targets, link = surface, {}, surface_link
                targets[target] = count
            if current is not None:
                out.write({"alias": current, "targets": targets, "link": link})
