"""Judged runs (Sandbox.verify) against ordinary runs (Sandbox.run) on MBPP reference programs.

For each MBPP test-split task (task_id 11..510, Austin et al. 2021) the reference ``code`` runs
against its assert list both ways.  Prints one JSON object: how many pass each way, the tasks
whose judged run fails while the ordinary run passes (tests that hand the program a function or
get an object back cannot be judged, see docs/sandbox.md) with their first failure message, and
the median wall time per check of each.

    python benchmarks/bench_judged.py --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from kelp.execute import Limits, Sandbox, TestSuite  # noqa: E402

MBPP = os.path.join(ROOT, "src", "kelp", "data", "mbpp", "mbpp.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--n", type=int, default=500, help="first N test-split tasks")
    args = parser.parse_args()
    with open(MBPP, encoding="utf-8") as fh:
        tasks = [t for t in map(json.loads, fh) if 11 <= t["task_id"] <= 510][: args.n]
    limits = Limits(test_timeout=10.0, job_timeout=60.0)

    def both(task):
        suite = TestSuite.from_asserts(task["test_list"], setup=task.get("test_setup_code") or "")
        t0 = time.perf_counter()
        plain = sandbox.run(task["code"], suite)
        t1 = time.perf_counter()
        judged = sandbox.verify(task["code"], suite)
        t2 = time.perf_counter()
        return task["task_id"], plain, judged, t1 - t0, t2 - t1

    with Sandbox(workers=args.workers, limits=limits) as sandbox:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            rows = list(pool.map(both, tasks))
    lost = []
    for task_id, plain, judged, _, _ in rows:
        if plain.all_passed and not judged.all_passed:
            first = next((o for o in judged.outcomes if o.status != "pass"), None)
            why = judged.message or (f"{first.error_type}: {first.message}" if first else "")
            lost.append({"task_id": task_id, "why": (why or "")[:160]})
    out = {"n": len(rows),
           "plain_passed": sum(r[1].all_passed for r in rows),
           "judged_passed": sum(r[2].all_passed for r in rows),
           "judged_but_not_plain": sum(r[2].all_passed and not r[1].all_passed for r in rows),
           "plain_but_not_judged": len(lost),
           "plain_median_ms": round(statistics.median(r[3] for r in rows) * 1000, 1),
           "judged_median_ms": round(statistics.median(r[4] for r in rows) * 1000, 1),
           "lost": lost}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
