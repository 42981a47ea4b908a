"""kelp.datasets: every loader and task generator; train/ and bench/ both read from here.

- :mod:`kelp.datasets.loaders`: MBPP, QuixBugs and user repair tasks in JSONL (plain dataclasses;
  nothing there runs code).
- :mod:`kelp.datasets.tasks`: repair tasks from clean programs (the forward process applied, with
  the must-break filter).

Layer: above ``corrupt`` (and ``program``, ``execute``, ``structured``), below ``models``.
"""
