"""Forgotten twins: a statement the function makes for one parameter, made again for another.

Code that treats two inputs alike often does it twice (``a.sort()`` then ``b.sort()``,
``x = int(x)`` then ``y = int(y)``), and a person who forgets one of the pair leaves the other
standing. The copy with one parameter renamed to another is the repair: GenProg's insert
operator (Le Goues et al. 2012) with the renaming of the "fix ingredients" of ssFix and CapGen
(Xin & Reiss 2017; Wen et al. 2018), restricted to parameters that play the same roles, so the
proposals stay few.

The same holds for a two-key sort: ``x.sort(key=len)`` that should order equal keys by value
needs the plain ``x.sort()`` before it (:func:`presort_alternatives`).
"""

from __future__ import annotations

import ast
import copy
from typing import Iterator

from kelp.repair.guards import _blocks

#: Twins proposed per function (the likeliest by role overlap).
MAX_TWINS = 12


def _role(node: ast.Name, parent: ast.AST | None) -> str:
    """Where a name stands: as the object of ``.attr``, the sequence of ``x[i]``, an argument of
    ``f(...)``, an operand of an operator, ..."""
    if isinstance(parent, ast.Attribute):
        return f"attr:{parent.attr}"
    if isinstance(parent, ast.Subscript):
        return "subscript" if parent.value is node else "index"
    if isinstance(parent, ast.Call) and node in parent.args:
        func = parent.func
        return f"arg:{func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ''}"
    return type(parent).__name__ if parent is not None else ""


def parameter_roles(func: ast.FunctionDef) -> dict[str, set[str]]:
    """For each parameter of ``func``, the set of roles its uses take (:func:`_role`)."""
    params = [a.arg for a in func.args.args + func.args.kwonlyargs]
    parents = {id(c): p for p in ast.walk(func) for c in ast.iter_child_nodes(p)}
    roles: dict[str, set[str]] = {p: set() for p in params}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and node.id in roles:
            roles[node.id].add(_role(node, parents.get(id(node))))
    return roles


def _renamed(stmt: ast.stmt, old: str, new: str) -> ast.stmt:
    out = copy.deepcopy(stmt)
    for node in ast.walk(out):
        if isinstance(node, ast.Name) and node.id == old:
            node.id = new
    return out


def twin_alternatives(path: tuple, func: ast.FunctionDef) -> Iterator[tuple]:
    """``(family, site key, block path, op, statement, weight)`` for twins of ``func`` (at
    ``path``): a call statement or an assignment that reads parameter ``a`` and no other
    parameter, copied with ``a`` renamed to a parameter ``b`` it does not mention and inserted
    just after it, where ``b`` shares a role with ``a`` (weight: the Jaccard overlap of their
    roles) and the function holds no statement of the copy's text. At most :data:`MAX_TWINS`."""
    roles = parameter_roles(func)
    if len(roles) < 2:
        return
    existing = {ast.dump(n) for n in ast.walk(func) if isinstance(n, ast.stmt)}
    found = []
    for block_path, block, _loops in _blocks(func, path, ()):
        for i, stmt in enumerate(block):
            if not (isinstance(stmt, (ast.Assign, ast.AugAssign))
                    or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call))):
                continue
            mentioned = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            own = [p for p in roles if p in mentioned]
            if len(own) != 1:
                continue
            a = own[0]
            for b in roles:
                if b in mentioned or not roles[b] & roles[a]:
                    continue
                twin = _renamed(stmt, a, b)
                if ast.dump(twin) in existing:
                    continue
                overlap = len(roles[a] & roles[b]) / len(roles[a] | roles[b])
                found.append((overlap, ("twin", block_path, i + 1, a, b), block_path, twin))
    found.sort(key=lambda f: -f[0])
    for overlap, key, block_path, twin in found[:MAX_TWINS]:
        yield ("statement_transplant", key, block_path, f"insert:{key[2]}", twin, overlap)


def presort_alternatives(path: tuple, func: ast.FunctionDef) -> Iterator[tuple]:
    """``(family, site key, block path, op, statement, weight)``: before each statement
    ``x.sort(key=...)`` of ``func`` (at ``path``), the plain ``x.sort()`` that a two-key sort
    needs first (Python's sort is stable: sorting by value, then by ``key``, orders equal keys
    by value), where the block has no plain sort of ``x`` already."""
    for block_path, block, _loops in _blocks(func, path, ()):
        plain = {ast.dump(s) for s in block}
        for i, stmt in enumerate(block):
            call = stmt.value if isinstance(stmt, ast.Expr) else None
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "sort"
                    and any(k.arg == "key" for k in call.keywords) and not call.args):
                continue
            first = ast.Expr(value=ast.Call(func=copy.deepcopy(call.func), args=[], keywords=[]))
            if ast.dump(first) not in plain:
                yield ("statement_transplant", ("presort", block_path, i), block_path, f"insert:{i}", first, 1.0)
