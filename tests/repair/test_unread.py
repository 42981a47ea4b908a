"""Unread parameters: where logic is missing, and the search's doubt of a repair that leaves one
unread (real sandbox)."""

import ast

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.search import RepairConfig, repair
from kelp.repair.unused import unread_parameters

# `w` is never read: the width clause was forgotten. `s[0] > h` also fits the tests.
BUGGY = ("def filter_data(students, h, w):\n"
         "    return {k: s for k, s in students.items() if s[0] >= h}\n")
TESTS = ["assert filter_data({'a': (6.2, 70), 'b': (5.9, 65), 'c': (6.0, 68)}, 6.0, 70) == {'a': (6.2, 70)}",
         "assert filter_data({'a': (6.2, 70), 'b': (5.9, 65), 'c': (6.0, 68)}, 5.9, 67) == "
         "{'a': (6.2, 70), 'c': (6.0, 68)}"]


def test_unread_parameters_skip_self_stubs_private_and_protocol_names():
    tree = ast.parse("class A:\n    def f(self, x, _y):\n        return 1\n    def g(self, z):\n        pass\n"
                     "def cb1(event, ctx):\n    return event\ndef cb2(event, ctx):\n    return 2\n"
                     "def h(a, b):\n    return a\n")
    assert unread_parameters(tree) == {("f", "x"), ("cb2", "event"), ("h", "b")}
    assert unread_parameters(tree, {11}) == {("h", "b")}


def test_a_repair_that_leaves_a_parameter_unread_is_doubted():
    suite = TestSuite.from_asserts(TESTS)
    with Sandbox(workers=1) as sandbox:
        doubted = repair(BUGGY, suite, sandbox, RepairConfig(budget=64))
        plain = repair(BUGGY, suite, sandbox, RepairConfig(budget=64, doubt_unread=False))
    assert plain.solved and "s[0] > h" in plain.repaired
    assert doubted.solved and "s[1] >= w" in doubted.repaired


def test_a_ranker_without_an_accept_model_keeps_the_doubt(tmp_path):
    import json

    from kelp.repair.ranking import CATEGORICAL, FEATURES
    ranker = tmp_path / "ranker.json"  # one constant tree: the proposers' order, and no accept model
    ranker.write_text(json.dumps({"features": list(FEATURES), "vocab": {name: {} for name in CATEGORICAL},
                                  "trees": [{"tree_structure": {"leaf_value": 0.0}}]}))
    with Sandbox(workers=1) as sandbox:
        result = repair(BUGGY, TestSuite.from_asserts(TESTS), sandbox, RepairConfig(budget=64, ranker=str(ranker)))
    assert result.solved and "s[1] >= w" in result.repaired


def test_a_doubt_for_an_unread_parameter_runs_the_proposals_that_read_it_first():
    """``s[0] > h`` passes at the second execution and leaves ``w`` unread; the clause that
    reads ``w`` stands far down the ranker's order, so the proposals that read ``w`` go first."""
    buggy = ("def filter_data(students, h, w):\n"
             "    result = {k: s for k, s in students.items() if s[0] >= h}\n"
             "    return result\n")
    everyone = "{'a': (6.2, 70), 'b': (5.9, 65), 'c': (6.0, 68)}"
    suite = TestSuite.from_asserts(TESTS + [f"assert filter_data({everyone}, 5.7, 64) == {everyone}"])
    with Sandbox(workers=1) as sandbox:
        result = repair(buggy, suite, sandbox, RepairConfig(budget=256, ranker="bundled", doubt_extra=16))
    assert result.solved and "s[0] >= h and s[1] >= w" in result.repaired
