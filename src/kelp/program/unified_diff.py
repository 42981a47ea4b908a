"""A unified diff between two versions of one file, in the form ``git apply`` and ``patch -p1`` take.

Pure text: no parsing, no I/O. Lines keep their endings, tabs and length, so the diff applies to
the file byte for byte.
"""

from __future__ import annotations

import difflib


def unified_diff(before: str, after: str, path: str) -> str:
    """The unified diff (3 lines of context) turning ``before`` into ``after``, with the headers
    ``--- a/PATH`` and ``+++ b/PATH``; ``""`` when the two texts are equal.

    ``path`` is the file's name as the user gave it (relative to where the diff is applied).
    A last line without a newline is followed by git's ``\\ No newline at end of file`` marker,
    as ``git apply`` and ``patch`` expect."""
    lines = []
    for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     fromfile=f"a/{path}", tofile=f"b/{path}"):
        if line.endswith("\n"):
            lines.append(line)
        else:  # the last line of a file that does not end in a newline
            lines.append(line + "\n\\ No newline at end of file\n")
    return "".join(lines)


__all__ = ["unified_diff"]
