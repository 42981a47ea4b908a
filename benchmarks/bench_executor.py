"""Candidate checks per second: kelp's fork-server Sandbox pool vs a process-per-candidate baseline.

Candidates come from the 500 MBPP test-split tasks (task_id 11..510, Austin et al. 2021): each
task's reference ``code`` and a simple mutant of it (first ``+`` -> ``-``, else first ``==`` ->
``!=``, else first ``<`` -> ``>``), so some candidates fail.  A *check* is one program against its
task's full assert list (stop_on_first_failure=False).  The baseline is the human-eval style of
execution: a fresh ``python -c`` subprocess per candidate with a timeout, run with the same number
of parallel workers, under the same generous time limit (``--timeout`` per test), so both do
the same work.  A second baseline, ``humaneval``, follows the human-eval harness's own
``check_correctness`` (Chen et al. 2021): per candidate a ``multiprocessing.Manager`` for the
result and a forked ``multiprocessing.Process`` that runs the program and its asserts in a temp
dir under a ``setitimer`` time limit.

A fourth arm, ``bare``, is the same pool with the kernel layers turned off (namespaces, cgroups,
memory watchdog, seccomp, Landlock; rlimits, the private uid and the audit hook stay): what the
layers cost, as ``layer_cost_fast`` = bare fast rate / pool fast rate.

Prints one JSON object: overall rates and their ratio against each baseline, the median
per-check latency of each (timed by the caller, host side, for all three), and throughput over
the candidates that took under 1 s in every executor (``n_fast`` of them; the median over
``--rounds`` interleaved passes).  The overall rate is
bounded by the slowest correct programs, whose own compute no executor can remove (MBPP task
123's reference takes ~1.9 s of its 3.4 s on one core); the ``fast`` rates measure the
per-candidate overhead that the pool exists to remove.

    python benchmarks/bench_executor.py --n 200 --workers 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
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


def _humaneval_target(program: str, asserts: list[str], setup: str, timeout: float, result) -> None:
    """Child side of the human-eval style check: temp dir, time limit, exec, report."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            ns: dict = {}
            exec(program + "\n" + setup + "\n" + "\n".join(asserts), ns)
            result.append("passed")
        except BaseException as exc:  # noqa: BLE001 - any failure of the candidate is a verdict
            result.append(f"failed: {type(exc).__name__}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def humaneval_check(program: str, asserts: list[str], setup: str, timeout: float) -> bool:
    """One candidate the way human-eval's ``check_correctness`` runs it: a Manager list for the
    result and a forked Process joined with ``timeout + 1`` s, killed if still alive."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        result = manager.list()
        proc = ctx.Process(target=_humaneval_target, args=(program, asserts, setup, timeout, result))
        proc.start()
        proc.join(timeout=timeout + 1)
        if proc.is_alive():
            proc.kill()
            proc.join()
        return list(result) == ["passed"]


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of candidate checks")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per test for every executor (the baselines get this times the number of tests), "
                             "generous so neither kills the few slow but correct candidates")
    parser.add_argument("--rounds", type=int, default=7,
                        help="passes over the fast candidates per executor, interleaved; the median rate is reported")
    args = parser.parse_args()
    candidates = load_candidates(args.n)
    limits = Limits(test_timeout=args.timeout, job_timeout=60.0)

    t0 = time.perf_counter()
    sandbox = Sandbox(workers=args.workers, limits=limits)
    warm = sandbox.run_many([Job("x = 1\n", TestSuite.from_asserts(["assert x == 1"]))] * args.workers)
    startup = time.perf_counter() - t0
    assert all(r.all_passed for r in warm), warm
    sandbox_layers = sandbox.layers()["layers"]
    bare = Sandbox(workers=args.workers, limits=limits,
                   disable=("namespaces", "cgroups", "memory_watchdog", "seccomp", "landlock"))
    bare.run_many([Job("x = 1\n", TestSuite.from_asserts(["assert x == 1"]))] * args.workers)

    def pool_check(program: str, asserts: list[str], setup: str, timeout: float) -> bool:
        return sandbox.run(program, TestSuite.from_asserts(asserts, setup=setup)).all_passed

    def bare_check(program: str, asserts: list[str], setup: str, timeout: float) -> bool:
        return bare.run(program, TestSuite.from_asserts(asserts, setup=setup)).all_passed

    executors = {"pool": pool_check, "bare": bare_check, "baseline": baseline_check, "humaneval": humaneval_check}
    runs = {name: _run_all(check, candidates, args.workers, args.timeout) for name, check in executors.items()}
    fast = [candidates[i] for i in range(len(candidates)) if all(r[1][i][1] < 1.0 for r in runs.values())]
    fast_seconds = {name: [] for name in executors}
    for _ in range(args.rounds):  # one pass takes ~0.3 s: interleave and repeat so load noise evens out
        for name, check in executors.items():
            fast_seconds[name].append(_run_all(check, fast, args.workers, args.timeout)[0])
    sandbox.close()
    bare.close()
    out = {"n": len(candidates), "workers": args.workers, "cpu_count": os.cpu_count(),
           "pool_startup_seconds": round(startup, 3), "layers": sandbox_layers}
    for name, (seconds, timed) in runs.items():
        out[f"{name}_checks_per_s"] = round(len(candidates) / seconds, 1)
        out[f"{name}_median_check_ms"] = round(statistics.median(sec for _, sec in timed) * 1000, 2)
        out[f"{name}_fast_checks_per_s"] = round(len(fast) / statistics.median(fast_seconds[name]), 1)
        out[f"{name}_all_passed"] = sum(ok for ok, _ in timed)
    for name in ("baseline", "humaneval"):
        out[f"ratio_vs_{name}"] = round(out["pool_checks_per_s"] / out[f"{name}_checks_per_s"], 2)
        out[f"fast_ratio_vs_{name}"] = round(out["pool_fast_checks_per_s"] / out[f"{name}_fast_checks_per_s"], 2)
        out[f"median_latency_ratio_vs_{name}"] = round(
            out[f"{name}_median_check_ms"] / out["pool_median_check_ms"], 2)
        out[f"verdict_agreement_{name}"] = round(sum(
            a[0] == b[0] for a, b in zip(runs["pool"][1], runs[name][1])) / len(candidates), 3)
    out["layer_cost_fast"] = round(out["bare_fast_checks_per_s"] / out["pool_fast_checks_per_s"], 3)
    out["n_fast"] = len(fast)
    out["fast_rounds"] = args.rounds
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


def _run_all(check, candidates, workers: int, timeout_per_test: float):
    """Run every candidate through ``check`` on ``workers`` threads, each with a time limit of
    ``timeout_per_test`` times its number of asserts (the pool applies its per-test limit
    instead); returns (wall seconds, [(all passed, seconds) per candidate])."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        timed = list(pool.map(lambda c: _timed(check, *c, timeout=timeout_per_test * len(c[1])), candidates))
    return time.perf_counter() - t0, timed


if __name__ == "__main__":
    main()
