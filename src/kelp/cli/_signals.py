"""SIGINT and SIGTERM: the handler :func:`kelp.cli.main` installs, the note a command leaves for
the interruption message, and a sandbox that is never left half-started or half-closed.

A signal raises :class:`Interrupted` in the main thread. It unwinds the command (every ``with``
closes on the way out) and :func:`kelp.cli.main` prints ``kelp: interrupted (SIGINT); NOTE`` and
exits with ``128 + signum`` (130, 143).
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (raised by :func:`on_signal`).

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception`` swallows it
    and every ``with Sandbox(...)`` on the way out closes (killing the workers and removing
    their temp dirs); not a ``KeyboardInterrupt``, which click would turn into "Aborted!" and
    exit status 1."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: Signal state: ``defer`` > 0 while a signal must not interrupt (sandbox start and close; the
#: signal is raised right after), ``pending`` the signal so held back, ``raised`` once the
#: exception is on its way (later signals are ignored so that the clean-up can finish).
_state = {"defer": 0, "pending": None, "raised": False}
#: What the current command has done, for the interruption message: a string or a callable.
_note: object = "results written so far are kept"


def install() -> None:
    """Handle SIGINT and SIGTERM with :func:`on_signal`, except a signal the process inherited
    as ignored (the SIGINT of a background job stays ignored, as in any Unix program)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, on_signal)


def on_signal(signum: int, frame) -> None:
    """SIGINT/SIGTERM handler: raises :class:`Interrupted` once (exit status 128 + ``signum``),
    or, while a sandbox is starting or closing, holds the signal until it may be raised."""
    if _state["raised"]:
        return
    if _state["defer"]:
        _state["pending"] = signum
        return
    _state["raised"] = True
    raise Interrupted(signum)


def _raise_pending() -> None:
    if _state["pending"] is not None and not _state["raised"] and not _state["defer"]:
        _state["raised"] = True
        raise Interrupted(_state["pending"])


def set_interrupt_note(note) -> None:
    """Say what the running command has written, for the message if it is interrupted:
    a string, or a callable returning one (called after the command has unwound)."""
    global _note
    _note = note


def interrupt_note() -> str:
    """The running command's note ("" if the note's callable fails: the exit status matters more)."""
    try:
        return _note() if callable(_note) else str(_note)
    except Exception:  # noqa: BLE001
        return ""


def results_written(path: Path):
    """A note for commands that append to ``path`` (a results.jsonl): how many results it holds."""
    def note() -> str:
        from kelp.datasets.jsonl import read_records

        return f"{len(read_records(path))} results written to {path} (the same command resumes)"

    return note


@contextmanager
def sandbox(**kwargs):
    """``with Sandbox(**kwargs)``, with SIGINT/SIGTERM held back while the workers start and
    while they are killed, so an interruption never leaves a half-started or half-closed pool
    (worker processes or ``kelp-sandbox-*`` temp dirs) behind."""
    from kelp.execute.sandbox import Sandbox

    _state["defer"] += 1
    try:
        box = Sandbox(**kwargs)
    finally:
        _state["defer"] -= 1
    try:
        _raise_pending()
        yield box
    finally:
        _state["defer"] += 1
        try:
            box.close()
        finally:
            _state["defer"] -= 1
        _raise_pending()


__all__ = ["Interrupted", "install", "interrupt_note", "on_signal", "results_written", "sandbox",
           "set_interrupt_note"]
