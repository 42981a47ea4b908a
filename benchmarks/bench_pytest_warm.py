"""What one candidate costs kelp in a real project's pytest suite, against one plain pytest run.

Builds a small package with a test file of about 150 tests (parametrised and plain, a few
failing), then times, interleaved, each ``--reps`` times:

* ``plain``: ``python -m pytest -q -p no:cacheprovider tests/test_text.py`` in a fresh
  interpreter, as a user runs it (interpreter start, pytest start-up, collection, 150 tests);
* ``kelp_full``: ``Sandbox.run`` of a candidate on the whole file (the warm session forks a child,
  which imports the candidate, collects the test module again and runs every test);
* ``kelp_candidate``: a candidate run as the repair search runs it (failing tests first, stop at
  the first failure);
* ``kelp_coverage``: the search's first run, under per-test coverage, continuing after timeouts.

Prints one JSON object: the medians and minima in seconds and ``ratio_full`` (kelp_full /
plain), the number the warm session is judged by (at most 3).  Usage::

    python benchmarks/bench_pytest_warm.py [--tests 150] [--reps 7] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from kelp.execute import Limits, Sandbox, TestSuite

PROGRAM = textwrap.dedent('''
    """Small text helpers."""


    def words(text):
        return text.split()


    def shout(text):
        return text.upper() + "!"


    def initials(name):
        return "".join(part[0] for part in name.split()).upper()


    def clamp(x, lo, hi):
        return max(lo, min(x, lo))


    def chunks(xs, n):
        return [xs[i:i + n] for i in range(0, len(xs), n)]
''')


def make_project(root: Path, n_tests: int) -> Path:
    """A package ``textlib`` and ``tests/test_text.py`` with about ``n_tests`` tests."""
    (root / "textlib").mkdir()
    (root / "textlib" / "__init__.py").write_text("")
    (root / "textlib" / "core.py").write_text(PROGRAM)
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    (root / "tests").mkdir()
    per = max(1, (n_tests - 10) // 4)
    (root / "tests" / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture\ndef sentence():\n    return 'the quick brown fox'\n")
    (root / "tests" / "test_text.py").write_text(textwrap.dedent(f'''
        import pytest
        from textlib.core import chunks, clamp, initials, shout, words

        @pytest.mark.parametrize("n", range({per}))
        def test_words(n):
            assert words("a " * n) == ["a"] * n

        @pytest.mark.parametrize("n", range({per}))
        def test_shout(n):
            assert shout("x" * n) == "X" * n + "!"

        @pytest.mark.parametrize("n", range({per}))
        def test_chunks(n):
            assert sum(chunks(list(range(n)), 3), []) == list(range(n))

        @pytest.mark.parametrize("x", range({per}))
        def test_clamp_inside(x):
            assert clamp(x, 0, {per}) == x

        def test_initials(sentence):
            assert initials(sentence) == "TQBF"
    ''') + "".join(f"\n\ndef test_plain_{i}(sentence):\n    assert len(words(sentence)) == 4\n"
                   for i in range(9)))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=150)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kelp-bench-warm-") as tmp:
        root = make_project(Path(tmp), args.tests)
        program_path = root / "textlib" / "core.py"
        try:
            suite = TestSuite.from_pytest([str(root / "tests" / "test_text.py")], str(program_path),
                                          invocation_dir=str(root))
        except TypeError:  # a kelp from before pytest runs had an invocation directory
            suite = TestSuite.from_pytest([str(root / "tests" / "test_text.py")], str(program_path), rootdir=str(root))
        times: dict[str, list[float]] = {"plain": [], "kelp_full": [], "kelp_candidate": [], "kelp_coverage": []}
        with Sandbox(workers=args.workers, limits=Limits(test_timeout=2.0, job_timeout=60.0)) as sandbox:
            t0 = time.perf_counter()
            suite = sandbox.collect(PROGRAM, suite)
            first_collect = time.perf_counter() - t0
            baseline = sandbox.run(PROGRAM, suite)
            failing = baseline.failing_ids
            plain_out = ""
            for rep in range(args.reps):
                candidate = PROGRAM + f"\n# candidate {rep}\n"
                t = time.perf_counter()
                proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                       "tests/test_text.py"], cwd=root, capture_output=True, text=True)
                times["plain"].append(time.perf_counter() - t)
                plain_out = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
                t = time.perf_counter()
                full = sandbox.run(candidate, suite)
                times["kelp_full"].append(time.perf_counter() - t)
                t = time.perf_counter()
                sandbox.run(candidate, suite, order=failing, stop_on_first_failure=True)
                times["kelp_candidate"].append(time.perf_counter() - t)
                t = time.perf_counter()
                sandbox.run(candidate, suite, coverage=True, continue_after_timeout=True)
                times["kelp_coverage"].append(time.perf_counter() - t)
        result = {
            "tests": len(suite.tests), "reps": args.reps, "workers": args.workers,
            "kelp_passed": full.passed, "kelp_failed": full.failed, "plain_summary": plain_out,
            "first_collect_seconds": round(first_collect, 4),
            **{f"{k}_median": round(statistics.median(v), 4) for k, v in times.items()},
            **{f"{k}_min": round(min(v), 4) for k, v in times.items()},
        }
        result["ratio_full"] = round(result["kelp_full_median"] / result["plain_median"], 3)
        result["ratio_candidate"] = round(result["kelp_candidate_median"] / result["plain_median"], 3)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
