"""kelp: repair, refine, search and generate structured code with small models on a CPU.

The public API, one name per job, loaded on first use (``import kelp`` itself loads nothing
heavy):

>>> import kelp
>>> from kelp.repair import repair
>>> suite = kelp.TestSuite.from_asserts(["assert inc(1) == 2"])
>>> with kelp.Sandbox() as sandbox:
...     result = repair("def inc(x):\\n    return x - 1\\n", suite, sandbox)
>>> result.solved
True

- repair: :func:`kelp.repair.repair` (with :class:`RepairConfig`, :class:`RepairResult`), run in
  a :class:`Sandbox` against a :class:`TestSuite` (:class:`Limits` bounds each run);
- the forward process: :func:`kelp.corrupt.corrupt`;
- code search: :func:`build_index`, :class:`CodeSearcher`;
- generation: :func:`generate_documents` (schema-valid documents from a structured LM);
- every user-facing error derives from :class:`KelpError`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> the module that defines it. ``repair`` and ``corrupt`` are not here: they are
#: also the names of subpackages, which the import system binds on ``kelp`` once imported
#: (``from kelp.repair import repair``, ``from kelp.corrupt import corrupt``).
_EXPORTS = {
    "KelpError": "kelp.errors",
    "Sandbox": "kelp.execute.sandbox",
    "Limits": "kelp.execute.sandbox",
    "TestSuite": "kelp.execute.suites",
    "RepairConfig": "kelp.repair.search",
    "RepairResult": "kelp.repair.search",
    "build_index": "kelp.retrieval.index",
    "CodeSearcher": "kelp.retrieval.search",
    "generate_documents": "kelp.models.structured_lm",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    """Import a public name's module on first use (PEP 562); AttributeError for other names."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kelp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
