"""The hand audit of infobox facts (#16): the articles of ``articles.tsv`` (chosen before any
fix), every fact the extraction gives them judged by hand against the wikitext.

Two files hold the judgements, so that the figures can be re-checked and re-computed:

- ``facts-STAGE.tsv``: one row per fact (article, infobox, raw key, kind, value), with a
  verdict (``ok`` / ``wrong``) and, for a wrong one, its failure class;
- ``params.tsv``: one row per infobox parameter, ``real`` = ``y`` when it holds a value a
  reader would want as a fact (not empty, not a file, its size or caption, not a layout
  switch), for recall.

    .venv/bin/python bench/audit/audit.py facts STAGE [--from OLD_STAGE]
        (re)writes facts-STAGE.tsv from the current code; verdicts of facts already judged
        in facts-OLD_STAGE.tsv are carried over, new facts are left for a hand verdict
    .venv/bin/python bench/audit/audit.py params    adds unjudged parameters to params.tsv
    .venv/bin/python bench/audit/audit.py score STAGE   precision, recall, per article

``--set fresh`` does the same for ``articles-fresh.tsv``: articles judged only after the
fixes, which none of them was informed by.
"""

from __future__ import annotations

import argparse
import csv
import logging
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import mwparserfromhell  # noqa: E402

from extraction.dump import DumpReader  # noqa: E402
from extraction.infobox import INFOBOX_NAME, find_infoboxes, infobox_facts  # noqa: E402
from extraction.titles import TitleNormalizer  # noqa: E402
from extraction.wikitext import strip_noise, template_name  # noqa: E402

SHARED = HERE.parents[2] / "shared" / "data" / "dumps"
FACT_COLUMNS = ["article", "infobox", "raw_key", "kind", "value", "verdict", "class", "note"]
PARAM_COLUMNS = ["article", "infobox", "raw_key", "raw_value", "real", "note"]
log = logging.getLogger("audit")


SET = ""  # "" for the audit's articles, "fresh" for those judged after the fixes


def _path(stem: str, stage: str | None = None) -> Path:
    """``articles.tsv``, ``facts-after.tsv``; ``articles-fresh.tsv``, ``facts-fresh-after.tsv``."""
    return HERE / ("-".join(part for part in (stem, SET, stage) if part) + ".tsv")


def articles() -> list[dict]:
    with _path("articles").open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def dump_language(dump: str) -> str:
    """The language of a dump of the shared data, by its name: DBpedia's minidumps carry
    English siteinfo whatever their language, so the name is the only witness
    (``dbpedia-minidumps/fr.xml.bz2``, ``dbpedia-mini-frwiki.xml.bz2``, ``bgwiki-sample``)."""
    stem = Path(dump).name.split(".")[0]
    if Path(dump).parent.name == "dbpedia-minidumps":
        return stem
    match = re.search(r"(?:^|-)([a-z]{2,3})wiki(?:$|-)", stem)
    return match.group(1) if match else "en"


def pages(rows: list[dict]):
    """``(label, page, titles, lang)`` of each audited article, read from its dump."""
    wanted = defaultdict(set)
    for row in rows:
        wanted[row["dump"]].add(row["title"])
    for dump, titles in wanted.items():
        reader = DumpReader(SHARED / dump)
        lang = dump_language(dump)
        for page in reader:
            if page.ns == 0 and page.title in titles:
                yield f"{lang}:{page.title}", page, TitleNormalizer(reader.siteinfo), lang


def _show(value) -> str:
    text = value.value + (f" [{value.unit}]" if value.unit else "")
    return text + (f" ^^{value.datatype}" if value.datatype else "")


def read_tsv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE,
                                   quotechar=None))


def write_tsv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, delimiter="\t", quoting=csv.QUOTE_NONE,
                                quotechar=None, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in columns} for row in rows)


def _flat(text: str) -> str:
    """One line without tabs: the TSV files need no quoting or escaping."""
    return " ".join(text.split())


def _fact_id(row: dict) -> tuple:
    return row["article"], row["infobox"], row["raw_key"], row["kind"], row["value"]


def facts(stage: str, old: str | None) -> None:
    judged = {}
    for row in read_tsv(_path("facts", old or stage)):
        # of identical facts (a value repeated in one parameter), one right is enough: the
        # others were judged as duplicates, or wrong where the same value was wrong there
        if _fact_id(row) not in judged or row["verdict"] == "ok":
            judged[_fact_id(row)] = row
    rows = []
    for label, page, titles, lang in pages(articles()):
        _, found = infobox_facts(page.title, page.id, page.text, titles, lang)
        for fact in found:
            row = {"article": label, "infobox": fact.infobox, "raw_key": _flat(fact.raw_property),
                   "kind": fact.value.kind, "value": _flat(_show(fact.value))}
            previous = judged.get(_fact_id(row), {})
            rows.append({**row, **{k: previous.get(k, "") for k in ("verdict", "class", "note")}})
    write_tsv(_path("facts", stage), FACT_COLUMNS, rows)
    log.info("%d facts, %d to judge", len(rows), sum(not r["verdict"] for r in rows))


def params() -> None:
    path = _path("params")
    rows = read_tsv(path)
    known = {(r["article"], r["infobox"], r["raw_key"]) for r in rows}
    for label, page, _, _ in pages(articles()):
        for name, template in _infobox_templates(page.text):
            for param in template.params:
                key = (label, name, _flat(str(param.name)))
                if param.showkey and key not in known:
                    known.add(key)
                    raw = _flat(str(param.value))
                    rows.append({"article": label, "infobox": name, "raw_key": key[2],
                                 "raw_value": raw[:300], "real": "" if raw else "n"})
    write_tsv(path, PARAM_COLUMNS, rows)


def _infobox_templates(wikitext: str):
    """Each infobox and the infoboxes embedded in its parameters (``{{Infobox officeholder
    |embed=yes …}}`` inside a parameter of another): their parameters are the page's too."""
    for name, text in find_infoboxes(wikitext):
        outer = mwparserfromhell.parse(strip_noise(text)).filter_templates(recursive=False)[0]
        yield name, outer
        for inner in mwparserfromhell.parse(str(outer)).filter_templates(recursive=True)[1:]:
            inner_name = template_name(str(inner.name))
            if INFOBOX_NAME.match(inner_name):
                yield inner_name, inner


def score(stage: str) -> None:
    fact_rows = read_tsv(_path("facts", stage))
    param_rows = [r for r in read_tsv(_path("params")) if r["real"] == "y"]
    unjudged = [r for r in fact_rows if r["verdict"] not in ("ok", "wrong")]
    if unjudged:
        sys.exit(f"{len(unjudged)} facts without a verdict, e.g. {unjudged[0]}")
    ok_keys = {(r["article"], r["infobox"], r["raw_key"]) for r in fact_rows if r["verdict"] == "ok"}
    per = defaultdict(Counter)
    for row in fact_rows:
        per[row["article"]]["facts"] += 1
        per[row["article"]]["ok"] += row["verdict"] == "ok"
    for row in param_rows:
        per[row["article"]]["params"] += 1
        per[row["article"]]["recalled"] += (row["article"], row["infobox"], row["raw_key"]) in ok_keys
    print("| article | facts | correct | precision | parameters with a value | "
          "with a correct fact | recall |")
    print("|---|---|---|---|---|---|---|")
    total = Counter()
    for article, counts in per.items():
        total.update(counts)
        print(_line(article, counts))
    print(_line("**all**", total))
    classes = Counter(r["class"] for r in fact_rows if r["verdict"] == "wrong")
    missed = Counter(r["note"].split(":")[0] or "?" for r in param_rows
                     if (r["article"], r["infobox"], r["raw_key"]) not in ok_keys)
    print("\nwrong facts by class:", dict(classes.most_common()))
    print("missed parameters by class:", dict(missed.most_common()))


def _line(article: str, c: Counter) -> str:
    return (f"| {article} | {c['facts']} | {c['ok']} | {c['ok'] / max(c['facts'], 1):.1%} | "
            f"{c['params']} | {c['recalled']} | {c['recalled'] / max(c['params'], 1):.1%} |")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("extraction").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["facts", "params", "score"])
    parser.add_argument("stage", nargs="?", default="before")
    parser.add_argument("--from", dest="old")
    parser.add_argument("--set", default="", help="fresh: the articles judged after the fixes")
    args = parser.parse_args()
    global SET
    SET = args.set
    if args.command == "facts":
        facts(args.stage, args.old)
    elif args.command == "params":
        params()
    else:
        score(args.stage)


if __name__ == "__main__":
    main()
