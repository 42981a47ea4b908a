"""Missing guards: wrap statements in an ``if`` whose condition is synthesised from the program.

The inverse of a dropped condition (``if c: body`` flattened to ``body``).  The condition is not
in the program any more, so it is rebuilt from what is there, in the spirit of the "insert
guard" templates of PAR (Kim et al. 2013) and TBar (Liu et al. 2019) and of Nopol's condition
synthesis over in-scope values (Xuan et al. 2016), without Nopol's solver:

- membership of the innermost loop variable in a collection the guarded code adds to or
  appends to (``if x not in seen: seen.add(x)``);
- a condition that already guards other code in the same function, or its negation;
- a comparison between two values the guarded code or the enclosing loops use (names,
  ``a[i]`` subscripts of the function), or between one of them and 0 or 1;
- the checks that protect what the guarded code does (PAR's null-pointer, range and cast
  checkers): ``key in obj`` before it reads ``obj[key]``, ``x is not None`` before it reads an
  attribute of ``x``, ``isinstance(x, C)`` (or its negation) for a class ``C`` the function
  names or receives as ``cls``.

Each guard wraps a run of one to three consecutive statements of a block. A condition that
reads a local not bound yet where the guard stands raises ``UnboundLocalError`` on every run: it
is marked :class:`~kelp.repair.proposer.Doomed`.
"""

from __future__ import annotations

import ast
import copy
import functools
from typing import Iterator

from kelp.program.tree import node_at
from kelp.repair.proposer import Doomed

#: Longest run of consecutive statements one guard wraps.
MAX_RUN = 3
#: Conditions tried per run (the best by weight).
MAX_CONDITIONS = 24
_COMPARE = ("==", "!=", "<", ">", "<=", ">=")
_ADDERS = ("add", "append", "extend", "update", "insert")


def guard_alternatives(tree: ast.Module, func_path: tuple, func: ast.FunctionDef, dead: list[str] = (),
                       per_run: int = MAX_CONDITIONS) -> Iterator[tuple]:
    """``(site key, owner path, new owner node, weight)`` for guarded runs in ``func`` (at
    ``func_path``): the run ``block[i:i + k]`` of a statement list is put under an ``If``; the
    edit replaces the node that owns the list (``owner path``) by a copy holding the ``If``, so
    one edit wraps several statements.  The site key is ``("guard", block path, i, k)``.  ``dead``: names the function binds and never
    reads (see ``unused.py``), which a dropped condition often read.  At most ``per_run``
    conditions per run, best first; weights are relative within one run (the site)."""
    conditions = _existing_conditions(func)
    subscripts = _subscripts(func)
    params = [a.arg for a in func.args.args]
    loop_vars = {n.id for node in ast.walk(func) if isinstance(node, (ast.For, ast.comprehension))
                 for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    dead = [d for d in dead if d not in loop_vars]  # a dead loop variable is no sequence
    bound = first_bindings(func)
    for block_path, block, loops in _blocks(func, func_path, ()):
        owner_path, field = block_path[:-1], block_path[-1]
        owner = node_at(tree, owner_path)
        for i in range(len(block)):
            if isinstance(block[i], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or _is_docstring(block[i]):
                continue
            for k in range(1, MAX_RUN + 1):
                run = block[i:i + k]
                if len(run) < k or (len(run) == len(block) and block_path == func_path + ("body",)):
                    break
                for text, weight, doomed in best_conditions(run, loops, conditions, subscripts, params, dead, bound,
                                                            per_run):
                    guard = ast.If(test=ast.parse(text, mode="eval").body, body=list(run), orelse=[])
                    new_owner = copy.copy(owner)
                    setattr(new_owner, field, block[:i] + [guard] + block[i + k:])
                    yield ("guard", block_path, i, k), owner_path, Doomed(new_owner) if doomed else new_owner, weight


def best_conditions(run: list[ast.stmt], loops: tuple, existing: list[str], subscripts: list[str],
                    params: list[str], dead: list[str], bound: dict[str, int],
                    limit: int) -> list[tuple[str, float, bool]]:
    """The ``limit`` likeliest conditions ``(text, weight, doomed)`` for guarding ``run`` (see
    :func:`_conditions`); ``doomed``: it reads a local of ``bound`` (:func:`first_bindings`)
    first bound on or after the run's first line, unbound where the guard tests it."""
    start = run[0].lineno
    unbound = {name for name, line in bound.items() if line >= start}
    found = dict(_conditions(run, loops, existing, subscripts, params, list(dead)))
    best = sorted(found.items(), key=lambda kv: -kv[1])[:limit]
    return [(text, weight, bool(unbound.intersection(_names_of(text)))) for text, weight in best]


def first_bindings(func: ast.FunctionDef) -> dict[str, int]:
    """``{name: line}``: the first line on which each local of ``func`` is bound (assigned, a
    loop or ``with`` target, an ``except`` name, an import, a nested ``def`` or ``class``; not an
    augmented assignment ``x += 1``, which reads ``x`` first).
    Parameters, names declared ``global`` or ``nonlocal``, and the variables of comprehensions
    and nested scopes are not locals of ``func`` and are left out."""
    declared = {name for node in ast.walk(func) if isinstance(node, (ast.Global, ast.Nonlocal)) for name in node.names}
    args = func.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} | {
        a.arg for a in (args.vararg, args.kwarg) if a is not None}
    first: dict[str, int] = {}

    def bind(name: str, line: int) -> None:
        if name not in params and name not in declared:
            first[name] = min(line, first.get(name, line))

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bind(child.name, child.lineno)
                continue
            if isinstance(child, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue
            if isinstance(child, ast.AugAssign):  # reads its target first: binds nothing new
                visit(child.value)
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
                bind(child.id, child.lineno)
            elif isinstance(child, ast.ExceptHandler) and child.name:
                bind(child.name, child.lineno)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                for alias in child.names:
                    bind((alias.asname or alias.name).split(".")[0], child.lineno)
            visit(child)

    visit(ast.Module(body=func.body, type_ignores=[]))
    return first


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _blocks(node: ast.AST, path: tuple, loops: tuple) -> Iterator[tuple[tuple, list, tuple]]:
    """(path, statements, loop targets innermost first) for every statement list under ``node``."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(node, field, None)
        if not isinstance(block, list) or not block or not isinstance(block[0], ast.stmt):
            continue
        inner = loops
        if isinstance(node, (ast.For, ast.AsyncFor)) and field == "body":
            inner = tuple(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)) + loops
        yield path + (field,), block, inner
        for j, stmt in enumerate(block):
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                yield from _blocks(stmt, path + (field, j), inner)
    for j, handler in enumerate(getattr(node, "handlers", []) or []):
        yield from _blocks(handler, path + ("handlers", j), loops)


def _existing_conditions(func: ast.FunctionDef) -> list[str]:
    """Conditions that guard code elsewhere in ``func`` (if / while / comprehension ifs)."""
    found = []
    for node in ast.walk(func):
        if isinstance(node, (ast.If, ast.While)) and not isinstance(node.test, ast.Constant):
            found.append(ast.unparse(node.test))
        elif isinstance(node, ast.comprehension):
            found += [ast.unparse(c) for c in node.ifs]
    return list(dict.fromkeys(found))


def _subscripts(func: ast.FunctionDef) -> list[str]:
    """``a[i]`` reads in ``func`` whose value and index are plain names or constants."""
    found = []
    for node in ast.walk(func):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and isinstance(
                node.slice, (ast.Name, ast.Constant)):
            found.append(ast.unparse(node))
    return list(dict.fromkeys(found))


def _conditions(run: list[ast.stmt], loops: tuple, existing: list[str], subscripts: list[str],
                params: list[str], dead: list[str]) -> Iterator[tuple[str, float]]:
    """Candidate conditions for guarding ``run`` with a weight each (higher = likelier)."""
    names, receivers, assigned, callees = [], [], [], set()
    for stmt in run:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                if isinstance(stmt, ast.Assign):  # x = c guarded by a test of x (if x < 0: x = 0)
                    assigned.append(node.id)
            elif isinstance(node, ast.Name):
                names.append(node.id)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(
                    node.func.value, ast.Name) and node.func.attr in _ADDERS:
                receivers.append(node.func.value.id)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                callees.add(node.func.id)
    names = [n for n in names if n not in callees]
    yield from _protective(run, names, params)
    for x in loops[:1]:
        for c in dict.fromkeys(receivers):
            yield f"{x} not in {c}", 3.0
            yield f"{x} in {c}", 1.5
    for text in existing:
        yield text, 1.0
        yield f"not ({text})", 0.5
    for x in loops[:2]:  # a dropped parity test keeps only the odd or even items
        yield f"{x} % 2 != 0", 1.0
        yield f"{x} % 2 == 0", 1.0
    values = list(dict.fromkeys(list(loops) + assigned + names + params))
    local = set(loops) | set(assigned) | set(names)
    # items of dead sequences at the loop variables: the dropped test read them (arr[i] > arr[j])
    made = [f"{d}[{x}]" for d in dead if d not in loops for x in loops[:2]]
    indexed = list(dict.fromkeys(made + [s for s in subscripts if set(_names_of(s)) & (local | set(params))]))
    atoms = values + indexed
    for ai, a in enumerate(atoms):
        for b in atoms[ai + 1:] + ["0", "1"]:
            if a in _names_of(b) or b in _names_of(a):  # arr vs arr[i]
                continue
            weight = _pair_weight(a, b, loops, assigned, local, indexed, dead)
            for op in _COMPARE:
                yield f"{a} {op} {b}", weight


#: Parameter names that hold a class (``isinstance(x, cls)``).
_CLASS_PARAMS = ("cls", "klass", "class_", "type_", "kind")


def _protective(run: list[ast.stmt], names: list[str], params: list[str]) -> Iterator[tuple[str, float]]:
    """Checks that keep ``run`` from failing on what it reads: membership before a subscript,
    ``is not None`` before an attribute, a type test of a value the run uses; never of a name
    the run itself binds (a loop variable of the run is unbound where the guard tests it)."""
    keys, objects = [], []
    bound = {n.id for stmt in run for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for stmt in run:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _plain(node.value) \
                    and _plain(node.slice) and not bound & {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}:
                keys.append(f"{ast.unparse(node.slice)} in {ast.unparse(node.value)}")
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and isinstance(node.ctx, ast.Load) and node.value.id not in ("self", "cls") \
                    and node.value.id not in bound:
                objects.append(node.value.id)
    for text in dict.fromkeys(keys):
        yield text, 1.2
    for name in dict.fromkeys(objects):
        yield f"{name} is not None", 0.8
    classes = [p for p in params if p in _CLASS_PARAMS]
    for name in dict.fromkeys(n for n in names if n not in classes and n not in bound):
        for c in classes:
            yield f"isinstance({name}, {c})", 0.6
            yield f"not isinstance({name}, {c})", 0.6


def _plain(node: ast.AST) -> bool:
    """A name, a constant, or an attribute chain of a name (``cls.__dict__``)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, (ast.Name, ast.Constant))


def _pair_weight(a: str, b: str, loops: tuple, assigned: list, local: set, indexed: list, dead: list) -> float:
    """Prior of comparing ``a`` with ``b``: values the program no longer reads (``dead``), two
    items of one sequence (``a[i] > a[j]``), a value the guarded code assigns against 0/1,
    an item against 0/1, items of two sequences, a loop value against 0/1."""
    const = b in ("0", "1")
    dead_a, dead_b = _names_of(a)[0] in dead, not const and _names_of(b)[0] in dead
    boost = 2.0 if dead_a and (dead_b or const) else 1.5 if dead_a or dead_b else 1.0
    if a in indexed and b in indexed:
        return boost * (0.6 if _names_of(a)[0] == _names_of(b)[0] else 0.4)
    if const and a in assigned:
        return 0.5
    if const and a in indexed:  # counts[c] == 1
        return boost * 0.45
    if const and a in loops:
        return boost * 0.3
    if dead_a and dead_b:
        return 0.6
    if a in local and (b in local or const):
        return boost * 0.15
    return boost * 0.05


@functools.lru_cache(maxsize=4096)
def _names_of(text: str) -> tuple[str, ...]:
    """Names in the expression ``text`` (cached: atoms are compared pairwise)."""
    return tuple(n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name))
