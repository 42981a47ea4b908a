"""Names and constants a program offers at a node: the raw material of wrong-variable and
wrong-constant bugs (and of the edits that fix them).

A simplified model of Python scoping (Python Language Reference, section 4.2 "Naming and
binding"): module names are visible everywhere; a function's parameters and locals inside
its body (nested functions see the enclosing function's names); class-body names only in the
class body itself (not in its methods); comprehension variables only inside the comprehension (not in its first iterable);
``:=`` targets bind in the nearest enclosing non-comprehension scope. Builtins are never listed
unless the program binds them. Pure code: no I/O, no randomness.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from kelp.program.tree import Path, iter_nodes, node_at

__all__ = ["Binding", "ScopeIndex", "bindings", "function_scopes", "visible_bindings", "names_in_scope", "constants"]

_FUNC = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMP = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Binding:
    """One place a name is bound.

    ``name``; ``kind``: "param", "local" (assignment/for/with/match target, ``:=``),
    "except", "comprehension", "function", "class" or "import"; ``scope``: path of the scope
    node that owns it (``()`` = module); ``scope_kind``: "module", "function", "class" or
    "comprehension"; ``path``: path of the binding node (Name, arg, def, alias, handler...).
    """

    name: str
    kind: str
    scope: Path
    scope_kind: str
    path: Path


def bindings(tree: ast.AST) -> list[Binding]:
    """Every binding in ``tree`` in pre-order of the binding nodes (deterministic)."""
    out: list[Binding] = []
    # Stack of (scope path, scope kind), outermost first.

    def add(name: str, kind: str, scope: tuple[Path, str], path: Path) -> None:
        out.append(Binding(name, kind, scope[0], scope[1], path))

    def visit(node: ast.AST, path: Path, scopes: list[tuple[Path, str]]) -> None:
        cur = scopes[-1]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            add(node.name, "function", cur, path)
            inner = scopes + [(path, "function")]
            for field in node._fields:
                if field == "body":
                    for i, stmt in enumerate(node.body):
                        visit(stmt, path + ("body", i), inner)
                elif field == "args":
                    visit_args(node.args, path + ("args",), scopes, inner)
                else:
                    visit_field(node, field, path, scopes)
            return
        if isinstance(node, ast.Lambda):
            inner = scopes + [(path, "function")]
            visit_args(node.args, path + ("args",), scopes, inner)
            visit(node.body, path + ("body",), inner)
            return
        if isinstance(node, ast.ClassDef):
            add(node.name, "class", cur, path)
            inner = scopes + [(path, "class")]
            for field in node._fields:
                if field == "body":
                    for i, stmt in enumerate(node.body):
                        visit(stmt, path + ("body", i), inner)
                else:
                    visit_field(node, field, path, scopes)
            return
        if isinstance(node, _COMP):
            inner = scopes + [(path, "comprehension")]
            for field in node._fields:
                visit_field(node, field, path, inner)
            return
        if isinstance(node, ast.comprehension):
            for n_path, n in iter_nodes(node.target, path + ("target",)):
                if isinstance(n, ast.Name):
                    add(n.id, "comprehension", cur, n_path)
            visit_field(node, "iter", path, scopes)
            visit_field(node, "ifs", path, scopes)
            return
        if isinstance(node, ast.NamedExpr):
            owner = next(s for s in reversed(scopes) if s[1] != "comprehension")
            if isinstance(node.target, ast.Name):
                add(node.target.id, "local", owner, path + ("target",))
            visit_field(node, "value", path, scopes)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            add(node.id, "local", cur, path)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for i, alias in enumerate(node.names):
                if alias.name == "*":
                    continue
                name = alias.asname or alias.name.split(".")[0]
                add(name, "import", cur, path + ("names", i))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            add(node.name, "except", cur, path)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            add(node.name, "local", cur, path)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            add(node.rest, "local", cur, path)
        for field in node._fields:
            visit_field(node, field, path, scopes)

    def visit_field(node: ast.AST, field: str, path: Path, scopes) -> None:
        value = getattr(node, field, None)
        if isinstance(value, ast.AST):
            visit(value, path + (field,), scopes)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    visit(item, path + (field, i), scopes)

    def visit_args(args: ast.arguments, path: Path, outer, inner) -> None:
        for field in args._fields:
            value = getattr(args, field)
            items = [(path + (field,), value)] if isinstance(value, ast.AST) else (
                [(path + (field, i), v) for i, v in enumerate(value)] if isinstance(value, list) else [])
            for p, item in items:
                if isinstance(item, ast.arg):
                    add(item.arg, "param", inner[-1], p)
                    if item.annotation is not None:
                        visit(item.annotation, p + ("annotation",), outer)
                elif isinstance(item, ast.AST):  # defaults: evaluated in the outer scope
                    visit(item, p, outer)

    visit(tree, (), [((), "module")])
    return out


def function_scopes(tree: ast.AST) -> list[Path]:
    """Paths of every function-like scope (def, async def, lambda), pre-order."""
    return [p for p, n in iter_nodes(tree) if isinstance(n, _FUNC)]


def _context(tree: ast.AST, path: Path) -> tuple:
    """The scopes the node at ``path`` lies in, as a hashable key: for each function, lambda,
    class or comprehension on the path (the node itself included when it is a comprehension),
    ``(its path, where the path goes on)``: "function body" or "class body" into the body,
    "iter" into a comprehension's first iterable (evaluated in the enclosing scope), ""
    elsewhere. Raises PathError if ``path`` does not exist."""
    node = node_at(tree, path)
    key = [(path, "")] if isinstance(node, _COMP) else []
    node = tree
    for depth, step in enumerate(path):
        if isinstance(node, _FUNC):
            key.append((path[:depth], "function body" if step == "body" else ""))
        elif isinstance(node, ast.ClassDef):
            key.append((path[:depth], "class body" if step == "body" else ""))
        elif isinstance(node, _COMP):
            key.append((path[:depth], "iter" if path[depth:depth + 3] == ("generators", 0, "iter") else ""))
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return tuple(key)


def _visible(bs: list[Binding], context: tuple) -> list[Binding]:
    """The bindings of ``bs`` visible in ``context`` (see :func:`_context` and the module
    docstring), in their order."""
    where = dict(context)
    # functions whose body the node is in (class-body names are invisible inside them)
    bodies = [p for p, how in context if how == "function body"]
    out = []
    for b in bs:
        kind = b.scope_kind
        if kind == "module":
            out.append(b)
        elif kind == "function":
            if where.get(b.scope) == "function body":
                out.append(b)
        elif kind == "comprehension":
            if b.scope in where and where[b.scope] != "iter":
                out.append(b)
        elif kind == "class":
            if where.get(b.scope) == "class body" and not any(
                len(f) > len(b.scope) and f[: len(b.scope)] == b.scope for f in bodies
            ):
                out.append(b)
    return out


class ScopeIndex:
    """:func:`visible_bindings` for many paths of one tree: the bindings are collected once
    and the visible ones computed once per distinct nest of scopes (every node of one function
    body outside its comprehensions shares one answer). The lists returned are shared:
    do not modify them. ``all_bindings``: :func:`bindings` of ``tree`` when already known."""

    def __init__(self, tree: ast.AST, all_bindings: list[Binding] | None = None):
        self.tree = tree
        self.bindings = bindings(tree) if all_bindings is None else all_bindings
        self._by_context: dict[tuple, list[Binding]] = {}
        self._first_lines: dict[tuple, int] | None = None

    def first_line(self, scope: Path, name: str) -> int | None:
        """The first line on which ``name`` is bound in the scope at ``scope``, 0 for a
        parameter (bound when the function or lambda is entered, whatever its line), or
        ``None`` when it is not bound there."""
        if self._first_lines is None:
            self._first_lines = {}
            for b in self.bindings:
                line = 0 if b.kind == "param" else getattr(node_at(self.tree, b.path), "lineno", None)
                if line is not None:
                    key = (b.scope, b.name)
                    self._first_lines[key] = min(line, self._first_lines.get(key, line))
        return self._first_lines.get((scope, name))

    def visible(self, path: Path) -> list[Binding]:
        """The bindings visible at the node at ``path``, pre-order. Raises PathError."""
        context = _context(self.tree, path)
        found = self._by_context.get(context)
        if found is None:
            found = self._by_context[context] = _visible(self.bindings, context)
        return found


def visible_bindings(
    tree: ast.AST,
    path: Path,
    all_bindings: list[Binding] | None = None,
    func_scopes: list[Path] | None = None,
) -> list[Binding]:
    """The bindings visible at the node at ``path`` (see module docstring), pre-order.

    Pass ``all_bindings`` (from :func:`bindings`) to avoid recomputing them for many paths of
    one tree, or use :class:`ScopeIndex`, which also shares the answer between paths in the
    same scopes. ``func_scopes`` is accepted for compatibility and not needed (the scopes are
    read off the path). Raises PathError if ``path`` does not exist.
    """
    bs = bindings(tree) if all_bindings is None else all_bindings
    return _visible(bs, _context(tree, path))


def names_in_scope(tree: ast.AST, path: Path) -> list[str]:
    """Names a wrong-variable bug could use at the node at ``path``.

    Parameters of the enclosing function(s), locals bound anywhere in them (assignment,
    for, with-as, except-as, ``:=``, match), comprehension variables when inside that
    comprehension, class-body names inside the class body, and module-level functions,
    classes, globals and imports. Deduplicated, in order of first appearance (pre-order).
    No builtins. Raises PathError if ``path`` does not exist.
    """
    seen: dict[str, None] = {}
    for b in visible_bindings(tree, path):
        seen.setdefault(b.name, None)
    return list(seen)


_CONST_TYPES = (int, float, str, bool, type(None))


def constants(tree: ast.AST) -> list[object]:
    """Literal constants (int, float, str, bool, None) in pre-order, deduplicated by
    (type, value), so ``1``, ``1.0`` and ``True`` are distinct. Docstrings (and any other bare
    string statement) and the literal pieces of f-strings are skipped."""
    seen: dict[tuple[str, str], object] = {}
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        ):  # f-string pieces; docstrings and other bare string statements
            continue
        if isinstance(node, ast.Constant) and type(node.value) in _CONST_TYPES:
            key = (type(node.value).__name__, repr(node.value))
            seen.setdefault(key, node.value)
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return list(seen.values())
