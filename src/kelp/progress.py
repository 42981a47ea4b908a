"""Progress bars: one look for every long job, always on stderr (stdout carries only results).

Built on :mod:`rich.progress`, imported when a bar is made, so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_bar(*, enabled: bool = True, eta: bool = False):
    """A :class:`rich.progress.Progress` (use it as a context manager) that draws on stderr:
    description, bar, ``done/total`` and elapsed time (``eta``: time remaining instead).
    ``enabled=False`` draws nothing; tasks and ``advance`` still work."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    clock = TimeRemainingColumn() if eta else TimeElapsedColumn()
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), clock,
                    console=Console(stderr=True), disable=not enabled)


def track(items: Iterable[T], description: str, *, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    """Yield ``items`` while a :func:`progress_bar` on stderr counts them (``total`` defaults to
    ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(enabled=enabled) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
