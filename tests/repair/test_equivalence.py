"""Value-based test equivalence: the edits the first failing test cannot tell from the program."""

import ast

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.program.diff import Edit
from kelp.repair.equivalence import EquivalenceProfile, plan, profile_edits, pure
from kelp.repair.search import RepairConfig, repair

# The bug: `> 0` should be `> 1` (a count of at least two); `n < limit` never sees equal operands.
COUNT = '''def count_repeats(xs, limit=100):
    """Values that occur more than once, among the first `limit`."""
    seen = {}
    for n in xs:
        if n < limit:
            seen[n] = seen.get(n, 0) + 1
    if not xs:
        return -1
    return sum(1 for v in seen.values() if v > 0)
'''
TESTS = ["assert count_repeats([1, 2, 2, 3, 3]) == 2", "assert count_repeats([4, 4]) == 1"]
FUNC = ("body", 0, "body")
GUARD = FUNC + (2, "body", 0, "test")  # n < limit
FILTER = FUNC + (4, "value", "args", 0, "generators", 0, "ifs", 0)  # v > 0
EDITS = {
    "n <= limit": Edit("replace", GUARD, new="n <= limit"),
    "n > limit": Edit("replace", GUARD, new="n > limit"),
    "limit + 1": Edit("replace", GUARD + ("comparators", 0), new="limit + 1"),
    ">=": Edit("replace", GUARD + ("ops", 0), new=">="),
    "delete return -1": Edit("delete", FUNC + (3, "body", 0)),
    "guard not xs": Edit("insert", FUNC, index=3, new="if not xs:\n    return 0"),
    "guard xs": Edit("insert", FUNC, index=3, new="if xs:\n    return 0"),
    "v > 1": Edit("replace", FILTER, new="v > 1"),
    "v > -1": Edit("replace", FILTER + ("comparators", 0), new="-1"),
    "+ 2": Edit("replace", FUNC + (2, "body", 0, "body", 0, "value", "right"), new="2"),
    "wrap": Edit("replace", FUNC + (3,), new="if xs:\n    if not xs:\n        return -1"),
}
def _seen(run, order=None):
    """What a stop-at-first-failure run of the tests in ``order`` (default: the run's) saw."""
    by_id = {o.test_id: o for o in run.outcomes}
    out = []
    for test_id in order or [o.test_id for o in run.outcomes]:
        o = by_id[test_id]
        out.append((test_id, o.status, o.error_type, o.message))
        if o.status != "pass":
            break
    return tuple(out)


SAME = {"n <= limit", "limit + 1", "delete return -1", "guard not xs", "v > -1", "wrap"}


def test_the_instrumented_program_computes_what_the_program_does():
    planned = plan(ast.parse(COUNT), EDITS.values())
    assert set(planned.checks) == set(EDITS.values())
    space = {}
    exec(compile(planned.instrumented(), "<instrumented>", "exec"), space)
    assert space["count_repeats"]([1, 2, 2, 3, 3]) == 3 and space["count_repeats"]([]) == -1
    headed = plan(ast.parse('"""Doc."""\nfrom __future__ import annotations\n' + COUNT), EDITS.values())
    program = headed.instrumented()
    assert program.index("annotations") < program.index("__kelp_eq__")  # future imports stay first


def test_purity():
    assert pure(ast.parse("len(xs[i:j]) + abs(x) > s.count('a')", mode="eval").body)
    assert not pure(ast.parse("f(x) > 0", mode="eval").body)  # a function of the program
    assert not pure(ast.parse("xs.pop() > 0", mode="eval").body)
    assert not pure(ast.parse("(y := x) > 0", mode="eval").body)
    assert not pure(ast.parse("len(xs) > 0", mode="eval").body, shadowed=frozenset({"len"}))
    assert not pure(ast.parse("d[k] > 0", mode="eval").body, subscripts=False)
    assert not pure(ast.parse("sum(it) > 0", mode="eval").body, iterators=frozenset({"it"}))


def test_the_profile_of_the_first_failing_test_tells_apart_what_it_can():
    suite = TestSuite.from_asserts(TESTS)
    with Sandbox(workers=1) as sandbox:
        run0 = sandbox.run(COUNT, suite)
        profile = profile_edits(ast.parse(COUNT), EDITS.values(), suite, _seen(run0), sandbox)
    assert isinstance(profile, EquivalenceProfile)
    assert {name for name, edit in EDITS.items() if profile.unchanged(edit)} == SAME
    assert not profile.unchanged(Edit("replace", FUNC + (0,), new="seen = []"))  # not judged


def test_a_site_that_raised_and_a_side_effect_are_not_judged_equal():
    program = "def last(xs, i):\n    return xs[i + 1] + 0\n"
    suite = TestSuite.from_asserts(["assert last([1, 2], 1) == 2"])
    shift = Edit("replace", ("body", 0, "body", 0, "value", "left", "slice", "right"), new="0")
    with Sandbox(workers=1) as sandbox:
        run0 = sandbox.run(program, suite)
        profile = profile_edits(ast.parse(program), [shift], suite, _seen(run0), sandbox)
    assert profile is not None and not profile.unchanged(shift)  # xs[2] raised: xs[1] may not
    calls = "def f(xs):\n    xs.append(1)\n    return len(xs)\n\ndef g(xs):\n    return f(xs) + 1\n"
    assert plan(ast.parse(calls), [Edit("replace", ("body", 1, "body", 0, "value", "right"), new="2")]).sites
    planned = plan(ast.parse(calls), [Edit("replace", ("body", 1, "body", 0, "value", "left"), new="f(xs[:1])")])
    assert not planned.sites and planned.checks  # impure: judged by reach only


def test_no_profile_when_the_instrumented_run_ends_otherwise():
    suite = TestSuite.from_asserts(TESTS)
    with Sandbox(workers=1) as sandbox:
        run0 = sandbox.run(COUNT, suite)
        shadowing = "__kelp_report__ = None\n" + COUNT  # a program that breaks the report
        assert profile_edits(ast.parse(shadowing), EDITS.values(), suite, _seen(run0), sandbox) is None
        passing = TestSuite.from_asserts(["assert count_repeats([]) == -1"])
        assert profile_edits(ast.parse(COUNT), EDITS.values(), passing, _seen(sandbox.run(COUNT, passing)),
                             sandbox) is None
        claimed = (("assert_0", "pass", None, ""), ("assert_1", "fail", "AssertionError", ""))  # the first fails
        assert profile_edits(ast.parse(COUNT), EDITS.values(), suite, claimed, sandbox) is None


def test_a_later_state_is_profiled_on_the_tests_it_passed_and_the_first_it_failed():
    program = "def clip(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return x\n    return x\n"
    suite = TestSuite.from_asserts(["assert clip(0, 1, 5) == 1", "assert clip(9, 1, 5) == 5"])
    body = ("body", 0, "body")
    low = Edit("replace", body + (0, "test"), new="x <= lo")  # x == lo never happens in either test
    high = Edit("replace", body + (1, "body", 0, "value"), new="hi")  # the fix of the second test
    with Sandbox(workers=1) as sandbox:
        run = sandbox.run(program, suite)
        seen = _seen(run)
        assert [entry[1] for entry in seen] == ["pass", "fail"]
        profile = profile_edits(ast.parse(program), [low, high], suite, seen, sandbox)
    assert profile is not None and profile.unchanged(low) and not profile.unchanged(high)


def test_the_search_never_runs_an_edit_the_failing_test_cannot_tell_apart():
    ran = []
    with Sandbox(workers=1) as sandbox:
        result = repair(COUNT, TestSuite.from_asserts(TESTS), sandbox, RepairConfig(budget=64), observer=ran.append)
        assert result.solved, result.reason
        assert not any("n <= limit" in r.source or "n != limit" in r.source for r in ran if r.depth == 1)
        off = []
        repair(COUNT, TestSuite.from_asserts(TESTS), sandbox, RepairConfig(budget=64, test_equivalence=False),
               observer=off.append)
    assert len(ran) < len(off)


def test_an_edit_that_makes_a_name_local_is_not_judged_by_reach():
    program = "def f(n):\n    total = 0\n    for i in range(n):\n        total = total + j\n    return total\n"
    loop = ("body", 0, "body", 1, "body")
    binds_j = Edit("insert", loop, index=1, new="j = i")  # j becomes local: NameError -> UnboundLocalError
    binds_total = Edit("insert", loop, index=1, new="total = 0")
    renames = Edit("replace", ("body", 0, "body", 0, "targets", 0), new="j")
    checks = plan(ast.parse(program), [binds_j, binds_total, renames]).checks
    assert binds_j not in checks and renames not in checks and binds_total in checks
    other_binding = Edit("delete", ("body", 0, "body", 0))  # `total` stays local: judged by reach
    only_binding = Edit("delete", ("body", 0, "body", 0, "body", 0))  # `y` would become global
    assert other_binding in plan(ast.parse(program), [other_binding]).checks
    sole = "def g(c):\n    if c:\n        y = 1\n    return y\n"
    assert only_binding not in plan(ast.parse(sole), [only_binding]).checks
