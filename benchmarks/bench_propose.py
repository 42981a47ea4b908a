"""Proposing speed: one call of the enumerative proposer on a ~1,000-line module and on a small
MBPP program.

The large program is the standard library's ``traceback.py`` of this interpreter (1,018 lines
in CPython 3.11), corrupted by the forward process (``kelp.corrupt.forward.corrupt``; the first
seed whose mutation makes one of seven assert tests fail) and the mutation written back into
the file's own text (comments kept, as a user's file has them); the small one is the longest
reference solution of MBPP's prompt split (task ids 1-10), corrupted the same way against its
own asserts. Each program's localization comes from a real coverage run of its tests in the
sandbox, as ``kelp repair`` gets it. Timed: ``EnumerativeProposer.propose`` for the root state
(``k=None``: every candidate, missing guards included) and for a deeper state (``k=64``,
as the search asks below the root), median of ``--repeat`` calls, CPU seconds of this process
and wall seconds; "focused" is the default proposer, "whole" the same proposer enumerating
every executed node of the program (``focus_min_lines=None``: the enumeration the proposer
made before it focused on the most suspicious lines). Prints one JSON object.

``--src DIR`` imports ``kelp`` from ``DIR`` (e.g. an export of an older commit's ``src``) to
time that version's proposer on the same inputs; a version without ``focus_min_lines`` reports
its only path as "focused". Target: <= 0.2 s per state of the large module.

    python benchmarks/bench_propose.py --repeat 5
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Tests of traceback.py's formatting helpers (they call it as a module of plain functions).
TRACEBACK_TESTS = [
    "assert format_exception_only(ValueError('boom')) == ['ValueError: boom\\n']",
    "assert format_exception_only(KeyError('k')) == [\"KeyError: 'k'\\n\"]",
    "assert _format_final_exc_line('E', 'msg') == 'E: msg\\n'",
    "assert _format_final_exc_line('E', None) == 'E\\n'",
    "assert ''.join(format_list([('f.py', 3, 'fn', 'x = 1')])) == "
    "'  File \"f.py\", line 3, in fn\\n    x = 1\\n'",
    "assert _safe_string(5, 'value') == '5'",
    "assert len(StackSummary.from_list([('a.py', 1, 'g', 'y')])) == 1",
]


def _broken(source: str, suite, sandbox, seeds: int = 50):
    """The first corruption of ``source`` (seed 0, 1, ...) that fails a test, written into
    ``source``'s own text (comments and formatting kept, as in a real file), with its mutation
    and coverage run."""
    from kelp.corrupt.forward import corrupt
    from kelp.program.tree import parse
    from kelp.repair.splice import minimal_source

    for seed in range(seeds):
        try:
            corruption = corrupt(source, steps=1, seed=seed)
        except Exception:  # nothing to corrupt at this seed
            continue
        text = minimal_source(source, parse(source), parse(corruption.source))
        run = sandbox.run(text, suite, coverage=True, continue_after_timeout=True)
        if run.status == "ok" and not run.all_passed:
            return text, corruption.mutations[0], run
    raise SystemExit("no corruption breaks the tests")


def _timed(propose, repeat: int) -> dict:
    cpu, wall, count = [], [], 0
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        count = len(propose())
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"cpu_s": round(statistics.median(cpu), 4), "wall_s": round(statistics.median(wall), 4),
            "candidates": count}


def _case(name: str, source: str, tests: list[str], repeat: int, sandbox) -> dict:
    from kelp.execute.localize import line_suspiciousness, with_crash_lines
    from kelp.execute.suites import TestSuite
    from kelp.program.tree import parse
    from kelp.repair.enumerate import EnumerativeProposer
    from kelp.repair.proposer import Feedback

    suite = TestSuite.from_asserts(tests)
    text, mutation, run = _broken(source, suite, sandbox)
    lines = with_crash_lines(line_suspiciousness(run, "ochiai"), run)
    feedback = Feedback.from_run(run, lines, [t.source for t in suite.tests], suite.entry_point)
    tree = parse(text)
    proposers = {"focused": EnumerativeProposer()}
    try:
        proposers["whole"] = EnumerativeProposer(focus_min_lines=None)
    except TypeError:  # a version that always enumerates the whole program
        pass
    out = {"program": name, "lines": len(text.splitlines()), "mutation": mutation.to_json(),
           "suspicious_lines": sum(1 for v in lines.values() if v > 0)}
    for label, k in (("root", None), ("deeper", 64)):
        out[label] = {variant: _timed(lambda p=proposer: p.propose(tree, feedback, k), repeat)
                      for variant, proposer in proposers.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="calls per measurement (median reported)")
    parser.add_argument("--src", default=os.path.join(ROOT, "src"), help="directory to import kelp from")
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.src))

    import traceback as stdlib_traceback

    import kelp
    from kelp.datasets.loaders import load_mbpp
    from kelp.execute.sandbox import Sandbox

    small = max(load_mbpp("prompt"), key=lambda p: len(p.code.splitlines()))
    with Sandbox(workers=1) as sandbox:
        large = _case(f"stdlib traceback.py (Python {platform.python_version()})",
                      inspect.getsource(stdlib_traceback), TRACEBACK_TESTS, args.repeat, sandbox)
        mbpp = _case(f"MBPP task {small.task_id}", small.code, list(small.tests), args.repeat, sandbox)
    print(json.dumps({"kelp": os.path.dirname(kelp.__file__), "repeat": args.repeat, "target_s": 0.2,
                      "large": large, "small": mbpp}, indent=2))


if __name__ == "__main__":
    main()
