"""Where the bundled default data lives: ``../shared/data`` or a cache filled from PyPI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from common.atomic import atomic_file

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_NAME = "enwiki-sample.xml.bz2"
GENSIM_WHEEL = "gensim==4.3.2"
GENSIM_MEMBER = ("gensim/test/test_data/"
                 "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")


def shared_data() -> Path | None:
    """``../shared/data`` next to the checkout (or the working directory), if present."""
    for base in (PROJECT_ROOT, Path.cwd()):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def cache_dir() -> Path:
    """A checkout's ignored ``data/cache``; for an installed wheel (whose parent folder is
    site-packages, not to be written to) the user's cache, ``$XDG_CACHE_HOME/wikikg``."""
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / "data" / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wikikg"


def default_dump() -> Path:
    """The sample dump: from ``../shared/data/dumps`` or, failing that, the gensim wheel."""
    shared = shared_data()
    if shared and (shared / "dumps" / SAMPLE_NAME).is_file():
        return shared / "dumps" / SAMPLE_NAME
    cached = cache_dir() / SAMPLE_NAME
    if not cached.is_file():
        _fetch_from_gensim_wheel(cached)
    return cached


def _fetch_from_gensim_wheel(target: Path) -> None:
    """``pip download`` the gensim 4.3.2 wheel (no deps) and take the sample dump out of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    wheel_dir = target.parent / "wheels"
    log.info("default dump not found in ../shared/data; taking it from the %s wheel", GENSIM_WHEEL)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--quiet", "-d", str(wheel_dir), GENSIM_WHEEL], check=True)
    wheel = next(wheel_dir.glob("gensim-4.3.2-*.whl"))
    with zipfile.ZipFile(wheel) as archive, archive.open(GENSIM_MEMBER) as member:
        with atomic_file(target) as tmp:
            tmp.write_bytes(member.read())
