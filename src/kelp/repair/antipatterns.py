"""Anti-patterns of plausible patches: code a repair should not leave behind.

Tan et al. 2016 ("Anti-patterns in search-based program repair", FSE) list the shapes of patches
that pass the tests without fixing the program; two of them can be read off the patched program
alone:

- *unreachable code*: statements after a ``return``, ``raise``, ``break`` or ``continue`` in the
  same block (an early exit inserted, or a guard removed around one, bypasses the code that
  failed: their "anti-append early exit" and "anti-delete if-condition");
- *degenerate expressions*: an operation whose result does not depend on its operand, written by
  no person (``x - x``, ``x / x``, ``x == x``, ``0 * x``, ``a and a``): a mutation that fits the
  tests by cancelling the expression out.

The search doubts a plausible patch that has more unreachable statements than the buggy program,
or keeps a degenerate expression of it (:class:`~kelp.repair.search.RepairConfig`,
``doubt_antipatterns``): an early exit is sometimes the fix. It refuses a patch that adds a
degenerate expression, and one after which a function it edited reads none of its parameters
(``refuse_degenerate``, :func:`degenerate_patch`). Such a function answers every call with the
same value, the value the tests expect (``res = '1 4 6 5 8'; return res`` where the statement
computing ``res`` was missing): the "functionality deletion" of plausible but wrong patches that
Qi et al. 2015 ("An analysis of patch plausibility and correctness for generate-and-validate
patch generation systems") found behind most of GenProg's repairs. Degenerate code in a program
is also the likeliest place of its bug (:func:`suspicious_paths`).
"""

from __future__ import annotations

import ast

from kelp.program.tree import FunctionInfo, functions, iter_nodes, node_at

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
    return sum(_degenerate(node) for _path, node in iter_nodes(tree))


def degenerate_paths(tree: ast.AST) -> list[tuple]:
    """Paths (as :class:`~kelp.program.diff.Edit` paths: field names and list indices, from
    ``tree``) of the operations :func:`degenerate_expressions` counts, in pre-order."""
    return [path for path, node in iter_nodes(tree) if _degenerate(node)]


def suspicious_paths(tree: ast.AST) -> list[tuple]:
    """Paths of the likeliest bug sites that can be read off ``tree`` alone, in this order: its
    degenerate operations (:func:`degenerate_paths`); its calls that pass the same non-constant
    expression twice as positional arguments (``isinstance(x, x)``, ``max(a, a)``: a copy and
    paste left unedited); and its statements that compute a value and throw it away
    (``sorted(xs)``, ``s.strip()``, ``n + 1``, ``x == 1``: pylint's expression-not-assigned, a
    forgotten assignment). Of MBPP's 474 reference solutions outside its test split, none has a
    repeated argument but ``range(i, n, i)``, and none throws a value away. One walk of the tree."""
    degenerate, repeated, thrown = [], [], []
    for path, node in iter_nodes(tree):
        if _degenerate(node):
            degenerate.append(path)
        if isinstance(node, ast.Call):
            dumps = [ast.dump(a) for a in node.args if not isinstance(a, (ast.Constant, ast.UnaryOp, ast.Starred))]
            if len(dumps) != len(set(dumps)):
                repeated.append(path)
        elif isinstance(node, ast.Expr) and _thrown_away(node.value):
            thrown.append(path)
    return degenerate + repeated + thrown


#: Builtins that return a new value and change nothing.
_PURE_BUILTINS = frozenset({"abs", "all", "any", "bool", "dict", "enumerate", "filter", "float", "int", "len",
                            "list", "map", "max", "min", "range", "reversed", "round", "set", "sorted", "str",
                            "sum", "tuple", "zip"})
#: Methods of ``str`` (and the like) that return a new value and change nothing.
_PURE_METHODS = frozenset({"capitalize", "count", "endswith", "find", "format", "isalpha", "isdigit", "join",
                           "lower", "lstrip", "replace", "rstrip", "split", "startswith", "strip", "swapcase",
                           "title", "upper"})


def _thrown_away(value: ast.expr) -> bool:
    """Whether an expression statement of ``value`` computes something without effect: an
    operation, comparison, name, subscript or attribute, or a call of :data:`_PURE_BUILTINS` or
    :data:`_PURE_METHODS` (a docstring or other constant is not counted)."""
    if isinstance(value, (ast.BinOp, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Name, ast.Subscript, ast.Attribute)):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        return (isinstance(func, ast.Name) and func.id in _PURE_BUILTINS) or \
            (isinstance(func, ast.Attribute) and func.attr in _PURE_METHODS)
    return False


def _degenerate(node: ast.AST) -> int:
    """How many degenerate operations ``node`` itself is (more than 1 for a chained comparison or
    boolean operation with several repeats; its children are not looked at)."""
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, _SELF_CANCELLING) and _same(node.left, node.right):
            return 1
        if isinstance(node.op, ast.Mult) and (_zero(node.left) or _zero(node.right)):
            return 1
    elif isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        return sum(_same(a, b) for a, b in zip(operands, operands[1:]))
    elif isinstance(node, ast.BoolOp):
        dumps = [ast.dump(v) for v in node.values]
        return len(dumps) - len(set(dumps))
    return 0


def degenerate_patch(before: ast.AST, after: ast.AST) -> str | None:
    """Why the patch from ``before`` to ``after`` (whole programs) is degenerate, or ``None``:
    ``"ignores its inputs"`` when a function it edited reads none of its parameters
    (:func:`ignored_inputs`), ``"degenerate expression"`` when ``after`` has more degenerate
    expressions than ``before`` (:func:`degenerate_expressions`)."""
    if ignored_inputs(before, after):
        return "ignores its inputs"
    if degenerate_expressions(after) > degenerate_expressions(before):
        return "degenerate expression"
    return None


def ignored_inputs(before: ast.AST, after: ast.AST) -> set[str]:
    """Qualified names (``Class.method``) of the functions of ``after`` that have parameters
    (other than ``self`` and ``cls``), read none of them, and differ from the function of that
    name in ``before``, where that function read a parameter or a name bound nowhere in
    ``before`` (its computation was missing), or was not there: functions a patch turned into
    constants. A function that ignored its parameters already and was whole
    (``def timeout(config): return 30``) may stay so. Lambdas are not counted; a nested
    function is compared as part of the function around it too."""
    old = {f.qualname: (f, node_at(before, f.path)) for f in functions(before)}
    bound = _bound_names(before)
    found = set()
    for info in functions(after):
        node = node_at(after, info.path)
        was_info, was = old.get(info.qualname, (None, None))
        if was is not None and ast.dump(was) == ast.dump(node):
            continue
        params = _parameters(info)
        if not params or params & _reads(node):
            continue
        if was is None or _parameters(was_info) & _reads(was) or _reads(was) - bound:
            found.add(info.qualname)
    return found


def _parameters(info: FunctionInfo) -> set[str]:
    return set(info.args) - {"self", "cls"}


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name ``tree`` binds anywhere (assignment and loop targets, parameters, function and
    class names, imports, ``except ... as``), and the builtins."""
    import builtins

    names = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    return names


def _same(a: ast.AST, b: ast.AST) -> bool:
    return ast.dump(a) == ast.dump(b)


def _zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value == 0
