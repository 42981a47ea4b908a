"""Initial values of a forgotten initialisation, read from how the function uses the name.

``d = {}`` and ``d = 0`` are the likeliest starts of a variable, but the code says more: a
name used as ``d[k].append(v)`` was a ``defaultdict(list)``, ``d[k] += 1`` a
``defaultdict(int)``, ``d.add(x)`` a ``set()``, ``d.append(x)`` a list, and ``range(n)`` with
``s[i]`` in the loop a length, ``n = len(s)``. :func:`usage_initialisers`
gives those values for a name the tests reported unbound (``UnboundLocalError``/``NameError``),
the inverse of a deleted initialisation that the fixed list of common values misses.
"""

from __future__ import annotations

import ast
import copy

#: Methods whose call on ``d`` says what ``d`` was.
_LIST_METHODS = {"append", "extend", "insert", "pop", "sort", "reverse"}
_SET_METHODS = {"add", "discard", "union", "intersection", "difference"}
_DICT_METHODS = {"keys", "items", "values", "get", "setdefault"}
#: Weight of an initial value the usage calls for (the fixed common values weigh 0.3 to 4).
USAGE_WEIGHT = 6.0


def imported_names(tree: ast.Module) -> set[str]:
    """Names the module's top-level imports bind (``defaultdict``, ``collections``, ``np``)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def _defaultdict(factory: str, imported: set[str]) -> str | None:
    if "defaultdict" in imported:
        return f"defaultdict({factory})"
    if "collections" in imported:
        return f"collections.defaultdict({factory})"
    return None


def usage_initialisers(func: ast.FunctionDef, name: str, imported: set[str]) -> list[tuple[str, float]]:
    """``(source of an initial value, weight)`` for ``name`` from its uses in ``func`` (nested
    functions included, they read it too), best first, without repeats; empty when no use says
    anything. ``imported``: names the module imports (:func:`imported_names`); a
    ``defaultdict`` is offered only where ``defaultdict`` or ``collections`` is imported."""
    parents = {id(child): parent for parent in ast.walk(func) for child in ast.iter_child_nodes(parent)}
    values: list[str] = []
    for node in ast.walk(func):
        if not (isinstance(node, ast.Name) and node.id == name):
            continue
        parent = parents.get(id(node))
        if isinstance(parent, ast.Attribute):
            if parent.attr in _LIST_METHODS:
                values.append("[]")
            elif parent.attr in _SET_METHODS:
                values.append("set()")
            elif parent.attr in _DICT_METHODS:
                values.append("{}")
        elif isinstance(parent, ast.Subscript) and parent.value is node:
            above = parents.get(id(parent))
            if isinstance(above, ast.Attribute) and above.attr in _LIST_METHODS:
                values.append(_defaultdict("list", imported) or "")
            elif isinstance(above, ast.Attribute) and above.attr in _SET_METHODS:
                values.append(_defaultdict("set", imported) or "")
            elif isinstance(above, ast.AugAssign) and above.target is parent:
                values.append(_defaultdict("int", imported) or "")
            elif isinstance(parent.ctx, ast.Store):
                values.append("{}")
        elif isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id == "range":
            values.extend(f"len({seq})" for seq in _indexed_parameters(func))
    return [(v, USAGE_WEIGHT) for v in dict.fromkeys(values) if v]


def _indexed_parameters(func: ast.FunctionDef) -> list[str]:
    """Parameters of ``func`` that it indexes (``s[i]``), in order: a ``range`` bound that is
    missing is likely the length of one of them."""
    params = [a.arg for a in func.args.args]
    indexed = {n.value.id for n in ast.walk(func) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)}
    return [p for p in params if p in indexed]


#: Weight of an integer the function combines the name with (``p * 2``: ``p = 2``).
OPERAND_WEIGHT = 1.0


#: Words whose opposites name a value's twin (``low`` beside ``high``), both ways.
_OPPOSITES = {"low": "high", "lo": "hi", "min": "max", "minimum": "maximum", "small": "large",
              "smallest": "largest", "lower": "upper", "least": "most", "left": "right", "first": "last",
              "start": "end", "begin": "end", "prev": "next"}
_OPPOSITES.update({b: a for a, b in list(_OPPOSITES.items()) if b not in _OPPOSITES})
#: Functions swapped to compute a twin (``high = max(a, b)`` gives ``low = min(a, b)``).
_OPPOSITE_CALLS = {"max": "min", "min": "max"}
#: Weight of a twin's value: above every other start value.
TWIN_WEIGHT = 8.0


def twin_initialisers(func: ast.FunctionDef, name: str) -> list[tuple[str, float]]:
    """``(source of an initial value, weight)`` for ``name`` from the assignment of its twin:
    a name of ``func`` that differs from it by one word and its opposite (``high`` for ``low``,
    ``max_val`` for ``min_val``) and is assigned a call of ``max`` or ``min``: the same value with
    the other function (``low = min(a, b)`` beside ``high = max(a, b)``)."""
    words = name.lower().split("_")
    found: list[str] = []
    for node in ast.walk(func):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        other = node.targets[0].id.lower().split("_")
        if len(other) != len(words) or sum(a != b for a, b in zip(words, other)) != 1 or not any(
                _OPPOSITES.get(a) == b for a, b in zip(words, other)):
            continue
        value = _swapped_calls(node.value)
        if value is not None and value not in found:
            found.append(value)
    return [(value, TWIN_WEIGHT) for value in found]


def _swapped_calls(value: ast.expr) -> str | None:
    """``value`` with every call of ``max`` swapped for ``min`` and back (None: it calls neither)."""
    twin = copy.deepcopy(value)
    swapped = False
    for node in ast.walk(twin):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _OPPOSITE_CALLS:
            node.func = ast.Name(id=_OPPOSITE_CALLS[node.func.id], ctx=ast.Load())
            swapped = True
    return ast.unparse(twin) if swapped else None


def never_bound(tree: ast.Module, func: ast.FunctionDef) -> list[str]:
    """Names ``func`` reads that nothing binds where it could see them: not a parameter or local
    of ``func`` or of a scope nested in it, not bound at the module's top level (outside its
    functions and classes), not a builtin. Each raises ``NameError`` on every run that reaches
    it (a forgotten initialisation the tests may not have reported yet: an earlier error hides
    it). Empty for a module with a ``*`` import (its names are unknown)."""
    import builtins

    if any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree)):
        return []
    bound = set(dir(builtins))
    for node in ast.walk(func):
        bound |= _bound_by(node)
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        bound |= _bound_by(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))
    reads = (n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
    return [name for name in dict.fromkeys(reads) if name not in bound]


def _bound_by(node: ast.AST) -> set[str]:
    """The names ``node`` itself binds (a target, a parameter, a definition, an import, an
    ``except`` name, a ``global`` declaration)."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return {node.id}
    if isinstance(node, ast.arg):
        return {node.arg}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, ast.ExceptHandler) and node.name:
        return {node.name}
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return set(node.names)
    return set()


def returning_initialisers(tree: ast.Module, func: ast.FunctionDef, name: str) -> list[tuple[str, float]]:
    """``(source of an initial value, weight)``: a call of another top-level function of the
    module that computes a value of that name (its body holds ``return name``: ``mean =
    avg_calc(data)``), given ``func``'s parameters: each one to a function of one parameter, all
    of them in order to a function of as many."""
    params = [a.arg for a in func.args.args]
    found: list[str] = []
    for other in tree.body:
        if not isinstance(other, ast.FunctionDef) or other is func or not any(
                isinstance(n, ast.Return) and isinstance(n.value, ast.Name) and n.value.id == name
                for n in ast.walk(other)):
            continue
        arity = len(other.args.args) - len(other.args.defaults)
        calls = [f"{other.name}({p})" for p in params] if arity == 1 else []
        if arity == len(params) > 1:
            calls.append(f"{other.name}({', '.join(params)})")
        found += [c for c in calls if c not in found]
    return [(value, USAGE_WEIGHT) for value in found]


def operand_initialisers(func: ast.FunctionDef, name: str) -> list[tuple[str, float]]:
    """``(source of an initial value, weight)``: the integer constants other than 0 and 1 that
    ``func`` puts beside ``name`` in an arithmetic operation (``i = p * 2`` says a sieve's ``p``
    starts at 2), in order of appearance, without repeats."""
    values: list[str] = []
    for node in ast.walk(func):
        if not isinstance(node, ast.BinOp):
            continue
        for mine, other in ((node.left, node.right), (node.right, node.left)):
            if (isinstance(mine, ast.Name) and mine.id == name and isinstance(other, ast.Constant)
                    and type(other.value) is int and other.value not in (0, 1)):
                values.append(repr(other.value))
    return [(v, OPERAND_WEIGHT) for v in dict.fromkeys(values)]


#: Starts of an index taken from the enclosing loop's variable ``i`` (``j = i + 1`` for the
#: pairs after ``i``, ``j = 2 * i`` for a heap child or a sieve's first multiple).
_FROM_LOOP = (("{v} + 1", 1.5), ("{v}", 1.0), ("2 * {v}", 0.7), ("{v} * {v}", 0.5), ("{v} - 1", 0.5))


def _accumulates(stmt: ast.stmt, name: str) -> bool:
    """Whether ``stmt`` (a statement of a loop body, outside inner loops) updates ``name`` in
    place (``name += x``): a running total, started before the loop, not in it."""
    if isinstance(stmt, ast.AugAssign):
        return isinstance(stmt.target, ast.Name) and stmt.target.id == name
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef, ast.ClassDef)):
        return False
    return any(_accumulates(s, name) for field in ("body", "orelse") for s in getattr(stmt, field, []) or [])


def loop_initialisers(func: ast.FunctionDef, path: tuple, name: str) -> list[tuple[tuple, str, float]]:
    """``(block path, initial value, weight)``: ``name`` started from the variable of the
    innermost ``for`` loop of ``func`` (at ``path``) whose body reads it and does not update it
    in place (a running total starts before its loop), at the top of that body; empty when no
    such loop has a plain variable."""
    found: list[tuple[tuple, str]] = []

    def visit(node, node_path):
        for field, value in ast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if not isinstance(item, ast.AST) or isinstance(item, (ast.FunctionDef, ast.ClassDef, ast.Lambda)):
                    continue
                item_path = node_path + ((field, i) if isinstance(value, list) else (field,))
                if isinstance(item, ast.For) and isinstance(item.target, ast.Name) and any(
                        isinstance(n, ast.Name) and n.id == name for b in item.body for n in ast.walk(b)) and not any(
                        _accumulates(b, name) for b in item.body):
                    found.append((item_path + ("body",), item.target.id))
                visit(item, item_path)

    visit(func, path)
    if not found:
        return []
    block_path, var = found[-1]  # visited outer loops first: the last is the innermost
    return [(block_path, value.format(v=var), weight) for value, weight in _FROM_LOOP]
