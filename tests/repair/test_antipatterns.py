"""Anti-patterns of plausible patches (unreachable code, degenerate expressions, functions that
ignore their inputs) and the search's doubt or refusal of a patch that has one (real sandbox)."""

import ast

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.antipatterns import (degenerate_expressions, degenerate_paths, degenerate_patch, ignored_inputs,
                                      suspicious_paths, unreachable_statements)
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
    before = ast.parse("def f(x, i):\n    return 2 * i + x\n")
    assert degenerate_patch(before, ast.parse("def f(x, i):\n    return 0 * i + x\n")) == "degenerate expression"
    assert degenerate_patch(before, ast.parse("def f(x, i):\n    return 3 * i + x\n")) is None
    assert degenerate_patch(before, ast.parse("def f(x, i):\n    return 3\n")) == "ignores its inputs"


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


def test_an_edited_function_that_reads_none_of_its_parameters_answers_with_constants():
    before = ast.parse("def f(xs, n):\n    return res\n\ndef g(event):\n    return 1\n")
    after = ast.parse("def f(xs, n):\n    res = '1 4 6'\n    return res\n\ndef g(event):\n    return 1\n")
    assert ignored_inputs(before, after) == {"f"}  # g reads no parameter either, but was not edited
    fixed = ast.parse("def f(xs, n):\n    res = ' '.join(xs[:n])\n    return res\n\ndef g(event):\n    return 1\n")
    assert ignored_inputs(before, fixed) == set()
    method = ast.parse("class A:\n    def m(self, x):\n        return x\n")
    constant = ast.parse("class A:\n    def m(self, x):\n        return 2\n")
    assert ignored_inputs(method, constant) == {"A.m"}
    assert ignored_inputs(ast.parse("def h():\n    return 1\n"), ast.parse("def h():\n    return 2\n")) == set()
    # a function that ignored its parameters and read nothing unbound may change its constant
    assert ignored_inputs(ast.parse("def timeout(config):\n    return 30\n"),
                          ast.parse("def timeout(config):\n    return 60\n")) == set()
    assert ignored_inputs(ast.parse("def f(x):\n    return x\n"), ast.parse("def f(x):\n    return 60\n")) == {"f"}


# Seeded bug of MBPP validation problem 544 (its only statement deleted). With one test visible,
# writing the expected string into the program passes it.
FLATTEN = "def flatten_tuple(test_list):\n    return res\n"
FLATTEN_TEST = "assert flatten_tuple([('1', '4', '6'), ('5', '8'), ('2', '9'), ('1', '10')]) == '1 4 6 5 8 2 9 1 10'"


def test_a_patch_that_answers_the_tests_with_constants_is_not_a_repair():
    suite = TestSuite.from_asserts([FLATTEN_TEST])
    with Sandbox(workers=1) as sandbox:
        plain = repair(FLATTEN, suite, sandbox, RepairConfig(budget=256, refuse_degenerate=False))
        refused = repair(FLATTEN, suite, sandbox, RepairConfig(budget=256))
    assert plain.solved and ignored_inputs(ast.parse(FLATTEN), ast.parse(plain.repaired)) == {"flatten_tuple"}
    assert not refused.solved or ignored_inputs(ast.parse(FLATTEN), ast.parse(refused.repaired)) == set()


# Seeded bug of MBPP validation problem 525 (`line2[0]` written `line2[1]`): a flipped `==` fits
# the first test and keeps the degenerate `line2[1] / line2[1]`.
PARALLEL = "def parallel_lines(line1, line2):\n    return line1[0] / line1[1] == line2[1] / line2[1]\n"


def test_a_patch_that_keeps_a_degenerate_expression_is_doubted_and_its_inside_runs_first():
    suite = TestSuite.from_asserts(["assert parallel_lines([2,3,4], [2,3,8]) == True"])
    with Sandbox(workers=1) as sandbox:
        plain = repair(PARALLEL, suite, sandbox, RepairConfig(budget=64, ranker="bundled", doubt_antipatterns=False,
                                                              suspicious_first=False))
        doubted = repair(PARALLEL, suite, sandbox, RepairConfig(budget=64, ranker="bundled", suspicious_first=False))
        first = repair(PARALLEL, suite, sandbox, RepairConfig(budget=64, ranker="bundled", doubt_antipatterns=False))
    assert plain.solved and degenerate_expressions(ast.parse(plain.repaired)) == 1
    assert doubted.solved and degenerate_expressions(ast.parse(doubted.repaired)) == 0
    # edits inside `line2[1] / line2[1]` run first: the fix `line2[0]` is the first candidate
    assert first.solved and first.executions_to_solve == 1 and "line2[0] / line2[1]" in first.repaired


def test_degenerate_expressions_are_found_by_path():
    tree = ast.parse("def f(a, b):\n    return a[0] / a[1] == b[1] / b[1]\n")
    assert degenerate_paths(tree) == [("body", 0, "body", 0, "value", "comparators", 0)]
    assert degenerate_paths(ast.parse("x = a - b\n")) == []
    calls = ast.parse("if not isinstance(e, e):\n    y = range(n, 0, -1)\n")
    assert suspicious_paths(calls) == [("body", 0, "test", "operand")]  # repeated constants are not suspicious
    # a value computed and thrown away (pylint's expression-not-assigned): sorted(xs), s.strip(), n + 1
    thrown = ast.parse('"""Doc."""\ndef f(xs, s, n):\n    """Doc."""\n    sorted(xs)\n    s.strip()\n    n + 1\n'
                       '    xs.sort()\n    print(n)\n    return xs\n')
    assert suspicious_paths(thrown) == [("body", 1, "body", 1), ("body", 1, "body", 2), ("body", 1, "body", 3)]


def test_edits_inside_a_degenerate_expression_run_first():
    from kelp.program.diff import Edit
    from kelp.repair.proposer import Candidate
    from kelp.repair.ranking import promoted_first

    site = ("body", 0, "body", 0, "value", "comparators", 0)
    edits = [Edit(op="replace", path=("body", 0, "body", 0, "value"), new="not x"),  # around it
             Edit(op="replace", path=site + ("op",), new="*"),  # keeps it degenerate
             Edit(op="replace", path=site + ("left", "slice"), new="0"),  # inside it
             Edit(op="replace", path=site, new="b[0] / b[1]")]  # the whole of it
    cands = [Candidate(e, 0.5 - 0.1 * i, "f", i == 3) for i, e in enumerate(edits)]
    moved, rows = promoted_first(cands, [{"r": 0}, {"r": 1}], [site])
    assert [c.edit for c in moved] == [edits[3], edits[2], edits[0], edits[1]]  # synthesised, then inside
    assert [round(c.score, 2) for c in moved] == [0.5, 0.4, 0.3, 0.2]
    assert rows == [None, None, {"r": 0}, {"r": 1}]
