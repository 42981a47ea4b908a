"""Forgotten code, copied from elsewhere in the module.

Code a person forgot (a call that updates a structure, an assignment, a final ``return``) often
stands, word for word, elsewhere in the same module: the plastic-surgery hypothesis (Barr et al.
2014, "The plastic surgery hypothesis") and GenProg's insert operator, which copies statements
of the program (Le Goues et al. 2012, "GenProg: a generic method for automatic software
repair"). Three kinds of copies are proposed here:

- a statement (:func:`statement_donors`, :func:`transplant_alternatives`): an expression
  statement that calls something, or an assignment of a call's result to one name, inserted
  into a function only where every name it reads is bound (a parameter or local of the
  function, a module-level name or a builtin), only when it reads one of the function's own
  names, and only if the function holds no statement of the same text; insertion points are the
  gaps next to statements the failing tests executed;
- an assignment to a name the tests report unbound, from the module's other assignments to it
  (:func:`assignment_donors`, :func:`assignment_transplant_alternatives`);
- a final ``return`` from a twin function (:func:`return_donors`,
  :func:`return_transplant_alternatives`).

A wrong constant argument is the same idea at a smaller scale: :func:`argument_constants`.
"""

from __future__ import annotations

import ast
import builtins
import difflib
from dataclasses import dataclass
from typing import Iterator

from kelp.repair.guards import _blocks, _is_docstring

#: Longest donor statement, in characters of its text.
MAX_DONOR_CHARS = 100
#: Statement donors tried per function: those that read the most of the function's own names.
MAX_STATEMENT_DONORS = 12
#: Distinct donor right-hand sides tried per forgotten name.
MAX_ASSIGNMENT_DONORS = 4
#: Donor return statements tried per function.
MAX_RETURN_DONORS = 6
#: Weight of a gap just before a guard clause (``if ...: return``): code that does work comes
#: after the checks that leave early.
GUARD_CLAUSE_FACTOR = 0.25
_BUILTINS = frozenset(dir(builtins))
#: Expressions a copied statement may not hold (they depend on where they stand).
_NOT_COPIED = (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)


@dataclass(frozen=True)
class Donor:
    """One statement that may be copied: ``node``, its ``text``, the names it reads and the
    name it assigns (None for an expression statement)."""

    node: ast.stmt
    text: str
    reads: frozenset[str]
    binds: str | None


def statement_donors(tree: ast.Module) -> list[Donor]:
    """Distinct donor statements of every function of ``tree``, function by function in source
    order: ``f(...)`` / ``obj.m(...)`` expression statements and ``name = <expression with a
    call>`` assignments, each at most :data:`MAX_DONOR_CHARS` characters."""
    seen: set[str] = set()
    out = []
    funcs = sorted((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))),
                   key=lambda n: n.lineno)
    for func in funcs:
        for stmt in _statements(func):
            binds = None
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                binds = stmt.targets[0].id
                value = stmt.value
            elif isinstance(stmt, ast.Expr):
                value = stmt.value
            else:
                continue
            nodes = list(ast.walk(value))
            if not any(isinstance(n, ast.Call) for n in nodes) or any(isinstance(n, _NOT_COPIED) for n in nodes):
                continue
            text = ast.unparse(stmt)
            if text in seen or len(text) > MAX_DONOR_CHARS:
                continue
            seen.add(text)
            reads = frozenset(n.id for n in ast.walk(value) if isinstance(n, ast.Name))
            out.append(Donor(stmt, text, reads, binds))
    return out


def callee(node: ast.expr) -> str | None:
    """``f`` or ``a.b.f`` for a call's function that is a name or an attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id] + parts[::-1])


def argument_constants(tree: ast.Module) -> dict[tuple, list]:
    """``{(callee, index): [constant values]}`` over the positional arguments of every call in
    ``tree``: what the module passes at each place of each function
    (``re.split("[\\r\\n]", s)`` in three places), the likeliest value of a wrong constant
    passed there."""
    found: dict[tuple, list] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        places = [(i, a.value) for i, a in enumerate(node.args)
                  if isinstance(a, ast.Constant) and type(a.value) in (int, str, bool)]
        if places and (name := callee(node.func)) is not None:
            for place, value in places:
                values = found.setdefault((name, place), [])
                if value not in values:
                    values.append(value)
    return found


def local_names(func: ast.FunctionDef) -> set[str]:
    """Names ``func`` binds itself: its parameters and the names it assigns (outside nested
    functions and classes)."""
    args = func.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    return names | {n.id for n in own_nodes(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def module_names(tree: ast.Module) -> set[str]:
    """Names bound at the top level of ``tree``: functions, classes, assigned names, imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def transplant_alternatives(path: tuple, func: ast.FunctionDef, donors: list[Donor], glob: set[str],
                            scores: dict[int, float] | None) -> Iterator[tuple]:
    """``(site key, block path, "insert:i", statement, weight)`` for copying a donor into ``func``
    (at ``path``) before statement ``i`` of one of its blocks. ``glob``: the module's top-level
    names (:func:`module_names`); ``scores``: line suspiciousness (a gap counts when the
    statement before or after it has a positive score; None: every gap). The weight is the share of the
    donor's names that are the function's own (the :data:`MAX_STATEMENT_DONORS` best donors),
    times :data:`GUARD_CLAUSE_FACTOR` before a guard clause. The site key is ``("transplant",
    block path)``: the gaps of one block share its weight."""
    own = local_names(func)
    texts = {ast.unparse(stmt) for stmt in _statements(func) if isinstance(stmt, (ast.Expr, ast.Assign))}
    bound = own | glob | _BUILTINS
    usable = [(d, len(d.reads & own) / len(d.reads)) for d in donors
              if d.text not in texts and d.reads <= bound and d.reads & own]
    usable.sort(key=lambda u: (-u[1], -len(u[0].reads & own)))  # stable: source order among equals
    usable = usable[:MAX_STATEMENT_DONORS]
    if not usable:
        return
    for block_path, block, _loops in _blocks(func, path, ()):
        for i in range(len(block) + 1):
            if i == 0 and block is func.body and _is_docstring(block[0]):
                continue
            near = block[max(0, i - 1): i + 1]
            if scores is not None and not any(scores.get(s.lineno, 0.0) > 0.0 for s in near):
                continue
            before_guard = i < len(block) and _guard_clause(block[i])
            for donor, weight in usable:
                yield (("transplant", block_path), block_path, f"insert:{i}", donor.node,
                       weight * (GUARD_CLAUSE_FACTOR if before_guard else 1.0))


def _statements(func: ast.FunctionDef) -> Iterator[ast.stmt]:
    """Statements of ``func`` outside nested functions and classes."""
    stack = list(func.body)
    while stack:
        stmt = stack.pop(0)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield stmt
        for field in ("body", "orelse", "finalbody"):
            stack.extend(s for s in getattr(stmt, field, None) or [] if isinstance(s, ast.stmt))
        for handler in getattr(stmt, "handlers", None) or []:
            stack.extend(handler.body)


def _guard_clause(stmt: ast.stmt) -> bool:
    """``if ...: return/raise/continue/break`` with no ``else``."""
    return isinstance(stmt, ast.If) and not stmt.orelse and isinstance(
        stmt.body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break))


def assignment_donors(tree: ast.Module, names) -> dict[str, list[ast.expr]]:
    """For each of ``names``: the distinct right-hand sides assigned to it (``name = value``)
    anywhere in ``tree``, in source order: what a forgotten assignment most likely was, since
    code repeats itself (the "plastic surgery hypothesis", Barr et al., FSE 2014)."""
    wanted = set(names)
    found: dict[str, dict[str, ast.expr]] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in wanted and not isinstance(node.value, ast.Constant)):
            found.setdefault(node.targets[0].id, {}).setdefault(ast.dump(node.value), node.value)
    return {name: list(values.values())[:MAX_ASSIGNMENT_DONORS] for name, values in found.items()}


def return_donors(tree: ast.Module) -> list[tuple[str, ast.Return, frozenset]]:
    """``(function name, return statement, names it reads)`` for every ``return <value>`` of the
    module's functions, distinct by text: what a forgotten final return may have been, when the
    module's functions come in pairs (``_get_name_to_hex_map`` / ``_get_hex_to_name_map``)."""
    seen, out = set(), []
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in own_nodes(func):
            if isinstance(node, ast.Return) and node.value is not None and not isinstance(node.value, ast.Constant):
                key = ast.dump(node.value)
                if key not in seen:
                    seen.add(key)
                    names = frozenset(n.id for n in ast.walk(node.value) if isinstance(n, ast.Name))
                    out.append((func.name, node, names))
    return out


def return_transplant_alternatives(tree: ast.Module, path: tuple, func: ast.FunctionDef, donors) -> Iterator[tuple]:
    """A forgotten final ``return``, copied from another function of the module (most similar
    names first) whose every name is bound here: a parameter or local of ``func``, a module-level
    name or a builtin; ``donors`` from :func:`return_donors` (the caller passes them only when a
    test saw None). Yields the enumerator's ``(family, site key, path, op, node, weight)``."""
    if not donors or isinstance(func.body[-1], (ast.Return, ast.Raise)):
        return
    bound = local_names(func) | module_names(tree)
    usable = [(difflib.SequenceMatcher(None, name, func.name).ratio(), i, ret) for i, (name, ret, names)
              in enumerate(donors) if name != func.name and names <= bound | _BUILTINS]
    usable.sort(key=lambda u: (-u[0], u[1]))
    body_path = path + ("body",)
    for ratio, _, ret in usable[:MAX_RETURN_DONORS]:
        yield ("missing_return", ("return", path), body_path, f"insert:{len(func.body)}", ret, 2.0 * ratio)


def assignment_transplant_alternatives(path: tuple, func: ast.FunctionDef, unbound, donors: dict) -> Iterator[tuple]:
    """A forgotten assignment ``n = value`` for a name ``n`` of ``unbound`` (names the tests
    reported unbound), with a value assigned to ``n`` elsewhere in the module (``donors``:
    :func:`assignment_donors`), inserted just before the first statement that reads ``n``: in
    the function's own body and, when that statement is a compound one, in the innermost block
    that reads it. Yields the enumerator's ``(family, site key, path, op, node, weight)``."""
    for name in unbound:
        values = donors.get(name)
        if not values:
            continue
        places = _first_read_places(func, path, name)
        for value in values:
            stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value, lineno=0)
            for block_path, index in places:
                yield ("insert_statement", ("transplant", block_path, index, name), block_path,
                       f"insert:{index}", stmt, 3.0)


def _first_read_places(func: ast.FunctionDef, path: tuple, name: str) -> list[tuple[tuple, int]]:
    """(statement-list path, index) of the first statement of ``func``'s body that reads
    ``name``, and of the innermost statement inside it that does (when different)."""
    def reads(node) -> bool:
        return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) for n in ast.walk(node))

    places = []
    block_path, block = path + ("body",), func.body
    while True:
        index = next((i for i, stmt in enumerate(block) if reads(stmt)), None)
        if index is None:
            break
        places.append((block_path, index))
        stmt = block[index]
        inner = [(f, getattr(stmt, f)) for f in ("body", "orelse", "finalbody")
                 if isinstance(getattr(stmt, f, None), list) and getattr(stmt, f)
                 and isinstance(getattr(stmt, f)[0], ast.stmt) and reads(ast.Module(getattr(stmt, f), []))]
        if not inner or isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            break
        field, block = inner[0]
        block_path = block_path + (index, field)
    if len(places) > 2:
        places = [places[0], places[-1]]
    return places


def own_nodes(func: ast.FunctionDef) -> Iterator[ast.AST]:
    """Nodes of ``func`` outside nested functions and classes."""
    stack = list(func.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))
