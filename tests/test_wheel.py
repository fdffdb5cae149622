"""wikikg as a release's user gets it: its wheel installed into a clean venv, run from a
folder outside the checkout, so that a file found only through the source tree fails here
(the infobox class table once did: ``…/site-packages/data/infobox_classes.tsv``).

Offline by design: the wheel is built with the checkout's own setuptools (no build
isolation, no index), and the clean venv sees the dependencies through a ``.pth`` line
naming this interpreter's site-packages, *after* its own; that line adds a directory,
not its ``.pth`` files, so the editable install of the checkout stays out of sight.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from tests.conftest import ROOT, SAMPLE

pytestmark = pytest.mark.slow  # builds a wheel and the sample, twice the CLI's start-up

# what the checkout holds besides its sources: environments, outputs, caches, build leftovers
NOT_SOURCE = {".venv", ".git", "out", "data", "build", "dist", "wikikg.egg-info",
              ".pytest_cache", ".ruff_cache"}
PACKAGE_DATA = ["fusion/datasets/infobox_classes.tsv", "wikikg/pipeline.toml"]


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done


def build_wheel(tmp_path) -> zipfile.Path:
    """The wheel of a copy of the checkout (setuptools writes build/ and *.egg-info into
    the tree it builds)."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed: no wheel can be built offline")
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=lambda folder, names: (
        NOT_SOURCE & set(names) if folder == str(ROOT) else {"__pycache__"} & set(names)))
    run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation",
        "--no-index", "--quiet", "-w", tmp_path / "dist")
    (wheel,) = (tmp_path / "dist").glob("wikikg-*.whl")
    return wheel


def clean_venv(tmp_path, wheel) -> tuple:
    """A venv with only the wheel installed (and this interpreter's packages behind it);
    returns its python and its site-packages."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
                  ).stdout.strip()
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (tmp_path / "venv" / purelib / "wikikg-dependencies.pth").write_text(
        "".join(f"{path}\n" for path in sorted(dependencies)))
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--quiet", wheel)
    return python, purelib


def test_the_installed_wheel_builds_makes_datasets_and_queries(shared, tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert set(PACKAGE_DATA) <= set(names)
    assert not [n for n in names if n.startswith(("data/", "tests/", "bench/"))]
    python, purelib = clean_venv(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    origins = run(python, "-c", "import wikikg, fusion.datasets, kg, extraction, common; "
                  "print(*(m.__file__ for m in (wikikg, fusion.datasets, kg, extraction, common)))",
                  cwd=elsewhere, env=env).stdout.split()
    assert all(path.startswith(purelib) for path in origins), origins

    wikikg = [python.parent / "wikikg", "-q"]
    run(*wikikg, "build", SAMPLE, "--out", "graph", "--workers", "1", cwd=elsewhere, env=env)
    for kind in ("re", "ner"):
        run(*wikikg, "dataset", kind, "graph", "--out", kind, cwd=elsewhere, env=env)
        stats = json.loads((elsewhere / kind / "stats.json").read_text())
        assert stats["splits"]["train"] > 100, stats["splits"]
        run(*wikikg, "dataset", "validate", kind, cwd=elsewhere, env=env)
    assert json.loads((elsewhere / "ner" / "stats.json").read_text())["classified_entities"] > 20
    done = run(*wikikg, "query", "graph", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
               "--format", "json", cwd=elsewhere, env=env)
    count = json.loads(done.stdout)["results"]["bindings"][0]["n"]["value"]
    assert int(count) > 10000
    run(python, "-c", "from wikikg.pipeline import default_config; "
        "from wikikg.defaults import cache_dir; assert default_config()['train']['fusions']; "
        f"assert not str(cache_dir()).startswith({purelib!r}), cache_dir()", cwd=elsewhere, env=env)
