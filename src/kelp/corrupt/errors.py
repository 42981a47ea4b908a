"""Exception types of the forward process."""

from __future__ import annotations

__all__ = ["CorruptionError", "BankError"]


class CorruptionError(ValueError):
    """No valid corruption could be made (nothing applies, unknown family/policy, missing bank)."""


class BankError(CorruptionError):
    """A SubtreeBank file or JSON document that cannot be read."""
