"""Forgotten statements, copied from elsewhere in the module.

A statement a person forgot (a call that updates a structure, an assignment that advances a
value) often stands, word for word, elsewhere in the same module: the plastic-surgery
hypothesis (Barr et al. 2014, "The plastic surgery hypothesis") and GenProg's insert operator,
which copies statements of the program (Le Goues et al. 2012, "GenProg: a generic method for
automatic software repair"). A donor is an expression statement that calls something, or an
assignment of a call's result to one name; it is inserted into a function only where every name
it reads is bound (a parameter or local of the function, a module-level name or a builtin), only
when it reads one of the function's own names, and only if the function holds no statement of
the same text. Insertion points are the gaps next to statements the failing tests executed.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from typing import Iterator

from kelp.repair.guards import _blocks, _is_docstring

#: Longest donor statement, in characters of its text.
MAX_DONOR_CHARS = 100
#: Donors tried per function: those that read the most of the function's own names.
MAX_DONORS = 12
#: Weight of a gap just before a guard clause (``if ...: return``): code that does work comes
#: after the checks that leave early.
GUARD_CLAUSE_FACTOR = 0.25
_BUILTINS = frozenset(dir(builtins))


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
            if not any(isinstance(n, ast.Call) for n in ast.walk(value)) or any(
                    isinstance(n, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)) for n in ast.walk(value)):
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
                            executed: set[int] | None) -> Iterator[tuple]:
    """``(site key, block path, "insert:i", statement, weight)`` for copying a donor into ``func``
    (at ``path``) before statement ``i`` of one of its blocks. ``glob``: the module's top-level
    names (:func:`module_names`); ``executed``: lines the failing tests ran (a gap counts when
    the statement before or after it ran; None: every gap). The weight is the share of the
    donor's names that are the function's own (the :data:`MAX_DONORS` best donors), times :data:`GUARD_CLAUSE_FACTOR` before a guard
    clause. The site key is ``("transplant", block path)``: the gaps of one block share its
    weight."""
    args = func.args
    own = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    own |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    texts = set()
    for stmt in _statements(func):
        texts.add(ast.unparse(stmt) if isinstance(stmt, (ast.Expr, ast.Assign)) else "")
        own |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound = own | glob | _BUILTINS
    usable = [(d, len(d.reads & own) / len(d.reads)) for d in donors
              if d.text not in texts and d.reads <= bound and d.reads & own]
    usable.sort(key=lambda u: (-u[1], -len(u[0].reads & own)))  # stable: source order among equals
    usable = usable[:MAX_DONORS]
    if not usable:
        return
    for block_path, block, _loops in _blocks(func, path, ()):
        for i in range(len(block) + 1):
            if i == 0 and block is func.body and _is_docstring(block[0]):
                continue
            near = block[max(0, i - 1): i + 1]
            if executed is not None and not any(s.lineno in executed for s in near):
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
