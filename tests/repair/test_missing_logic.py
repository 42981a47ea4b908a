"""Human-style bugs of missing and excess logic and of call misuse: the enumerator proposes
their fixes, and the search repairs them in the real sandbox."""

import ast

import pytest

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.calls import discarded_result_alternatives, method_unwrap_alternatives, wrap_alternatives
from kelp.repair.excess_logic import guard_removal_alternatives
from kelp.repair.missing_logic import clause_alternatives, early_return_alternatives, running_update_alternatives
from kelp.repair.search import RepairConfig, repair


def _func(source: str):
    tree = ast.parse(source)
    return tree, tree.body[0]


def _texts(alts, node_index: int = 4) -> list[str]:
    return [ast.unparse(a[node_index]) for a in alts]


def test_a_missing_clause_is_a_parallel_copy_with_the_unread_parameter_or_a_membership_test():
    tree, func = _func("def f(students, h, w):\n    return {k: s for k, s in students.items() if s[0] >= h}\n")
    texts = _texts(clause_alternatives(("body", 0), func, ["w"]))
    assert "s[0] >= h and s[1] >= w" in texts and "s[0] >= h or s[1] >= w" in texts
    tree, func = _func("def rep(x):\n    out = []\n    for i in range(len(x)):\n        for j in range(i + 1, len(x)):\n"
                       "            if x[i] == x[j]:\n                out.append(x[i])\n    return out\n")
    assert "x[i] == x[j] and x[i] not in out" in _texts(clause_alternatives(("body", 0), func, []))


def test_an_early_return_tests_one_parameter_and_gives_an_expected_value():
    tree, func = _func("def area(r):\n    return r * r\n")
    texts = _texts(early_return_alternatives(("body", 0), func, [-1]))
    assert "if r < 0:\n    return -1" in texts
    tree, func = _func("def scale(x, k):\n    return x - k\n")
    assert not any("x == k" in t for t in _texts(early_return_alternatives(("body", 0), func, [6])))


def test_a_forgotten_update_of_a_running_maximum():
    tree, func = _func("def most(xs):\n    best = 0\n    res = xs[0]\n    for i in xs:\n        c = xs.count(i)\n"
                       "        if c > best:\n            res = i\n    return res\n")
    alts = list(running_update_alternatives(("body", 0), func))
    assert [(a[3], ast.unparse(a[4])) for a in alts] == [("insert:0", "best = c")]


def test_call_misuse_edits():
    stmt = ast.parse("sorted(result)").body[0]
    assert _texts(discarded_result_alternatives((), stmt)) == ["result = sorted(result)", "result.sort()"]
    stmt = ast.parse("s.replace('a', 'b')").body[0]
    assert _texts(discarded_result_alternatives((), stmt)) == ["s = s.replace('a', 'b')"]
    call = ast.parse("s.lower().split()", mode="eval").body.func.value
    assert _texts(method_unwrap_alternatives((), call)) == ["s"]
    diff = ast.parse("a - b", mode="eval").body
    assert _texts(wrap_alternatives((), diff, None, None)) == ["abs(a - b)"]
    call = ast.parse("range(xs)", mode="eval").body
    assert _texts(wrap_alternatives((), call.args[0], call, "args")) == ["len(xs)"]


def test_an_excess_guard_or_else_is_removed():
    tree, func = _func("def f(xs):\n    out = []\n    for x in xs:\n        if x != 0:\n            out.append(x)\n"
                       "        else:\n            out = []\n    return out\n")
    texts = _texts(guard_removal_alternatives(tree, ("body", 0), func))
    assert texts == ["if x != 0:\n    out.append(x)"]
    tree, func = _func("def f(xs):\n    out = []\n    for x in xs:\n        if x != 0:\n            out.append(x)\n"
                       "    return out\n")
    assert _texts(guard_removal_alternatives(tree, ("body", 0), func)) == [
        "for x in xs:\n    out.append(x)"]


@pytest.mark.parametrize("buggy, tests, fixed", [
    ("def area(r):\n    return r * r\n", ["assert area(0) == 0", "assert area(-1) == -1", "assert area(2) == 4"],
     "if r < 0:"),
    ("def gap(a, b):\n    return sum(x - y for x, y in zip(a, b))\n",
     ["assert gap([1, 2], [2, 1]) == 2", "assert gap([3], [1]) == 2"], "abs(x - y)"),
    ("def words(s):\n    return s.lower().split()\n", ["assert words('A b') == ['A', 'b']"], "s.split()"),
    ("def srt(xs):\n    sorted(xs)\n    return xs\n", ["assert srt([2, 1]) == [1, 2]"], "xs = sorted(xs)"),
])
def test_the_search_repairs_human_style_bugs(buggy, tests, fixed):
    with Sandbox(workers=1) as sandbox:
        result = repair(buggy, TestSuite.from_asserts(tests), sandbox, RepairConfig(budget=128))
    assert result.solved
    if fixed:
        assert fixed in result.repaired


def test_expected_results_are_what_failing_asserts_expect_not_their_inputs():
    from kelp.repair.proposer import Feedback
    tests = ["assert f('akhil', 3) == 'None'", "assert f('b', 1) == 'b'", "assert 5 == f('c', 2)"]
    suite = TestSuite.from_asserts(tests)
    with Sandbox(workers=1) as sandbox:
        run = sandbox.run("def f(s, n):\n    return s\n", suite)
    feedback = Feedback.from_run(run, {}, tests, "f")
    assert list(feedback.expected) == ["None", 5]
