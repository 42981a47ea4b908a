"""Development tasks of one mutation family: MBPP **train** programs, each given one seeded bug of
the family, written as kelp JSONL (the format of ``kelp eval repair jsonl:PATH``).

A development set for one kind of bug (the benchmarks mix every family, and the validation split
holds only a few of each). Only the train split is used: the test split is never tuned on.

    python benchmarks/family_tasks.py --family delete_statement --n 120 --out runs/dev/del.jsonl
    kelp eval repair jsonl:runs/dev/del.jsonl --out runs/dev-del

Each program gets the family's mutation seeded by its task_id; programs where the family has no
site are skipped. Prints ``{"tasks": N, "out": PATH}``. The bugs are not filtered for breaking a
test: a task whose tests still pass is reported by the evaluation as already passing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", required=True, help="a family of kelp.corrupt.forward.SITES")
    parser.add_argument("--n", type=int, default=120, help="tasks to write (at most)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from kelp.corrupt.forward import SITES, mutate
    from kelp.datasets.loaders import load_mbpp
    from kelp.program import parse, unparse

    if args.family not in SITES:
        print(f"unknown family {args.family!r}; one of {sorted(SITES)}", file=sys.stderr)
        return 2
    rows = []
    for problem in load_mbpp("train"):
        try:
            tree = parse(problem.code)
        except Exception:  # noqa: BLE001 - a program that does not parse gives no task
            continue
        result = mutate(tree, args.family, random.Random(int(problem.task_id)))
        if result is None:
            continue
        buggy, _mutation = result
        rows.append({"task_id": f"{problem.task_id}-{args.family}", "source": unparse(buggy),
                     "tests": list(problem.tests), "setup": problem.setup or "", "fixed": unparse(tree)})
        if len(rows) >= args.n:
            break
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(json.dumps({"tasks": len(rows), "out": args.out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
