"""``wikikg pipeline``: dump -> graph -> RE set -> embeddings -> none vs layer -> report.

Each stage declares its inputs (files and upstream stages), its options and its outputs.
``DIR/manifest.json`` records, per stage, a content hash of its inputs, options and
outputs.  A stage is skipped when all three still match; it runs again when its inputs or
options changed, when its outputs are missing or were altered, or when a stage it depends
on ran again in this run (so its dependants follow, as with make).  ``force`` reruns all.

Order: the RE set comes before the embeddings because its dev/test triples are held out
of the encoder's training graph (no label leakage into the entity vectors).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from common.atomic import atomic_file
from common.settings import defaults, read_file

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_HASH_WHOLE_FILE_UP_TO = 256 << 20


PIPELINE_DEFAULTS = "pipeline.toml"  # package data of wikikg
# TrainConfig fields the pipeline sets itself for each run
_PIPELINE_SET = {"data", "out", "task", "fusion", "kg", "embeddings", "resume", "progress"}


def default_config() -> dict:
    """Every section's settings: the stage's dataclass defaults, then the pipeline's own
    (``wikikg/pipeline.toml``)."""
    from fusion.config import TrainConfig
    from fusion.datasets import DistantConfig
    from kg.embedding.config import EmbedConfig

    config = {"build": {}, "dataset": defaults(DistantConfig), "embed": defaults(EmbedConfig),
              "train": {k: v for k, v in defaults(TrainConfig).items() if k not in _PIPELINE_SET}}
    with resources.as_file(resources.files("wikikg") / PIPELINE_DEFAULTS) as path:
        pipeline_defaults = read_file(path)
    for section, values in pipeline_defaults.items():
        config[section].update(values)
    return config


def load_config(path: str | os.PathLike | None, overrides: dict[str, dict]) -> dict:
    """Defaults, then the TOML file, then the CLI overrides (``None`` values ignored)."""
    config = default_config()
    if path:
        data = read_file(path)
        for section, values in data.items():
            if section not in config:
                raise ValueError(f"{path}: unknown section [{section}]")
            unknown = set(values) - set(config[section])
            if unknown:
                raise ValueError(f"{path}: unknown key(s) in [{section}]: {sorted(unknown)}")
            config[section].update(values)
    for section, values in overrides.items():
        config[section].update({k: v for k, v in values.items() if v is not None})
    return config


def hash_paths(paths: Iterable[Path]) -> str:
    """Content hash of files and directory trees (names + bytes; huge files by size+mtime)."""
    digest = hashlib.sha256()
    for root in sorted(Path(p) for p in paths):
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if not path.is_file():
                continue
            digest.update(str(path.relative_to(root.parent)).encode())
            stat = path.stat()
            if stat.st_size > _HASH_WHOLE_FILE_UP_TO:
                digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
                continue
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def hash_options(options: dict) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Stage:
    """A unit of work: ``run()`` turns ``inputs`` into ``outputs`` under ``options``."""

    name: str
    run: Callable[[], dict | None]
    inputs: list[Path]
    outputs: list[Path]
    options: dict
    after: list[str] = field(default_factory=list)


class Pipeline:
    def __init__(self, directory: Path, stages: list[Stage], force: bool = False):
        self.directory = directory
        self.stages = stages
        self.force = force
        self.manifest_path = directory / MANIFEST
        self.manifest = (json.loads(self.manifest_path.read_text())
                         if self.manifest_path.exists() else {})

    def _record(self, stage: Stage) -> dict:
        return {"inputs": hash_paths(stage.inputs), "options": hash_options(stage.options),
                "outputs": hash_paths(stage.outputs)}

    def _current(self, stage: Stage) -> str | None:
        """Why the stage must run, or None when its recorded state still holds."""
        if self.force:
            return "forced"
        recorded = self.manifest.get(stage.name)
        if recorded is None:
            return "never run"
        if not all(p.exists() for p in stage.outputs):
            return "outputs missing"
        now = self._record(stage)
        for key in ("options", "inputs", "outputs"):
            if recorded.get(key) != now[key]:
                return f"{key} changed"
        return None

    def run(self) -> dict[str, str]:
        """Run or skip every stage in order; returns ``{stage: 'ran: why' | 'skipped'}``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        done: dict[str, str] = {}
        for stage in self.stages:
            reason = self._current(stage)
            upstream = [name for name in stage.after if done.get(name, "").startswith("ran")]
            if reason is None and upstream:
                reason = f"upstream {', '.join(upstream)} ran"
            if reason is None:
                done[stage.name] = "skipped"
                log.info("stage %-12s skipped (up to date)", stage.name)
                continue
            log.info("stage %-12s running (%s)", stage.name, reason)
            started = time.perf_counter()
            details = stage.run() or {}
            record = self._record(stage)
            record.update(seconds=round(time.perf_counter() - started, 1), details=details)
            self.manifest[stage.name] = record
            self._save()
            done[stage.name] = f"ran: {reason}"
        return done

    def _save(self) -> None:
        with atomic_file(self.manifest_path) as tmp:
            tmp.write_text(json.dumps(self.manifest, indent=2, default=str) + "\n")


def build_stages(config: dict, out: Path, progress: bool = True) -> list[Stage]:
    """The default job's stages over ``out``: graph/, dataset-re/, embeddings, runs/, report."""
    from fusion.datasets.schema import HELDOUT_FILE
    from kg.store import GRAPH_FILE
    from wikikg.defaults import default_dump
    from wikikg.stages import build_files, embedding_files, re_dataset_files, run_files

    b, d, e, t = config["build"], config["dataset"], config["embed"], config["train"]
    dumps = [Path(p) for p in b["dumps"]] or [default_dump()]
    graph, data, runs = out / "graph", out / "dataset-re", out / "runs"
    embeddings = graph / "embeddings" / e["model"]
    examples = re_dataset_files(data)[:-1]  # the split files, without the held-out triples
    stages = [
        Stage("build", lambda: _build(dumps, graph, b, progress), dumps, build_files(graph), b),
        Stage("dataset", lambda: _dataset(graph, data, d), build_files(graph),
              re_dataset_files(data), d, after=["build"]),
        Stage("embed", lambda: _embed(graph, data / HELDOUT_FILE, e, progress),
              [graph / GRAPH_FILE, data / HELDOUT_FILE], embedding_files(embeddings), e,
              after=["build", "dataset"]),
    ]
    for fusion in t["fusions"]:
        run_dir = runs / fusion
        options = {**t, "fusion": fusion, "fusions": None}
        inputs = list(examples)
        after = ["dataset"]
        if fusion != "none":
            inputs.append(embedding_files(embeddings)[0])
            after.append("embed")
        stages.append(Stage(f"train-{fusion}",
                            _trainer(data, run_dir, graph, e["model"], options, progress),
                            inputs, run_files(run_dir), options, after=after))
    trained = [s.name for s in stages if s.name.startswith("train-")]
    stages.append(Stage("report", lambda: _report(out, graph, data, embeddings, runs, t["fusions"]),
                        [s for stage in stages for s in stage.outputs],
                        [out / "report.md", out / "report.html"], {"fusions": t["fusions"]},
                        after=["build", "dataset", "embed", *trained]))
    return stages


def _build(dumps: list[Path], graph: Path, options: dict, progress: bool) -> dict:
    from extraction.build import BuildOptions
    from wikikg.stages import build

    build_options = BuildOptions(workers=options["workers"], limit_pages=options["limit_pages"] or None,
                                 ner=options["ner"], splitter=options["splitter"],
                                 progress=progress)
    stats = build(dumps, graph, build_options, options["base_iri"])
    return {k: stats[k] for k in ("pages", "articles", "facts", "sentences", "errors")}


def _dataset(graph: Path, data: Path, options: dict) -> dict:
    from fusion.datasets import DistantConfig, build_re_dataset

    stats = build_re_dataset(graph, data, DistantConfig(**options))
    return {"splits": stats["splits"], "relations": len(stats["relations"])}


def _embed(graph: Path, holdout: Path, options: dict, progress: bool) -> dict:
    from kg.embedding import EmbedConfig, pipeline

    config = EmbedConfig(**options)
    pipeline(graph, config, holdout=holdout, name=options["model"], progress=progress)
    from kg.embedding.store import METRICS_FILE

    metrics = json.loads((graph / "embeddings" / options["model"] / METRICS_FILE).read_text())
    return {"test": metrics.get("test")}


def _trainer(data: Path, run: Path, graph: Path, embeddings: str, options: dict, progress: bool):
    def run_stage() -> dict:
        import shutil

        from fusion.train import TrainConfig, train

        shutil.rmtree(run, ignore_errors=True)
        fused = options["fusion"] != "none"
        passed = {k: v for k, v in options.items() if k not in _PIPELINE_SET | {"fusions"}}
        metrics = train(TrainConfig(
            **{**passed, "max_steps": options["max_steps"] or None},
            data=str(data), out=str(run), task="re", fusion=options["fusion"],
            kg=str(graph) if fused else None, embeddings=embeddings if fused else None,
            progress=progress))
        return {"test_micro_f1": metrics["test"]["micro_f1"], "steps": metrics["steps"]}
    return run_stage


def _report(out: Path, graph: Path, data: Path, embeddings: Path, runs: Path,
            fusions: list[str]) -> dict:
    from wikikg.report import write_report

    return write_report(out, graph, data, embeddings, runs, fusions)


def run_pipeline(config: dict, out: str | os.PathLike, force: bool = False,
                 progress: bool = True) -> dict[str, str]:
    out = Path(out)
    return Pipeline(out, build_stages(config, out, progress), force).run()
