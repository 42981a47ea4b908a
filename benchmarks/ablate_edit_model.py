"""Ablation of the edit model as the only proposer: what feedback, intent and the
valid-position constraint each add.

Arms (each the model alone, best of ``--budget`` candidates, the tests used only to check them):

- ``full``: task text, tests, failing messages and suspiciousness in the prompt; constrained
  decoding;
- ``no_feedback``: no tests, messages or suspiciousness (Kelp's blind setting);
- ``no_intent``: no task text;
- ``no_constraint``: decoding without :class:`~kelp.models.constraints.EditConstraint`.

Tasks: the first ``--n`` MBPP test tasks that one seeded realistic mutation breaks (the
``kelp eval repair mbpp --steps 1`` tasks, same seeds). Prints one JSON object per arm as it finishes,
then a Markdown table: solved@1/4/16, the share of decoded sequences that are valid edits, and
the median seconds per task.

    python benchmarks/ablate_edit_model.py --checkpoint src/kelp/models/checkpoints/edit --n 100
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

ARMS = {
    "full": {},
    "no_feedback": {"use_feedback": False},
    "no_intent": {"use_intent": False},
    "no_constraint": {"constrained": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--budget", type=int, default=16)
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated subset of " + ", ".join(ARMS))
    args = parser.parse_args()
    arms = args.arms.split(",")
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        parser.error(f"unknown arms {unknown}; choose from {list(ARMS)}")

    import torch

    from kelp.datasets.tasks import first_broken_mbpp
    from kelp.execute.sandbox import Sandbox
    from kelp.repair.model_proposer import ModelProposer
    from kelp.repair.search import RepairConfig, repair

    torch.manual_seed(0)
    rows = {}
    with Sandbox(workers=2) as sandbox:
        tasks = first_broken_mbpp("test", sandbox, args.n)
        for arm in arms:
            proposer = ModelProposer(Path(args.checkpoint), **ARMS[arm])
            solved_at, seconds = [], []
            for problem, prepared in tasks:
                result = repair(prepared.task.source, prepared.task.suite, sandbox, RepairConfig(budget=args.budget),
                                proposers=[proposer], initial_run=prepared.initial_run, intent=problem.text)
                solved_at.append(result.executions_to_solve if result.solved else None)
                seconds.append(result.seconds)
            row = {"arm": arm, "n": len(tasks)}
            for budget in (1, 4, args.budget):
                row[f"solved@{budget}"] = round(sum(x is not None and x <= budget for x in solved_at) / len(tasks), 3)
            row["valid_edit_rate"] = round(proposer.stats["valid"] / max(proposer.stats["generated"], 1), 3)
            row["median_seconds"] = round(statistics.median(seconds), 2)
            rows[arm] = row
            print(json.dumps(row), flush=True)
    keys = [k for k in next(iter(rows.values())) if k not in ("arm", "n")]
    print("\n| arm | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for arm, row in rows.items():
        print(f"| {arm} | " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
