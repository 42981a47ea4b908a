"""Forgotten accumulations: what counts as a result never added to, the updates proposed, and a
real repair in the sandbox."""

import ast

from kelp.execute.sandbox import Limits, Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.accumulators import accumulation_alternatives, accumulators
from kelp.repair.search import RepairConfig, repair

# `ans += incr` was deleted from the loop: `ans` starts at 0 and is returned unchanged.
SUBARRAY_PRODUCTS = '''def sum_of_subarray_prod(arr, n):
    ans = 0
    res = 0
    i = n - 1
    while i >= 0:
        incr = arr[i] * (1 + res)
        res = incr
        i -= 1
    return ans
'''


def _func(source):
    return ast.parse(source).body[0]


def test_a_start_value_nothing_changes_is_an_accumulator():
    assert accumulators(_func(SUBARRAY_PRODUCTS)) == {"ans": ("+=", 2)}  # res is rebound in the loop
    assert accumulators(_func("def f(xs):\n    out = []\n    for x in xs:\n        y = x * 2\n    return out\n")) \
        == {"out": ("append", 2)}
    assert accumulators(_func("def f(xs):\n    p = 1\n    for x in xs:\n        p *= x\n    return p\n")) == {}
    assert accumulators(_func("def f(xs):\n    out = []\n    for x in xs:\n        out.append(x)\n    return out\n")) == {}


def test_the_update_adds_what_the_loop_computes_at_the_end_of_its_body():
    texts = [ast.unparse(new) for _f, _k, _p, op, new, _w in accumulation_alternatives(("body", 0), _func(SUBARRAY_PRODUCTS))]
    assert texts[:2] == ["ans += incr", "ans += res"] and "ans += arr[i]" in texts
    ops = {op for _f, _k, _p, op, _n, _w in accumulation_alternatives(("body", 0), _func(SUBARRAY_PRODUCTS))}
    assert ops == {"insert:3"}
    products = "def f(xs):\n    p = 1\n    for x in xs:\n        pass\n    return p\n"
    assert [ast.unparse(n) for *_, n, _w in accumulation_alternatives(("body", 0), _func(products))] == ["p *= x"]


def test_a_forgotten_accumulation_is_repaired_for_real():
    tests = ["assert sum_of_subarray_prod([1, 2, 3], 3) == 20", "assert sum_of_subarray_prod([1, 2], 2) == 5",
             "assert sum_of_subarray_prod([1, 2, 3, 4], 4) == 84"]
    with Sandbox(workers=1) as sandbox:
        result = repair(SUBARRAY_PRODUCTS, TestSuite.from_asserts(tests), sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert "ans += incr" in result.repaired or "ans += res" in result.repaired


def test_a_while_loop_that_never_moves_its_variable_gets_its_step():
    from kelp.repair.accumulators import loop_step_alternatives

    steps = lambda source: [ast.unparse(n) for *_, n, _w in loop_step_alternatives(("body", 0), _func(source))]
    assert steps("def f(xs, n):\n    i = n - 1\n    t = 0\n    while i >= 0:\n        t += xs[i]\n    return t\n") \
        == ["i -= 1"]
    assert steps("def f(n):\n    s = 0\n    while n > 0:\n        s += n % 10\n    return s\n") \
        == ["n //= 10", "n -= 1", "n //= 2"]
    assert steps("def f(xs):\n    i = 0\n    while i < len(xs):\n        print(xs[i])\n") == ["i += 1"]
    assert steps("def f(xs):\n    while xs:\n        xs.pop()\n") == []  # the body moves it
    assert steps("def f(n):\n    while n > 0:\n        if n == 3:\n            break\n") == []  # it can end


def test_a_forgotten_digit_step_is_repaired_for_real():
    digits = "def digit_sum(n):\n    s = 0\n    while n > 0:\n        s += n % 10\n    return s\n"
    tests = ["assert digit_sum(123) == 6", "assert digit_sum(9) == 9", "assert digit_sum(505) == 10"]
    with Sandbox(workers=1, limits=Limits(test_timeout=0.5)) as sandbox:  # the bug hangs
        result = repair(digits, TestSuite.from_asserts(tests), sandbox, RepairConfig(budget=64, ranker="bundled"))
    assert result.solved, result.reason
    assert "n //= 10" in result.repaired


# A branch of a binary search that moves neither bound: `right = mid - 1` was forgotten, and the
# loop never ends once `x` is found.
FIRST_OCCURRENCE = '''def find_first_occurrence(A, x):
    left, right = (0, len(A) - 1)
    result = -1
    while left <= right:
        mid = (left + right) // 2
        if x == A[mid]:
            result = mid
        elif x < A[mid]:
            right = mid - 1
        else:
            left = mid + 1
    return result
'''
# The step sits inside the `if`: the loop stops moving at the first odd item.
COUNT_EVENS = '''def count_evens(xs):
    i = 0
    n = 0
    while i < len(xs):
        if xs[i] % 2 == 0:
            n += 1
            i += 1
    return n
'''


def test_a_branch_that_never_moves_the_loop_gets_a_sibling_branch_step():
    from kelp.repair.accumulators import branch_step_alternatives

    def steps(source):
        return [(op, ast.unparse(n)) for _f, _k, _p, op, n, _w in branch_step_alternatives(("body", 0), _func(source))]

    found = steps(FIRST_OCCURRENCE)
    assert ("insert:1", "right = mid - 1") in found and ("insert:1", "left = mid + 1") in found
    moved = [text for op, text in steps(COUNT_EVENS) if op == "replace"]
    assert moved and moved[0].splitlines()[-1] == "    i += 1"  # the step out of the `if`, at the loop's end
    assert "if xs[i] % 2 == 0:\n        n += 1\n    i += 1" in moved[0]
    # every branch moves the loop, or the stalled one leaves it: nothing to add
    assert steps("def f(n):\n    while n > 0:\n        if n % 2:\n            n -= 1\n        else:\n            n //= 2\n") == []
    assert steps("def f(xs, i):\n    while i < len(xs):\n        if xs[i]:\n            return i\n        else:\n"
                 "            i += 1\n") == []


def test_a_forgotten_branch_step_is_repaired_for_real():
    tests = ["assert find_first_occurrence([2, 5, 5, 5, 6, 6, 8, 9, 9, 9], 5) == 1",
             "assert find_first_occurrence([2, 3, 5, 5, 6, 6, 8, 9, 9, 9], 5) == 2",
             "assert find_first_occurrence([2, 4, 1, 5, 6, 6, 8, 9, 9, 9], 6) == 4"]
    evens = ["assert count_evens([2, 4, 6]) == 3", "assert count_evens([1, 2, 3, 4]) == 2", "assert count_evens([]) == 0"]
    with Sandbox(workers=1, limits=Limits(test_timeout=0.5)) as sandbox:  # the bugs hang
        first = repair(FIRST_OCCURRENCE, TestSuite.from_asserts(tests), sandbox, RepairConfig(budget=64, ranker="bundled"))
        counted = repair(COUNT_EVENS, TestSuite.from_asserts(evens), sandbox, RepairConfig(budget=64, ranker="bundled"))
    assert first.solved, first.reason
    assert first.executions_to_solve <= 8  # a test hung: the loop's steps go first
    assert "            result = mid\n            right = mid - 1\n" in first.repaired
    assert counted.solved, counted.reason
    assert "            n += 1\n        i += 1\n" in counted.repaired
