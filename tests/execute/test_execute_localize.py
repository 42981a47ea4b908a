"""Spectrum-based fault localization: formulas, coverage spectra, and ranking a real bug first."""

import math
import os

import pytest

from kelp.execute import (FORMULAS, Limits, RunResult, Sandbox, SuiteError, TestOutcome, TestSuite, dstar,
                          line_suspiciousness, localize, ochiai, tarantula)

QUIX = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src", "kelp", "data", "quixbugs"))

# The classic "mid" example of Jones & Harrold (2005): line 7 should be `m = x`.
MID = """def mid(x, y, z):
    m = z
    if y < z:
        if x < y:
            m = y
        elif x < z:
            m = y
    else:
        if x > y:
            m = y
        elif x > z:
            m = x
    return m
"""
MID_TESTS = [f"assert mid({a}, {b}, {c}) == {want}" for a, b, c, want in
             [(3, 3, 5, 3), (1, 2, 3, 2), (3, 2, 1, 2), (5, 5, 5, 5), (5, 3, 4, 4), (2, 1, 3, 2)]]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1, limits=Limits(test_timeout=0.5, job_timeout=10.0)) as sb:
        yield sb


def test_formulas_known_values():
    assert ochiai(1, 1, 0, 4) == pytest.approx(1 / math.sqrt(2))
    assert ochiai(0, 3, 1, 0) == 0.0 and ochiai(0, 0, 0, 0) == 0.0
    assert tarantula(1, 1, 0, 4) == pytest.approx(1 / (1 + 0.2))
    assert tarantula(0, 0, 0, 0) == 0.0
    assert dstar(2, 1, 1, 0) == pytest.approx(4 / 2)
    assert dstar(2, 0, 0, 3) == math.inf and dstar(0, 0, 0, 1) == 0.0
    assert dstar(2, 1, 1, 0, star=3) == pytest.approx(8 / 2)
    assert set(FORMULAS) == {"ochiai", "tarantula", "dstar"}


def test_line_suspiciousness_from_a_handmade_run():
    run = RunResult("ok", [TestOutcome("a", "pass"), TestOutcome("b", "fail"), TestOutcome("c", "not_run")],
                    coverage={"a": [1, 2], "b": [1, 3], "c": [9]})
    scores = line_suspiciousness(run)
    assert scores == {1: pytest.approx(1 / math.sqrt(2)), 2: 0.0, 3: 1.0}
    with pytest.raises(SuiteError, match="unknown formula"):
        line_suspiciousness(run, "magic")
    with pytest.raises(SuiteError, match="no coverage"):
        line_suspiciousness(RunResult("ok", []))


def test_per_test_coverage_lines(sandbox):
    result = sandbox.run(MID, TestSuite.from_asserts(MID_TESTS[:2]), coverage=True)
    assert result.all_passed
    assert result.coverage == {"assert_0": [2, 3, 4, 6, 7, 13], "assert_1": [2, 3, 4, 5, 13]}


@pytest.mark.parametrize("formula", sorted(FORMULAS))
def test_faulty_line_ranks_first(sandbox, formula):
    loc = localize(sandbox, MID, TestSuite.from_asserts(MID_TESTS), formula)
    assert loc.run.failing_ids == ["assert_5"]
    assert loc.ranking[0] == 7, (loc.ranking, loc.lines)
    assert loc.lines[7] == max(loc.lines.values())
    assert set(loc.ranking) == set(loc.lines)


def test_timed_out_test_keeps_its_coverage_and_counts_as_failing(sandbox):
    program = "def f(x):\n    if x < 0:\n        while True:\n            pass\n    return x\n"
    tests = ["assert f(1) == 1", "assert f(-1) == -1", "assert f(2) == 2"]
    loc = localize(sandbox, program, TestSuite.from_asserts(tests))
    assert [o.status for o in loc.run.outcomes] == ["pass", "timeout", "pass"]
    assert 3 in loc.run.coverage["assert_1"]  # soft timeout: lines up to the hang survive
    assert loc.ranking[0] in (3, 4)


def test_localize_a_program_that_does_not_load(sandbox):
    loc = localize(sandbox, "def f(:\n", TestSuite.from_asserts(["assert f(1) == 1"]))
    assert loc.run.status == "syntax_error" and loc.lines == {} and loc.ranking == []


def test_localize_quixbugs_gcd_with_pytest(sandbox):
    buggy = open(os.path.join(QUIX, "python_programs", "gcd.py")).read()
    suite = TestSuite.from_pytest([os.path.join(QUIX, "python_testcases", "test_gcd.py")],
                                  os.path.join(QUIX, "python_programs", "gcd.py"), rootdir=QUIX)
    loc = localize(sandbox, buggy, suite)
    assert loc.run.failed >= 1
    assert loc.ranking[0] == 5  # `return gcd(a % b, b)`


def test_crash_lines_sharpen_a_flat_spectrum(sandbox):
    from kelp.execute.localize import crash_lines, line_suspiciousness, with_crash_lines
    program = "def first(xs):\n    n = len(xs)\n    head = n[0]\n    return head\n"
    run = sandbox.run(program, TestSuite.from_asserts(["assert first([1]) == 1", "assert first([2, 3]) == 2"]),
                      coverage=True)
    assert crash_lines(run) == {3}
    flat = line_suspiciousness(run)
    assert flat[2] == flat[3]  # every test fails: coverage alone cannot tell the lines apart
    sharp = with_crash_lines(flat, run)
    assert sharp[3] == max(flat.values()) and sharp[2] < sharp[3]


def test_passing_tests_of_a_wider_run_sharpen_a_single_failing_test(sandbox):
    from kelp.execute.localize import line_suspiciousness, with_passing
    program = ("def area(w, h):\n    return w * h\n\n"
               "def perimeter(w, h):\n    return 2 * w + h\n\n"
               "def report(w, h):\n    return (area(w, h), perimeter(w, h))\n")
    selected = TestSuite.from_asserts(["assert report(2, 3) == (6, 10)"])
    wider = TestSuite.from_asserts(["assert report(2, 3) == (6, 10)", "assert area(2, 3) == 6",
                                    "assert area(1, 1) == 1", "assert perimeter(1, 1) == 4"])
    run = sandbox.run(program, selected, coverage=True)
    flat = line_suspiciousness(run)
    assert flat[2] == flat[5] == flat[8]  # one failing test, no passing one: every line alike
    other = sandbox.run(program, wider, coverage=True)
    merged = with_passing(run, other)
    assert merged.passed == 2 and merged.total == 3  # the selected test once; the wider run's failure left out
    sharp = line_suspiciousness(merged)
    assert sharp[5] > sharp[2]  # the passing tests run `area` too, not `perimeter`
    assert with_passing(run, RunResult("ok", [])) is run


def test_a_missing_attribute_points_at_the_constructor_that_ran_at_import(sandbox):
    from kelp.execute.localize import missing_attribute_lines, with_missing_attributes
    program = ("class Spans:\n"
               "    def __init__(self, openers, closers):\n"
               "        self.closers = closers\n\n"
               "    def opener(self, pos):\n"
               "        return self.openers[pos]\n\n"
               "EMPTY = Spans({}, {})\n\n"
               "def lookup(pos, spans=EMPTY):\n"
               "    return spans.opener(pos) if pos in spans.closers else None\n")
    run = sandbox.run(program, TestSuite.from_asserts(["assert Spans({1: 2}, {1: 3}).opener(1) == 2"]),
                      coverage=True)
    assert run.outcomes[0].error_type == "AttributeError"
    assert missing_attribute_lines(run, program) == {3}
    scores = with_missing_attributes({6: 1.0}, run, program)
    assert scores == {6: 1.0, 3: 1.0}
    assert missing_attribute_lines(run, "def broken(:\n") == set()
