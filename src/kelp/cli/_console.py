"""The command line's two consoles and the one error it raises itself.

stdout carries only a command's result; everything else (messages, progress, warnings) goes to
stderr. Output other programs read byte for byte (diffs, YAML, JSON lines) is written with
``sys.stdout.write`` or ``print``, never through rich, which would wrap it and expand tabs.
"""

from __future__ import annotations

from rich.console import Console

from kelp.errors import KelpError

#: Messages and progress.
err = Console(stderr=True, highlight=False)
#: Human-facing results (tables, search hits); soft_wrap: a long line is never broken in two.
out = Console(highlight=False, soft_wrap=True)


class UserError(KelpError):
    """A flag value or combination the command cannot use: printed as one line, exit status 2."""


__all__ = ["UserError", "err", "out"]
