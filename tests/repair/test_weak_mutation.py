"""Comparison profiles of the first failing test, and the flips they show cannot change it."""

import ast

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.search import RepairConfig, repair
from kelp.repair.weak_mutation import ComparisonProfile, instrument, profile_comparisons

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
GUARD = ("body", 0, "body", 2, "body", 0, "test")  # n < limit


def test_the_instrumented_program_computes_what_the_program_does_and_records_relations():
    program, paths = instrument(ast.parse(COUNT))
    space = {}
    exec(compile(program, "<instrumented>", "exec"), space)
    assert space["count_repeats"]([1, 2, 2, 3, 3]) == 3 and space["count_repeats"]([]) == -1
    relations = {paths[k]: codes for k, codes in space["__kelp_profile__"].items()}
    assert relations[GUARD] == {"<"}  # 1, 2, 2, 3, 3 against 100
    headed, _ = instrument(ast.parse('"""Doc."""\nfrom __future__ import annotations\n' + COUNT))
    assert headed.index("annotations") < headed.index("__kelp_profile__")  # future imports stay first


def test_a_flip_is_unchanged_only_where_no_relation_tells_the_operators_apart():
    profile = ComparisonProfile(ast.parse(COUNT), {GUARD: frozenset("<")})
    assert profile.unchanged(GUARD, "n <= limit") and profile.unchanged(GUARD, "n != limit")
    assert profile.unchanged(GUARD, "limit > n")  # the operands swapped, the operator mirrored
    assert not profile.unchanged(GUARD, "n > limit") and not profile.unchanged(GUARD, "n == limit")
    assert not profile.unchanged(GUARD, "n < limit + 1")  # another operand: not a flip
    equal = ComparisonProfile(ast.parse(COUNT), {GUARD: frozenset("<=")})
    assert not equal.unchanged(GUARD, "n <= limit") and equal.unchanged(GUARD, "n <= limit - 0") is False
    unknown = ComparisonProfile(ast.parse(COUNT), {GUARD: frozenset("<x")})
    assert not unknown.unchanged(GUARD, "n <= limit")
    never = ComparisonProfile(ast.parse(COUNT), {})
    assert never.unchanged(GUARD, "n >= limit")  # never evaluated: nothing changes
    assert not never.unchanged(("body", 0, "body", 9), "n >= limit")  # no such node


def test_the_profile_of_the_first_failing_test_comes_back_from_the_sandbox():
    suite = TestSuite.from_asserts(TESTS)
    tree = ast.parse(COUNT)
    with Sandbox(workers=1) as sandbox:
        run0 = sandbox.run(COUNT, suite)
        profile = profile_comparisons(tree, suite, run0, sandbox)
    assert profile is not None
    assert profile.relations[GUARD] == frozenset("<")
    assert profile.relations[("body", 0, "body", 4, "value", "args", 0, "generators", 0, "ifs", 0)] == frozenset(">")
    assert profile.unchanged(GUARD, "n <= limit") and not profile.unchanged(GUARD, "n >= limit")


def test_no_profile_when_the_instrumented_run_ends_otherwise():
    suite = TestSuite.from_asserts(TESTS)
    with Sandbox(workers=1) as sandbox:
        run0 = sandbox.run(COUNT, suite)
        shadowing = "__kelp_export__ = None\n" + COUNT  # a program that breaks the report
        assert profile_comparisons(ast.parse(shadowing), suite, run0, sandbox) is None
        passing = TestSuite.from_asserts(["assert count_repeats([]) == -1"])
        assert profile_comparisons(ast.parse(COUNT), passing, sandbox.run(COUNT, passing), sandbox) is None


def test_the_search_never_runs_a_flip_the_failing_test_cannot_tell_apart():
    ran = []
    with Sandbox(workers=1) as sandbox:
        result = repair(COUNT, TestSuite.from_asserts(TESTS), sandbox, RepairConfig(budget=64), observer=ran.append)
    assert result.solved, result.reason
    assert not any("n <= limit" in r.source or "n != limit" in r.source for r in ran if r.depth == 1)
