"""`kelp train edit` on 1 process and under torchrun on N processes at the same global batch:
training throughput (samples/s) and how far apart the loss curves are, side by side in one run.

Each arm trains a fresh model into its own folder with the same settings and seed; the 1-process
arm uses all of torch's threads, each of the N ranks one thread (torchrun's default). Samples/s
counts the optimizer steps' examples (``--batch`` per step) over the training rows' wall time,
so the tokenizer and the held-out evaluation are not counted. Prints one JSON object and, with
``--plot``, draws both loss curves.

    python benchmarks/bench_ddp.py --corpus runs/corpus --steps 60 --batch 16 --plot docs/img/ddp-loss.png
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def _arm(processes: int, args, folder: Path) -> dict:
    kelp = str(Path(sys.executable).with_name("kelp"))
    train = ["train", "edit", "--corpus", str(args.corpus), "--out", str(folder), "--steps", str(args.steps),
             "--batch", str(args.batch), "--eval-every", str(args.steps), "--eval-tasks", str(args.eval_tasks),
             "--log-every", "1", "--seed", str(args.seed)]
    if processes == 1:
        command = [kelp, *train]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                   str(processes), "--no-python", kelp, *train]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    losses = {r["step"]: r["loss"] for r in rows if "loss" in r}
    seconds = [r["seconds"] for r in rows if "loss" in r]
    # the first step includes start-up of the prefetch thread; count from the first row on
    trained = (len(seconds) - 1) * args.batch
    return {"losses": losses, "samples_per_s": round(trained / max(seconds[-1] - seconds[0], 1e-9), 2),
            "final_eval": [r for r in rows if "loss" not in r][-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--eval-tasks", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kelp-ddp-") as tmp:
        one = _arm(1, args, Path(tmp) / "one")
        many = _arm(args.processes, args, Path(tmp) / "many")
    steps = sorted(one["losses"])
    gaps = [abs(one["losses"][s] - many["losses"][s]) / one["losses"][s] for s in steps]
    report = {"steps": args.steps, "global_batch": args.batch, "processes": args.processes, "cpus": os.cpu_count(),
              "samples_per_s": {"1": one["samples_per_s"], str(args.processes): many["samples_per_s"]},
              "speedup": round(many["samples_per_s"] / one["samples_per_s"], 3),
              "loss_first": [one["losses"][steps[0]], many["losses"][steps[0]]],
              "loss_last": [one["losses"][steps[-1]], many["losses"][steps[-1]]],
              "loss_gap_max_relative": round(max(gaps), 4), "loss_gap_mean_relative": round(sum(gaps) / len(gaps), 4),
              "final_eval": {"1": one["final_eval"], str(args.processes): many["final_eval"]}}
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(steps, [one["losses"][s] for s in steps], label="1 process")
        ax.plot(steps, [many["losses"][s] for s in steps], "--", label=f"{args.processes} processes (torchrun, DDP)")
        ax.set_xlabel("step")
        ax.set_ylabel(f"training loss (global batch {args.batch})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        plt.close(fig)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
