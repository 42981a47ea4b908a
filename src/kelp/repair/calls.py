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
  ``len(xs)`` where a sequence stands for its length in ``range(xs)``;
- **a conversion missing** (:func:`conversion_alternatives`): a tuple or string changed as a
  list (``t.append(x)``, ``t[i] = x``) raised; ``t = list(t)`` before the statement fixes it.

Each alternative is ``(family, site key, path, op, new node, weight)`` like the enumerator's.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Iterator

from kelp.repair.guards import _blocks, _is_docstring

if TYPE_CHECKING:
    from kelp.repair.proposer import Feedback

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


#: Methods a list has and a tuple or string lacks.
LIST_ONLY_METHODS = frozenset({"append", "extend", "insert", "remove", "pop", "sort", "reverse", "clear"})
#: Error messages of a tuple or string changed as a list.
_NOT_A_LIST = ("'tuple' object has no attribute", "'str' object has no attribute")
_IMMUTABLE = ("'tuple' object does not support item assignment", "'str' object does not support item assignment")
#: Weight of a missing conversion (relative within its site).
CONVERSION_WEIGHT = 2.0


def conversion_alternatives(func_path: tuple, func: ast.FunctionDef, feedback: "Feedback") -> Iterator[tuple]:
    """``x = list(x)`` inserted before a statement of ``func`` on a line where a test raised
    ``AttributeError: 'tuple' object has no attribute 'append'`` (or another list-only method,
    :data:`LIST_ONLY_METHODS`, or a ``str``) while the statement calls it on the name ``x``, or
    ``TypeError: 'tuple' object does not support item assignment`` while it assigns ``x[i]``; a
    parameter is also converted at the top of the function. Family ``missing_call``; site
    ``("convert", block path, index, x)``."""
    methods = feedback.error_lines("AttributeError", _NOT_A_LIST)
    stores = feedback.error_lines("TypeError", _IMMUTABLE)
    if not methods and not stores:
        return
    params = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
    start = 1 if func.body and _is_docstring(func.body[0]) else 0
    for block_path, block, _loops in _blocks(func, func_path, ()):
        for index, stmt in enumerate(block):
            names = []
            for node in _own_expressions(stmt):
                if stmt.lineno in methods and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                        and node.func.attr in LIST_ONLY_METHODS and isinstance(node.func.value, ast.Name):
                    names.append(node.func.value.id)
                if stmt.lineno in stores and isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) \
                        and isinstance(node.value, ast.Name):
                    names.append(node.value.id)
            for name in dict.fromkeys(names):
                places = [(block_path, index)]
                if name in params and (block_path, index) != (func_path + ("body",), start):
                    places.append((func_path + ("body",), start))
                for where, at in places:
                    yield ("missing_call", ("convert", where, at, name), where, f"insert:{at}",
                           ast.parse(f"{name} = list({name})").body[0], CONVERSION_WEIGHT)


def _own_expressions(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of ``stmt`` outside the statements nested in it (a loop's header, not its body)."""
    stack = [child for field, value in ast.iter_fields(stmt) if field not in ("body", "orelse", "finalbody", "handlers")
             for child in (value if isinstance(value, list) else [value]) if isinstance(child, ast.AST)]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(ast.iter_child_nodes(node))
