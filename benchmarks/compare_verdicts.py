"""Compare the per-task verdicts of two `kelp eval repair` result folders (e.g. a serial run and
a `--ray` run of the same command): prints JSON with the task counts, whether every task's
verdict agrees, and the tasks that differ with their differing fields.

A verdict is every field of a result line that does not measure time: solved, executions,
executions_to_solve, repaired, reason, restored, equivalent, tests_before, tests_after,
localization_top1, hidden and differential results.

    python benchmarks/compare_verdicts.py runs/eval-serial runs/eval-ray
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

#: Result fields that measure time, left out of the verdict.
TIMED = {"seconds", "judge_seconds"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args()

    from kelp.datasets.jsonl import read_records

    runs = [{r["task_id"]: {k: v for k, v in r.items() if k not in TIMED} for r in read_records(folder / "results.jsonl")}
            for folder in (args.a, args.b)]
    differing = {}
    for task in sorted(set(runs[0]) | set(runs[1]), key=str):
        a, b = runs[0].get(task), runs[1].get(task)
        if a != b:
            differing[task] = "missing" if a is None or b is None else sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    print(json.dumps({"tasks": [len(runs[0]), len(runs[1])], "identical": not differing, "differing": differing}, indent=2))


if __name__ == "__main__":
    main()
