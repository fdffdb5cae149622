"""Output files and directories that appear complete or not at all (written beside, then
renamed into place: a rename within one file system is atomic)."""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


@contextmanager
def atomic_directory(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``out`` that replaces ``out`` only if the block succeeds.

    The previous ``out`` is moved aside before the swap and deleted after it, so an
    interrupted or failed run leaves the previous output untouched.  A run that was killed
    (no chance to clean up) leaves its temporary sibling behind: the next run on this host
    removes the siblings of processes that no longer exist, so it starts clean.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(out)
    work = Path(tempfile.mkdtemp(prefix=f"{_prefix(out)}{os.getpid()}-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)
    try:
        yield work
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
        work.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _prefix(out: Path) -> str:
    return f".{out.name}.tmp-{socket.gethostname()}-"


def _remove_abandoned(out: Path) -> None:
    prefix = _prefix(out)
    for sibling in out.parent.glob(f"{glob.escape(prefix)}*"):
        pid = sibling.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            log.warning("removing %s, left by an interrupted run", sibling)
            shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` that replaces ``path`` only if the block
    succeeds.  The sibling keeps the name's suffixes (writers that compress by suffix,
    such as ``.gz``, write the same bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".part-{path.name}")
    try:
        yield tmp
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
