"""Kinds of a function's names made certain by its code and its tests, the statements they make
raise on every reach, and the candidates the search therefore never runs."""

import ast

import pytest

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.kinds import DICT, LIST, NUMBER, STR, KindCheck, argument_kinds, kind_of, raises, value_kinds
from kelp.repair.search import RepairConfig, repair

MIN_SUM = '''def find_min_sum(a, b, n):
    a.sort()
    b.sort()
    total = 0
    for i in range(n):
        total = total + (a[i] - b[i])
    return total
'''

# The reset of `count` in an `else` was added by mistake: it must count every match.
COUNT_CHAR = '''def count_char(string, char):
    count = 0
    for i in range(len(string)):
        if string[i] == char:
            count = count + 1
        else:
            count = 0
    return count
'''
COUNT_TESTS = ['assert count_char("abcc", "c") == 2', 'assert count_char("ababa", "a") == 3',
               'assert count_char("xyzx", "x") == 2']


def _func(source):
    return ast.parse(source).body[0]


def test_kinds_are_read_from_every_binding():
    kinds = value_kinds(_func(MIN_SUM))
    assert kinds["i"] == NUMBER and kinds["n"] == NUMBER  # a range's variable and its bound
    assert kinds["a"] == LIST and kinds["b"] == LIST  # parameters sorted in place
    assert "total" not in kinds  # a[i] - b[i] may be anything
    mixed = value_kinds(_func("def f(xs):\n    k = 0\n    k = xs[0]\n    out = []\n    out = xs\n    return k\n"))
    assert "k" not in mixed and "out" not in mixed  # one binding of unknown kind is enough
    assert value_kinds(_func("def f(s):\n    c = len(s)\n    c += 1\n    w = [x for x in s]\n")) == {"c": NUMBER, "w": LIST}
    unpacked = value_kinds(_func("def f(p):\n    lo, hi = 0, 1\n    with open(p) as fh:\n        fh = 3\n"))
    assert unpacked == {}
    text = value_kinds(_func("def f(s):\n    out = ''\n    for ch in s:\n        out += ch.upper()\n    return out\n"),
                       frozenset({("s", STR)}))
    assert text == {"s": STR, "ch": STR, "out": STR}  # a string's characters are strings


def test_parameters_take_the_kind_every_test_call_gives_them():
    func = _func("def f(s, n, k=2):\n    return s[:n] * k\n")
    calls = ["assert f('ab', 3) == 'abab'", "assert f('cd', 4.5, k=1) == 'cd'"]
    assert argument_kinds(func, calls) == {"s": STR, "n": NUMBER, "k": NUMBER}
    assert argument_kinds(func, calls + ["assert f([1], 3) == [1, 1]"]) == {"n": NUMBER, "k": NUMBER}
    assert argument_kinds(func, ["assert g('ab', 3) == 1", "x = f(y, 2)"]) == {"n": NUMBER, "k": NUMBER}
    assert argument_kinds(func, []) == {}
    doubted = _func("def f(s, n):\n    if isinstance(s, str):\n        return s\n    return n\n")
    assert argument_kinds(doubted, ["assert f('a', 1) == 'a'"]) == {"n": NUMBER}
    recursive = ast.parse("def flat(x):\n    if type(x) == int:\n        return [x]\n    return [y for i in x for y in flat(i)]\n")
    assert KindCheck(recursive, ["assert flat([1, [2]]) == [1, 2]"]).arguments == {}  # called with ints inside
    rebound = _func("def f(s):\n    s = len(s)\n    return s\n")
    assert value_kinds(rebound, frozenset({("s", STR)})) == {}  # a string on entry, then a number
    assert value_kinds(_func("def f(s):\n    s = len(s)\n    return s\n")) == {}  # unknown on entry
    resorted = _func("def f(xs):\n    xs = sorted(xs)\n    return xs\n")
    assert value_kinds(resorted, frozenset({("xs", LIST)})) == {"xs": LIST}
    counted = _func("def f(s):\n    for i, ch in enumerate(s):\n        pass\n")
    assert value_kinds(counted, frozenset({("s", STR)})) == {"s": STR, "i": NUMBER, "ch": STR}


@pytest.mark.parametrize("source", [
    "len(n)", "sorted(n)", "sum(n)", "max(n)", "[x for x in n]", "3 in n", "enumerate(n)", "zip(xs, n)",
    "n[0]", "n.sort()", "n.count(1)", "n()",
    "range(xs)", "range(1, xs)", "int(xs)", "abs(xs)", "xs[xs]", "xs - 1", "xs < 3", "xs.lower()", "-xs",
    "s < 0", "s - 1", "s // n", "s + n", "n + s", "s.append(1)", "s[s]", "n in s", "s[:s]", "s[:s + 1]",
    "d[xs]", "d.sort()", "d < d", "xs.extend(n)",
    "map(xs, lambda x: x)", "filter(xs, lambda x: x)", "list(map(str, n))",
    "len(s) + s", "sorted(list(xs) - list(xs))", "[0] ** n", "[0] + n",
    "s.count(n)", "s[:n].find(xs)", "s.split(n)", "s.replace(n, s)", "s.startswith(n)", "s.join(n)", "sum(s)",
])
def test_operations_that_raise_on_every_evaluation(source):
    kinds = {"n": NUMBER, "xs": LIST, "s": STR, "d": DICT}
    assert raises(ast.parse(source, mode="eval").body, kinds), source


@pytest.mark.parametrize("source", [
    "max(n, 3)", "n in xs", "n < 3", "abs(n)", "a in b in n", "sum(xs, n)", "enumerate(xs, n)", "n + m",
    "xs - ys", "s % n", "s * n", "xs * n", "n * s", "s + s", "xs + xs", "s[n]", "xs[n:n + 1]", "d[s]",
    "s.lower().split()", "map(f, xs)", "filter(None, xs)", "int(s)", "float(s)", "xs and xs - 1",
    "s if n else s - 1", "lambda: s - 1", "[x - 1 for x in xs]", "n.bit_length()", "n.real", "s < s",
    "xs == 3", "s in s", "ys in s", "xs.index(n)", "d.get(s)", "set(xs) - set(xs)", "sorted(s)",
    "s.count(s, n)", "s.strip()", "s.split(None, n)", "s.startswith((s, s))", "s.join(xs)", "sum(xs)",
])
def test_operations_that_may_succeed(source):
    kinds = {"n": NUMBER, "m": NUMBER, "xs": LIST, "s": STR, "d": DICT}
    assert not raises(ast.parse(source, mode="eval").body, kinds), source


def test_the_kinds_of_results():
    kinds = {"n": NUMBER, "s": STR, "xs": LIST}
    kind = lambda source: kind_of(ast.parse(source, mode="eval").body, kinds)
    assert kind("len(s) + 1") == NUMBER and kind("s.split()") == LIST and kind("s[1:]") == STR
    assert kind("xs * 2") == LIST and kind("f(n)") is None and kind("s - 1") is None


def test_a_candidate_whose_edited_statement_raises_is_doomed():
    tree = ast.parse(COUNT_CHAR)
    check = KindCheck(tree, COUNT_TESTS)
    loop = ("body", 0, "body", 1)
    bad = ast.parse(COUNT_CHAR.replace("range(len(string))", "range(string)"))
    assert check.doomed(bad, "replace", loop + ("iter",))
    assert check.doomed(bad, "replace", loop)  # the statement itself as the edited node
    good = ast.parse(COUNT_CHAR.replace("count = 0\n    for", "count = 1\n    for"))
    assert not check.doomed(good, "replace", ("body", 0, "body", 0, "value"))
    guard = ast.parse(COUNT_CHAR.replace("    count = 0\n    for", "    if string < 0:\n        return 7\n"
                                                                 "    count = 0\n    for"))
    assert check.doomed(guard, "insert", ("body", 0, "body"), 0)
    assert not check.doomed(guard, "delete", ("body", 0, "body", 0))
    assert not check.doomed(bad, "replace", ("body", 5))  # a path that does not resolve
    expecting = KindCheck(tree, COUNT_TESTS + ["with pytest.raises(TypeError):\n    count_char(1, 2)"])
    assert not expecting.doomed(bad, "replace", loop + ("iter",))  # a test may want a TypeError
    shadowed = KindCheck(ast.parse("def range(x):\n    return [x]\n" + COUNT_CHAR), COUNT_TESTS)
    assert not shadowed.enabled


def test_the_search_never_runs_an_ill_kinded_candidate():
    ran = []
    with Sandbox(workers=1) as sandbox:
        result = repair(COUNT_CHAR, TestSuite.from_asserts(COUNT_TESTS), sandbox, RepairConfig(budget=128),
                        observer=ran.append)
    assert result.solved, result.reason
    assert "else" not in result.repaired
    assert not any(r.error_type in ("TypeError", "AttributeError") for r in ran)
    assert not any("range(string)" in r.source or "string < 0" in r.source for r in ran)


def test_a_loop_over_a_number_raises():
    from kelp.repair.kinds import statement_raises

    loop = ast.parse("for i in len(s):\n    pass\n").body[0]
    assert statement_raises(loop, {"s": STR}) and statement_raises(loop, {})
    assert not statement_raises(ast.parse("for i in s:\n    pass\n").body[0], {"s": STR})


def test_deleting_the_only_binding_of_a_name_still_read_is_doomed():
    from kelp.repair.enumerate import EnumerativeProposer
    from kelp.repair.proposer import Feedback

    source = ("def count_pairs(xs, k):\n    size = len(xs)\n    seen = set()\n    total = 0\n"
              "    for i in range(size):\n        total += xs[i] in seen\n        seen.add(xs[i] + k)\n"
              "    total = total * 1\n    print(total)\n    return total\n")
    tree = ast.parse(source)
    deletions = {c.edit.path[-1]: c.doomed for c in EnumerativeProposer().propose(tree, Feedback())
                 if c.family == "delete_statement" and len(c.edit.path) == 4}
    # size, seen and the first total are the only bindings of names read later (total has two)
    assert deletions[0] is True and deletions[1] is True
    assert deletions[2] is False and deletions[5] is False  # total = 0: another binding remains
    assert deletions[6] is False  # print(total) binds nothing


def test_an_expression_too_deep_to_read_is_not_known_to_raise():
    deep = ast.Constant(1)
    for _ in range(5000):  # deeper than the parser allows; an edited tree is built, not parsed
        deep = ast.BinOp(left=deep, op=ast.Add(), right=ast.Constant(1))
    assert raises(deep, {}) is False and kind_of(deep, {}) is None
