"""Ranker cost: the share of repair time spent computing proposal features and scoring them.

Runs the repair search (budget 256, the bundled ranker or ``--ranker PATH``) on the first
``--n`` broken tasks of MBPP's validation split (the tasks ``kelp eval repair mbpp-validation``
repairs) in the real sandbox, and times, inside the same process, every call of
``proposal_features`` and ``Ranker.score`` made by the search. Prints one JSON object: total
repair seconds, total ranker seconds, their ratio, and the median per-task ratio. Target:
ranker time <= 10% of a repair.

    python benchmarks/bench_ranker.py --n 40
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--ranker", default="bundled")
    args = parser.parse_args()

    from kelp.datasets.tasks import first_broken_mbpp
    from kelp.execute.sandbox import Sandbox
    from kelp.models import ranker as ranking
    from kelp.repair import search

    spent = [0.0]

    def timed(fn):
        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[0] += time.perf_counter() - started
        return wrapper

    search.proposal_features = timed(search.proposal_features)
    ranking.Ranker.score = timed(ranking.Ranker.score)
    config = search.RepairConfig(budget=256, ranker=args.ranker)
    totals, shares = [0.0, 0.0], []
    with Sandbox(workers=2) as sandbox:
        for _problem, prepared in first_broken_mbpp("validation", sandbox, args.n):
            spent[0] = 0.0
            started = time.perf_counter()
            search.repair(prepared.task.source, prepared.task.suite, sandbox, config,
                          initial_run=prepared.initial_run)
            took = time.perf_counter() - started
            totals[0] += took
            totals[1] += spent[0]
            shares.append(spent[0] / took if took else 0.0)
    print(json.dumps({"tasks": len(shares), "repair_seconds": round(totals[0], 3),
                      "ranker_seconds": round(totals[1], 3),
                      "ranker_share": round(totals[1] / totals[0], 4) if totals[0] else 0.0,
                      "median_task_share": round(statistics.median(shares), 4) if shares else 0.0}))


if __name__ == "__main__":
    main()
