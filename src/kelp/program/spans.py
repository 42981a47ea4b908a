"""Source spans of nodes and the line -> nodes map used to turn line-level
suspiciousness (coverage-based fault localization) into node-level suspiciousness.

Lines are 1-based and inclusive, as in ``ast`` (``lineno``/``end_lineno``).
Pure code: no I/O, no randomness.
"""

from __future__ import annotations

import ast

from kelp.program.tree import Path, ProgramError, resolve_path, iter_nodes, node_at

__all__ = ["span", "span_at", "line_at", "line_nodes"]

_CTX = (ast.expr_context,)


def _own_span(node: ast.AST) -> tuple[int, int] | None:
    lineno = getattr(node, "lineno", None)
    if lineno is None:
        return None
    end = getattr(node, "end_lineno", None)
    return lineno, end if end is not None else lineno


def span(node: ast.AST) -> tuple[int, int]:
    """``(lineno, end_lineno)``, 1-based inclusive.

    Nodes without a location of their own (``arguments``, ``comprehension``,
    ``withitem``, ``match_case``) get the union of their descendants' spans. Operator
    nodes have no location and no descendants: use :func:`span_at` (which falls back to
    the nearest ancestor on the path). Raises ProgramError when no span can be found.
    """
    own = _own_span(node)
    if own is not None:
        return own
    lo = hi = None
    for _, sub in iter_nodes(node):
        s = _own_span(sub)
        if s is not None:
            lo = s[0] if lo is None else min(lo, s[0])
            hi = s[1] if hi is None else max(hi, s[1])
    if lo is None:
        raise ProgramError(
            f"{type(node).__name__} node has no location; use span_at(tree, path) to take "
            "the nearest ancestor's span"
        )
    return lo, hi


def span_at(tree: ast.AST, path: Path) -> tuple[int, int]:
    """Span of the node at ``path``; if it has none (e.g. an operator), the nearest
    ancestor's span along the path (walking up until a node has one). Raises PathError
    or ProgramError."""
    node = node_at(tree, path)
    try:
        return span(node)
    except ProgramError:
        pass
    p = path
    while p:
        p = p[:-1]
        obj = resolve_path(tree, p)
        if isinstance(obj, ast.AST):
            try:
                return span(obj)
            except ProgramError:
                continue
    raise ProgramError(f"no node on path {path!r} has a source location")


def line_at(tree: ast.AST, path: Path) -> int | None:
    """First line of the deepest node on ``path`` that has one (``None`` when none has): the
    node's own line, or its nearest located ancestor's for an operator or ``arguments``. A
    cheap walk for hot loops; raises ``IndexError`` / ``AttributeError`` for a path that is not
    in ``tree`` (see :func:`span_at` for the checked, span-returning version)."""
    node, line = tree, None
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
        line = getattr(node, "lineno", line)
    return line


def line_nodes(tree: ast.AST) -> dict[int, list[Path]]:
    """Map each source line to the paths of the nodes that "own" it.

    For every line, the owner is the innermost statement whose span (or one of its own
    expressions' spans, e.g. decorators) covers the line; the list holds that statement's
    path followed by the paths of its own non-statement descendants (expressions,
    operators, arguments, ...; nested statements excluded) whose span covers the line.
    Operators inherit their parent's span. Several statements on one line (``a; b``)
    all appear. Lines covered by no statement are absent. Lists are in pre-order.
    """
    stmt_entries: list[tuple[int, Path, list[tuple[Path, tuple[int, int]]]]] = []

    def own_parts(stmt_path: Path, stmt: ast.AST):
        parts: list[tuple[Path, tuple[int, int]]] = []
        stack = [(stmt_path, stmt, span(stmt))]
        while stack:
            p, node, inherited = stack.pop()
            try:
                s = span(node)
            except ProgramError:
                s = inherited
            if p != stmt_path:
                parts.append((p, s))
            kids = []
            for field in node._fields:
                value = getattr(node, field, None)
                items = [(p + (field,), value)] if isinstance(value, ast.AST) else (
                    [(p + (field, i), v) for i, v in enumerate(value)] if isinstance(value, list) else [])
                for cp, child in items:
                    if isinstance(child, ast.AST) and not isinstance(child, (ast.stmt,) + _CTX):
                        kids.append((cp, child, s))
            stack.extend(reversed(kids))
        return parts

    for path, node in iter_nodes(tree):
        if isinstance(node, ast.stmt):
            depth = sum(1 for step in path if isinstance(step, int))
            stmt_entries.append((depth, path, own_parts(path, node)))

    owner: dict[int, tuple[int, list[int]]] = {}
    for idx, (depth, path, parts) in enumerate(stmt_entries):
        lo, hi = span(node_at(tree, path))
        lines = set(range(lo, hi + 1))
        for _, (a, b) in parts:
            lines.update(range(a, b + 1))
        for line in sorted(lines):
            cur = owner.get(line)
            if cur is None or depth > cur[0]:
                owner[line] = (depth, [idx])
            elif depth == cur[0]:
                cur[1].append(idx)
    result: dict[int, list[Path]] = {}
    for line in sorted(owner):
        paths: list[Path] = []
        for idx in owner[line][1]:
            _, path, parts = stmt_entries[idx]
            paths.append(path)
            paths.extend(p for p, (a, b) in parts if a <= line <= b)
        result[line] = paths
    return result
