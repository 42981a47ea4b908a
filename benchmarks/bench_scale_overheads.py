"""The fixed costs that bound kelp's scale-out, measured here: the numbers behind the 100-machine
estimate of docs/scaling.md.

- ``ray_start_s``: starting a local Ray runtime (``kelp.scale.connect("local")``);
- ``unit_overhead_ms``: the round trip of one empty unit through ``map_units(ray=True)``
  (submit, schedule, run, return), amortised over ``--units`` units on a warm runtime;
- ``driver_write_us``: the driver appending one result line (``append_record``, one
  ``os.write`` of a ~2 KB JSON line, the size of a repair result with its source);
- ``sandbox_start_s``: starting one sandbox pool of one worker process and running its first
  (one-assert) program, which waits for the worker to be ready (a worker's first unit pays it
  once).

    python benchmarks/bench_scale_overheads.py --units 2000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))


def _setup(cpus: int) -> int:
    return cpus


def _echo(state: int, payload: int) -> int:
    return payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=20000)
    parser.add_argument("--sandboxes", type=int, default=5)
    args = parser.parse_args()

    from kelp.datasets.jsonl import append_record
    from kelp.execute.sandbox import Sandbox
    from kelp.execute.suites import TestSuite
    from kelp.scale import Work, connect, map_units

    report: dict = {"cpus": os.cpu_count()}
    started = time.perf_counter()
    with connect("local"):
        report["ray_start_s"] = round(time.perf_counter() - started, 2)
        work = Work(_setup, _echo)
        list(map_units(work, [(str(i), i) for i in range(50)], ray=True))  # warm the workers
        t0 = time.perf_counter()
        results = list(map_units(work, [(str(i), i) for i in range(args.units)], ray=True))
        assert len(results) == args.units
        report["unit_overhead_ms"] = round(1000 * (time.perf_counter() - t0) / args.units, 3)
    line = {"task_id": "x", "repaired": "def f(xs):\n    return sorted(xs)\n" * 50, "solved": True}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.jsonl"
        t0 = time.perf_counter()
        for i in range(args.writes):
            append_record(path, {**line, "task_id": str(i)})
        report["driver_write_us"] = round(1e6 * (time.perf_counter() - t0) / args.writes, 1)
        report["line_bytes"] = len(json.dumps(line)) + 1
    starts = []
    for _ in range(args.sandboxes):
        t0 = time.perf_counter()
        with Sandbox(workers=1) as sandbox:
            sandbox.run("def f():\n    return 1\n", TestSuite.from_asserts(["assert f() == 1"]))
            starts.append(time.perf_counter() - t0)
    report["sandbox_start_s"] = round(statistics.median(starts), 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
