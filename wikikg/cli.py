"""``wikikg``: one command line over the extraction, kg, embedding and fusion libraries.

Each subcommand lives in :mod:`wikikg.commands` and is imported only when it runs (click's
lazy group), so ``wikikg query`` does not load torch.  Exit codes: 0 success, 1 failure
(bad input, failed build), 2 usage error, 130 interrupted (Ctrl-C).

Every expected failure takes one path, :meth:`LazyGroup.invoke`: the library's errors
(:class:`common.errors.InputError` and the standard library's ``OSError`` and
``ValueError``) end as one line, ``Error: <what is wrong>``; ``-v`` prints the traceback
before it.  Commands raise them and let them through; they catch only what turns into a
usage error (exit 2).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
import traceback

import click

from common.errors import InputError
from wikikg import __version__
from wikikg.commands import WikikgError

__all__ = ["WikikgError", "main"]

# what a user can act on: a bad or missing input, a refused file, a full disk, a diverged
# training (everything else is a bug, and keeps its traceback)
EXPECTED = (InputError, OSError, ValueError, FloatingPointError)
INTERRUPTED = 128 + signal.SIGINT  # the shell's code for a process ended by Ctrl-C

EXAMPLES = """
\b
Examples:
  wikikg build --out out/sample                 # the bundled sample dump
  wikikg build enwiki-*.xml.bz2 --out out/en --workers 4 --ner
  wikikg build enwiki-multistream.xml.bz2 --out out/en --engine ray --ray-address auto
  wikikg query out/sample 'SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p'
  wikikg serve out/sample                       # http://127.0.0.1:7878/
  wikikg import FB15k-237/train.txt FB15k-237/valid.txt FB15k-237/test.txt --out out/fb
"""

# command -> (module:attribute, one-line help), in the order data flows through them
COMMANDS = {
    "build": ("wikikg.commands.build:build", "Extract entities, facts, links and sentences from dumps."),
    "repack": ("wikikg.commands.build:repack", "Re-pack a dump as a multistream .xml.bz2 with its index."),
    "import": ("wikikg.commands.graph:import_cmd", "Load external graph files into a graph directory."),
    "export": ("wikikg.commands.graph:export", "Write a graph as RDF, GraphML or GEXF."),
    "query": ("wikikg.commands.graph:query", "Run a SPARQL query against a graph."),
    "serve": ("wikikg.commands.graph:serve", "Serve a graph as a read-only SPARQL endpoint."),
    "embed": ("wikikg.commands.learn:embed", "Train graph embeddings on a graph's triples."),
    "dataset": ("wikikg.commands.dataset:dataset", "Make or import RE/NER datasets."),
    "complete": ("wikikg.commands.learn:complete", "Add a link predictor's missing triples to the graph."),
    "train": ("wikikg.commands.learn:train", "Fine-tune a (knowledge-enhanced) encoder."),
    "predict": ("wikikg.commands.learn:predict", "Predict relations for marked entity pairs."),
    "pipeline": ("wikikg.commands.pipeline:pipeline", "Run every stage, skipping what is up to date."),
}


class LazyGroup(click.Group):
    """Subcommands imported on use; ``--help`` lists them from :data:`COMMANDS`."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        if ctx.params.get("quiet"):      # before the command's module imports transformers
            _quiet_libraries()
        module, attribute = COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (_, help_text) in COMMANDS.items()])

    def invoke(self, ctx):
        """Run the subcommand; its expected failures end as one line (exit 1), Ctrl-C as
        "interrupted" (exit 130: click's own "Aborted!" exits 1, like a failure)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _ignore_interrupts()    # a second Ctrl-C would interrupt the clean-up half way
            click.echo("interrupted", err=True)
            ctx.exit(INTERRUPTED)
        except WikikgError as exc:
            _show_traceback(ctx, exc.__cause__)
            raise
        except EXPECTED as exc:
            _show_traceback(ctx, exc)
            raise WikikgError(one_line(exc)) from exc


def _ignore_interrupts() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def one_line(exc: BaseException) -> str:
    """The error's message on one line; an ``OSError`` as "FILE: reason"."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _show_traceback(ctx: click.Context, exc: BaseException | None) -> None:
    if exc is not None and ctx.params.get("verbose"):
        traceback.print_exception(exc, file=sys.stderr)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)
    if quiet:
        _quiet_libraries()


def _quiet_libraries() -> None:
    """transformers logs and draws bars through its own handler, set up at its import."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@click.group(cls=LazyGroup, epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wikikg")
@click.option("-v", "--verbose", count=True,
              help="More log output (-vv for debug); an error with its traceback.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bars.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Turn a Wikipedia dump into a knowledge graph and a knowledge-enhanced BERT."""
    _setup_logging(verbose, quiet)
    ctx.obj = {"quiet": quiet}


def run() -> None:
    """The console entry: :func:`main`, then Ctrl-C ignored while the process exits (a
    Ctrl-C in the interpreter's teardown, with torch's and the tokenizers' threads
    exiting, once aborted with "Fatal Python error: PyThreadState_Get").  Not in ``main``
    itself, which tests also call in-process."""
    try:
        main()
    finally:
        _ignore_interrupts()


if __name__ == "__main__":
    run()
