"""kelp's error hierarchy: one base class, so the command line maps errors to exit codes in one
place (``kelp.cli.main``)."""

from __future__ import annotations


class KelpError(Exception):
    """Bad input or settings (a missing file, a malformed benchmark, an unusable checkpoint), never
    a bug in kelp: the command line prints the message as one line and exits with status 2.
    Each package's user-facing error class derives from it (``RepairInputError``,
    ``BenchmarkError``, ``ExecuteError``, ``CheckpointError``, ...); ``kelp.program``'s errors do
    not, as that layer imports nothing else of kelp (its callers turn them into these)."""


__all__ = ["KelpError"]
