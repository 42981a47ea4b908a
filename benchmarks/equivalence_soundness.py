"""Soundness of the test-equivalence skips: every candidate the search skips as test-equivalent to
its parent (:mod:`kelp.repair.equivalence`) is run anyway, and its stop-at-first-failure run is
compared with its parent's.

    python benchmarks/equivalence_soundness.py humanbugs --visible-tests 1
    python benchmarks/equivalence_soundness.py mbpp-validation --steps 3
    python benchmarks/equivalence_soundness.py jsonl:runs/dev/del.jsonl --visible-tests 1

Development sets only (humanbugs, mbpp-validation, jsonl:PATH): the test split is not looked at.
Prints ``{"tasks", "skipped", "differing", "differing_order_only", "examples"}``: a run that
differs only in the order of the characters of a message (a ``set`` of strings printed by
processes with different hash seeds) counts in ``differing_order_only``; ``examples`` gives the
first five other differences (task, edit, both behaviours). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))


def _tasks(bench: str, steps: int, sandbox) -> list:
    from kelp.datasets.loaders import HUMANBUGS_FILE, load_jsonl_tasks

    if bench == "humanbugs":
        return load_jsonl_tasks(HUMANBUGS_FILE)
    if bench.startswith("jsonl:"):
        return load_jsonl_tasks(bench[len("jsonl:"):])
    if bench != "mbpp-validation":
        raise SystemExit(f"unknown development set {bench!r}: humanbugs, mbpp-validation or jsonl:PATH")
    from kelp.datasets.loaders import load_mbpp
    from kelp.datasets.tasks import prepare_mbpp_task

    prepared = (prepare_mbpp_task(p, sandbox, steps=steps, policy="realistic", seed=0, bank=None, dropped=Counter())
                for p in load_mbpp("validation"))
    return [p.task for p in prepared if p is not None]


def _order_only(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(
        x[:3] == y[:3] and sorted(str(x[3])) == sorted(str(y[3])) for x, y in zip(a, b))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench", help="humanbugs, mbpp-validation or jsonl:PATH")
    parser.add_argument("--steps", type=int, default=1, help="bugs per program (mbpp-validation)")
    parser.add_argument("--visible-tests", type=int, default=None, help="tests the search sees")
    parser.add_argument("--n", type=int, default=None, help="first N tasks")
    args = parser.parse_args()

    import kelp.repair.search as search
    from kelp.datasets.tasks import visible_suite
    from kelp.execute.sandbox import Limits, Sandbox
    from kelp.repair.splice import splice_edit

    counts = Counter()
    examples: list[dict] = []
    current = {"task": None}
    judged = search._Search._unchanged

    def checked(self, item):
        skipped = judged(self, item)
        if skipped:
            parent = self.states[item.parent]
            spliced = splice_edit(parent.source, parent.tree, item.edit)
            if spliced is None:
                return skipped
            run = self.sandbox.run(spliced.text, self.suite, order=self.failing_first, stop_on_first_failure=True)
            seen = search._behaviour(run)
            counts["skipped"] += 1
            if seen != parent.behaviour:
                if _order_only(seen, parent.behaviour):
                    counts["differing_order_only"] += 1
                else:
                    counts["differing"] += 1
                    if len(examples) < 5:
                        examples.append({"task": str(current["task"]), "edit": item.edit.to_json(),
                                         "parent": repr(parent.behaviour), "candidate": repr(seen)})
        return skipped

    search._Search._unchanged = checked
    with Sandbox(workers=2, limits=Limits(test_timeout=2.0)) as sandbox:
        tasks = _tasks(args.bench, args.steps, sandbox)[: args.n]
        for number, task in enumerate(tasks, 1):
            current["task"] = task.task_id
            suite = task.suite
            if args.visible_tests is not None and len(suite.tests) > args.visible_tests:
                suite = visible_suite(suite, sandbox.run(task.source, suite), args.visible_tests)
            try:
                search.repair(task.source, suite, sandbox, search.RepairConfig(ranker="bundled"))
            except search.RepairInputError:
                continue
            print(f"\r{number}/{len(tasks)} tasks, {counts['skipped']} skipped", end="", file=sys.stderr)
    print(file=sys.stderr)
    print(json.dumps({"tasks": len(tasks), "skipped": counts["skipped"], "differing": counts["differing"],
                      "differing_order_only": counts["differing_order_only"], "examples": examples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
