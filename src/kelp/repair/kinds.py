"""What a function's names hold, where the code alone makes it certain: numbers and lists.

A wrong-variable proposal that subscripts a number (``i[i]``), indexes with a list (``a[a]``),
calls a list method on a number (``n.sort()``), iterates a number (``for x in n``, ``len(n)``) or
counts with a list (``range(xs)``) raises ``TypeError`` or ``AttributeError`` on every run that
reaches it, and a run that never reaches it changes nothing: such candidates are
:class:`~kelp.repair.proposer.Doomed`. The kinds are read from bindings only (no inference
through calls): a name is a *number* when every binding of it in the function is a number
literal, ``len(...)``, a ``for`` target over ``range(...)``, or arithmetic of those, and a
parameter is one when it bounds a ``range``; a name is a *list* when every binding is a list
display or comprehension, ``list(...)`` or ``sorted(...)``, or (a parameter) when the function
calls ``.sort()``, ``.append()``, ``.extend()`` or ``.insert()`` on it.
"""

from __future__ import annotations

import ast
import functools

from kelp.repair.transplant import own_nodes

NUMBER, LIST = "number", "list"
#: Methods of lists, strings and dicts, none of which a number has.
CONTAINER_METHODS = frozenset({"sort", "append", "extend", "insert", "reverse", "pop", "remove", "index", "count",
                          "split", "join", "strip", "lower", "upper", "replace", "items", "keys", "values", "get",
                          "add", "update"})
_MUTATORS = frozenset({"sort", "append", "extend", "insert"})


def _number(expr: ast.expr, numbers: set[str]) -> bool:
    if isinstance(expr, ast.Constant):
        return type(expr.value) in (int, float)
    if isinstance(expr, ast.Name):
        return expr.id in numbers
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
        return _number(expr.operand, numbers)
    if isinstance(expr, ast.BinOp) and not isinstance(expr.op, ast.MatMult):
        return _number(expr.left, numbers) and _number(expr.right, numbers)
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "len"


def _list(expr: ast.expr) -> bool:
    return isinstance(expr, (ast.List, ast.ListComp)) or (
        isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in ("list", "sorted"))


@functools.lru_cache(maxsize=64)
def value_kinds(func: ast.FunctionDef) -> dict[str, str]:
    """``{name: NUMBER or LIST}`` for the names of ``func`` whose kind its code makes certain (see
    the module doc); names bound any other way (or also in a nested scope's ``nonlocal``) are
    left out. Cached per function node."""
    params = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
    bindings: dict[str, list] = {p: [] for p in params}  # name -> bound values: an expr, NUMBER, or None (unknown)
    ranged, mutated, unplain = set(), set(), set()
    stores: dict[str, int] = {}
    for node in own_nodes(func):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bindings.setdefault(target.id, []).append(node.value)
                else:
                    for n in ast.walk(target):
                        if isinstance(n, ast.Name):
                            bindings.setdefault(n.id, []).append(None)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            bindings.setdefault(node.target.id, []).append(
                ast.BinOp(left=ast.Name(node.target.id, ast.Load()), op=node.op, right=node.value))
        elif isinstance(node, (ast.For, ast.comprehension)):
            over_range = (isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name)
                          and node.iter.func.id == "range" and isinstance(node.target, ast.Name))
            for n in ast.walk(node.target):
                if isinstance(n, ast.Name):
                    bindings.setdefault(n.id, []).append(NUMBER if over_range else None)
            if over_range:
                ranged.update(a.id for a in node.iter.args if isinstance(a, ast.Name))
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                bindings.setdefault(name, []).append(None)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.attr in _MUTATORS:
            mutated.add(node.func.value.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            unplain.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            unplain.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            unplain.add(node.name)
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            stores[node.id] = stores.get(node.id, 0) + 1  # with, walrus, del: more stores than values
    plain = {n: vs for n, vs in bindings.items() if n not in unplain and stores.get(n, 0) == len(vs)}
    kinds: dict[str, str] = {}
    for name, values in plain.items():
        if values and all(v is not NUMBER and v is not None and _list(v) for v in values) and name not in params:
            kinds[name] = LIST
        elif name in params and not values and name in mutated and name not in ranged:
            kinds[name] = LIST
    numbers = {n for n, vs in plain.items() if n not in kinds and (vs or n in ranged)
               and (n not in params or n in ranged)}
    changed = True
    while changed:  # the largest set whose every binding is numeric given the set itself
        changed = False
        for name in sorted(numbers):
            if not all(v is NUMBER or (v is not None and _number(v, numbers)) for v in plain[name]):
                numbers.discard(name)
                changed = True
    kinds.update((n, NUMBER) for n in numbers)
    return kinds


#: Builtins that iterate their one argument (``TypeError`` for a number).
ITERATING_CALLS = frozenset({"len", "sorted", "sum", "list", "set", "tuple", "enumerate", "reversed", "zip",
                             "any", "all", "frozenset", "iter"})
#: Builtins that take numbers only (``TypeError`` for a list).
NUMERIC_CALLS = frozenset({"range", "int", "float", "abs", "chr", "round", "bin", "hex", "oct"})


def impossible(kind: str | None, parent: ast.AST | None, field: str | None) -> bool:
    """Whether a name of ``kind`` (``value_kinds``) as the child ``field`` of ``parent`` raises
    on every run. A number: subscripted, owning a container's method (:data:`CONTAINER_METHODS`),
    iterated (a ``for`` or comprehension over it, the right of a lone ``in``, the one argument of
    ``max``/``min`` or any argument of :data:`ITERATING_CALLS`). A list: an index, or an argument of
    :data:`NUMERIC_CALLS` (``range(xs)``). Builtins are assumed not shadowed."""
    if kind == NUMBER:
        return ((isinstance(parent, ast.Subscript) and field == "value")
                or (isinstance(parent, ast.Attribute) and field == "value" and parent.attr in CONTAINER_METHODS)
                or (isinstance(parent, (ast.For, ast.comprehension)) and field == "iter")
                or (isinstance(parent, ast.Compare) and field == "comparators" and len(parent.ops) == 1
                    and isinstance(parent.ops[0], (ast.In, ast.NotIn)))
                or (_builtin_call(parent, field) in ITERATING_CALLS)
                or (_builtin_call(parent, field) in ("max", "min") and len(parent.args) == 1))
    if kind == LIST:
        return (isinstance(parent, ast.Subscript) and field == "slice") or _builtin_call(parent, field) in NUMERIC_CALLS
    return False


def _builtin_call(parent: ast.AST | None, field: str | None) -> str | None:
    """The name of the plain call ``name(...)`` that ``parent`` is, when the child is a
    positional argument of it."""
    if isinstance(parent, ast.Call) and field == "args" and isinstance(parent.func, ast.Name):
        return parent.func.id
    return None
