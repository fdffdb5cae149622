"""Extraction quality figures that need no hand judgement, measured on the shared dumps.

- sentences of the sample without end punctuation (``.!?`` and the CJK and Devanagari
  stops, closing quotes and brackets allowed): a sentence cut at a newline or a list
  lead-in;
- mentions of the sample by source (``wikilink``, ``title``, ``alias``);
- the DBpedia minidump languages (one Berlin article each) whose article gives infobox
  facts, and the sentences of the zh / ja / hi articles;
- WikiANN-en dev linked to FB15k-237 by name (``wikikg dataset conll --link-aliases``):
  links, and how many are exactly a gold entity span.

    .venv/bin/python bench/bench_quality.py
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SHARED, machine, table, write_section  # noqa: E402

from common.jsonl import read_jsonl, read_output  # noqa: E402
from extraction.build import BuildOptions, build  # noqa: E402
from extraction.dump import DumpReader  # noqa: E402
from extraction.infobox import infobox_facts  # noqa: E402
from extraction.page import ExtractionConfig, extract_page  # noqa: E402
from extraction.titles import TitleNormalizer  # noqa: E402

ENDED = re.compile(r"[.!?。！？।][\"'”’)\]」』）]*$")


def sample_sentences(tmp: Path) -> list[list[str]]:
    out = tmp / "sample"
    build([SHARED / "dumps" / "enwiki-sample.xml.bz2"], out, BuildOptions(progress=False))
    total = unended = 0
    sources: Counter = Counter()
    for sentence in read_output(out, "sentences"):
        total += 1
        unended += not ENDED.search(sentence["text"].rstrip())
        sources.update(m["source"] for m in sentence["mentions"])
    return [["sample sentences", f"{total:,}"],
            ["without end punctuation", f"{unended:,} ({unended / total:.1%})"],
            *[[f"mentions: {source}", f"{n:,}"] for source, n in sorted(sources.items())]]


def minidump_languages() -> list[list[str]]:
    languages = with_facts = 0
    for path in sorted((SHARED / "dumps" / "dbpedia-minidumps").glob("*.xml.bz2")):
        reader, facts = DumpReader(path), None
        for page in reader:
            if page.ns == 0 and not page.redirect:
                _, found = infobox_facts(page.title, page.id, page.text,
                                         TitleNormalizer(reader.siteinfo), "xx")
                facts = (facts or 0) + len(found)
        languages += facts is not None
        with_facts += bool(facts)
    rows = [["minidump languages with an article", str(languages)],
            ["... whose article gives infobox facts", str(with_facts)]]
    for lang in ("zh", "ja", "hi"):
        reader = DumpReader(SHARED / "dumps" / "dbpedia-minidumps" / f"{lang}.xml.bz2")
        count = sum(len(extract_page(page, ExtractionConfig(lang=lang)).sentences)
                    for page in reader if page.ns == 0 and not page.redirect)
        rows.append([f"sentences of the {lang} Berlin article", str(count)])
    return rows


def wikiann_links(tmp: Path) -> list[list[str]]:
    from seqeval.metrics.sequence_labeling import get_entities

    out = tmp / "wikiann"
    subprocess.run([sys.executable, "-m", "wikikg.cli", "-q", "dataset", "conll",
                    str(SHARED / "ner" / "wikiann-en" / "dev"), "--out", str(out),
                    "--link-aliases", str(SHARED / "kg" / "FB15k-237" / "entity2wikidata.json")],
                   check=True, capture_output=True)
    links = gold = exact = 0
    for example in read_jsonl(out / "dev.jsonl"):
        spans = {(start, end + 1) for _, start, end in get_entities(example["tags"])}
        gold += len(spans)
        links += len(example["links"])
        exact += sum((start, end) in spans for start, end, _ in example["links"])
    return [["WikiANN-en dev gold entity spans", f"{gold:,}"],
            ["links by FB15k-237 names", f"{links:,}"],
            ["... exactly a gold span", f"{exact:,}"]]


def main() -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = sample_sentences(tmp) + minidump_languages() + wikiann_links(tmp)
    body = ("## Extraction quality (no hand judgement)\n\n"
            f"Machine: {machine()}. Command: `.venv/bin/python bench/bench_quality.py`.\n\n"
            + table(["measure", "value"], rows))
    print(body)
    write_section("quality", body)


if __name__ == "__main__":
    main()
