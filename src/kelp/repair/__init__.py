"""kelp.repair: the test-driven repair search (localize, propose, validate, iterate).

``from kelp.repair import repair, RepairConfig, RepairResult`` (loaded on first use, so importing
one module of this package does not load the search)."""

from __future__ import annotations

import importlib

_EXPORTS = {"repair": "kelp.repair.search", "RepairConfig": "kelp.repair.search",
            "RepairResult": "kelp.repair.search", "RepairInputError": "kelp.repair.search"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    """Import a public name's module on first use (PEP 562); AttributeError for other names."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kelp.repair' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
