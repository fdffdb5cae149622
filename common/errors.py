"""The one base of the failures a user can act on.

A bad, missing or refused input, a graph of another format, a full spill disk: each
library raises an error type of its own, and each derives from :class:`InputError`, so
the command line catches them in one place (``wikikg.cli``) and prints one line where a
bug would print a traceback.
"""

from __future__ import annotations


class InputError(Exception):
    """A failure caused by the input or the machine, not by a bug; its message names the
    file (or the option) and what is wrong with it."""
