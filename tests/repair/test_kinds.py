"""Kinds of a function's names made certain by its code, and the wrong-variable proposals they
rule out."""

import ast

from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.kinds import LIST, NUMBER, impossible, value_kinds
from kelp.repair.proposer import Feedback

MIN_SUM = '''def find_min_sum(a, b, n):
    a.sort()
    b.sort()
    total = 0
    for i in range(n):
        total = total + (a[i] - b[i])
    return total
'''


def _func(source):
    return ast.parse(source).body[0]


def test_numbers_and_lists_are_read_from_every_binding():
    kinds = value_kinds(_func(MIN_SUM))
    assert kinds["i"] == NUMBER and kinds["n"] == NUMBER  # a range's variable and its bound
    assert kinds["a"] == LIST and kinds["b"] == LIST  # parameters sorted in place
    assert "total" not in kinds  # a[i] - b[i] may be anything
    mixed = value_kinds(_func("def f(xs):\n    k = 0\n    k = xs[0]\n    out = []\n    out = xs\n    return k\n"))
    assert "k" not in mixed and "out" not in mixed  # one binding of unknown kind is enough
    assert value_kinds(_func("def f(s):\n    c = len(s)\n    c += 1\n    w = [x for x in s]\n")) == {"c": NUMBER, "w": LIST}
    unpacked = value_kinds(_func("def f(p):\n    lo, hi = 0, 1\n    with open(p) as fh:\n        fh = 3\n"))
    assert unpacked == {}


def test_a_number_is_never_subscripted_and_a_list_never_indexes():
    sub = ast.parse("a[i]", mode="eval").body
    attr = ast.parse("a.sort()", mode="eval").body.func
    assert impossible(NUMBER, sub, "value") and not impossible(NUMBER, sub, "slice")
    assert impossible(LIST, sub, "slice") and not impossible(LIST, sub, "value")
    assert impossible(NUMBER, attr, "value") and not impossible(LIST, attr, "value")
    assert not impossible(None, sub, "value")


def test_wrong_variable_proposals_that_cannot_run_are_doomed():
    from kelp.program.tree import iter_nodes

    tree = ast.parse(MIN_SUM)
    subscript = next(n for _p, n in iter_nodes(tree) if isinstance(n, ast.Subscript))  # a[i]
    paths = {id(n): p for p, n in iter_nodes(tree)}
    value, index = paths[id(subscript.value)], paths[id(subscript.slice)]
    cands = [c for c in EnumerativeProposer().propose(tree, Feedback()) if c.family == "wrong_variable"]
    at = lambda path: {c.edit.new: c.doomed for c in cands if tuple(c.edit.path) == path}
    assert at(value) == {"b": False, "i": True, "n": True, "total": False}  # i[i], n[i] raise
    assert at(index) == {"n": False, "total": False, "a": True, "b": True}  # a[a], a[b] raise


def _at(expr_source, name):
    """``(parent, field)`` of the name ``name`` in the expression ``expr_source``."""
    tree = ast.parse(expr_source)
    for node in ast.walk(tree):
        for field, value in ast.iter_fields(node):
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, ast.Name) and item.id == name:
                    return node, field
    raise AssertionError(name)


def test_a_number_is_never_iterated_or_measured_and_a_list_never_counts():
    for source in ("len(n)", "sorted(n)", "sum(n)", "max(n)", "for x in n: pass", "[x for x in n]", "3 in n",
                   "enumerate(n)"):
        assert impossible(NUMBER, *_at(source, "n")), source
        assert not impossible(LIST, *_at(source, "n")), source
    for source in ("max(n, 3)", "n in xs", "n < 3", "abs(n)", "a in b in n"):
        assert not impossible(NUMBER, *_at(source, "n")), source
    for source in ("range(xs)", "range(1, xs)", "int(xs)", "abs(xs)"):
        assert impossible(LIST, *_at(source, "xs")), source
        assert not impossible(NUMBER, *_at(source, "xs")), source
    assert not impossible(LIST, *_at("xs - ys", "xs"))  # an array on the other side may subtract


def test_a_loop_over_a_number_is_doomed():
    source = "def total(xs, n):\n    t = 0\n    for i in range(n):\n        t += i\n    for x in xs:\n        t += x\n    return t\n"
    tree = ast.parse(source)
    loop = tree.body[0].body[2]
    from kelp.program.tree import iter_nodes

    path = next(p for p, n in iter_nodes(tree) if n is loop.iter)
    cands = [c for c in EnumerativeProposer().propose(tree, Feedback()) if c.family == "wrong_variable"
             and tuple(c.edit.path) == tuple(path)]
    # n and i are numbers; t's last binding adds an element of xs (any kind); x is unbound there
    assert {c.edit.new: c.doomed for c in cands} == {"n": True, "t": False, "i": True, "x": True}
