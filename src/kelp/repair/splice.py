"""Carry a repaired tree back into the user's original text with the smallest textual change.

The search works on trees; a user wants a diff that touches only what changed, with their
comments and formatting kept. Each edit of ``tree_diff(original, repaired)`` is spliced into the
source at the span of the innermost located node it touches, and checked by re-parsing; if a
splice cannot be made exact, the whole file falls back to the normalised unparse.
"""

from __future__ import annotations

import ast

from kelp.program.diff import tree_diff
from kelp.program.tree import ProgramError, list_at, node_at, unparse

_MAX_SPLICES = 32


def minimal_source(source: str, original: ast.Module, repaired: ast.Module) -> str:
    """``source`` with the edits that turn ``original`` into ``repaired`` spliced in place.

    ``original`` must be ``parse(source)``. The result parses to a tree equal to ``repaired``
    (compared by normalised unparse); never raises on an awkward splice, it falls back to
    ``unparse(repaired)`` instead.
    """
    target = unparse(repaired)
    text, tree = source, original
    for _ in range(_MAX_SPLICES):
        if unparse(tree) == target:
            return text
        edits = tree_diff(tree, repaired)
        if not edits:
            break
        try:
            spliced = _splice(text, tree, edits[0])
        except (ProgramError, UnicodeDecodeError, IndexError):
            spliced = None
        if spliced is None:
            break
        text, tree = spliced
    return text if unparse(tree) == target else target


def _splice(text: str, tree: ast.Module, edit) -> tuple[str, ast.Module] | None:
    try:
        want = unparse(edit.apply(tree))
        edited = edit.apply(tree)
    except ValueError:
        return None
    lines = text.splitlines(keepends=True)
    if edit.op == "replace":
        path = tuple(edit.path)
        while path and not _located(node_at(tree, path)):
            path = path[:-2] if isinstance(path[-1], int) else path[:-1]
        if not path:
            return None
        node, new_node = node_at(tree, path), node_at(edited, path)
        new = ast.unparse(new_node)
        variants = [new, f"({new})"] if isinstance(node, ast.expr) else [new]
        for variant in variants:
            candidate = _replace_span(lines, node, variant)
            if candidate is not None and _parses_to(candidate, want):
                return candidate, ast.parse(candidate)
        return None
    if edit.op == "delete":
        node = node_at(tree, tuple(edit.path))
        first, last = node.lineno, node.end_lineno
        if _alone_on_lines(lines, node):
            candidate = "".join(lines[:first - 1] + lines[last:])
            if _parses_to(candidate, want):
                return candidate, ast.parse(candidate)
        return None
    if edit.op == "insert":
        body = list_at(tree, tuple(edit.path))
        if not body:
            return None
        anchor = body[min(edit.index, len(body) - 1)]
        indent = lines[anchor.lineno - 1][: len(lines[anchor.lineno - 1]) - len(lines[anchor.lineno - 1].lstrip())]
        new_lines = [indent + ln + "\n" for ln in edit.new.splitlines()]
        at = anchor.lineno - 1 if edit.index < len(body) else anchor.end_lineno
        candidate = "".join(lines[:at] + new_lines + lines[at:])
        if _parses_to(candidate, want):
            return candidate, ast.parse(candidate)
    return None


def _located(node) -> bool:
    return isinstance(node, (ast.expr, ast.stmt)) and getattr(node, "end_col_offset", None) is not None


def _replace_span(lines: list[str], node: ast.AST, new: str) -> str | None:
    """Replace the node's (UTF-8 byte offset) span by ``new``, re-indenting continuation lines."""
    first, last = node.lineno - 1, node.end_lineno - 1
    head = lines[first].encode()[: node.col_offset].decode(errors="strict")
    tail = lines[last].encode()[node.end_col_offset:].decode(errors="strict")
    indent = " " * len(head) if isinstance(node, ast.stmt) else ""
    new_lines = new.split("\n")
    body = new_lines[0] + "".join("\n" + indent + ln for ln in new_lines[1:])
    return "".join(lines[:first]) + head + body + tail + "".join(lines[last + 1:])


def _alone_on_lines(lines: list[str], node: ast.stmt) -> bool:
    before = lines[node.lineno - 1].encode()[: node.col_offset].decode()
    after = lines[node.end_lineno - 1].encode()[node.end_col_offset:].decode()
    return not before.strip() and not after.split("#")[0].strip() and not after.strip().startswith(";")


def _parses_to(text: str, want: str) -> bool:
    try:
        return unparse(ast.parse(text)) == want
    except SyntaxError:
        return False
