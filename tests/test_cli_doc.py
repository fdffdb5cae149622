"""docs/cli.md is the commands' current ``--help`` (regenerate: python -m wikikg.clidoc)."""

from __future__ import annotations

from wikikg.clidoc import reference

from .conftest import ROOT


def test_cli_reference_is_current():
    written = (ROOT / "docs" / "cli.md").read_text()
    assert written == reference(), ("docs/cli.md is stale: run "
                                    "`.venv/bin/python -m wikikg.clidoc > docs/cli.md`")
