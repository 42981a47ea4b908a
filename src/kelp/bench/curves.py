"""solved@budget curves: the share of a run's tasks solved within each budget of candidate
executions, for several ``kelp eval repair`` runs side by side (a table and a PNG plot)."""

from __future__ import annotations

import json
from pathlib import Path

from kelp.datasets.jsonl import read_records
from kelp.errors import KelpError

#: Budgets of the printed table (the plot draws every budget from 1 to the largest).
TABLE_BUDGETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class CurvesError(KelpError, ValueError):
    """A folder that is not a finished or running ``kelp eval repair`` run."""


def run_label(folder: Path) -> str:
    """A short name for a run from its ``config.json``: bench, steps, proposer, ranker, visible
    tests and a checkpoint other than the bundled one (e.g. ``mbpp steps1 enum ranker``); raises :class:`CurvesError` without one."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise CurvesError(f"{folder}: not a kelp eval run (config.json: {exc})") from None
    ranker = config.get("ranker")  # runs made before the ranker existed have no such setting
    parts = [str(config.get("bench", "?")), f"steps{config.get('steps', '?')}", str(config.get("proposer", "enum")),
             "ranker off" if ranker is None else "ranker" if ranker in ("bundled", "default") else f"ranker {Path(ranker).name}"]
    if config.get("visible_tests"):
        parts.append(f"visible {config['visible_tests']}")
    if config.get("checkpoint") and config.get("proposer", "enum") != "enum":
        parts.append(f"model {_checkpoint_name(Path(config['checkpoint']))}")
    return " ".join(parts)


def _checkpoint_name(path: Path) -> str:
    """The folder that names a checkpoint: ``runs/x/round-2/train/checkpoint`` -> ``round-2``."""
    while path.name in ("checkpoint", "train") and path.parent != path:
        path = path.parent
    return path.name or str(path)


def solved_curve(records: list[dict], budget: int) -> list[float]:
    """``curve[b - 1]``: share of ``records`` solved within ``b`` executions, ``b`` = 1..``budget``."""
    n = len(records) or 1
    hits = [0] * (budget + 1)
    for r in records:
        k = r.get("executions_to_solve")
        if r.get("solved") and k is not None and k <= budget:
            hits[max(int(k), 1)] += 1
    curve, total = [], 0
    for b in range(1, budget + 1):
        total += hits[b]
        curve.append(total / n)
    return curve


def compare_runs(folders: list[Path], out: Path | None = None) -> dict:
    """The solved@budget table of each run (``{label: {"n", "solved_at": {budget: share}}}``),
    over the tasks every run finished (so runs of different lengths compare on the same tasks);
    with ``out``, also a PNG plot of the curves (log-scaled budget axis). Raises
    :class:`CurvesError` for a folder without results."""
    runs = {}
    for folder in folders:
        records = {r["task_id"]: r for r in read_records(Path(folder) / "results.jsonl") if "task_id" in r}
        if not records:
            raise CurvesError(f"{folder}: no results.jsonl records")
        label = run_label(folder)
        while label in runs:
            label += "'"
        runs[label] = records
    common = set.intersection(*(set(r) for r in runs.values()))
    budget = max(TABLE_BUDGETS)
    curves = {label: solved_curve([records[t] for t in sorted(common)], budget) for label, records in runs.items()}
    table = {label: {"n": len(common), "solved_at": {str(b): round(curve[b - 1], 4) for b in TABLE_BUDGETS}}
             for label, curve in curves.items()}
    if out is not None:
        _plot(curves, len(common), Path(out))
    return table


def _plot(curves: dict[str, list[float]], n: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, curve in curves.items():
        ax.step(range(1, len(curve) + 1), [100 * v for v in curve], where="post", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("candidate executions (budget)")
    ax.set_ylabel(f"solved (% of {n} tasks)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
