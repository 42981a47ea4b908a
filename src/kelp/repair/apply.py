"""Writing a repair into the user's file (``kelp repair --write``), never over work it cannot see.

The file is replaced only when it still holds exactly the text the search started from, and, in a
git work tree, only when git has no uncommitted change to it (unless ``force``): a patch written
over edits the user has not committed could not be told apart from them. The new text goes to a
temporary file in the same directory, gets the old file's permission bits, and is renamed over
the old one, so a crash leaves either the old file or the new one, never half of each.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from kelp.errors import KelpError


class WriteRefused(KelpError):
    """The repair was not written: the file changed since the run began, or it has uncommitted
    changes (without ``force``), or it cannot be replaced (message says which)."""


def uncommitted(path: Path) -> bool | None:
    """Whether git reports an uncommitted change to ``path`` (staged, unstaged or untracked);
    ``None`` when ``path`` is not in a git work tree or git is not installed."""
    path = Path(path).resolve()
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--", path.name], cwd=path.parent,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:  # not a work tree
        return None
    return bool(proc.stdout.strip())


def write_repair(path: Path, original: str, repaired: str, *, force: bool = False) -> None:
    """Replace the text of ``path`` (which must still be ``original``) with ``repaired``,
    atomically, keeping the file's permission bits.

    Raises :class:`WriteRefused` when the file no longer holds ``original`` (changed since the
    run began: always refused), when git reports uncommitted changes to it and ``force`` is
    False, or when it cannot be written."""
    path = Path(path)
    try:
        current = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WriteRefused(f"cannot read {path} again before writing: {error}") from None
    if current != original:
        raise WriteRefused(f"{path} changed while kelp ran; the repair was not written (the diff is on stdout)")
    if not force and uncommitted(path):
        raise WriteRefused(f"{path} has uncommitted changes; commit or stash them, or pass --force to write anyway")
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".kelp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(repaired)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise WriteRefused(f"cannot write {path}: {error}") from None
