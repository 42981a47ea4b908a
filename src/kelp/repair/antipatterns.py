"""Anti-patterns of plausible patches: code a repair should not leave behind.

Tan et al. 2016 ("Anti-patterns in search-based program repair", FSE) list the shapes of patches
that pass the tests without fixing the program; two of them can be read off the patched program
alone and are counted here:

- *unreachable code*: statements after a ``return``, ``raise``, ``break`` or ``continue`` in the
  same block (an early exit inserted, or a guard removed around one, bypasses the code that
  failed: their "anti-append early exit" and "anti-delete if-condition");
- *degenerate expressions*: an operation whose result does not depend on its operand, written by
  no person (``x - x``, ``x / x``, ``x == x``, ``0 * x``, ``a and a``): a mutation that fits the
  tests by cancelling the expression out.

The search doubts a plausible patch that has more of them than the buggy program
(:class:`~kelp.repair.search.RepairConfig`, ``doubt_antipatterns``).
"""

from __future__ import annotations

import ast

_EXITS = (ast.Return, ast.Raise, ast.Break, ast.Continue)
#: Operators whose result is fixed when both operands are the same expression.
_SELF_CANCELLING = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.BitXor)


def unreachable_statements(tree: ast.AST) -> int:
    """Number of statements that follow a ``return``, ``raise``, ``break`` or ``continue`` in
    the same statement list, anywhere in ``tree`` (nested statements of such a statement are
    not counted again)."""
    count = 0
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            for i, stmt in enumerate(block):
                if isinstance(stmt, _EXITS):
                    count += len(block) - i - 1
                    break
    return count


def degenerate_expressions(tree: ast.AST) -> int:
    """Number of operations in ``tree`` whose result does not depend on their operands: ``e - e``,
    ``e / e``, ``e // e``, ``e % e``, ``e ^ e``, a comparison of ``e`` with itself, ``0 * e`` or
    ``e * 0``, and a boolean operation that repeats an operand (``a and a``). ``e`` is compared
    by its syntax tree."""
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, _SELF_CANCELLING) and _same(node.left, node.right):
                count += 1
            elif isinstance(node.op, ast.Mult) and (_zero(node.left) or _zero(node.right)):
                count += 1
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            count += sum(_same(a, b) for a, b in zip(operands, operands[1:]))
        elif isinstance(node, ast.BoolOp):
            dumps = [ast.dump(v) for v in node.values]
            count += len(dumps) - len(set(dumps))
    return count


def antipatterns(tree: ast.AST) -> int:
    """Unreachable statements plus degenerate expressions of ``tree``: a patch that adds to
    them is doubted."""
    return unreachable_statements(tree) + degenerate_expressions(tree)


def _same(a: ast.AST, b: ast.AST) -> bool:
    return ast.dump(a) == ast.dump(b)


def _zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value == 0
