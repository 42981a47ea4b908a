"""Start-up time of the kelp command line, side by side with ``python -c "import typer"``.

Three commands, each run ``--runs`` times interleaved (median wall seconds, measured by the
caller): ``python -c "import typer"`` (the floor any typer CLI pays), ``kelp --help``, and
``kelp repair`` of a 3-line function against two asserts with the enumerative proposer (which
must not import torch or transformers).  Prints one JSON object.

    python benchmarks/bench_startup.py --runs 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROGRAM = "def add(a, b):\n    return a - b\n"
TESTS = "assert add(1, 2) == 3\nassert add(2, 2) == 4\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    kelp = [sys.executable, "-m", "kelp.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        prog, tests = os.path.join(tmp, "prog.py"), os.path.join(tmp, "tests.py")
        with open(prog, "w") as fh:
            fh.write(PROGRAM)
        with open(tests, "w") as fh:
            fh.write(TESTS)
        commands = {
            "import_typer": ([sys.executable, "-c", "import typer"], 0),
            "kelp_help": (kelp + ["--help"], 0),
            "kelp_repair": (kelp + ["repair", prog, "--tests", tests], 0),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (cmd, expected) in commands.items():
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True)
                times[name].append(time.perf_counter() - t0)
                if proc.returncode != expected:
                    raise SystemExit(f"{name} exited {proc.returncode}: {proc.stderr[-500:]}")
    out = {f"{name}_median_s": round(statistics.median(t), 3) for name, t in times.items()}
    out |= {f"{name}_max_s": round(max(t), 3) for name, t in times.items()}
    out["runs"] = args.runs
    out["targets"] = {"kelp_help_median_s": 0.5, "kelp_repair_median_s": 1.5}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
