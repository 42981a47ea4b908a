"""Excess logic: a branch that should not be there, removed.

A condition put around code that must always run (``if a != b: out.append(x)``) and an ``else``
that undoes what the loop builds (``else: count = 0``) are frequent human bugs (the "excess
logic" class of HumanEvalFix, Muennighoff et al. 2023). Single-node edits cannot remove them:
deleting the ``if`` deletes its body too. Two edits are proposed for every ``if`` statement:

- the ``if`` without its test: its body put in its place in the enclosing block (only for an
  ``if`` with no ``else``);
- the ``if`` without its ``else``.

Each alternative is ``(family, site key, path, op, new node, weight)`` like the enumerator's;
the family is ``remove_guard``.
"""

from __future__ import annotations

import ast
import copy
from typing import Iterator

from kelp.program.tree import node_at
from kelp.repair.guards import _blocks


def guard_removal_alternatives(tree: ast.Module, func_path: tuple, func: ast.FunctionDef) -> Iterator[tuple]:
    """For every ``if`` in ``func`` (at ``func_path`` in ``tree``): the ``if`` replaced by its
    body (the owner of its block is replaced by a copy, weight 1), and an ``if``/``else`` with
    its ``else`` dropped (weight 1). Sites: ``("unguard", if path)`` and ``("unelse", if
    path)``."""
    for block_path, block, _loops in _blocks(func, func_path, ()):
        for i, stmt in enumerate(block):
            if not isinstance(stmt, ast.If):
                continue
            if_path = block_path + (i,)
            if stmt.orelse:
                if not (len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If)):  # not an elif chain
                    new_if = copy.copy(stmt)
                    new_if.orelse = []
                    yield ("remove_guard", ("unelse", if_path), if_path, "replace", new_if, 1.0)
                continue
            owner_path, field = block_path[:-1], block_path[-1]
            owner = node_at(tree, owner_path)
            new_owner = copy.copy(owner)
            setattr(new_owner, field, block[:i] + list(stmt.body) + block[i + 1:])
            yield ("remove_guard", ("unguard", if_path), owner_path, "replace", new_owner, 1.0)
