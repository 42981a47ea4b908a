"""Anti-patterns of plausible patches (unreachable code, degenerate expressions) and the
search's doubt of a patch that adds one (real sandbox)."""

import ast

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.antipatterns import antipatterns, degenerate_expressions, unreachable_statements
from kelp.repair.search import RepairConfig, repair


def test_statements_after_an_exit_are_unreachable():
    tree = ast.parse("def f(xs):\n    for x in xs:\n        return x\n        y = 1\n        z = 2\n"
                     "    if xs:\n        raise ValueError\n    return 0\n")
    assert unreachable_statements(tree) == 2
    assert unreachable_statements(ast.parse("def f(x):\n    if x:\n        return 1\n    return 2\n")) == 0


def test_operations_that_ignore_their_operands_are_degenerate():
    for text in ("a[1] / a[1]", "x - x", "n % n", "x == x", "0 * i + 1", "i * 0.0", "a and a", "0 < x < x"):
        assert degenerate_expressions(ast.parse(text)) == 1, text
    for text in ("a[0] / a[1]", "x - y", "2 * i + 1", "x + 0", "a and b", "x == 0"):
        assert degenerate_expressions(ast.parse(text)) == 0, text
    assert antipatterns(ast.parse("def f(x):\n    return x - x\n    x = 1\n")) == 2


# Seeded bug of MBPP validation problem 515 (`j + arr[i]` written `j - arr[i]` in `temp`). With
# only the first test visible, removing the guard `if DP[0]:` returns True at once and fits it,
# leaving the rest of the loop unreachable.
MODULAR_SUM = '''def modular_sum(arr, n, m):
    if n > m:
        return True
    DP = [False for i in range(m)]
    for i in range(n):
        if DP[0]:
            return True
        temp = [False for i in range(m)]
        for j in range(m):
            if DP[j] == True:
                if DP[(j + arr[i]) % m] == False:
                    temp[(j - arr[i]) % m] = True
        for j in range(m):
            if temp[j]:
                DP[j] = True
        DP[arr[i] % m] = True
    return DP[0]
'''


def test_a_patch_that_leaves_code_unreachable_is_doubted():
    suite = TestSuite.from_asserts(["assert modular_sum([3, 1, 7, 5], 4, 6) == True"])
    with Sandbox(workers=1) as sandbox:
        plain = repair(MODULAR_SUM, suite, sandbox, RepairConfig(budget=64, ranker="bundled",
                                                                 doubt_antipatterns=False))
        doubted = repair(MODULAR_SUM, suite, sandbox, RepairConfig(budget=64, ranker="bundled"))
    assert plain.solved and unreachable_statements(ast.parse(plain.repaired)) > 0
    assert doubted.solved and unreachable_statements(ast.parse(doubted.repaired)) == 0
