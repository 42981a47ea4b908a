"""Dead definitions and the repairs that use them, on real programs in the real sandbox."""

import ast

import pytest

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.program.scope import bindings
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.proposer import Feedback
from kelp.repair.search import RepairConfig, repair
from kelp.repair.unused import protocol_params, unused_definitions, unused_imports

# `total += part` was deleted: `part` is now assigned and never read.
DELETED_UPDATE = '''def sum_doubled(xs):
    total = 0
    for x in xs:
        part = 2 * x
    return total
'''
# `counts = Counter(text)` deleted: `counts` is unbound, `Counter` and `text` are dead.
DELETED_ASSIGN = '''from collections import Counter


def most_common_char(text):
    return counts.most_common(1)[0][0]
'''


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


def test_unused_definitions_and_imports():
    tree = ast.parse("import os\nimport re\n\ndef f(a, b, _c):\n    x = 1\n    y = a\n"
                     "    for i in range(3):\n        pass\n    return re.sub('a', 'b', y)\n")
    dead = unused_definitions(tree, bindings(tree))
    assert [(u.name, u.kind) for u in dead] == [("b", "param"), ("x", "local"), ("i", "local")]
    assert dead[1].stmt == ("body", 2, "body", 0)  # the assignment itself
    assert dead[2].stmt == ("body", 2, "body", 2)  # the for loop that binds i
    assert dead[0].stmt is None
    assert unused_imports(tree) == ["os"]


def test_a_deleted_update_is_reinserted_near_the_top():
    tree = ast.parse(DELETED_UPDATE)
    texts = [c.edit.new for c in EnumerativeProposer().propose(tree, Feedback())[:12]]
    assert "total += part" in texts


def test_dead_name_repairs_run_for_real(sandbox):
    update = repair(DELETED_UPDATE, TestSuite.from_asserts(
        ["assert sum_doubled([1, 2]) == 6", "assert sum_doubled([]) == 0", "assert sum_doubled([5]) == 10"]),
        sandbox, RepairConfig(budget=64))
    assert update.solved and "total += part" in update.repaired
    assign = repair(DELETED_ASSIGN, TestSuite.from_asserts(
        ["assert most_common_char('abca') == 'a'", "assert most_common_char('zz') == 'z'"]),
        sandbox, RepairConfig(budget=64))
    assert assign.solved and "counts = Counter(text)" in assign.repaired


# `j` replaced the comprehension's own variable by the name being assigned: the tests report
# `res` unbound (a free variable read before assignment) and `j` is never read.
MISUSED_IN_COMPREHENSION = '''def add_k(test_list, k):
    res = [tuple(res + k for j in sub) for sub in test_list]
    return res
'''


def test_unused_comprehension_variable():
    tree = ast.parse("def f(xs):\n    return [0 for i in xs] + [y for j, y in enumerate(xs)]\n")
    dead = unused_definitions(tree, bindings(tree))
    assert [(u.name, u.kind) for u in dead] == [("i", "comprehension"), ("j", "comprehension")]
    assert all(u.stmt is None for u in dead)


def test_wrong_name_read_before_assignment_is_repaired_with_the_dead_comprehension_variable(sandbox):
    suite = TestSuite.from_asserts(["assert add_k([(1, 2)], 1) == [(2, 3)]",
                                    "assert add_k([(0,), (5, 6)], 2) == [(2,), (7, 8)]"])
    result = repair(MISUSED_IN_COMPREHENSION, suite, sandbox, RepairConfig(budget=16))
    assert result.solved and "tuple(j + k for j in sub)" in result.repaired.replace("((", "(")


def test_a_parameter_that_several_functions_ignore_is_a_protocol_not_a_bug():
    tree = ast.parse("def plain(cells, widths):\n    return ' '.join(cells)\n\n"
                     "def pipe(cells, widths):\n    return '|'.join(cells)\n\n"
                     "def grid(cells, widths, aligns):\n    return widths\n\nf = lambda cells, widths: 0\n")
    assert protocol_params(tree) == {"widths", "cells"}  # `aligns` is ignored only once
