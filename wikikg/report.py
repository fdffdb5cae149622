"""The pipeline report: ``report.md`` and ``report.html`` from the same sections, plus PNGs."""

from __future__ import annotations

import html
import json
from pathlib import Path

from common.plots import save_figure
from fusion.config import METRICS_NAME
from fusion.datasets.stats import bar_chart
from fusion.metrics import verdict
from kg.embedding.store import METRICS_FILE


class Report:
    """Sections of headings, paragraphs, tables and figures, rendered to Markdown and HTML."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[tuple[str, object]] = []

    def heading(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def text(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list]) -> None:
        self.blocks.append(("table", (header, [[str(c) for c in row] for row in rows])))

    def figure(self, path: str, caption: str) -> None:
        self.blocks.append(("img", (path, caption)))

    def markdown(self) -> str:
        out = [f"# {self.title}\n"]
        for kind, value in self.blocks:
            if kind == "h2":
                out.append(f"## {value}\n")
            elif kind == "p":
                out.append(f"{value}\n")
            elif kind == "table":
                header, rows = value
                out.append("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
                out.extend("| " + " | ".join(row) + " |" for row in rows)
                out.append("")
            else:
                path, caption = value
                out.append(f"![{caption}]({path})\n")
        return "\n".join(out)

    def html(self) -> str:
        parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
                 "</title><style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
                 "padding:0 1rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
                 "td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}"
                 "th{background:#f3f3f3}img{max-width:100%}code{background:#f3f3f3;padding:0 .2rem}"
                 f"</style></head><body><h1>{html.escape(self.title)}</h1>"]
        for kind, value in self.blocks:
            if kind == "h2":
                parts.append(f"<h2>{html.escape(value)}</h2>")
            elif kind == "p":
                parts.append(f"<p>{_inline(value)}</p>")
            elif kind == "table":
                header, rows = value
                parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
                             + "</tr>" + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>"
                                                                   for c in row) + "</tr>"
                                                  for row in rows) + "</table>")
            else:
                path, caption = value
                parts.append(f"<figure><img src='{html.escape(path)}' alt='{html.escape(caption)}'>"
                             f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.append("</body></html>\n")
        return "\n".join(parts)


def _inline(text: str) -> str:
    """``code`` spans to <code>; everything else escaped."""
    pieces = text.split("`")
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p)
                   for i, p in enumerate(pieces))


def degree_figure(graph, path: Path) -> dict:
    """Log-log histogram of entity degrees (IRI-to-IRI triples, both directions)."""
    from collections import Counter

    rows = graph.query("SELECT ?x (COUNT(*) AS ?n) WHERE { { ?x ?p ?y } UNION { ?y ?p ?x } "
                       "FILTER(isIRI(?y)) } GROUP BY ?x")
    histogram = Counter(row["n"] for row in rows)

    def draw(axis):
        degrees = sorted(histogram)
        axis.loglog(degrees, [histogram[d] for d in degrees], "o", markersize=3)
        axis.set_xlabel("degree")
        axis.set_ylabel("nodes")
        axis.set_title("Degree distribution")
    save_figure(path, draw)
    return {"nodes": len(rows), "max_degree": max(histogram) if histogram else 0}


def curves_figure(runs: dict[str, dict], path: Path) -> None:
    def draw(axis):
        for fusion, metrics in runs.items():
            history = metrics["history"]
            axis.plot([h["step"] for h in history], [h["dev_micro_f1"] for h in history],
                      marker="o", label=f"{fusion}: dev micro-F1")
        axis.set_xlabel("optimizer step (one point per dev evaluation)")
        axis.set_title("Relation extraction, dev micro-F1")
        axis.legend()
    save_figure(path, draw)


def compared(runs_dir: Path, name: str, baseline: str) -> dict:
    """The paired bootstrap test of two runs' test predictions (same examples, same order)."""
    from fusion.metrics import paired_bootstrap, prediction_counts

    return paired_bootstrap(prediction_counts(runs_dir / name), prediction_counts(runs_dir / baseline))


def write_report(out: Path, graph_dir: Path, data: Path, embeddings: Path, runs_dir: Path,
                 fusions: list[str]) -> dict:
    from kg import KnowledgeGraph

    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    graph = KnowledgeGraph.open(graph_dir)
    stats = graph.stats()
    build = json.loads((graph_dir / "stats.json").read_text())
    report = Report("wikikg pipeline report")

    report.heading("Knowledge graph")
    report.text(f"{build['pages']} pages read, {build['articles']} articles, "
                f"{build['redirects']} redirects, {build['facts']} infobox facts, "
                f"{build['sentences']} sentences with {build['linked_mentions']} linked mentions; "
                f"{build['errors']} errors. The graph holds {stats['triples']} triples about "
                f"{stats['subjects']} subjects with {stats['predicates']} predicates.")
    short = graph.scheme.short
    report.table(["most frequent predicates", "triples"],
                 [[short(p), n] for p, n in list(stats["top_predicates"].items())[:12]])
    report.table(["most frequent classes", "entities"],
                 [[short(c), n] for c, n in list(stats["top_classes"].items())[:12]])
    degrees = degree_figure(graph, figures / "degree_distribution.png")
    report.figure("figures/degree_distribution.png", "Degree distribution (log-log)")

    report.heading("Graph encoder")
    encoder = json.loads((embeddings / METRICS_FILE).read_text())
    test = encoder.get("test", {})
    report.table(["metric (test, filtered)", "value"],
                 [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in test.items()
                  if isinstance(v, (int, float))])

    report.heading("Relation extraction data")
    dataset = json.loads((data / "stats.json").read_text())
    report.text(f"Splits: {', '.join(f'{k} {v}' for k, v in dataset['splits'].items())}; "
                f"the edges between the entity pairs of all splits ({dataset['heldout_pairs']} "
                f"pairs, {encoder.get('triples', {}).get('holdout', 0)} triples) are held out of "
                "the encoder's graph, so no example's label can be read off its pair's edge.")
    bar_chart(dataset["relations"], figures / "relation_frequencies.png", "relation")
    report.figure("figures/relation_frequencies.png", "Examples per relation")

    report.heading("Knowledge-enhanced fine-tuning")
    runs = {f: json.loads((runs_dir / f / METRICS_NAME).read_text()) for f in fusions}
    report.table(["fusion", "test micro-F1", "95 % bootstrap CI", "test macro-F1",
                  "best dev micro-F1", "steps", "seconds"],
                 [[f, f"{m['test']['micro_f1']:.4f}",
                   "{:.3f} – {:.3f}".format(*m["test"]["f1_interval"]),
                   f"{m['test']['macro_f1']:.4f}", f"{m['best_dev_micro_f1']:.4f}", m["steps"],
                   m["seconds"]] for f, m in runs.items()])
    first = next(iter(runs.values()))["test"]
    verdicts = [verdict(f, fusions[0], compared(runs_dir, f, fusions[0])) for f in fusions[1:]]
    verdicts = [v[:1].upper() + v[1:] for v in verdicts]  # sentences (ΔF1 keeps its case)
    report.text(f"The test set has {first['examples']} examples, {first['positives']} of them "
                "with a relation: each F1 above is uncertain by the interval beside it. "
                + " ".join(f"{v}." for v in verdicts))
    curves_figure(runs, figures / "training_curves.png")
    report.figure("figures/training_curves.png", "Dev micro-F1 at each evaluation, by step "
                  "(the loss per logged step: each run's curves.png)")
    report.text(f"Query the graph: `wikikg serve {graph_dir}` then open http://127.0.0.1:7878/")

    (out / "report.md").write_text(report.markdown(), encoding="utf-8")
    (out / "report.html").write_text(report.html(), encoding="utf-8")
    return {"triples": stats["triples"], "nodes": degrees["nodes"],
            "test_micro_f1": {f: m["test"]["micro_f1"] for f, m in runs.items()},
            "verdicts": verdicts}
