"""A missing conversion: a tuple or string changed as a list, and ``x = list(x)`` before it
(proposals from real error messages, and a real repair in the sandbox)."""

import ast

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.calls import conversion_alternatives
from kelp.repair.proposer import Feedback
from kelp.repair.search import RepairConfig, repair

# `test_tup = list(test_tup)` was forgotten: a tuple has no append.
ADD_DICT = '''def add_dict_to_tuple(test_tup, test_dict):
    test_tup.append(test_dict)
    test_tup = tuple(test_tup)
    return test_tup
'''
TESTS = ["assert add_dict_to_tuple((4, 5, 6), {'a': 1}) == (4, 5, 6, {'a': 1})",
         "assert add_dict_to_tuple((1, 2), {'b': 2}) == (1, 2, {'b': 2})"]


def _feedback(source, tests):
    with Sandbox(workers=1) as sandbox:
        suite = TestSuite.from_asserts(tests)
        run = sandbox.run(source, suite)
    return Feedback.from_run(run, {}, [t.source for t in suite.tests])


def test_a_list_method_on_a_tuple_asks_for_a_conversion_before_it():
    feedback = _feedback(ADD_DICT, TESTS)
    func = ast.parse(ADD_DICT).body[0]
    found = [(op, ast.unparse(new)) for _f, _k, _p, op, new, _w in conversion_alternatives(("body", 0), func, feedback)]
    assert found == [("insert:0", "test_tup = list(test_tup)")]
    assert list(conversion_alternatives(("body", 0), func, Feedback())) == []  # no error, no conversion


def test_an_item_assignment_on_a_string_asks_for_a_conversion_in_its_loop():
    source = "def swap_case(s):\n    for i in range(len(s)):\n        s[i] = s[i].upper()\n    return ''.join(s)\n"
    feedback = _feedback(source, ["assert swap_case('ab') == 'AB'"])
    func = ast.parse(source).body[0]
    found = {(tuple(p), op, ast.unparse(new)) for _f, _k, p, op, new, _w in conversion_alternatives(("body", 0), func, feedback)}
    assert found == {(("body", 0, "body", 0, "body"), "insert:0", "s = list(s)"), (("body", 0, "body"), "insert:0", "s = list(s)")}


def test_a_missing_conversion_is_repaired_for_real():
    with Sandbox(workers=1) as sandbox:
        result = repair(ADD_DICT, TestSuite.from_asserts(TESTS), sandbox, RepairConfig(budget=64, ranker="bundled"))
    assert result.solved and "test_tup = list(test_tup)" in result.repaired
