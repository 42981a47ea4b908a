"""Ablation of iterative refinement (issue 4): which test signal, and whether scheduled sampling
in training, makes iterating help.

Every arm is one ``kelp eval refine`` run (same seeded noise per task, MBPP test split) stored
under ``--out/<arm>-r<rate>``; finished runs are reused and interrupted ones resume, so the
script can be rerun until it completes. Arms:

- ``signal=S`` for S in none / binary / tarantula / ochiai: the checkpoint ``--checkpoint``
  (trained with scheduled sampling and Ochiai signals) refined with signal S at inference;
- ``no_ss``: the checkpoint ``--no-ss-checkpoint`` (same settings, ``--ss-max 0``: trained only
  on noised states, as the seed experiments did), refined with Ochiai.

Prints one JSON object per (arm, rate) as it finishes, then a Markdown table with one-shot and
final accuracy over corrupted slots and the gain, at each rate, and saves both as
``--out/ablation.json`` and ``--out/ablation.md``.

    python benchmarks/ablate_refine.py --checkpoint runs/graph-v1/checkpoint \\
        --no-ss-checkpoint runs/graph-v1-noss/checkpoint --n 100 --out runs/ablate-refine
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

SIGNAL_ARMS = ("none", "binary", "tarantula", "ochiai")


def table(rows: list[dict], rates: list[float]) -> str:
    """Markdown table: one row per arm, one-shot / final / gain (percent) per rate."""
    head = "| arm | " + " | ".join(f"{r:.0%}: one-shot / final / gain" for r in rates) + " |"
    lines = [head, "|---|" + "---|" * len(rates)]
    arms = list(dict.fromkeys(row["arm"] for row in rows))
    for arm in arms:
        cells = []
        for rate in rates:
            row = next((x for x in rows if x["arm"] == arm and x["rate"] == rate), None)
            cells.append("-" if row is None else
                         f"{row['one_shot']:.1%} / {row['final']:.1%} / {row['gain'] * 100:+.1f}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="graph checkpoint trained with scheduled sampling")
    parser.add_argument("--no-ss-checkpoint", help="the same training with --ss-max 0 (omit to skip that arm)")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rates", default="0.2,0.5,0.75")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--signals", default=",".join(SIGNAL_ARMS))
    parser.add_argument("--out", default="runs/ablate-refine")
    args = parser.parse_args()
    try:
        rates = [float(r) for r in args.rates.split(",")]
    except ValueError:
        parser.error(f"--rates must be comma-separated numbers, got {args.rates!r}")
    signals = args.signals.split(",")
    unknown = [s for s in signals if s not in SIGNAL_ARMS]
    if unknown:
        parser.error(f"unknown signals {unknown}; choose from {list(SIGNAL_ARMS)}")
    for path in filter(None, (args.checkpoint, args.no_ss_checkpoint)):
        if not Path(path).is_dir():
            parser.error(f"{path} is not a checkpoint directory")

    from kelp.bench.refine_eval import RefineEvalConfig, run_refine_eval

    arms = [(f"signal={s}", args.checkpoint, s) for s in signals]
    if args.no_ss_checkpoint:
        arms.append(("no_ss (signal=ochiai)", args.no_ss_checkpoint, "ochiai"))
    out = Path(args.out)
    rows = []
    for name, checkpoint, signal in arms:
        for rate in rates:
            config = RefineEvalConfig(rate=rate, iterations=args.iterations, signal=signal, n=args.n,
                                      checkpoint=checkpoint)
            slug = name.split(" ")[0].replace("=", "-")
            summary = run_refine_eval(config, out / f"{slug}-r{rate}", quiet=True)
            row = {"arm": name, "rate": rate, "checkpoint": checkpoint, "signal": signal, "n": summary["n"],
                   "one_shot": summary["one_shot_accuracy"], "final": summary["final_accuracy"],
                   "gain": summary["gain"], "changed_after_first": summary["changed_after_first"],
                   "passed": summary["passed_rate"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    text = table(rows, rates)
    print(text)
    (out / "ablation.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / "ablation.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
