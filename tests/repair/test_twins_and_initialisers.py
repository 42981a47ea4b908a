"""Forgotten twins (a statement made for one parameter, forgotten for another) and forgotten
initialisations whose value the name's uses call for: proposals, and real repairs."""

import ast

import pytest

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.initialisers import (imported_names, loop_initialisers, never_bound, operand_initialisers,
                                      returning_initialisers, twin_initialisers, usage_initialisers)
from kelp.repair.parallel import parameter_roles, presort_alternatives, twin_alternatives
from kelp.repair.search import RepairConfig, repair

# `ys.sort()` was forgotten; `xs.sort()` still stands.
PAIRED = '''def closest_pairs(xs, ys):
    xs.sort()
    total = 0
    for i in range(len(xs)):
        total += abs(xs[i] - ys[i])
    return total
'''

# `groups = defaultdict(list)` was forgotten.
GROUPING = '''from collections import defaultdict

def group_by_first(words):
    for w in words:
        groups[w[0]].append(w)
    return dict(groups)
'''


def _func(source):
    tree = ast.parse(source)
    index, func = next((i, n) for i, n in enumerate(tree.body) if isinstance(n, ast.FunctionDef))
    return tree, ("body", index), func


def test_a_twin_renames_the_one_parameter_to_another_of_the_same_role():
    _, path, func = _func(PAIRED)
    assert parameter_roles(func)["ys"] == {"subscript"}
    alts = list(twin_alternatives(path, func))
    texts = {ast.unparse(stmt): (block, op) for _, _, block, op, stmt, _ in alts}
    assert texts["ys.sort()"] == (path + ("body",), "insert:1")
    assert all(family == "statement_transplant" for family, *_ in alts)


def test_no_twin_for_a_statement_that_already_has_one_or_reads_both():
    source = "def f(a, b):\n    a.sort()\n    b.sort()\n    c = a + b\n    return a[0] + b[0] + c[0]\n"
    _, path, func = _func(source)
    assert [ast.unparse(s) for *_, s, _ in twin_alternatives(path, func)] == []


def test_initial_values_follow_the_uses():
    tree, _, func = _func(GROUPING)
    imported = imported_names(tree)
    assert usage_initialisers(func, "groups", imported)[0][0] == "defaultdict(list)"
    counts = "def f(ws):\n    for w in ws:\n        c[w] += 1\n    seen.add(1)\n    return c\n"
    _, _, func = _func(counts)
    assert [v for v, _ in usage_initialisers(func, "c", {"collections"})] == ["collections.defaultdict(int)"]
    assert [v for v, _ in usage_initialisers(func, "c", set())] == []  # no defaultdict to name
    assert [v for v, _ in usage_initialisers(func, "seen", set())] == ["set()"]


def test_an_index_starts_from_the_loop_variable_but_a_running_total_does_not():
    sieve = "def f(n):\n    for i in range(2, n):\n        while j < n:\n            j += i\n    return n\n"
    _, path, func = _func(sieve)
    starts = loop_initialisers(func, path, "j")
    assert starts[0] == (path + ("body", 0, "body"), "i + 1", 1.5) and ("2 * i" in {v for _, v, _ in starts})
    total = "def f(s):\n    for i in range(len(s)):\n        summ += ord(s[i])\n    return summ\n"
    _, path, func = _func(total)
    assert loop_initialisers(func, path, "summ") == []


def test_a_range_bound_starts_as_the_length_of_an_indexed_parameter():
    func = ast.parse("def same(s, k):\n    for i in range(1, n):\n        if s[i] != s[0]:\n"
                     "            return False\n    return True\n").body[0]
    assert usage_initialisers(func, "n", set()) == [("len(s)", 6.0)]


def test_a_start_is_read_from_the_integers_the_name_is_combined_with():
    func = ast.parse("def f(n):\n    while p * p <= n:\n        i = p * 2\n        j = 3 + p - 1\n"
                     "        p += 1\n").body[0]
    assert operand_initialisers(func, "p") == [("2", 1.0), ("3", 1.0)]
    assert operand_initialisers(func, "i") == []


def test_a_keyed_sort_gets_the_plain_sort_before_it_once():
    func = ast.parse("def f(xs):\n    xs.sort(key=len)\n    return xs\n").body[0]
    alts = list(presort_alternatives(("body", 0), func))
    assert [(a[3], ast.unparse(a[4])) for a in alts] == [("insert:0", "xs.sort()")]
    done = ast.parse("def f(xs):\n    xs.sort()\n    xs.sort(key=len)\n    return xs\n").body[0]
    assert list(presort_alternatives(("body", 0), done)) == []


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def test_a_forgotten_twin_is_repaired_for_real(sandbox):
    suite = TestSuite.from_asserts(["assert closest_pairs([3, 1], [1, 5]) == 2",
                                    "assert closest_pairs([4, 2, 9], [8, 1, 3]) == 3"])
    result = repair(PAIRED, suite, sandbox, RepairConfig(budget=128))
    assert result.solved, result.reason
    assert "    xs.sort()\n    ys.sort()\n" in result.repaired


def test_a_forgotten_defaultdict_is_repaired_for_real(sandbox):
    suite = TestSuite.from_asserts(["assert group_by_first(['ab', 'ac', 'b']) == {'a': ['ab', 'ac'], 'b': ['b']}"])
    result = repair(GROUPING, suite, sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert "groups = defaultdict(list)" in result.repaired


def test_a_two_key_sort_is_repaired_for_real(sandbox):
    program = "def sort_sublists(rows):\n    rows.sort(key=len)\n    return rows\n"
    suite = TestSuite.from_asserts(["assert sort_sublists([[2], [0], [1, 3], [0, 7]]) == [[0], [2], [0, 7], [1, 3]]",
                                    "assert sort_sublists([[9, 1], [5], [1, 1]]) == [[5], [1, 1], [9, 1]]"])
    result = repair(program, suite, sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert "rows.sort()\n    rows.sort(key=len)" in result.repaired


# `low = min(a, b)` was forgotten beside `high = max(a, b)`.
GCD = '''def recur_gcd(a, b):
    high = max(a, b)
    if low == 0:
        return high
    elif low == 1:
        return 1
    else:
        return recur_gcd(low, high % low)
'''


def test_a_name_starts_as_its_opposite_twin_with_the_other_function():
    func = ast.parse(GCD).body[0]
    assert twin_initialisers(func, "low") == [("min(a, b)", 8.0)]
    func = ast.parse("def f(xs):\n    max_val = max(xs)\n    top = sum(xs)\n    return max_val - min_val\n").body[0]
    assert twin_initialisers(func, "min_val") == [("min(xs)", 8.0)] and twin_initialisers(func, "bottom") == []


def test_an_initialisation_is_not_proposed_again_once_an_edit_made_one():
    from kelp.program.tree import parse
    from kelp.repair.enumerate import EnumerativeProposer
    from kelp.repair.proposer import Feedback

    done = GCD.replace("    high = max(a, b)\n", "    high = max(a, b)\n    low = 0\n")
    inits = lambda source: [ast.unparse(c.edit.new) if not isinstance(c.edit.new, str) else c.edit.new
                            for c in EnumerativeProposer().propose(parse(source), Feedback(unbound=("low",)))
                            if c.family == "insert_statement" and not c.doomed]
    assert "low = min(a, b)" in inits(GCD)
    assert not any(text.startswith("low = ") for text in inits(done))
    totals = "def total(xs):\n    for x in xs:\n        t += x\n    return t\n"  # t += x reads t first
    assert "t = 0" in [c.edit.new if isinstance(c.edit.new, str) else ast.unparse(c.edit.new)
                       for c in EnumerativeProposer().propose(parse(totals), Feedback(unbound=("t",)))
                       if c.family == "insert_statement"]


def test_a_forgotten_twin_initialisation_is_repaired_for_real(sandbox):
    suite = TestSuite.from_asserts(["assert recur_gcd(12, 14) == 2", "assert recur_gcd(13, 17) == 1",
                                    "assert recur_gcd(9, 3) == 3"])
    result = repair(GCD, suite, sandbox, RepairConfig(budget=32))
    assert result.solved and "low = min(a, b)" in result.repaired


# `mean = avg_calc(data)` and `sd = 0.0` were forgotten; the tests report only `sd`.
SPREAD = '''import math

LIMIT = 3

def sd_calc(data):
    n = len(data)
    for el in data:
        sd += (float(el) - mean) ** 2
    sd = math.sqrt(sd / float(n - 1))
    return sd + 0 * LIMIT + sum(x for x in data if x) * 0

def avg_calc(ls):
    mean = sum(ls)
    mean = mean / len(ls)
    return mean
'''


def test_a_name_nothing_binds_is_unbound_and_a_function_returning_it_starts_it():
    tree = ast.parse(SPREAD)
    sd_calc, avg_calc = tree.body[2], tree.body[3]
    assert never_bound(tree, sd_calc) == ["mean"]  # sd is a local; LIMIT, math, x and sum are bound
    assert never_bound(tree, avg_calc) == []
    assert never_bound(ast.parse("from os import *\n\ndef f():\n    return getcwd()\n"), None) == []
    assert returning_initialisers(tree, sd_calc, "mean") == [("avg_calc(data)", 6.0)]


def test_two_forgotten_initialisations_are_repaired_for_real(sandbox):
    suite = TestSuite.from_asserts(["assert abs(sd_calc([4, 2, 5, 8, 6]) - 2.23606797749979) < 1e-9",
                                    "assert abs(sd_calc([1, 2, 3, 4, 5, 6, 7]) - 2.160246899469287) < 1e-9"])
    result = repair(SPREAD, suite, sandbox, RepairConfig(budget=128, ranker="bundled"))
    assert result.solved and "mean = avg_calc(data)" in result.repaired
