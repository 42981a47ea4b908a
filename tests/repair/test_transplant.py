"""Forgotten statements copied from elsewhere in the module: donors, where they may go, and a
real repair in the sandbox."""

import ast

import pytest

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.search import RepairConfig, repair
from kelp.repair.transplant import module_names, statement_donors, transplant_alternatives

# `self.emit(self.nl())` was deleted from `where`; `keyword` still holds it.
FORMATTER = '''class Formatter:
    def __init__(self):
        self.out = []

    def nl(self):
        return "\\n"

    def emit(self, token):
        self.out.append(token)

    def keyword(self, words, idx):
        if words[idx] == "FROM":
            self.emit(self.nl())
        self.emit(words[idx])

    def where(self, words, idx):
        if words[idx] != "WHERE":
            return
        self.emit(words[idx])


def format_sql(words):
    f = Formatter()
    for i in range(len(words)):
        if words[i] == "WHERE":
            f.where(words, i)
        else:
            f.keyword(words, i)
    return " ".join(f.out)
'''


def test_donors_are_calls_and_call_results_read_from_every_function():
    tree = ast.parse(FORMATTER)
    texts = [d.text for d in statement_donors(tree)]
    assert texts == ["self.out.append(token)", "self.emit(words[idx])", "self.emit(self.nl())", "f = Formatter()",
                     "f.where(words, i)", "f.keyword(words, i)"]
    assert module_names(tree) == {"Formatter", "format_sql"}


def test_a_donor_goes_where_its_names_are_bound_and_not_twice():
    tree = ast.parse(FORMATTER)
    where = tree.body[0].body[4]
    path = ("body", 0, "body", 4)
    alts = list(transplant_alternatives(path, where, statement_donors(tree), module_names(tree), None))
    texts = {ast.unparse(stmt) for _, _, _, stmt, _ in alts}
    assert "self.emit(self.nl())" in texts
    assert "self.emit(words[idx])" not in texts  # already there
    assert "f.where(words, i)" not in texts  # `f` and `i` are not bound in `where`
    weights = {op: w for _, block, op, stmt, w in alts
               if ast.unparse(stmt) == "self.emit(self.nl())" and block == path + ("body",)}
    assert weights["insert:1"] > weights["insert:0"]  # not before the guard clause that leaves early


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def test_a_forgotten_call_is_copied_from_a_sibling_method_for_real(sandbox):
    suite = TestSuite.from_asserts([
        "assert format_sql(['SELECT', 'x', 'FROM', 't', 'WHERE', 'y']) == 'SELECT x \\n FROM t \\n WHERE y'",
        "assert format_sql(['SELECT', 'x']) == 'SELECT x'"])
    result = repair(FORMATTER, suite, sandbox, RepairConfig(budget=128))
    assert result.solved, result.reason
    assert '            return\n        self.emit(self.nl())\n        self.emit(words[idx])' in result.repaired


def test_a_wrong_constant_argument_takes_what_the_module_passes_there_elsewhere():
    from kelp.repair.enumerate import EnumerativeProposer
    from kelp.repair.proposer import Feedback
    from kelp.repair.transplant import argument_constants
    source = ("import re\n\nWORDS = ['alpha', 'beta', 'gamma', 'delta', 'end']\n\n\n"
              "def widest(s):\n    return max(map(len, re.split('[\\r\\n]', s)))\n\n\n"
              "def widths(s):\n    return list(map(len, re.split('end', s)))\n")
    tree = ast.parse(source)
    assert argument_constants(tree)[("re.split", 0)] == ["[\r\n]", "end"]
    cands = EnumerativeProposer().propose(tree, Feedback(lines={11: 1.0}))
    fix = [i for i, c in enumerate(cands) if c.edit.new == "'[\\r\\n]'"]
    assert fix and fix[0] < 5, [c.edit.new for c in cands[:5]]
