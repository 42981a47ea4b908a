"""The operator table shared by the forward process and the enumerative repair.

For each operator class of Python's ``ast`` it lists what the operator can be replaced by, in
both directions of the same bug model:

- ``mutations``: the operators the forward process (:mod:`kelp.corrupt.mutations`) turns it
  into when it plants a bug, in the order of the forward process's options (the classic
  AOR/ROR/LCR mutation operators, Offutt et al., TOSEM 1996; ManySStuBs4J's "change operator").
- ``repairs``: ``(operator, weight)`` pairs the enumerator (:mod:`kelp.repair.enumerate`) tries
  when it meets the operator in a buggy program, in its order, with relative weights within the
  site (realistic partners first). They hold the inverse of every mutation (if the forward
  process turns ``a`` into ``b``, ``a`` is among ``b``'s repairs; :func:`missing_inverses`)
  and a few further fixes no mutation plants (``+`` -> ``*``).

:data:`NON_COMMUTATIVE` lists the binary operators whose operands the forward process swaps
(``a - b`` -> ``b - a``) and the enumerator swaps back.

Operators are ``ast`` node classes (``ast.Add``); instantiate one to build a node.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

__all__ = ["Alternatives", "BINARY", "BOOLEAN", "COMPARE", "NON_COMMUTATIVE", "TABLES", "missing_inverses"]


@dataclass(frozen=True)
class Alternatives:
    """What one operator can be replaced by: ``mutations`` (forward process, in option order)
    and ``repairs`` (enumerator: ``(operator, relative weight > 0)``, in proposal order)."""

    mutations: tuple[type[ast.AST], ...]
    repairs: tuple[tuple[type[ast.AST], float], ...]


#: Arithmetic and bitwise operators (``ast.BinOp.op``, ``ast.AugAssign.op``).
BINARY: dict[type[ast.operator], Alternatives] = {
    ast.Add: Alternatives((ast.Sub,), ((ast.Sub, 4), (ast.Mult, 1))),
    ast.Sub: Alternatives((ast.Add,), ((ast.Add, 4), (ast.Mult, 1))),
    ast.Mult: Alternatives((ast.Div, ast.FloorDiv), ((ast.Div, 1), (ast.FloorDiv, 1), (ast.Add, 1), (ast.Pow, 1))),
    ast.Div: Alternatives((ast.FloorDiv, ast.Mult), ((ast.FloorDiv, 3), (ast.Mult, 2))),
    ast.FloorDiv: Alternatives((ast.Div, ast.Mod, ast.Mult), ((ast.Div, 3), (ast.Mod, 1), (ast.Mult, 1))),
    ast.Mod: Alternatives((ast.FloorDiv,), ((ast.FloorDiv, 2), (ast.Div, 1))),
    ast.Pow: Alternatives((ast.Mult,), ((ast.Mult, 2),)),
    ast.BitAnd: Alternatives((ast.BitOr,), ((ast.BitOr, 2), (ast.BitXor, 1))),
    ast.BitOr: Alternatives((ast.BitAnd, ast.BitXor), ((ast.BitAnd, 2), (ast.BitXor, 1))),
    ast.BitXor: Alternatives((ast.BitOr,), ((ast.BitAnd, 2), (ast.BitOr, 1))),
    ast.LShift: Alternatives((ast.RShift,), ((ast.RShift, 1),)),
    ast.RShift: Alternatives((ast.LShift,), ((ast.LShift, 1),)),
}

#: Comparison operators (``ast.Compare.ops``).
COMPARE: dict[type[ast.cmpop], Alternatives] = {
    ast.Lt: Alternatives((ast.LtE, ast.Gt), ((ast.LtE, 3), (ast.Gt, 2), (ast.GtE, 1))),
    ast.LtE: Alternatives((ast.Lt, ast.GtE), ((ast.Lt, 3), (ast.GtE, 2), (ast.Gt, 1))),
    ast.Gt: Alternatives((ast.GtE, ast.Lt), ((ast.GtE, 3), (ast.Lt, 2), (ast.LtE, 1))),
    ast.GtE: Alternatives((ast.Gt, ast.LtE), ((ast.Gt, 3), (ast.LtE, 2), (ast.Lt, 1))),
    ast.Eq: Alternatives((ast.NotEq,), ((ast.NotEq, 3), (ast.Lt, 1), (ast.Gt, 1))),
    ast.NotEq: Alternatives((ast.Eq,), ((ast.Eq, 3),)),
    ast.In: Alternatives((ast.NotIn,), ((ast.NotIn, 1),)),
    ast.NotIn: Alternatives((ast.In,), ((ast.In, 1),)),
    ast.Is: Alternatives((ast.IsNot,), ((ast.IsNot, 1),)),
    ast.IsNot: Alternatives((ast.Is,), ((ast.Is, 1),)),
}

#: Boolean operators (``ast.BoolOp.op``).
BOOLEAN: dict[type[ast.boolop], Alternatives] = {
    ast.And: Alternatives((ast.Or,), ((ast.Or, 1.0),)),
    ast.Or: Alternatives((ast.And,), ((ast.And, 1.0),)),
}

#: Binary operators whose operands are swapped as a bug and swapped back as a repair.
NON_COMMUTATIVE: tuple[type[ast.operator], ...] = (
    ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift, ast.MatMult,
)

#: Every table by name.
TABLES: dict[str, dict[type, Alternatives]] = {"binary": BINARY, "compare": COMPARE, "boolean": BOOLEAN}


def missing_inverses(table: dict[type, Alternatives]) -> list[tuple[type, type]]:
    """``(original, mutated)`` pairs of ``table`` whose mutation has no inverse: ``original`` is
    not among the repairs of ``mutated`` (or ``mutated`` has no entry). Empty for a consistent
    table."""
    missing = []
    for original, alts in table.items():
        for mutated in alts.mutations:
            back = table.get(mutated)
            if back is None or original not in [op for op, _weight in back.repairs]:
                missing.append((original, mutated))
    return missing
