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
