"""The code-search split of the function corpus: standard-library modules held out.

Functions from the modules in :data:`HELD_OUT_STDLIB` are never trained on by ``kelp train
encoder``; ``kelp eval search`` measures retrieval on them (and on packages the corpus does not
read).
"""

from __future__ import annotations

__all__ = ["HELD_OUT_STDLIB", "held_out"]

#: Standard-library packages and modules kept out of encoder training (``kelp eval search``
#: queries them).
HELD_OUT_STDLIB = ("calendar", "email", "fractions", "http", "imaplib", "ipaddress", "logging", "mailbox",
                   "statistics", "tarfile")


def held_out(origin: str) -> bool:
    """True for a corpus origin (``"stdlib-3.11:email/utils.py:120"``) inside a module of
    :data:`HELD_OUT_STDLIB`."""
    source, _, rest = origin.partition(":")
    if not source.startswith("stdlib"):
        return False
    top = rest.split(":")[0].split("/")[0].removesuffix(".py")
    return top in HELD_OUT_STDLIB
