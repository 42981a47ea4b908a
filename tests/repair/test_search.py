"""The repair search on real programs in the real sandbox."""

import pytest

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.program.tree import parse, unparse
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.proposer import Feedback
from kelp.repair.search import RepairConfig, RepairInputError, repair

BUGGY = '''def count_pos(xs):
    """Count the positive numbers."""
    n = 0
    for x in xs:
        if x < 0:  # the bug: should be x > 0
            n += 1
    return n
'''
TESTS = TestSuite.from_asserts(["assert count_pos([1, -2, 3]) == 2", "assert count_pos([]) == 0",
                                "assert count_pos([-1, 5]) == 1", "assert count_pos([0, 2]) == 1"])


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


def test_single_operator_bug_is_repaired_with_a_minimal_diff(sandbox):
    result = repair(BUGGY, TESTS, sandbox, RepairConfig(budget=64))
    assert result.solved
    assert result.tests_before == (2, 4) and result.tests_after == (4, 4)
    assert "if x > 0:  # the bug: should be x > 0" in result.repaired  # comment and formatting kept
    assert result.repaired.count("\n") == BUGGY.count("\n")
    assert len(result.edits) == 1 and result.executions_to_solve <= 16


def test_search_is_deterministic(sandbox):
    a = repair(BUGGY, TESTS, sandbox, RepairConfig(budget=64))
    b = repair(BUGGY, TESTS, sandbox, RepairConfig(budget=64))
    assert (a.repaired, a.executions_to_solve) == (b.repaired, b.executions_to_solve)


def test_two_edit_bug_is_reachable(sandbox):
    suite = TestSuite.from_asserts(["assert span([1, 5]) == 4", "assert span([2, 3, 9]) == 7",
                                    "assert span([4]) == 0"])
    buggy = "def span(xs):\n    lo = min(xs)\n    hi = max(xs)\n    return lo - hi + 1\n"
    result = repair(buggy, suite, sandbox, RepairConfig(budget=256))
    assert result.solved, result.reason
    assert len(result.edits) >= 2


def test_budget_is_respected_and_unsolved_returns_the_original(sandbox):
    buggy = "def f(x):\n    return 'totally wrong'\n"
    suite = TestSuite.from_asserts(["assert f(2) == [2, 2]"])
    result = repair(buggy, suite, sandbox, RepairConfig(budget=5))
    assert not result.solved and result.executions <= 5
    assert result.repaired == buggy and result.edits == []


def test_passing_program_needs_no_repair(sandbox):
    fixed = BUGGY.replace("x < 0", "x > 0")
    result = repair(fixed, TESTS, sandbox)
    assert result.solved and result.edits == [] and result.executions == 0


def test_unparsable_program_is_a_clear_input_error(sandbox):
    with pytest.raises(RepairInputError, match="does not parse"):
        repair("def f(:\n", TESTS, sandbox)


def test_hanging_candidates_do_not_stop_the_search(sandbox):
    buggy = "def f(n):\n    i = 0\n    while i < n:\n        i -= 1\n    return i\n"
    suite = TestSuite.from_asserts(["assert f(3) == 3", "assert f(0) == 0"])
    from kelp.execute.sandbox import Limits
    with Sandbox(workers=2, limits=Limits(test_timeout=0.5)) as box:
        result = repair(buggy, suite, box, RepairConfig(budget=64))
    assert result.solved and "i += 1" in result.repaired


def test_enumerative_proposer_scores_sum_to_one_and_skip_unexecuted_lines():
    tree = parse(BUGGY)
    cands = EnumerativeProposer().propose(tree, Feedback(lines={5: 1.0, 6: 0.5}))
    assert abs(sum(c.score for c in cands) - 1.0) < 1e-9
    assert {c.family for c in cands[:3]} >= {"compare_flip", "negate_condition"}
    assert all(c.edit.apply(tree) is not None for c in cands[:20])
    fixed = [c for c in cands if unparse(c.edit.apply(tree)).count("x > 0")]
    assert fixed and fixed[0] in cands[:5]


def test_behaviour_signature_follows_the_stop_at_first_failure_order():
    from kelp.execute.results import RunResult, TestOutcome
    from kelp.repair.search import _behaviour
    run = RunResult("ok", [TestOutcome("a", "pass"), TestOutcome("b", "error", "TypeError", "boom (line 3)"),
                           TestOutcome("c", "fail", "AssertionError", "got 1")])
    # as a candidate run reports it: failing tests first, stopping at the first failure
    assert _behaviour(run, ["b", "c", "a"]) == (("b", "error", "TypeError", "boom"),)
    assert _behaviour(run) == (("a", "pass", None, ""), ("b", "error", "TypeError", "boom"))
    assert _behaviour(RunResult("load_error", message="x")) == ("load_error", "x")


def test_missing_return_is_proposed_only_for_functions_the_tests_call():
    import ast
    from kelp.repair.enumerate import EnumerativeProposer
    from kelp.repair.proposer import Feedback
    source = ("class Box:\n    def __init__(self, v):\n        self.v = v\n\n"
              "def area(w, h):\n    a = w * h\n")
    tree = ast.parse(source)
    returns = lambda fb: {c.edit.new for c in EnumerativeProposer().propose(tree, fb) if c.family == "missing_return"}
    called = returns(Feedback(test_calls=("area",)))
    assert "return a" in called and "return v" not in called
