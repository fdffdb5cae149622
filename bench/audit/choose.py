"""Draw a held-out set of infobox articles for the hand audit (#16) with a fixed seed.

Candidates are the articles (namespace 0, not redirects) of ``../shared/data/dumps/`` that
have an infobox by :func:`extraction.infobox.find_infoboxes`, minus every article of an
earlier audit list in this folder (``articles*.tsv``) and the articles whose infobox
wikitext a unit test already quotes (``EXCLUDED``).  A title found in several dumps is
one candidate (the first dump of ``DUMPS`` holding it).  English candidates are put in a
domain by their infobox's name (``DOMAINS``) and ``QUOTA`` are drawn from each domain;
``OTHER_LANGUAGES`` are drawn from the other languages' articles.

    .venv/bin/python bench/audit/choose.py --seed 2027 --set fresh3
        writes bench/audit/articles-fresh3.tsv (refuses to overwrite it)
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from audit import dump_language  # noqa: E402

from extraction.dump import DumpReader  # noqa: E402
from extraction.infobox import find_infoboxes  # noqa: E402

SHARED = HERE.parents[2] / "shared" / "data" / "dumps"
DUMPS = ["dbpedia-minidumps/en.xml.bz2", "enwiki-sample.xml.bz2", "enwiki-tables.xml.bz2",
         "dbpedia-mini-enwiki.xml.bz2", "dbpedia-mini-frwiki.xml.bz2"]
# articles whose infobox tests/test_text_tables.py quotes (Alabama's flag, Alberta's time zone)
EXCLUDED = {("en", "Alabama"), ("en", "Alberta")}
# infobox name (substring) -> domain; the first match wins, in this order
DOMAINS = [
    ("person", "person"), ("officeholder", "person"), ("philosopher", "person"),
    ("writer", "person"), ("scientist", "person"), ("biography", "person"),
    ("musical artist", "person"), ("taxobox", "species"), ("speciesbox", "species"),
    ("paraphyletic", "species"), ("country", "place"), ("state", "place"),
    ("settlement", "place"), ("province", "place"), ("continent", "place"),
    ("body of water", "place"), ("company", "organisation"), ("organization", "organisation"),
    ("university", "organisation"), ("football club", "organisation"),
    # ("military" also matched "infobox military conflict": American Revolutionary War was
    # drawn as an organisation in fresh3; the map is left as it drew, so the draw reproduces)
    ("military", "organisation"), ("conference", "organisation"), ("film", "work"),
    ("book", "work"), ("song", "work"), ("television", "work"), ("animanga", "work"),
    ("journal", "work"), ("document", "work"), ("publication", "work")]
QUOTA = {"person": 3, "place": 2, "organisation": 2, "work": 2, "species": 2, "other": 2}
OTHER_LANGUAGES = 2


def _domain(names: list[str]) -> str:
    for key, domain in DOMAINS:
        if any(key in name for name in names):
            return domain
    return "other"


def used() -> set[tuple[str, str]]:
    seen = set()
    for path in HERE.glob("articles*.tsv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                seen.add((dump_language(row["dump"]), row["title"]))
    return seen


def candidates():
    dumps = DUMPS + sorted(f"dbpedia-minidumps/{p.name}" for p in
                           (SHARED / "dbpedia-minidumps").glob("*.xml.bz2")
                           if p.name not in ("en.xml.bz2", "wikidata.xml.bz2"))
    seen = set()
    for dump in dumps:
        lang = dump_language(dump)
        for page in DumpReader(SHARED / dump):
            if page.ns != 0 or (lang, page.title) in seen:
                continue
            names = [name for name, _ in find_infoboxes(page.text)]
            if names and not page.text.lstrip().lower().startswith("#redirect"):
                seen.add((lang, page.title))
                yield dump, lang, page.title, sorted(set(names))


def main() -> None:
    logging.disable(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--set", required=True)
    args = parser.parse_args()
    out = HERE / f"articles-{args.set}.tsv"
    if out.exists():
        sys.exit(f"{out} exists: a drawn set is never redrawn")
    excluded = used() | EXCLUDED
    english, other = {}, []
    for dump, lang, title, names in candidates():
        if (lang, title) in excluded:
            continue
        if lang == "en":
            english.setdefault(_domain(names), []).append((dump, title, names))
        else:
            other.append((dump, title, names))
    rng = random.Random(args.seed)
    rows = []
    for domain, quota in QUOTA.items():
        pool = sorted(english.get(domain, []))
        for dump, title, names in rng.sample(pool, min(quota, len(pool))):
            rows.append((dump, title, f"{domain} ({names[0]})"))
    for dump, title, names in rng.sample(sorted(other), OTHER_LANGUAGES):
        rows.append((dump, title, f"{Path(dump).name.split('.')[0]} ({names[0]})"))
    with out.open("w", newline="") as handle:
        handle.write("dump\ttitle\ttype\n")
        handle.writelines(f"{d}\t{t}\t{k}\n" for d, t, k in rows)
    print(out.read_text(), end="")
    print({k: len(v) for k, v in english.items()}, "other languages:", len(other), file=sys.stderr)


if __name__ == "__main__":
    main()
