"""Excess logic as people write it (training data only): code that should not be there.

The families plant the four shapes of the "excess logic" bug class of HumanEvalFix (Muennighoff
et al. 2023, "OctoPack"), whose fixes are deletions: an extra conjunct in a condition
(``if a + b == s and a != b:``), an extra guard around a statement (``if x != y: out.append(x)``),
an extra statement (an early ``return``, a ``break``, a counter bumped twice, an accumulator
reset inside its loop) and an extra call (``sorted(...)``, ``.lower()``). The repair search
proposes the inverse edits (``drop_condition``, ``remove_guard``, ``delete_statement``,
``fix_template`` unwraps); without such bugs in its training data the learned ranker sees a
deletion right only by accident. The forward policy ``excess`` draws from
:data:`EXCESS_FAMILIES`.
"""

from __future__ import annotations

import ast
import copy

from kelp.corrupt.mutations import Option, Site, SiteContext
from kelp.program.tree import iter_nodes

#: Calls wrapped around a value and methods added after one (the "call too many" of people).
EXTRA_CALLS = ("sorted", "list", "set", "abs", "int")
EXTRA_METHODS = ("lower", "strip")
_LOOPS = (ast.For, ast.While)


def _loads(node: ast.AST) -> list[str]:
    """Names read in ``node``, first use first, without callees."""
    callees = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    out = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
           and id(n) not in callees and n.id not in ("True", "False", "None")]
    return list(dict.fromkeys(out))


def _name(text: str) -> ast.Name:
    return ast.Name(id=text, ctx=ast.Load())


def _conditions(names: list[str]) -> list[ast.expr]:
    """Extra tests over ``names``: two names differ, a name is truthy, a name is positive."""
    out: list[ast.expr] = []
    for i, a in enumerate(names[:3]):
        for b in names[i + 1:4]:
            out.append(ast.Compare(left=_name(a), ops=[ast.NotEq()], comparators=[_name(b)]))
    for a in names[:2]:
        out.append(_name(a))
        out.append(ast.Compare(left=_name(a), ops=[ast.Gt()], comparators=[ast.Constant(0)]))
    return out


def add_conjunct(ctx: SiteContext) -> list[Site]:
    """A test of an ``if``, ``while``, conditional expression or comprehension filter given an
    extra conjunct over names it reads (``a + b == s`` -> ``a + b == s and a != b``)."""
    sites = []
    for path, node in ctx.nodes():
        tests = []
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            tests.append((path + ("test",), node.test))
        elif isinstance(node, ast.comprehension):
            tests.extend((path + ("ifs", i), t) for i, t in enumerate(node.ifs))
        for test_path, test in tests:
            if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
                continue
            names = _loads(test)
            extra = [c for c in _conditions(names) if ast.dump(c) not in ast.dump(test)]
            if extra:
                opts = [Option("replace", ast.BoolOp(op=ast.And(), values=[copy.deepcopy(test), c])) for c in extra]
                sites.append(Site(test_path, opts))
    return sites


_GUARDABLE = (ast.Assign, ast.AugAssign, ast.Expr, ast.Return)


def add_guard(ctx: SiteContext) -> list[Site]:
    """A simple statement inside a function put under an ``if`` over names it reads
    (``out.append(x)`` -> ``if x != y: out.append(x)``)."""
    sites = []
    for path, node in ctx.nodes():
        if not (isinstance(node, _GUARDABLE) and isinstance(path[-1], int) and len(path) >= 4):
            continue
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Call):
            continue
        names = _loads(node.value) if getattr(node, "value", None) is not None else []
        opts = [Option("replace", ast.If(test=c, body=[copy.deepcopy(node)], orelse=[])) for c in _conditions(names)]
        if opts:
            sites.append(Site(path, opts))
    return sites


def add_statement(ctx: SiteContext) -> list[Site]:
    """An extra statement after one in a loop body: ``break``, an early ``return`` of a value the
    function returns, a second bump of a counter the function bumps (``count += 1``), or the reset
    of an accumulator the function initialises (``res = 1``)."""
    returns, bumps, inits = [], [], []
    for _path, node in iter_nodes(ctx.tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Name):
            returns.append(node.value.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            bumps.append(ast.AugAssign(target=ast.Name(id=node.target.id, ctx=ast.Store()), op=copy.deepcopy(node.op),
                                       value=copy.deepcopy(node.value)))
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, (ast.Constant, ast.List, ast.Dict)) and not getattr(node.value, "elts", None)
              and not getattr(node.value, "keys", None)):
            inits.append(node)
    extras: list[ast.stmt] = [ast.Break()]
    extras += [ast.Return(value=_name(n)) for n in dict.fromkeys(returns)]
    extras += list({ast.dump(b): b for b in bumps}.values())
    extras += list({ast.dump(i): i for i in inits}.values())
    sites = []
    for path, node in ctx.nodes():
        if not isinstance(node, _LOOPS):
            continue
        for i, stmt in enumerate(node.body):
            opts = [Option("splice", [copy.deepcopy(stmt), copy.deepcopy(extra)]) for extra in extras
                    if ast.dump(extra) != ast.dump(stmt)]
            if opts:
                sites.append(Site(path + ("body", i), opts))
    return sites


def add_call(ctx: SiteContext) -> list[Site]:
    """A value wrapped in a call it should not have: a returned or assigned name, subscript or
    call wrapped in :data:`EXTRA_CALLS` or given a method of :data:`EXTRA_METHODS`."""
    sites = []
    for path, node in ctx.nodes():
        if not isinstance(node, (ast.Return, ast.Assign)) or node.value is None:
            continue
        value = node.value
        if not isinstance(value, (ast.Name, ast.Subscript, ast.Call, ast.BinOp)):
            continue
        opts = [Option("replace", ast.Call(func=_name(f), args=[copy.deepcopy(value)], keywords=[]))
                for f in EXTRA_CALLS if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                                             and value.func.id == f)]
        opts += [Option("replace", ast.Call(func=ast.Attribute(value=copy.deepcopy(value), attr=m, ctx=ast.Load()),
                                            args=[], keywords=[]), 0.5) for m in EXTRA_METHODS]
        sites.append(Site(path + ("value",), opts))
    return sites


EXCESS_SITES = {"add_conjunct": add_conjunct, "add_guard": add_guard, "add_statement": add_statement,
                "add_call": add_call}
#: The families of the ``excess`` forward policy.
EXCESS_FAMILIES: tuple[str, ...] = tuple(EXCESS_SITES)

__all__ = ["EXCESS_FAMILIES", "EXCESS_SITES", "EXTRA_CALLS", "EXTRA_METHODS", "add_call", "add_conjunct",
           "add_guard", "add_statement"]
