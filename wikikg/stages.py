"""The stages as Python calls, for the CLI and the pipeline alike, and the files each one
hands the next.

A command that is one stage calls that stage's library directly
(:func:`fusion.datasets.build_re_dataset`, :func:`kg.embedding.pipeline`,
:func:`fusion.train.train`). What joins two stages lives here, once: ``build`` is the
extraction *and* its graph in one directory that appears whole, and the ``*_files``
functions name what a stage leaves for the next, from the constants of the stage that
writes them (the pipeline hashes them to decide what to rerun).
"""

from __future__ import annotations

import os
from pathlib import Path

from extraction.build import BuildOptions
from kg.iri import DEFAULT_BASE


def build(dumps: list[str | os.PathLike], out: str | os.PathLike,
          options: BuildOptions | None = None, base_iri: str = DEFAULT_BASE) -> dict:
    """``wikikg build``: extract the dumps, then assemble the RDF graph (``store/``,
    ``graph.nt.gz``, ``kg.json``) in the same temporary directory, swapped into place only
    when both succeeded; the graph's counts are in the stats under ``graph``."""
    from extraction.build import build as extract
    from kg import assemble

    return extract(dumps, out, options, finalize=lambda work: {"graph": assemble(work, base_iri)})


def build_files(directory: Path) -> list[Path]:
    """What a build hands the dataset and embedding stages."""
    from extraction.chunk import OUTPUTS
    from kg.store import GRAPH_FILE, META

    return [directory / name for name in OUTPUTS] + [directory / GRAPH_FILE,
                                                                  directory / META]


def re_dataset_files(directory: Path) -> list[Path]:
    from fusion.datasets.schema import HELDOUT_FILE, SPLITS

    return [directory / f"{split}.jsonl" for split in SPLITS] + [directory / HELDOUT_FILE]


def embedding_files(directory: Path) -> list[Path]:
    from kg.embedding.store import ENTITY_FILES, METRICS_FILE

    return [directory / ENTITY_FILES[0], directory / METRICS_FILE]


def run_files(directory: Path) -> list[Path]:
    from fusion.config import METRICS_NAME
    from fusion.model import WEIGHTS_NAME

    return [directory / METRICS_NAME, directory / WEIGHTS_NAME]
