"""Unused definitions: names a program binds and never reads, a trace that a bug leaves.

When a statement that used a variable is deleted, or a read of a variable is replaced by another
name, the variable's definition is left dead.  Compilers warn about such definitions and
learned repair work uses them as a fault signal (e.g. the "unused variable" features of
DeepFix, Gupta et al. 2017, and of variable-misuse models, Allamanis et al. 2018).  The
enumerative proposer uses them twice: it ranks a wrong-variable fix higher when it reads a dead
name, and it proposes re-inserting a statement that uses a dead name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from kelp.program.scope import Binding
from kelp.program.tree import node_at

Path = tuple


@dataclass(frozen=True)
class Unused:
    """One dead definition: ``name`` bound at ``path`` (a Name or arg node) in the function or
    comprehension at ``scope``; ``kind`` is "param", "local" or "comprehension"; ``stmt`` is the
    path of the statement that binds it (None for a parameter or comprehension variable)."""

    name: str
    kind: str
    scope: Path
    path: Path
    stmt: Path | None


def unused_definitions(tree: ast.Module, all_bindings: list[Binding]) -> list[Unused]:
    """Parameters and local variables of functions in ``tree`` that nothing in the function
    (nested functions and lambdas included) ever reads, and comprehension variables that their
    comprehension never reads (``kind`` "comprehension", ``scope`` the comprehension), in
    binding order.  Names starting with ``_`` are skipped (the usual "deliberately unused"
    marker)."""
    loads: dict[Path, set[str]] = {}
    out = []
    for b in all_bindings:
        wanted = ((b.scope_kind == "function" and b.kind in ("param", "local"))
                  or (b.scope_kind == "comprehension" and b.kind == "comprehension"))
        if not wanted or b.name.startswith("_"):
            continue
        if b.scope not in loads:
            func = node_at(tree, b.scope)
            loads[b.scope] = {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        if b.name in loads[b.scope]:
            continue
        stmt = None if b.kind in ("param", "comprehension") else _statement_of(b.path)
        out.append(Unused(b.name, b.kind, b.scope, b.path, stmt))
    return out


def unused_imports(tree: ast.Module) -> list[str]:
    """Names bound by ``import``/``from ... import`` that nothing in ``tree`` reads."""
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    names = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                if name != "*" and name not in loads and name not in names:
                    names.append(name)
    return names


def _statement_of(path: Path) -> Path | None:
    """The path of the innermost statement (an item of a statement list) containing ``path``."""
    for end in range(len(path), 0, -1):
        if isinstance(path[end - 1], int) and end >= 2 and path[end - 2] in ("body", "orelse", "finalbody"):
            return path[:end]
    return None


def protocol_params(tree: ast.Module) -> frozenset[str]:
    """Names of parameters that two or more functions of ``tree`` take and never read: the
    signature of a callback or an interface (``def _row(cell_values, colwidths, colaligns)``
    for a table of formatters), not a use a bug deleted. Their deadness is no fault signal."""
    seen: dict[str, int] = {}
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        args = func.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        body = func.body if isinstance(func.body, list) else [func.body]
        read = {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        for name in params - read - {"self", "cls"}:
            seen[name] = seen.get(name, 0) + 1
    return frozenset(name for name, count in seen.items() if count >= 2)


def unread_parameters(tree: ast.Module, lines: set[int] | frozenset[int] | None = None) -> frozenset[tuple[str, str]]:
    """``(function name, parameter)`` for parameters that their function never reads, in the
    functions of ``tree`` that hold one of ``lines`` (``None``: every function). ``self``,
    ``cls``, ``_``-prefixed names, ``*args``/``**kwargs``, :func:`protocol_params` and the
    parameters of stubs (a body of ``pass``, ``...``, a docstring or a ``raise``) are left out:
    a person rarely takes a parameter to ignore it, so an unread one marks where logic is
    missing."""
    protocol = protocol_params(tree)
    found = set()
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if lines is not None and not any(func.lineno <= ln <= (func.end_lineno or func.lineno) for ln in lines):
            continue
        body = [s for s in func.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if all(isinstance(s, (ast.Pass, ast.Raise)) for s in body):
            continue
        read = {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs:
            if a.arg not in read and a.arg not in ("self", "cls") and not a.arg.startswith("_") \
                    and a.arg not in protocol:
                found.add((func.name, a.arg))
    return frozenset(found)
