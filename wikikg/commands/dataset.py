"""``wikikg dataset …``: RE and NER sets from a build, FewRel and CoNLL importers, statistics."""

from __future__ import annotations

from pathlib import Path

import click

from kg.iri import DEFAULT_BASE
from wikikg.commands import WikikgError, report_splits
from wikikg.options import out_of_core_options


@click.group(epilog="""
\b
Examples:
  wikikg dataset re out/sample --out out/sample-re
  wikikg dataset fewrel ../shared/data/re/fewrel/val_wiki.json --out out/fewrel \\
      --entity-map ../shared/data/kg/FB15k-237/entity2wikidata.json
  wikikg dataset stats out/fewrel --kg out/fb15k
  wikikg dataset validate out/my-converted-set
""")
def dataset():
    """Build or import relation-extraction and NER training sets."""


@dataset.command("re")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--negative-ratio", default=1.0, show_default=True, type=click.FloatRange(0),
              help="no_relation examples kept per positive example.")
@click.option("--min-examples", default=5, show_default=True, type=click.IntRange(1),
              help="Relations with fewer examples are dropped.")
@click.option("--seed", default=13, show_default=True)
@out_of_core_options
def dataset_re(directory, out, negative_ratio, min_examples, seed, memory_limit, tmp_dir):
    """Distantly supervised relation extraction from a build DIRECTORY (sentences + graph)."""
    from common.duck import DatabaseError
    from fusion.datasets import DistantConfig, build_re_dataset
    from kg import GraphError

    config = DistantConfig(negative_ratio=negative_ratio, min_examples=min_examples, seed=seed)
    try:
        stats = build_re_dataset(directory, out, config, memory_limit, tmp_dir)
    except (FileNotFoundError, GraphError, DatabaseError) as exc:
        raise WikikgError(str(exc)) from exc
    report_splits(stats, out)


@dataset.command("ner")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--max-unlinked-capitals", default=0, show_default=True, type=click.IntRange(0),
              help="Capitalised tokens outside mentions a kept sentence may have.")
@click.option("--seed", default=13, show_default=True)
@out_of_core_options
def dataset_ner(directory, out, max_unlinked_capitals, seed, memory_limit, tmp_dir):
    """Distantly supervised NER (BIO) from a build DIRECTORY's linked mentions."""
    from common.duck import DatabaseError
    from fusion.datasets import NERConfig, build_ner_dataset

    config = NERConfig(max_unlinked_capitals=max_unlinked_capitals, seed=seed)
    try:
        stats = build_ner_dataset(directory, out, config, memory_limit=memory_limit,
                                  tmp_dir=tmp_dir)
    except (FileNotFoundError, DatabaseError) as exc:
        raise WikikgError(str(exc)) from exc
    report_splits(stats, out)


@dataset.command("fewrel")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--entity-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Wikidata id -> graph IRI: entity2wikidata.json or QID<TAB>IRI lines.")
@click.option("--pid-names", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="pid2name.json (default: beside FILE).")
@click.option("--base-iri", default=DEFAULT_BASE, show_default=True)
@click.option("--seed", default=13, show_default=True)
@click.option("--types/--no-types", default=True, show_default=True,
              help="Type head and tail (PER/ORG/LOC/MISC) with spaCy's NER, for the typed "
                   "entity markers.")
def dataset_fewrel(file, out, entity_map, pid_names, base_iri, seed, types):
    """Import FewRel 1.0 (tokens, Wikidata-linked head/tail) with a 70/10/20 split."""
    import json

    from fusion.datasets import FewRelConfig, import_fewrel, load_entity_map, write_re_dataset

    mapping = load_entity_map(entity_map, base_iri) if entity_map else {}
    examples, counts = import_fewrel(file, mapping, FewRelConfig(seed=seed, types=types))
    pid_names = pid_names or file.parent / "pid2name.json"
    names = ({pid: value[0] for pid, value in json.loads(pid_names.read_text()).items()}
             if pid_names.exists() else None)
    stats = write_re_dataset(out, examples, {"kind": "re", "source": "fewrel", **counts},
                             names=names)
    click.echo(f"read {counts['read']}, kept {counts['kept']}, skipped {counts['skipped']}; "
               f"head or tail linked: {counts['linked_head_or_tail']}; typed spans: "
               f"{counts['typed_spans']}", err=True)
    report_splits(stats, out)


@dataset.command("conll")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--keep-prefix", is_flag=True, help="Keep a `xx:` language prefix on tokens.")
@click.option("--link-aliases", type=click.Path(exists=True, path_type=Path),
              help="Link entities for fusion: the longest matches of this alias table (a "
                   "build directory's aliases, or FB15k-237's entity2wikidata.json names).")
@click.option("--base-iri", default=DEFAULT_BASE, show_default=True,
              help="The IRIs of entity2wikidata.json's entities (as `wikikg import` named them).")
@out_of_core_options
def dataset_conll(files, out, keep_prefix, link_aliases, base_iri, memory_limit, tmp_dir):
    """Import CoNLL/IOB2 files named train/dev/test (e.g. WikiANN) into the NER schema."""
    from fusion.datasets import read_conll, write_ner_dataset
    from fusion.datasets.linking import link_examples

    examples, totals = {}, {}
    for path in files:
        split = {"valid": "dev", "validation": "dev"}.get(path.stem, path.stem)
        if split not in ("train", "dev", "test"):
            raise click.UsageError(f"{path}: name it train, dev (or valid) or test")
        examples[split], counts = read_conll(path, strip_prefix=not keep_prefix)
        totals[split] = counts
        click.echo(f"{path}: read {counts['lines_read']} lines, kept {counts['tokens_kept']}, "
                   f"skipped {counts['lines_skipped']}; {counts['sentences']} sentences", err=True)
    stats = {"kind": "ner", "source": "conll", "files": totals}
    if link_aliases:
        stats["links"] = link_examples((e for split in examples.values() for e in split),
                                       link_aliases, base_iri, memory_limit, tmp_dir)
        click.echo(f"linked {stats['links']['links']} mentions in "
                   f"{stats['links']['sentences_linked']} of {stats['links']['sentences']} "
                   "sentences", err=True)
    report_splits(write_ner_dataset(out, examples, stats), out)


@dataset.command("stats")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--kg", "kg_dir", type=click.Path(path_type=Path),
              help="Graph directory to check head/tail entities against.")
def dataset_stats_cmd(data, kg_dir):
    """Per-label counts, lengths and entity coverage of DATA; writes a PNG bar chart."""
    from fusion.datasets import dataset_stats
    from fusion.datasets.stats import print_table
    from kg import GraphError, KnowledgeGraph

    try:
        graph = KnowledgeGraph.open(kg_dir) if kg_dir else None
        click.echo(print_table(dataset_stats(data, graph)))
    except (FileNotFoundError, GraphError) as exc:
        raise WikikgError(str(exc)) from exc


@dataset.command("validate")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
def dataset_validate(data):
    """Check every record of the RE or NER set in DATA against docs/formats.md: one line per
    problem (FILE:LINE: FIELD: what is wrong), exit 1 if there is any.

    `wikikg train` makes the same checks and stops at the first problem.
    """
    from fusion.datasets.validate import DatasetError, validate_dataset

    records = bad = problems = 0
    try:
        for found in validate_dataset(data):
            records += 1
            bad += bool(found)
            problems += len(found)
            for problem in found:
                click.echo(str(problem))
    except DatasetError as exc:
        raise WikikgError(str(exc)) from exc
    if problems:
        raise WikikgError(f"{data}: {problems} problems in {bad} of {records} records")
    click.echo(f"{data}: {records} records, all valid", err=True)
