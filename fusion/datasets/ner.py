"""A distantly supervised NER set from a build's linked mentions.

Each linked entity's class comes from its infobox through ``infobox_classes.tsv`` (package data)
(PER / ORG / LOC / MISC).  A mention whose entity has no known class cannot be labelled,
and calling its tokens ``O`` would teach the model that names are not entities, so the
rule for ``O`` is strict: a sentence is kept only if (1) every linked mention has a class,
(2) at least one mention is labelled, and (3) at most ``max_unlinked_capitals`` capitalised
tokens outside mentions remain (the sentence's first token excepted): unlinked tokens
count as ``O`` only in sentences whose capitalised spans are (almost) all linked.
Splits are by page.  Entity links for fusion (``links``) come from an alias linker over
the raw text, never from the mentions the tags are made of (those would hand a fused model
its answers), with its alias table cross-fitted over the train pages
(:func:`train_aliases`).  Nothing is held per article or sentence (see
:func:`build_ner_dataset`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from common.duck import DEFAULT_MEMORY_LIMIT, Database, OrderedGroups, ParquetRows, parse_size
from common.jsonl import read_output
from fusion.datasets.linking import (
    ALIAS_COLUMNS,
    ALL,
    NGRAM_COLUMNS,
    UnitLinks,
    add_ngrams,
    linkable,
    match_key,
)
from fusion.datasets.schema import (
    CLASSES,
    SPLITS,
    NERExample,
    bio_tags,
    ner_dataset_writer,
    tokenize,
)
from fusion.datasets.splits import split_of, unit_hash
from kg.iri import IriScheme
from kg.store import graph_scheme

TABLE = "infobox_classes.tsv"  # package data of fusion.datasets: found in a wheel too
LINK_FOLDS = 5  # cross-fitting of the linker's alias table over the train pages


@dataclass
class NERConfig:
    max_unlinked_capitals: int = 0
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 13


class ClassTable:
    """Infobox name -> NER class, from the documented TSV table."""

    def __init__(self, path: str | os.PathLike | None = None):
        """The table at ``path``, by default the packaged one (through importlib.resources,
        so that an installed wheel finds it as a checkout does)."""
        path = Path(path) if path else resources.files("fusion.datasets") / TABLE
        self.patterns: list[tuple[str, str]] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            pattern, _, label = line.partition("\t")
            if label not in CLASSES:
                raise ValueError(f"{path}:{number}: class {label!r} is not one of {CLASSES}")
            self.patterns.append((pattern.strip().lower(), label))
        self.exact = dict(self.patterns)

    def classify(self, infobox: str) -> str | None:
        name = infobox.lower().removeprefix("infobox").strip()
        if name in self.exact:
            return self.exact[name]
        for pattern, label in self.patterns:
            if re.search(rf"(?<!\w){re.escape(pattern)}(?!\w)", name):
                return label
        return None


def write_classes(build_dir: Path, table: ClassTable, path: Path) -> int:
    """``(title, class, row)``: each article's class, from its first classifiable infobox."""
    with ParquetRows(path, {"title": "string", "class": "string", "row": "int64"}) as rows:
        for number, entity in enumerate(read_output(build_dir, "entities")):
            for infobox in entity["infoboxes"]:
                label = table.classify(infobox)
                if label:
                    rows.add((entity["title"], label, number))
                    break
    return rows.count


def add_titles(rows: ParquetRows, number: int, sentence: dict) -> None:
    """A sentence's linked titles, once each, to ``mentions.parquet`` for
    :class:`SentenceClasses`."""
    for title in {m["title"] for m in sentence["mentions"] if m["title"] is not None}:
        rows.add((number, title))


class SentenceClasses(OrderedGroups):
    """The class of each linked title of each sentence, from the join of
    ``scratch/mentions.parquet`` (:func:`add_titles`) with ``scratch/classes.parquet``
    (:func:`write_classes`), read in sentence order: :meth:`of` takes increasing numbers
    and may skip some."""

    def __init__(self, db: Database, scratch: Path):
        super().__init__(db.rows(f"""SELECT m.sentence, m.title, c.class
            FROM '{scratch}/mentions.parquet' m
            JOIN (SELECT title, arg_max(class, row) AS class FROM '{scratch}/classes.parquet'
                  GROUP BY title) c USING (title)
            ORDER BY m.sentence"""))

    def of(self, number: int) -> dict[str, str]:
        return dict(self.take(number))


def label_sentence(sentence: dict, classes: dict[str, str], config: NERConfig,
                   scheme: IriScheme | None = None, links: list | None = None
                   ) -> NERExample | None:
    """The sentence as tokens + IOB2 tags, or ``None`` when the O-rule cannot vouch for it.
    ``links`` (token ranges with IRIs) come from the alias linker
    (:mod:`fusion.datasets.linking`), never from the mentions the tags are made of."""
    entities = []
    for mention in sentence["mentions"]:
        if mention["title"] is None:
            continue
        label = classes.get(mention["title"])
        if label is None:
            return None
        entities.append((mention["start"], mention["end"], label))
    if not entities:
        return None
    text = sentence["text"]
    spans = tokenize(text)
    tags = bio_tags(spans, entities)
    unlinked = sum(1 for i, ((s, e), tag) in enumerate(zip(spans, tags))
                   if i > 0 and tag == "O" and text[s].isupper())
    if unlinked > config.max_unlinked_capitals:
        return None
    return NERExample(sentence["id"], [text[s:e] for s, e in spans], tags, text, links or [])


def link_fold(page: str, config: NERConfig) -> int:
    """A train page's fold (0 … ``LINK_FOLDS`` - 1), or ``ALL`` for a dev or test page."""
    if split_of((page,), config.fractions, config.seed) != "train":
        return ALL
    return int(unit_hash(page, "link-fold", seed=config.seed) * LINK_FOLDS)


def train_aliases(db: Database, scratch: Path) -> int:
    """``aliases.parquet`` for the linker, cross-fitted on the *train* pages' anchors (a
    surface and the entity it names more than half the time).  Dev and test sentences
    match the table of every train page (fold ``ALL``); a train sentence of fold *k* the
    table of the train pages outside fold *k*.  So no sentence is linked through its own
    anchors, which its tags are made of, and a train sentence's links are as incomplete
    as a test sentence's: the model cannot learn "linked = entity" from train alone."""
    db.sql(f"""CREATE TABLE anchor_counts AS SELECT key, iri, fold, count(*) AS n
               FROM '{scratch}/anchors.parquet' GROUP BY ALL""")
    db.sql(f"""COPY (
        WITH totals AS (SELECT key, iri, sum(n) AS n FROM anchor_counts GROUP BY ALL),
             kept AS (SELECT t.key, t.iri, f.fold, t.n - coalesce(c.n, 0) AS n
                      FROM totals t CROSS JOIN range({ALL}, {LINK_FOLDS}) AS f(fold)
                      LEFT JOIN anchor_counts c
                           ON c.key = t.key AND c.iri = t.iri AND c.fold = f.fold)
        SELECT key, arg_max(iri, n) AS iri, fold FROM kept GROUP BY key, fold
        HAVING max(n) > 0.5 * sum(n))
        TO '{scratch}/aliases.parquet' (FORMAT parquet)""")
    return db.scalar(f"SELECT count(*) FROM '{scratch}/aliases.parquet' WHERE fold = {ALL}")


def gold_links(sentence: dict, scheme: IriScheme) -> set[tuple[int, int, str]]:
    """The token ranges and IRIs of the sentence's linked mentions: what a leaking linker
    would hand the model, counted against the alias linker's links in the stats."""
    spans = tokenize(sentence["text"])
    found = set()
    for mention in sentence["mentions"]:
        if mention["title"] is not None:
            inside = [i for i, (s, e) in enumerate(spans)
                      if s >= mention["start"] and e <= mention["end"]]
            if inside:
                found.add((inside[0], inside[-1] + 1, scheme.resource(mention["title"])))
    return found


def build_ner_dataset(directory: str | os.PathLike, out: str | os.PathLike,
                      config: NERConfig | None = None, table: ClassTable | None = None,
                      memory_limit: str = DEFAULT_MEMORY_LIMIT,
                      tmp_dir: str | os.PathLike | None = None) -> dict:
    """Write the NER set of a build into ``out`` (replaced atomically).

    Nothing is held per article or sentence: the linked titles of every sentence are
    joined with the articles' classes out of core (DuckDB, under ``memory_limit``), and a
    second pass over the sentences reads each one's classes in order.
    """
    config = config or NERConfig()
    parse_size(memory_limit)  # a bad size fails now, before the passes over the sentences
    directory, out = Path(directory), Path(out)
    scheme = graph_scheme(directory)
    with tempfile.TemporaryDirectory(prefix="wikikg-ner-", dir=tmp_dir) as scratch:
        scratch = Path(scratch)
        classified = write_classes(directory, table or ClassTable(), scratch / "classes.parquet")
        with ParquetRows(scratch / "mentions.parquet", {"sentence": "int64", "title": "string"}
                         ) as rows, ParquetRows(scratch / "ngrams.parquet", NGRAM_COLUMNS) as ngrams, \
                ParquetRows(scratch / "anchors.parquet", ALIAS_COLUMNS) as anchors:
            for number, sentence in enumerate(read_output(directory, "sentences")):
                fold = link_fold(sentence["page"], config)
                for mention in sentence["mentions"]:
                    key = match_key(mention["surface"])
                    if mention["title"] is not None and fold != ALL and linkable(key):
                        anchors.add((key, scheme.resource(mention["title"]), fold))
                add_titles(rows, number, sentence)
                add_ngrams(ngrams, number, [sentence["text"][s:e] for s, e in
                                            tokenize(sentence["text"])], fold)
        with Database(scratch / "spill", memory_limit) as db, ner_dataset_writer(out) as writer:
            aliases = train_aliases(db, scratch)
            classes, links = SentenceClasses(db, scratch), UnitLinks(db, scratch)
            tags: Counter = Counter()
            agreement: dict[str, Counter] = {split: Counter() for split in SPLITS}
            seen = kept = 0
            for number, sentence in enumerate(read_output(directory, "sentences")):
                seen += 1
                example = label_sentence(sentence, classes.of(number), config, scheme,
                                         links.of(number))
                if example is None:
                    continue
                kept += 1
                tags.update(t[2:] for t in example.tags if t.startswith("B-"))
                split = split_of((sentence["page"],), config.fractions, config.seed)
                gold = gold_links(sentence, scheme)
                agreement[split].update(links=len(example.links), gold=len(gold),
                                        same=len(gold & {tuple(link) for link in example.links}))
                writer.add(split, example)
            return writer.finish({
                "kind": "ner", "source": "distant", "config": asdict(config),
                "sentences_read": seen, "sentences_kept": kept, "classified_entities": classified,
                "entities": dict(sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))),
                "links": {"source": "aliases of the train pages' anchors, cross-fitted over "
                                    f"{LINK_FOLDS} folds, longest match",
                          "aliases": aliases,
                          "agreement_with_gold_mentions": {k: dict(v) for k, v in agreement.items()}}})
