"""The visible/hidden test protocol of `kelp eval repair --visible-tests K`: the search sees K
tests, the task's whole suite judges the repair, in the real sandbox."""

import json

from kelp.bench.evaluate import EvalConfig, run_eval
from kelp.datasets.tasks import visible_suite
from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite

# The bug makes `clamp` ignore `lo`; the first test alone is passed by patches that are wrong
# on the others, which stay hidden from the search.
BUGGY = "def clamp(x, lo, hi):\n    return min(x, hi)\n"
FIXED = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n"
TESTS = ["assert clamp(-5, 0, 3) == 0", "assert clamp(5, 0, 3) == 3", "assert clamp(1, 0, 3) == 1"]


def test_the_visible_tests_start_with_a_failing_one():
    suite = TestSuite.from_asserts(TESTS)
    with Sandbox(workers=1) as sandbox:
        run = sandbox.run(BUGGY, suite)
    assert run.failing_ids == ["assert_0"]
    assert [t.id for t in visible_suite(suite, run, 2).tests] == ["assert_0", "assert_1"]
    passing_first = TestSuite.from_asserts(TESTS[1:] + TESTS[:1])
    with Sandbox(workers=1) as sandbox:
        run = sandbox.run(BUGGY, passing_first)
    assert [t.id for t in visible_suite(passing_first, run, 1).tests] == ["assert_2"]


def test_a_repair_is_judged_by_the_hidden_tests_and_counted_in_overfit_share(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    rows = [{"task_id": "clamp", "source": BUGGY, "tests": TESTS, "fixed": FIXED,
             "meta": {"category": "missing logic"}},
            {"task_id": "inc", "source": "def inc(x):\n    return x - 1\n",
             "tests": ["assert inc(1) == 2", "assert inc(5) == 6"], "fixed": "def inc(x):\n    return x + 1\n"}]
    tasks.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = EvalConfig(bench=f"jsonl:{tasks}", budget=32, visible_tests=1)
    summary = run_eval(config, tmp_path / "out", workers=1, quiet=True)
    records = {json.loads(line)["task_id"]: json.loads(line) for line in (tmp_path / "out/results.jsonl").open()}
    assert records["clamp"]["visible"] == ["assert_0"] and records["inc"]["visible"] == ["assert_0"]
    assert records["inc"]["solved"] and records["inc"]["hidden_pass"] and records["inc"]["hidden_tests"] == [2, 2]
    clamp = records["clamp"]  # `min(lo, hi)` fits the one test it sees
    assert clamp["solved"] and not clamp["hidden_pass"] and clamp["hidden_tests"] == [1, 3]
    assert summary["overfit_share"] == 0.5 and summary["correct"] == 1
    assert clamp["category"] == "missing logic" and "category" not in records["inc"]
    # new inputs judged by the known fix: `x + 1` is right on them too
    assert records["inc"]["differential_pass"] and records["inc"]["differential_tests"][1] > 2
    assert summary["per_category"] == {"missing logic": {"n": 1, "solved": 1, "solved_rate": 1.0, "solved_at_16": 1}}
