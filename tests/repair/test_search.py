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


def test_a_degenerate_repair_is_reported_simplified(sandbox):
    # one edit reaches `-n * 1` or `-n - 0`; what a person writes, and what is reported, is `-n`
    suite = TestSuite.from_asserts(["assert f(2) == -2", "assert f(-3) == 3", "assert f(0) == 0"])
    result = repair("def f(n):\n    return -n - 1  # negate\n", suite, sandbox, RepairConfig(budget=64))
    assert result.solved and result.repaired == "def f(n):\n    return -n  # negate\n"
    assert [e.new for e in result.edits] == ["-n"]


def test_a_wrong_string_key_is_replaced_by_the_tests_string_in_the_files_quotes(sandbox):
    suite = TestSuite.from_asserts(['assert get_colour({"color": "red"}) == "red"'])
    result = repair('def get_colour(d):\n    return d["colour"]  # the key\n', suite, sandbox, RepairConfig(budget=16))
    assert result.solved and result.repaired == 'def get_colour(d):\n    return d["color"]  # the key\n'


HELPER = "def helper_{i}(xs, limit):\n    total = 0  # running sum\n    for x in xs:\n" \
         "        if x > limit:\n            total += x\n    return total\n\n"
CLIP = "def clip(values, lo, hi):\n    out = []\n    for v in values:\n        if v < lo:\n" \
       "            out.append(lo)\n        elif v < hi:  # above the top\n            out.append(hi)\n" \
       "        else:\n            out.append(v)\n    return out\n"


def _module(helpers: int) -> str:
    return "".join(HELPER.format(i=i) for i in range(helpers)) + CLIP


def test_a_bug_in_a_large_module_is_repaired_and_only_its_line_changes(sandbox):
    source = _module(60)  # 430 lines
    suite = TestSuite.from_asserts(["assert clip([1, 5, 9], 2, 8) == [2, 5, 8]", "assert clip([], 0, 1) == []",
                                    "assert helper_3([1, 4], 2) == 4", "assert clip([3], 3, 3) == [3]"])
    result = repair(source, suite, sandbox, RepairConfig(budget=64, seconds=60))
    assert result.solved, result.reason
    changed = [(a, b) for a, b in zip(source.splitlines(), result.repaired.splitlines()) if a != b]
    assert len(changed) == 1 and changed[0][1] in ("        elif v > hi:  # above the top",
                                                   "        elif v >= hi:  # above the top")
    assert result.repaired.count("\n") == source.count("\n") and result.seconds < 30


def test_the_time_limit_bounds_a_search_in_a_large_module(sandbox):
    source = _module(150)  # 1,060 lines
    suite = TestSuite.from_asserts(["assert clip([1, 5, 9], 2, 8) == [0]", "assert helper_3([1, 4], 2) == 4"])
    result = repair(source, suite, sandbox, RepairConfig(budget=10_000, seconds=3.0))
    assert not result.solved and result.reason == "time limit"
    # the limit is checked between steps (one expansion of this module and its batch: about a
    # second on an idle machine, several on a loaded one); the budget alone would take minutes
    assert result.seconds < 3.0 + 7.0 and result.executions > 0


def test_a_states_feedback_follows_its_lines_after_an_insertion():
    from kelp.repair.splice import splice_edit
    from kelp.program.diff import Edit
    source = "def f(xs):\n    n = 0\n    for x in xs:\n        n = x\n    return n\n"
    tree = parse(source)
    spliced = splice_edit(source, tree, Edit("insert", ("body", 0, "body"), index=0, new="total = 0"))
    feedback = Feedback(lines={2: 0.1, 4: 1.0, 5: 0.5}).at_lines(spliced.line_map((None, 1, 2, 3, 4, 5)))
    assert feedback.lines == {2: 0.05, 3: 0.1, 5: 1.0, 6: 0.5}  # line 2 is new code: half of line 3
    cands = EnumerativeProposer().propose(spliced.tree, feedback)
    best = {c.edit.path[:4] for c in cands[:5] if len(c.edit.path) >= 4}
    assert ("body", 0, "body", 2) in best  # the old line 4, now line 5


def test_a_search_told_not_to_stop_at_a_repair_runs_its_budget_and_returns_the_first(sandbox):
    first = repair(BUGGY, TESTS, sandbox, RepairConfig(budget=24, simplify=0))
    seen = []
    full = repair(BUGGY, TESTS, sandbox, RepairConfig(budget=24, simplify=0, stop_at_repair=False),
                  observer=seen.append)
    assert first.solved and full.solved and full.repaired == first.repaired
    assert full.executions_to_solve == first.executions_to_solve < full.executions == 24
    assert [c.execution for c in seen] == list(range(1, 25))
