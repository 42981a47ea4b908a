"""Throughput of ``kelp eval repair`` serially and as Ray tasks on 1 and 2 local workers, side by
side in one run, with a check that every arm gives the same per-task verdicts.

Arms (the same tasks and settings, each into its own fresh result folder):

- ``serial``: the plain command (one process, a sandbox pool of ``os.cpu_count()`` workers);
- ``ray-1``: ``--ray local`` on a Ray runtime of 1 CPU (one Ray task at a time, 1 sandbox worker);
- ``ray-2``: the same runtime with 2 CPUs (two tasks at once, 1 sandbox worker each).

Each arm's time includes starting its Ray runtime and its workers (their sandboxes). Prints one
JSON object: per arm wall seconds, tasks/s and candidate checks/s (candidate executions of the
search per second), the speed-up of ``ray-2`` over ``ray-1`` (the efficiency ratio is that over
2), and ``identical_verdicts`` (solved, executions, executions_to_solve and the repair of every
task agree across the arms).

    python benchmarks/bench_scale_eval.py --n 60
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

#: Result fields that must agree between arms (time-independent).
VERDICT = ("solved", "executions", "executions_to_solve", "repaired", "reason")


def _arm(config, folder: Path, ray_cpus: int | None) -> tuple[float, list[dict]]:
    from kelp.bench.evaluate import run_eval
    from kelp.datasets.jsonl import read_records
    from kelp.scale import connect

    started = time.perf_counter()
    if ray_cpus is None:
        run_eval(config, folder, quiet=True)
    else:
        with connect("local", cpus=ray_cpus):
            run_eval(config, folder, quiet=True, ray="local")
    return time.perf_counter() - started, read_records(folder / "results.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default="mbpp")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--budget", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--arms", default="serial,ray-1,ray-2")
    args = parser.parse_args()

    from kelp.bench.evaluate import EvalConfig

    config = EvalConfig(bench=args.bench, steps=args.steps, n=args.n, budget=args.budget)
    report: dict = {"bench": args.bench, "n": args.n, "budget": args.budget, "steps": args.steps,
                    "cpus": os.cpu_count(), "arms": {}}
    verdicts = {}
    with tempfile.TemporaryDirectory(prefix="kelp-scale-") as tmp:
        for arm in args.arms.split(","):
            ray_cpus = None if arm == "serial" else int(arm.split("-")[1])
            seconds, records = _arm(config, Path(tmp) / arm, ray_cpus)
            checks = sum(r["executions"] for r in records)
            report["arms"][arm] = {"seconds": round(seconds, 2), "tasks": len(records),
                                   "tasks_per_s": round(len(records) / seconds, 3),
                                   "checks_per_s": round(checks / seconds, 1),
                                   "solved": sum(1 for r in records if r["solved"])}
            verdicts[arm] = {r["task_id"]: tuple(r.get(k) for k in VERDICT) for r in records}
            print(json.dumps({arm: report["arms"][arm]}), file=sys.stderr)
    arms = report["arms"]
    if "ray-1" in arms and "ray-2" in arms:
        report["speedup_2_over_1"] = round(arms["ray-2"]["tasks_per_s"] / arms["ray-1"]["tasks_per_s"], 3)
        report["efficiency_2"] = round(report["speedup_2_over_1"] / 2, 3)
    first = next(iter(verdicts.values()))
    report["identical_verdicts"] = all(v == first for v in verdicts.values())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
