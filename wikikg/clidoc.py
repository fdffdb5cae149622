"""Write docs/cli.md from the commands' own ``--help``, so the reference cannot drift.

    python -m wikikg.clidoc > docs/cli.md        # tests/test_cli_doc.py checks it is current
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click
from click.testing import CliRunner

from wikikg.cli import main

INTRO = """\
# CLI reference

Generated with `python -m wikikg.clidoc > docs/cli.md` from `wikikg <command> --help`. Each
command is a thin layer over a library call: `build` → `extraction.build` (+ `kg.assemble`),
`import`/`export` → `kg.io`, `query` → `kg.KnowledgeGraph.query`, `serve` →
`kg.server.app.serve`, `embed` → `kg.embedding.pipeline`, `complete` →
`kg.embedding.complete.pipeline`, `dataset …` → `fusion.datasets`,
`train` → `fusion.train.train`, `predict` → `fusion.predict.RelationPredictor`, `pipeline` →
`wikikg.pipeline.run_pipeline`.
"""


# top-level commands in the order data flows through them; any other command follows
ORDER = ("build", "repack", "import", "export", "query", "serve", "embed", "complete", "dataset",
         "train", "predict", "pipeline")


def command_paths(command: click.Command = main, prefix: tuple[str, ...] = ()) -> Iterator[tuple]:
    """Every command's argument path, a group before its subcommands."""
    yield prefix
    if isinstance(command, click.Group):
        context = click.Context(command)
        names = command.list_commands(context)
        if not prefix:
            names = sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
        for name in names:
            yield from command_paths(command.get_command(context, name), (*prefix, name))


def reference() -> str:
    runner = CliRunner()
    sections = [INTRO]
    for path in command_paths():
        result = runner.invoke(main, [*path, "--help"], prog_name="wikikg", terminal_width=80)
        if result.exit_code != 0:
            raise RuntimeError(f"wikikg {' '.join(path)} --help failed: {result.output}")
        sections.append(f"## {' '.join(('wikikg', *path))}\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(sections)


if __name__ == "__main__":
    sys.stdout.write(reference())
