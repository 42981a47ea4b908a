"""Task-level metrics for repair evaluations: solved@budget and bootstrap confidence intervals."""

from __future__ import annotations

import random
from statistics import median
from typing import Sequence

BUDGETS = (1, 4, 16, 64, 256)


def bootstrap_ci(values: Sequence[float], *, resamples: int = 2000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values`` (Efron 1979).

    Resamples tasks with replacement, so the interval reflects task-to-task variation.
    Returns ``(low, high)``; ``(0.0, 0.0)`` for an empty input. Seeded, hence reproducible.
    """
    n = len(values)
    if n == 0:
        return (0.0, 0.0)
    rng = random.Random(seed)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    lo = means[int((alpha / 2) * resamples)]
    hi = means[min(resamples - 1, int((1 - alpha / 2) * resamples))]
    return (round(lo, 4), round(hi, 4))


def solved_at(records: Sequence[dict], budgets: Sequence[int] = BUDGETS) -> dict[str, float]:
    """Fraction of tasks solved within each budget of candidate executions.

    A record counts as solved at budget ``b`` when ``record["solved"]`` and
    ``record["executions_to_solve"] <= b``. Keys are the budgets as strings (JSON-friendly).
    """
    n = len(records)
    out = {}
    for b in budgets:
        hits = sum(1 for r in records if r.get("solved") and r.get("executions_to_solve", 10**9) <= b)
        out[str(b)] = round(hits / n, 4) if n else 0.0
    return out


def summarize(records: Sequence[dict], *, dropped: dict[str, int] | None = None,
              budgets: Sequence[int] = BUDGETS, seed: int = 0) -> dict:
    """The evaluation summary written to ``summary.json``.

    ``records`` are the per-task result lines (see ``kelp.bench.evaluate``); ``dropped`` counts
    tasks removed before repair, by reason. Fields: n, solved, solved_rate, ci95, solved_at,
    restored_rate, equivalent_rate, median_seconds, localization_top1, dropped, and
    overfit_share: of the repairs judged on hidden tests (records with ``hidden_pass``), the
    share that fail them (plausible but wrong); ``None`` when no repair was judged so.
    ``per_family``: :func:`per_family`; ``per_category``: :func:`per_category`;
    ``differential_correct`` and ``overfit_share_differential``: :func:`_differential`.
    """
    n = len(records)
    solved = [1.0 if r.get("solved") else 0.0 for r in records]
    restored = [1.0 if r.get("restored") else 0.0 for r in records]
    loc = [r["localization_top1"] for r in records if r.get("localization_top1") is not None]
    equivalent = [r for r in records if r.get("equivalent") is not None]
    seconds = [r.get("seconds", 0.0) for r in records]
    return {
        "n": n,
        "solved": int(sum(solved)),
        "solved_rate": round(sum(solved) / n, 4) if n else 0.0,
        "ci95": bootstrap_ci(solved, seed=seed),
        "solved_at": solved_at(records, budgets),
        "solved_at_ci95": {str(b): bootstrap_ci(
            [1.0 if r.get("solved") and r.get("executions_to_solve", 10**9) <= b else 0.0 for r in records],
            seed=seed) for b in budgets},
        "restored_rate": round(sum(restored) / n, 4) if n else 0.0,
        "equivalent": sum(1 for r in equivalent if r["equivalent"]),
        "equivalent_checked": len(equivalent),
        "median_seconds": round(median(seconds), 3) if seconds else 0.0,
        "max_seconds": round(max(seconds), 3) if seconds else 0.0,
        "localization_top1": round(sum(loc) / len(loc), 4) if loc else None,
        "dropped": dict(dropped or {}),
        **_hidden(records, seed),
        **_differential(records),
        "per_family": per_family(records),
        "per_category": per_category(records),
    }


def per_family(records: Sequence[dict]) -> dict[str, dict]:
    """Solved tasks by forward-process family: ``{family: {"n", "solved", "solved_rate"}}``,
    a task counted under every family of its ``mutations`` (records without mutations, such as
    human bugs, are left out), families in name order."""
    counts: dict[str, list[int]] = {}
    for r in records:
        for family in sorted({m.get("family") for m in r.get("mutations") or () if m.get("family")}):
            entry = counts.setdefault(family, [0, 0])
            entry[0] += 1
            entry[1] += bool(r.get("solved"))
    return {f: {"n": n, "solved": k, "solved_rate": round(k / n, 4)} for f, (n, k) in sorted(counts.items())}


def per_category(records: Sequence[dict], budget: int = 16) -> dict[str, dict]:
    """Solved tasks by human-bug ``category`` (e.g. the HumanEvalFix classes: missing logic,
    operator misuse, ...): ``{category: {"n", "solved", "solved_rate", "solved_at_16"}}``, where
    ``solved_at_16`` counts tasks solved within ``budget`` executions. Records without a
    category (generated bugs) are left out; categories in name order."""
    counts: dict[str, list[int]] = {}
    for r in records:
        if r.get("category"):
            entry = counts.setdefault(r["category"], [0, 0, 0])
            entry[0] += 1
            entry[1] += bool(r.get("solved"))
            entry[2] += bool(r.get("solved") and r.get("executions_to_solve", 10**9) <= budget)
    return {c: {"n": n, "solved": k, "solved_rate": round(k / n, 4), f"solved_at_{budget}": early}
            for c, (n, k, early) in sorted(counts.items())}


def _differential(records: Sequence[dict]) -> dict:
    """``differential_correct``: solved tasks that also pass the differential tests (and the
    hidden tests, where there are any), and ``overfit_share_differential``: the share of the
    solved tasks judged that way that do not (``None`` when none was judged)."""
    judged = [r for r in records if r.get("solved") and "differential_pass" in r]
    if not judged:
        return {"differential_correct": None, "overfit_share_differential": None}
    good = sum(1 for r in judged if r["differential_pass"] and r.get("hidden_pass", True))
    return {"differential_correct": good, "overfit_share_differential": round(1 - good / len(judged), 4)}


def _hidden(records: Sequence[dict], seed: int) -> dict:
    """correct (solved and passing the hidden tests), its rate and CI, and overfit_share."""
    judged = [r for r in records if r.get("solved") and "hidden_pass" in r]
    if not judged:
        return {"overfit_share": None}
    correct = [1.0 if r.get("solved") and r.get("hidden_pass") else 0.0 for r in records]
    return {"correct": int(sum(correct)), "correct_rate": round(sum(correct) / len(records), 4),
            "correct_ci95": bootstrap_ci(correct, seed=seed),
            "overfit_share": round(sum(1 for r in judged if not r["hidden_pass"]) / len(judged), 4),
            "overfit_share_ci95": bootstrap_ci([0.0 if r["hidden_pass"] else 1.0 for r in judged], seed=seed)}
