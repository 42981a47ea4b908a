import ast

import pytest

from kelp.program import PathError, bindings, constants, iter_nodes, names_in_scope, parse

SRC = '''import os.path as osp
import math
from collections import Counter as C2, deque
G = 10

def f(a, b=2, *rest, k, **kw):
    """Doc string."""
    total = 0.5
    for i, x in enumerate(a):
        if (n := x) > b:
            total += x
    ys = [y * 2 for y in a if y]
    try:
        pass
    except ValueError as err:
        pass
    with open(a) as fh:
        def inner(z):
            return z + total
    lam = lambda q: q + 1
    return total

class K:
    attr = 'v'
    def m(self, v):
        return v
'''


def _path_of(tree, pred):
    return next(p for p, n in iter_nodes(tree) if pred(n))


def test_names_in_function_body_first_appearance_order():
    tree = parse(SRC)
    ret = _path_of(tree, lambda n: isinstance(n, ast.Return) and isinstance(n.value, ast.Name)
                   and n.value.id == "total")
    assert names_in_scope(tree, ret) == [
        "osp", "math", "C2", "deque", "G", "f", "a", "b", "rest", "k", "kw", "total", "i", "x", "n",
        "ys", "err", "fh", "inner", "lam", "K",
    ]


def test_comprehension_and_nested_scopes():
    tree = parse(SRC)
    comp_elt = _path_of(tree, lambda n: isinstance(n, ast.ListComp)) + ("elt",)
    assert "y" in names_in_scope(tree, comp_elt)
    comp = _path_of(tree, lambda n: isinstance(n, ast.ListComp))
    assert "y" not in names_in_scope(tree, comp + ("generators", 0, "iter"))
    assert "y" in names_in_scope(tree, comp + ("generators", 0, "ifs", 0))
    ret = _path_of(tree, lambda n: isinstance(n, ast.Return))
    assert "y" not in names_in_scope(tree, ret)
    inner_ret = _path_of(tree, lambda n: isinstance(n, ast.Return) and isinstance(n.value, ast.BinOp))
    inner_names = names_in_scope(tree, inner_ret)
    assert "z" in inner_names and "total" in inner_names and "q" not in inner_names
    lam_body = _path_of(tree, lambda n: isinstance(n, ast.Lambda)) + ("body",)
    assert "q" in names_in_scope(tree, lam_body)


def test_class_names_not_visible_in_methods():
    tree = parse(SRC)
    meth_ret = _path_of(tree, lambda n: isinstance(n, ast.Return) and getattr(n.value, "id", None) == "v")
    names = names_in_scope(tree, meth_ret)
    assert "self" in names and "v" in names and "attr" not in names and "m" not in names
    assert "total" not in names and "a" not in names
    class_stmt = _path_of(tree, lambda n: isinstance(n, ast.ClassDef)) + ("body", 0)
    assert "attr" in names_in_scope(tree, class_stmt)


def test_module_level_and_no_builtins():
    tree = parse("x = len([1])\nprint(x)\n")
    assert names_in_scope(tree, ("body", 1)) == ["x"]
    with pytest.raises(PathError):
        names_in_scope(tree, ("body", 7))


def test_binding_kinds():
    kinds = {(b.name, b.kind) for b in bindings(parse(SRC))}
    assert {("a", "param"), ("total", "local"), ("y", "comprehension"), ("err", "except"),
            ("inner", "function"), ("K", "class"), ("osp", "import"), ("n", "local")} <= kinds


def test_constants_dedup_typed_skip_docstrings():
    tree = parse(SRC + "\nflags = [1, 1.0, True, None, 'v', f'{G}x', 10]\n")
    consts = constants(tree)
    assert consts == [10, 2, 0.5, 1, "v", 1.0, True, None]
    assert "Doc string." not in consts and "x" not in consts


# The scope rules as first written: one pass over every binding per query, with the function
# scopes found by a walk of the whole tree. ScopeIndex and visible_bindings must agree with it.
def _reference_visible(tree, path):
    from kelp.program.scope import function_scopes

    def under(prefix, p):
        return len(prefix) <= len(p) and p[: len(prefix)] == prefix

    enclosing = [f for f in function_scopes(tree) if under(f + ("body",), path)]
    out = []
    for b in bindings(tree):
        if b.scope_kind == "module":
            out.append(b)
        elif b.scope_kind == "function":
            if under(b.scope + ("body",), path):
                out.append(b)
        elif b.scope_kind == "comprehension":
            if under(b.scope, path) and not under(b.scope + ("generators", 0, "iter"), path):
                out.append(b)
        elif b.scope_kind == "class":
            if under(b.scope + ("body",), path) and not any(
                    len(f) > len(b.scope) and under(b.scope, f) for f in enclosing):
                out.append(b)
    return out


NESTED = SRC + '''
class Outer:
    x = 1
    class Inner:
        y = x
        def meth(self):
            return [x for x in range(self.y) if (w := x)]
    z = [x + k for k in range(3)]
    f = lambda self, q=x: q
'''


def _programs():
    from program_strategies import mbpp_codes

    import textwrap as stdlib_module
    import inspect
    return [NESTED, inspect.getsource(stdlib_module)] + list(mbpp_codes()[600:660])  # train split


def test_scope_index_agrees_with_the_reference_rules_at_every_node():
    from kelp.program.scope import ScopeIndex, visible_bindings
    for source in _programs():
        tree = parse(source)
        index = ScopeIndex(tree)
        for path, _node in iter_nodes(tree):
            want = _reference_visible(tree, path)
            assert index.visible(path) == want, (source[:60], path)
            assert visible_bindings(tree, path) == want


def test_scope_index_rejects_a_path_that_is_not_there():
    from kelp.program.scope import ScopeIndex
    with pytest.raises(PathError):
        ScopeIndex(parse("x = 1\n")).visible(("body", 3))


def _reference_constants(tree):
    seen, skip = {}, []
    for path, node in iter_nodes(tree):
        if any(path[: len(p)] == p for p in skip):
            continue
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                                               and isinstance(node.value.value, str)):
            skip.append(path)
            continue
        if isinstance(node, ast.Constant) and type(node.value) in (int, float, str, bool, type(None)):
            seen.setdefault((type(node.value).__name__, repr(node.value)), node.value)
    return list(seen.values())


def test_constants_agree_with_the_reference_walk():
    for source in _programs():
        tree = parse(source)
        assert constants(tree) == _reference_constants(tree)
