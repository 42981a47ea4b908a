"""Exceptions raised by ``kelp.execute`` for caller mistakes (never for candidate misbehaviour)."""

from kelp.errors import KelpError


class ExecuteError(KelpError):
    """Base class of every error raised by :mod:`kelp.execute`."""


class SuiteError(ExecuteError, ValueError):
    """A test suite is malformed (unknown kind, duplicate test ids, missing files, bad order)."""


class CollectError(ExecuteError):
    """Pytest could not collect the suite (the message carries pytest's own report)."""


class SandboxError(ExecuteError):
    """The sandbox itself is unusable (closed, or a worker process cannot be started)."""
