"""Does a plausible patch's behaviour distance to the buggy program tell correct patches from
overfitting ones? An analysis of a `kelp eval repair ... --visible-tests 1` run on a JSONL
benchmark with known fixes (e.g. `humanbugs`).

For every solved task, new inputs are made from the visible test's calls (one literal argument
changed a little: :func:`kelp.datasets.differential.differential_suite`, up to 20), and the
outputs of the repair and of the known fix are each compared with the buggy program's. Prints
one line per task and then, for repairs right and wrong on the hidden tests, the mean share of
inputs on which the repair's output differs from the buggy program's, and how many of each a
threshold on that share would doubt. An idea of PATCH-SIM (Xiong et al., ICSE 2018, "Identifying
patch correctness in test-based program repair"), reduced to outputs.

    python benchmarks/behaviour_distance.py runs/fin-hb-v1/results.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import replace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", help="results.jsonl of a --visible-tests run")
    parser.add_argument("--bench", default=None, help="JSONL task file (default: the bundled humanbugs)")
    args = parser.parse_args()

    from kelp.datasets.differential import differential_suite
    from kelp.datasets.jsonl import read_records
    from kelp.datasets.loaders import HUMANBUGS_FILE, entry_point_of, load_jsonl_tasks
    from kelp.execute.sandbox import Limits, Sandbox

    tasks = {t.task_id: t for t in load_jsonl_tasks(args.bench or HUMANBUGS_FILE)}
    rows = []
    with Sandbox(limits=Limits(test_timeout=1.0)) as sandbox:
        for record in read_records(args.results):
            task = tasks.get(record["task_id"])
            if not record.get("solved") or task is None or not task.fixed:
                continue
            entry = entry_point_of(task.source, [t.source for t in task.suite.tests])
            seen = set(record.get("visible") or [])
            visible = replace(task.suite, tests=tuple(t for t in task.suite.tests if t.id in seen))
            probe = differential_suite(visible, task.source, entry, limit=20)  # judged by the buggy program
            probe = replace(probe, tests=tuple(t for t in probe.tests if t.id.startswith("diff_")))
            if not probe.tests:
                continue

            def differs(source: str) -> int:
                run = sandbox.run(source, probe, continue_after_timeout=True)
                return sum(o.status != "pass" for o in run.outcomes)

            n = len(probe.tests)
            row = (record["task_id"], bool(record.get("hidden_pass")), differs(record["repaired"]) / n,
                   differs(task.fixed) / n)
            rows.append(row)
            print(f"{row[0][:44]:44} {'right' if row[1] else 'WRONG'}  repair {row[2]:.2f}  fix {row[3]:.2f}",
                  file=sys.stderr)
    right = [r[2] for r in rows if r[1]]
    wrong = [r[2] for r in rows if not r[1]]
    report = {"right": len(right), "wrong": len(wrong),
              "mean_share_right": round(statistics.mean(right), 3) if right else None,
              "mean_share_wrong": round(statistics.mean(wrong), 3) if wrong else None,
              "doubted_at": {str(t): {"right": sum(x > t for x in right), "wrong": sum(x > t for x in wrong)}
                             for t in (0.3, 0.5, 0.7)}}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
