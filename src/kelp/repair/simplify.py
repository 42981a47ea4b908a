"""Patch simplification: the code a person would have written for a repair the search found.

Single-node edits compose into code nobody writes: an off-by-one fix applied to a negated
operand leaves ``-n * 1``, two shifts leave ``i + 1 - 1``, a negated condition over a
comparison leaves ``not s < threshold``. :func:`simplify` rewrites such degenerate code where
the repair introduced it (code the original program already had is left alone) and returns the
simplified programs, each spliced into the original text; they are candidates only: the
rewrites hold for numbers, not for every type (``not a < b`` is not ``a >= b`` for sets), so
the search runs the tests on each and keeps the first that passes them.
:func:`patch_cost` orders repairs by how far they are from a person's patch.

Rewrites (each applied where the repair introduced it):

- identities: ``x + 0``, ``0 + x``, ``x - 0``, ``x * 1``, ``1 * x``, ``x / 1``, ``x // 1``,
  ``x ** 1`` -> ``x``; ``+x`` -> ``x``; ``-0`` -> ``0``;
- double negation: ``not not x`` -> ``x``; ``- -x`` -> ``x``; ``~~x`` -> ``x``;
- a negated comparison: ``not a < b`` -> ``a >= b`` (``==``/``!=``, ``in``/``not in``,
  ``is``/``is not`` likewise);
- signs: ``x - -c`` -> ``x + c``, ``x + -c`` -> ``x - c``;
- constants: ``c1 + c2`` (ints) folded; ``x + c1 - c2`` -> ``x + (c1 - c2)`` folded, or ``x``.
"""

from __future__ import annotations

import ast
import copy
import difflib
import io
import tokenize
from collections import Counter

from kelp.program.fragment import dump
from kelp.program.tree import ProgramSyntaxError, iter_nodes, parse, replace_at
from kelp.repair.splice import minimal_source

__all__ = ["degenerate", "patch_cost", "simplify"]

#: Simplified versions :func:`simplify` returns at most.
MAX_CANDIDATES = 8

_NEGATED = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


def _number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _int(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def degenerate(node: ast.AST) -> ast.AST | None:
    """The simpler node a degenerate ``node`` stands for (see the module docstring), or
    ``None`` when ``node`` is not degenerate. The result shares subtrees with ``node``."""
    if isinstance(node, ast.BinOp):
        left, right, op = node.left, node.right, node.op
        if _int(left) and _int(right) and isinstance(op, (ast.Add, ast.Sub, ast.Mult)) \
                and max(abs(left.value), abs(right.value)) < 10**6:
            value = {ast.Add: left.value + right.value, ast.Sub: left.value - right.value,
                     ast.Mult: left.value * right.value}[type(op)]
            return _const(value)
        if _number(right) and not _number(left):
            value = right.value
            if (isinstance(op, (ast.Add, ast.Sub)) and value == 0) or (
                    isinstance(op, (ast.Mult, ast.Div, ast.FloorDiv, ast.Pow)) and value == 1):
                return left
            if isinstance(op, (ast.Add, ast.Sub)) and isinstance(left, ast.BinOp) and isinstance(
                    left.op, (ast.Add, ast.Sub)) and _int(left.right) and _int(right) and not _number(left.left):
                inner = left.right.value if isinstance(left.op, ast.Add) else -left.right.value
                total = inner + (value if isinstance(op, ast.Add) else -value)
                if total == 0:
                    return left.left
                return ast.BinOp(left=left.left, op=ast.Add() if total > 0 else ast.Sub(),
                                 right=ast.Constant(abs(total)))
        if isinstance(right, ast.UnaryOp) and isinstance(right.op, ast.USub) and _number(right.operand) \
                and isinstance(op, (ast.Add, ast.Sub)):
            return ast.BinOp(left=left, op=ast.Sub() if isinstance(op, ast.Add) else ast.Add(), right=right.operand)
        if _number(left) and not _number(right) and (
                (isinstance(op, ast.Add) and left.value == 0) or (isinstance(op, ast.Mult) and left.value == 1)):
            return right
        return None
    if isinstance(node, ast.UnaryOp):
        operand = node.operand
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(operand, ast.UnaryOp) and type(operand.op) is type(node.op) and isinstance(
                node.op, (ast.Not, ast.USub, ast.Invert)):
            return operand.operand
        if isinstance(node.op, ast.USub) and _number(operand) and operand.value == 0:
            return operand
        if isinstance(node.op, ast.Not) and isinstance(operand, ast.Compare) and len(operand.ops) == 1:
            return ast.Compare(left=operand.left, ops=[_NEGATED[type(operand.ops[0])]()],
                               comparators=operand.comparators)
    return None


def _const(value: int) -> ast.expr:
    return ast.Constant(value) if value >= 0 else ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))


def _degenerate_sites(tree: ast.AST) -> list[tuple[tuple, ast.AST]]:
    return [(path, node) for path, node in iter_nodes(tree) if degenerate(node) is not None]


def _introduced(original: ast.AST, repaired: ast.AST) -> list[tuple]:
    """Paths of degenerate nodes of ``repaired`` beyond those ``original`` already had (by
    equal code), outermost first."""
    before = Counter(dump(node) for _path, node in _degenerate_sites(original))
    out = []
    for path, node in _degenerate_sites(repaired):
        key = dump(node)
        if before[key] > 0:
            before[key] -= 1
        else:
            out.append(path)
    return out


def _rewrite(tree: ast.Module, path: tuple) -> ast.Module:
    return replace_at(tree, path, degenerate(_node_at(tree, path)))


def _node_at(tree: ast.AST, path: tuple) -> ast.AST:
    node = tree
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return node


def _all_rewritten(original: ast.Module, tree: ast.Module, rounds: int = 6) -> ast.Module:
    """``tree`` with every introduced degenerate node rewritten, innermost first, until none
    is left (at most ``rounds`` passes)."""
    for _ in range(rounds):
        paths = _introduced(original, tree)
        if not paths:
            break
        tree = _rewrite(tree, max(paths, key=len))
    return tree


def simplify(original: str, repaired: str) -> list[str]:
    """Simplified versions of the repair ``repaired`` of ``original`` (both source texts),
    simplest first: every degenerate node the repair introduced rewritten, then each one
    alone; spliced into ``original``'s text (:func:`~kelp.repair.splice.minimal_source`), so
    unchanged code keeps its formatting. Empty when there is nothing to simplify or a text
    does not parse. At most :data:`MAX_CANDIDATES`; candidates, not verdicts: run the tests."""
    try:
        before, after = parse(original), parse(repaired)
    except ProgramSyntaxError:
        return []
    paths = _introduced(before, after)
    if not paths:
        return []
    trees = [_all_rewritten(before, copy.deepcopy(after))]
    trees += [_rewrite(after, path) for path in paths]
    out: list[str] = []
    for tree in trees:
        text = minimal_source(original, before, tree)
        if text != repaired and text not in out:
            out.append(text)
    return out[:MAX_CANDIDATES]


def _tokens(source: str) -> list[str]:
    """The code tokens of ``source`` (no comments, newlines or indentation); the characters
    when it does not tokenize."""
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    try:
        return [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in skip]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return list(source)


def patch_cost(original: str, repaired: str) -> tuple[int, int]:
    """How far the repair ``repaired`` of ``original`` is from a person's patch, smaller is
    nearer: (degenerate nodes it introduces, code tokens it changes: removed plus added)."""
    try:
        introduced = len(_introduced(parse(original), parse(repaired)))
    except ProgramSyntaxError:
        introduced = 0
    a, b = _tokens(original), _tokens(repaired)
    changed = sum(max(i2 - i1, 0) + max(j2 - j1, 0)
                  for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
                  if tag != "equal")
    return introduced, changed
