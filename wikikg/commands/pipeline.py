"""``wikikg pipeline``: every stage, skipping what is up to date, and a report."""

from __future__ import annotations

from pathlib import Path

import click

from kg.embedding.config import MODELS as EMBED_MODELS


@click.command(epilog="""
\b
Examples:
  wikikg pipeline --out out/pipeline                 # the bundled sample dump
  wikikg pipeline enwiki.xml.bz2 --config wikikg.toml --out out/en --workers 4
  wikikg pipeline --out out/quick --limit-pages 40 --force
""")
@click.argument("dumps", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML file with every stage's options (see wikikg.toml).")
@click.option("--workers", type=click.IntRange(1), help="[build] workers")
@click.option("--limit-pages", type=click.IntRange(1), help="[build] limit_pages")
@click.option("--embed-model", type=click.Choice(list(EMBED_MODELS)),
              help="[embed] model")
@click.option("--embed-epochs", type=click.IntRange(1), help="[embed] epochs")
@click.option("--epochs", type=click.IntRange(1), help="[train] epochs")
@click.option("--max-steps", type=click.IntRange(1), help="[train] max_steps")
@click.option("--force", is_flag=True, help="Run every stage even if up to date.")
@click.pass_context
def pipeline(ctx, dumps, out, config_file, workers, limit_pages, embed_model, embed_epochs,
             epochs, max_steps, force):
    """Run build -> dataset re -> embed -> train (none, layer) -> report, skipping stages
    whose inputs, options and outputs are unchanged."""
    from wikikg.pipeline import load_config, run_pipeline

    overrides = {"build": {"dumps": list(dumps) or None, "workers": workers,
                           "limit_pages": limit_pages},
                 "embed": {"model": embed_model, "epochs": embed_epochs},
                 "train": {"epochs": epochs, "max_steps": max_steps}}
    config = load_config(config_file, overrides)
    done = run_pipeline(config, out, force=force, progress=not ctx.obj["quiet"])
    for stage, state in done.items():
        click.echo(f"{stage:<12} {state}", err=True)
    manifest = __import__("json").loads((out / "manifest.json").read_text())
    details = manifest.get("report", {}).get("details", {})
    summary = ", ".join(f"{k} {v:.3f}" for k, v in details.get("test_micro_f1", {}).items())
    click.echo(f"report: {out / 'report.html'}  (RE test micro-F1: {summary})", err=True)
    for line in details.get("verdicts", []):
        click.echo(f"  {line}", err=True)
    click.echo(f"query the graph: wikikg serve {out / 'graph'}", err=True)
    click.echo(str(out))
