"""The stderr report of `kelp repair`, from real searches in the real sandbox."""

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.report import PartialState, format_report
from kelp.repair.search import RepairConfig, repair

BUGGY = "def inc(x):\n    return x - 1\n"


def test_a_repair_lists_the_failing_tests_the_lines_and_the_outcome():
    suite = TestSuite.from_asserts(["assert inc(1) == 2", "assert inc(0) == 1", "assert inc(-1) == 0"])
    with Sandbox(workers=1) as sandbox:
        result = repair(BUGGY, suite, sandbox, RepairConfig(budget=32))
    text = format_report(result, "m.py", budget=32)
    assert result.solved
    assert "failing before: 3 of 3 tests" in text and "localized lines (most suspicious first): 2" in text
    assert "repaired: tests 0/3 -> 3/3 passing" in text and "hint" not in text


def test_a_failed_search_says_why_shows_the_best_partial_state_and_hints():
    # No edit satisfies both tests; the search's best state (x + 1) passes the first one.
    suite = TestSuite.from_asserts(["assert inc(1) == 2", "assert inc(2) == 40"])
    with Sandbox(workers=1) as sandbox:
        result = repair(BUGGY, suite, sandbox, RepairConfig(budget=96, max_depth=1))
    assert not result.solved and result.best is not None and result.best.exact
    assert result.best.tests == (1, 2) and result.to_json()["best_partial"] == {"tests": [1, 2], "exact": True}
    text = format_report(result, "m.py", budget=96)
    assert "not repaired: no more candidates" in text and "hint: every edit near the localized lines" in text
    assert "best partial state: 1/2 tests passing" in text and "\n+    return x + 1\n" in text


def test_a_partial_state_counted_without_a_full_run_is_reported_as_a_lower_bound():
    suite = TestSuite.from_asserts(["assert inc(1) == 2", "assert inc(2) == 40"])
    with Sandbox(workers=1) as sandbox:
        result = repair(BUGGY, suite, sandbox, RepairConfig(budget=4))
    text = format_report(result, "m.py", budget=4, best=PartialState("def inc(x):\n    return x + 1\n", (1, 2), False))
    assert "not repaired: budget exhausted" in text and "hint: raise --budget (it was 4)" in text
    assert "best partial state: at least 1 of the failing tests" in text


def test_a_file_the_failing_tests_never_execute_gets_a_hint_about_imports():
    suite = TestSuite.from_asserts(["assert 1 == 2"])
    with Sandbox(workers=1) as sandbox:
        result = repair(BUGGY, suite, sandbox, RepairConfig(budget=4))
    text = format_report(result, "m.py", budget=4)
    assert "localized lines: none" in text and "check that the tests import this module" in text


def test_refused_degenerate_patches_are_counted_in_the_report():
    # With one test, writing the expected string in passes it; such a patch is refused.
    source = "def flatten(xs):\n    return res\n"
    suite = TestSuite.from_asserts(["assert flatten([('1', '4'), ('5',)]) == '1 4 5'"])
    with Sandbox(workers=1) as sandbox:
        result = repair(source, suite, sandbox, RepairConfig(budget=256))
    assert result.degenerate >= 1 and result.to_json()["degenerate"] == result.degenerate
    text = format_report(result, "m.py", budget=256)
    assert f"refused: {result.degenerate} candidates passed the tests with degenerate code" in text
