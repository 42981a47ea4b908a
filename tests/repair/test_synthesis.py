"""Synthesis of a forgotten computation from the tests' examples: the examples read from
asserts, the expressions found, and a real repair in the sandbox."""

import ast

import pytest

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.search import RepairConfig, repair
from kelp.repair.synthesis import examples_of, synthesis_alternatives, synthesise


def equal(v, e):
    return v == e


def test_examples_are_the_literal_calls_of_the_function_in_the_asserts():
    tests = ["assert widest([[1], [2, 3]]) == 2", "assert 0 == widest([])", "assert not is_odd(2)",
             "assert widest(make()) == 1", "x = 3\nassert is_odd(3)"]
    assert examples_of("widest", tests) == [(([[1], [2, 3]],), 2), (([],), 0)]
    assert examples_of("is_odd", tests) == [((2,), False), ((3,), True)]
    check = "def check(candidate):\n    assert candidate('ab') == 'ba'\n"
    assert examples_of("rev", [check]) == [(("ab",), "ba")]


@pytest.mark.parametrize("params, examples, found", [
    (["words"], [((["a", "abc", "ab"],), 3), ((["xy"],), 2), ((["zz", "abcd"],), 4)], "max([len(e) for e in words])"),
    (["rows", "k"], [(([[1, 2], [3, 4]], 1), [2, 4]), (([[5, 6, 7]], 0), [5])], "[e[k] for e in rows]"),
    (["nums"], [(((4, 56),), 4.56), (((7, 256),), 7.256)], "float('.'.join([str(e) for e in nums]))"),
    (["xs"], [(([1, -2, 3],), [1, 3]), (([-1],), [])], "[e for e in xs if e > 0]"),
    (["xs", "ys"], [(([4, 5, 6], [1, 2, 3]), [4.0, 2.5, 2.0]), (([3, 2], [1, 4]), [3.0, 0.5])],
     "[a / b for a, b in zip(xs, ys)]"),
    (["pairs"], [(([("k1", [3, 4, 5]), ("k2", [1, 4])],), [("k1", 5), ("k2", 4)]), (([("x", [9, 3])],), [("x", 9)])],
     "[(a, max(b)) for a, b in pairs]"),
    (["xs", "ys"], [(([1, 2, 3, 4], [1, 5, 3, 0]), 2), (([1, 2], [2, 1]), 0), (([7], [7]), 1)],
     "sum([a == b for a, b in zip(xs, ys)])"),
    (["s"], [(("1, -5, 4",), (1, -5, 4)), (("4, 6",), (4, 6))], "tuple([int(e) for e in s.split(',')])"),
    (["a", "b", "c"], [((10, 20, 30), 30), ((55, 47, 39), 55), ((10, 39, 20), 39)], "max(a, b, c)"),
    (["d"], [(({"a": [2, 1], "b": [3]},), {"a": [1, 2], "b": [3]}), (({"x": [9, 8, 7]},), {"x": [7, 8, 9]})],
     "{k: sorted(v) for k, v in d.items()}"),
])
def test_the_smallest_expression_that_fits_every_example_comes_first(params, examples, found):
    assert synthesise(params, examples, equal)[0] == found


def test_a_function_that_returns_itself_stands_for_a_forgotten_result_of_its_name():
    func = ast.parse("def count_even(nums):\n    return count_even\n").body[0]
    tests = ["assert count_even([1, 2, 4]) == 2", "assert count_even([3]) == 0", "assert count_even([6, 8]) == 2"]
    alts = list(synthesis_alternatives(("body", 0), func, (), tests))
    assert ast.unparse(alts[0][4]) == "count_even = len([e for e in nums if e % 2 == 0])"
    recursive = ast.parse("def f(n):\n    f(n - 1)\n    return f\n").body[0]
    assert list(synthesis_alternatives(("body", 0), recursive, (), tests)) == []


def test_nothing_is_made_of_constants_alone_and_huge_values_are_not_built():
    assert synthesise(["n"], [((10 ** 17,), 7), ((3,), 7)], equal) == []  # 7 fits, but reads nothing
    assert all("**" not in e for e in synthesise(["n"], [((10 ** 9,), 1)], equal))


def test_the_alternative_goes_before_the_return_of_an_unbound_name_only():
    func = ast.parse("def longest(words):\n    '''Longest length.'''\n    return res\n").body[0]
    tests = ["assert longest(['a', 'abc']) == 3", "assert longest(['xy']) == 2", "assert longest(['zz', 'abcd']) == 4"]
    alts = list(synthesis_alternatives(("body", 0), func, ("res",), tests))
    assert [ast.unparse(a[4]) for a in alts][0] == "res = max([len(e) for e in words])"
    assert alts[0][2:4] == (("body", 0, "body"), "insert:1")
    assert list(synthesis_alternatives(("body", 0), func, (), tests)) == []  # nothing unbound
    assert list(synthesis_alternatives(("body", 0), func, ("res",), tests[:1])) == []  # one example fits too much
    two = ast.parse("def longest(words):\n    words = sorted(words)\n    return res\n").body[0]
    assert list(synthesis_alternatives(("body", 0), two, ("res",), tests)) == []


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def test_a_forgotten_computation_is_synthesised_for_real(sandbox):
    program = "def column_max(rows, k):\n    return best\n"
    suite = TestSuite.from_asserts(["assert column_max([[1, 9], [4, 2]], 0) == 4",
                                    "assert column_max([[1, 9], [4, 2]], 1) == 9",
                                    "assert column_max([[5, 6, 7]], 2) == 7"])
    result = repair(program, suite, sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert "best = max([e[k] for e in rows])" in result.repaired


def test_synthesised_proposals_go_first_and_take_the_best_scores():
    from kelp.program.diff import Edit
    from kelp.repair.proposer import Candidate
    from kelp.repair.ranking import promoted_first

    cands = [Candidate(Edit(op="delete", path=("body", i)), 0.5 - 0.1 * i, "f", i == 2) for i in range(4)]
    moved, rows = promoted_first(cands, [{"r": 0}, {"r": 1}, {"r": 2}])
    assert [c.edit.path[1] for c in moved] == [2, 0, 1, 3]
    assert [round(c.score, 2) for c in moved] == [0.5, 0.4, 0.3, 0.2]
    assert rows == [{"r": 2}, {"r": 0}, {"r": 1}, None]
    assert promoted_first(cands[:2], [])[0] == cands[:2]


def test_of_fits_with_the_same_values_the_plainer_is_kept_not_the_shorter():
    # On the passes shown, `2 < i` and `left == total` are true at the same places; the one
    # that compares two locals is what a person writes, the threshold fits by chance.
    rows = [(0, 1, 10, False), (1, 3, 9, False), (2, 6, 7, False), (3, 10, 10, True),
            (0, -7, 0, False), (1, -6, -1, False), (2, -1, -6, False), (3, 1, 1, True)]
    examples = [((left, total, i), want) for i, left, total, want in rows]
    assert synthesise(["left", "total", "i"], examples, equal)[0] == "left == total"
