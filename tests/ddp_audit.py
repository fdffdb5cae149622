"""``python -m tests.ddp_audit ARGS`` runs ``wikikg ARGS`` and records every path under
``$AUDIT_WATCH`` that this process changed (opened for writing, created, renamed, removed)
into ``$AUDIT_OUT/rank<RANK>.json``: how tests/test_distributed.py sees which torchrun
process wrote a run.  Python's audit events cover the standard library's file operations
(not files written by native code such as safetensors, whose directories are caught)."""

from __future__ import annotations

import atexit
import json
import os
import sys

WATCH = os.path.realpath(os.environ["AUDIT_WATCH"])
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
PATH_EVENTS = {"os.mkdir": 1, "os.rename": 2, "os.remove": 1, "os.rmdir": 1,
               "shutil.rmtree": 1, "os.truncate": 1, "os.symlink": 2, "os.link": 2}
changed: set[str] = set()


def changed_paths(event: str, args: tuple) -> tuple:
    if event == "open":
        path, mode, flags = args
        writes = any(c in mode for c in "wax+") if mode else bool((flags or 0) & WRITE_FLAGS)
        return (path,) if writes else ()
    return args[:PATH_EVENTS.get(event, 0)]


def hook(event: str, args: tuple) -> None:
    if event != "open" and event not in PATH_EVENTS:
        return
    for path in changed_paths(event, args):
        if isinstance(path, (str, bytes, os.PathLike)):
            real = os.path.realpath(os.fsdecode(path))
            if real == WATCH or real.startswith(WATCH + os.sep):
                changed.add(real)


def report() -> None:
    with open(os.path.join(os.environ["AUDIT_OUT"], f"rank{os.environ['RANK']}.json"), "w") as f:
        json.dump(sorted(changed), f)


sys.addaudithook(hook)
atexit.register(report)

if __name__ == "__main__":
    from wikikg.cli import main

    main(prog_name="wikikg")
