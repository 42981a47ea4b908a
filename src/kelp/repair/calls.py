"""Function misuse beyond a sibling callee: a result thrown away, a call too many, a call missing.

Human bugs misuse calls in more ways than calling ``min`` for ``max`` (the "wrong function
name", "same function more/less args" and "change caller" patterns of ManySStuBs4J, Karampatsis
and Allamanis 2020; "function misuse" in HumanEvalFix, Muennighoff et al. 2023):

- **a discarded result** (:func:`discarded_result_alternatives`): ``sorted(xs)`` or
  ``s.replace(a, b)`` as a statement computes a new value and drops it; the fix keeps it,
  ``xs = sorted(xs)`` (or ``xs.sort()``), ``s = s.replace(a, b)``;
- **a call too many** (:func:`method_unwrap_alternatives`): ``s.lower().split()`` where the
  words were wanted as written: the argument-less method call is removed (``s.split()``);
- **a call missing** (:func:`wrap_alternatives`): ``abs(a - b)`` written ``a - b``, and
  ``len(xs)`` where a sequence stands for its length in ``range(xs)``.

Each alternative is ``(family, site key, path, op, new node, weight)`` like the enumerator's.
"""

from __future__ import annotations

import ast
from typing import Iterator

#: Functions that return a new value and leave their argument alone.
PURE_FUNCTIONS = frozenset({"sorted", "reversed", "list", "set", "tuple", "str", "int", "float", "abs",
                            "round"})
#: Methods of immutable values (str, bytes, tuple) that return a new value.
PURE_METHODS = frozenset({"replace", "strip", "lstrip", "rstrip", "lower", "upper", "title", "capitalize",
                          "swapcase", "casefold", "join", "split", "rsplit", "format", "zfill", "center",
                          "ljust", "rjust", "removeprefix", "removesuffix", "translate", "encode",
                          "decode"})
#: Argument-less methods that transform a value and are often one call too many.
TRANSFORMING_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize",
                                  "swapcase", "casefold", "copy", "keys", "values", "items"})


def discarded_result_alternatives(path: tuple, stmt: ast.stmt) -> Iterator[tuple]:
    """For an expression statement ``f(x, ...)`` of a pure function, or ``x.m(...)`` of a
    value-returning method, with ``x`` a plain name: ``x = <the call>`` (weight 2), and for
    ``sorted(x)`` / ``reversed(x)`` also ``x.sort()`` / ``x.reverse()`` (weight 1). Family
    ``fix_template``; site ``path + ("keep",)``."""
    if not isinstance(stmt, ast.Expr) or not isinstance(stmt.value, ast.Call):
        return
    call = stmt.value
    func = call.func
    target = None
    if isinstance(func, ast.Name) and func.id in PURE_FUNCTIONS and call.args and isinstance(call.args[0], ast.Name):
        target = call.args[0].id
    elif isinstance(func, ast.Attribute) and func.attr in PURE_METHODS and isinstance(func.value, ast.Name):
        target = func.value.id
    if target is None:
        return
    key = path + ("keep",)
    yield ("fix_template", key, path, "replace", ast.parse(f"{target} = {ast.unparse(call)}").body[0], 2.0)
    if isinstance(func, ast.Name) and func.id in ("sorted", "reversed") and len(call.args) == 1:
        method = "sort" if func.id == "sorted" else "reverse"
        keywords = "".join(f", {ast.unparse(k)}" for k in call.keywords).lstrip(", ")
        yield ("fix_template", key, path, "replace", ast.parse(f"{target}.{method}({keywords})").body[0], 1.0)


def method_unwrap_alternatives(path: tuple, node: ast.Call) -> Iterator[tuple]:
    """``v.m()`` -> ``v`` for an argument-less transforming method ``m``
    (:data:`TRANSFORMING_METHODS`). Family ``fix_template``; site ``path + ("unwrap",)``."""
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in TRANSFORMING_METHODS and not node.args \
            and not node.keywords:
        yield ("fix_template", path + ("unwrap",), path, "replace", func.value, 1.0)


def wrap_alternatives(path: tuple, node: ast.expr, parent: ast.AST | None, field: str | None) -> Iterator[tuple]:
    """A call that is missing: ``abs(a - b)`` for a difference ``a - b`` (weight 1), and
    ``len(x)`` for a name ``x`` given to ``range`` (weight 1). Family ``missing_call``;
    site ``path + ("wrap",)``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and not (
            isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id == "abs"):
        yield ("missing_call", path + ("wrap",), path, "replace",
               ast.Call(func=ast.Name(id="abs", ctx=ast.Load()), args=[node], keywords=[]), 1.0)
    if isinstance(node, ast.Name) and isinstance(parent, ast.Call) and field == "args" \
            and isinstance(parent.func, ast.Name) and parent.func.id == "range":
        yield ("missing_call", path + ("wrap",), path, "replace",
               ast.Call(func=ast.Name(id="len", ctx=ast.Load()), args=[node], keywords=[]), 1.0)
