"""The hand audit of mentions that are not wikilinks (#16, item 8): ``title`` mentions (the
page's own title, bold lead names, redirect names), ``alias`` mentions (an anchor text of
the page reused unlinked) and ``ner`` mentions the alias table linked to an article.

A plain wikilink is the editor's own claim; these three are the build's guesses, so their
precision is what the audit measures.  The sample is drawn from a build's
``sentences.jsonl.gz`` with a fixed seed, stratified by source (equal shares, the
remainder to the first strata), so that each kind is judged on about a third of it, and
written as a judging sheet: one row per mention, the sentence with the span marked
``⟦…⟧``, the target, and empty ``verdict``/``reason`` columns to fill by hand.

    .venv/bin/python bench/audit/mentions.py sample BUILD --seed 16 --n 100 --out SHEET
    .venv/bin/python bench/audit/mentions.py carry BUILD --sheet SHEET --out NEW_SHEET
        the same mentions looked up in another build (after a fix): a verdict is carried
        over where the mention is unchanged; a changed or vanished one is marked so
    .venv/bin/python bench/audit/mentions.py score SHEET [--build BUILD]
        precision per source, pooled and weighted by each source's share in BUILD

``verdict`` is ``ok`` (the target is what the text refers to) or ``wrong``; after a fix a
row may read ``gone`` (the build no longer makes that mention: not counted).
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
from collections import Counter
from pathlib import Path

from common.jsonl import read_output

SOURCES = ("title", "alias", "ner")
COLUMNS = ["n", "source", "page", "sentence_id", "start", "end", "surface", "target",
           "sentence", "verdict", "reason"]
log = logging.getLogger("audit.mentions")


def guessed_mentions(build: Path):
    """``(source, sentence record, mention)`` of every non-wikilink mention with a target,
    in file order (so that a seed draws the same sample from the same build)."""
    for record in read_output(build, "sentences"):
        for mention in record["mentions"]:
            if mention["source"] in SOURCES and mention["title"] is not None:
                yield mention["source"], record, mention


def _marked(text: str, start: int, end: int) -> str:
    """The sentence with the mention between ⟦⟧, on one line (a TSV cell)."""
    marked = f"{text[:start]}⟦{text[start:end]}⟧{text[end:]}"
    return " ".join(marked.split())


def _row(source: str, record: dict, mention: dict) -> dict:
    return {"source": source, "page": record["page"], "sentence_id": record["id"],
            "start": mention["start"], "end": mention["end"], "surface": mention["surface"],
            "target": mention["title"],
            "sentence": _marked(record["text"], mention["start"], mention["end"]),
            "verdict": "", "reason": ""}


def sample(build: Path, seed: int, n: int) -> list[dict]:
    """``n`` mentions, stratified by source: each source's share drawn without replacement
    from all of its mentions with ``random.Random(seed)``."""
    by_source: dict[str, list[dict]] = {source: [] for source in SOURCES}
    for source, record, mention in guessed_mentions(build):
        by_source[source].append(_row(source, record, mention))
    rng = random.Random(seed)
    rows = []
    for i, source in enumerate(SOURCES):
        share = n // len(SOURCES) + (i < n % len(SOURCES))
        rows += rng.sample(by_source[source], share)
    for number, row in enumerate(rows, 1):
        row["n"] = number
    return rows


def _key(row: dict) -> tuple:
    return row["page"], row["sentence"].replace("⟦", "").replace("⟧", ""), int(row["start"])


def carry(build: Path, sheet: list[dict]) -> list[dict]:
    """The sheet's mentions as ``build`` makes them now: the verdict kept where source,
    span and target are unchanged, ``gone`` where the build makes no mention there, and
    left empty (to judge again) where the target or source changed."""
    now = {}
    for source, record, mention in guessed_mentions(build):
        row = _row(source, record, mention)
        now[_key(row)] = row
    out = []
    for old in sheet:
        new = now.get(_key(old))
        if new is None:
            row = dict(old, verdict="gone", reason="no longer a mention with a target (was "
                                                  f"{old['verdict']}: {old['reason']})")
        elif (new["source"], new["end"], new["target"]) == (
                old["source"], int(old["end"]), old["target"]):
            row = dict(old)
        else:
            row = dict(new, n=old["n"], verdict="",
                       reason=f"changed from {old['target']} ({old['verdict']})")
        out.append(row)
    return out


def source_shares(build: Path) -> Counter:
    return Counter(source for source, _, _ in guessed_mentions(build))


def score(sheet: list[dict], shares: Counter | None) -> list[str]:
    """Lines of figures: per source, pooled over the sheet, and (with ``shares``) weighted
    by each source's share of the build's guessed mentions."""
    lines, weighted, total = [], 0.0, sum((shares or {}).values())
    judged = [row for row in sheet if row["verdict"] in ("ok", "wrong")]
    unjudged = [row["n"] for row in sheet if row["verdict"] not in ("ok", "wrong", "gone")]
    if unjudged:
        lines.append(f"unjudged rows: {unjudged}")
    for source in SOURCES:
        rows = [row for row in judged if row["source"] == source]
        ok = sum(row["verdict"] == "ok" for row in rows)
        if rows:
            lines.append(f"{source:6} {ok:3} / {len(rows):3} = {ok / len(rows):6.1%}")
            if shares:
                weighted += shares[source] / total * ok / len(rows)
    ok = sum(row["verdict"] == "ok" for row in judged)
    lines.append(f"all    {ok:3} / {len(judged):3} = {ok / max(len(judged), 1):6.1%}")
    if shares:
        lines.append(f"weighted by the build's shares {dict(shares)}: {weighted:.1%}")
    return lines


def read_sheet(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def write_sheet(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    log.info("wrote %d rows to %s", len(rows), path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    draw = sub.add_parser("sample")
    draw.add_argument("build", type=Path)
    draw.add_argument("--seed", type=int, required=True)
    draw.add_argument("--n", type=int, default=100)
    draw.add_argument("--out", type=Path, required=True)
    again = sub.add_parser("carry")
    again.add_argument("build", type=Path)
    again.add_argument("--sheet", type=Path, required=True)
    again.add_argument("--out", type=Path, required=True)
    figures = sub.add_parser("score")
    figures.add_argument("sheet", type=Path)
    figures.add_argument("--build", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "sample":
        write_sheet(args.out, sample(args.build, args.seed, args.n))
    elif args.command == "carry":
        write_sheet(args.out, carry(args.build, read_sheet(args.sheet)))
    else:
        shares = source_shares(args.build) if args.build else None
        for line in score(read_sheet(args.sheet), shares):
            log.info("%s", line)


if __name__ == "__main__":
    main()
