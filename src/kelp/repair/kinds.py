"""What a function's names hold, where the code and the tests make it certain, and the edits
that can only raise ``TypeError`` or ``AttributeError``.

Type-directed pruning, as in type-directed program synthesis (Osera & Zdancewic 2015; Feser et
al. 2015, "λ²"): a candidate whose edited statement is ill-kinded (``len(n)`` for a number,
``text < 0`` for a string, ``range(xs)`` for a list, ``map(xs, lambda x: ...)``) raises on every
run that reaches it, and a run that never reaches it behaves as the buggy program: it cannot be a
repair, and the search does not run it.

The kinds (:data:`NUMBER`, :data:`STR`, :data:`LIST`, :data:`TUPLE`, :data:`SET`, :data:`DICT`)
are read from bindings only, with no inference through calls other than builtins: a name has a
kind when every binding of it in the function gives that kind (a literal, ``len(...)``, a
``range`` loop's variable, a character of a string, arithmetic of those...), assuming the other
names' kinds (the largest consistent assignment). A parameter never rebound has the kind of the
literal every test call passes for it (:func:`argument_kinds`), or is a number when it bounds a
``range``, or a list when the function sorts or appends to it.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable

from kelp.program.tree import parsed_sources
from kelp.repair.transplant import own_nodes

NUMBER, STR, LIST, TUPLE, SET, DICT = "number", "str", "list", "tuple", "set", "dict"
_SEQUENCES = (STR, LIST, TUPLE)
_CONTAINERS = (STR, LIST, TUPLE, SET, DICT)
#: Methods each kind has (those the checks read; a kind lacking a method raises AttributeError).
METHODS = {
    STR: frozenset({"split", "join", "strip", "lstrip", "rstrip", "lower", "upper", "replace", "find", "index",
                    "count", "startswith", "endswith", "isdigit", "isalpha", "isalnum", "isspace", "islower",
                    "isupper", "title", "capitalize", "format", "zfill", "rfind", "rindex", "swapcase",
                    "partition", "rsplit", "splitlines", "center", "ljust", "rjust", "encode", "casefold",
                    "translate", "isdecimal", "isnumeric", "expandtabs", "istitle", "removeprefix",
                    "removesuffix", "rpartition", "maketrans", "isidentifier", "isprintable", "isascii",
                    "format_map"}),
    LIST: frozenset({"append", "extend", "insert", "remove", "pop", "clear", "index", "count", "sort", "reverse",
                     "copy"}),
    TUPLE: frozenset({"index", "count"}),
    SET: frozenset({"add", "remove", "discard", "pop", "clear", "copy", "union", "intersection", "difference",
                    "symmetric_difference", "update", "issubset", "issuperset", "isdisjoint",
                    "intersection_update", "difference_update", "symmetric_difference_update"}),
    DICT: frozenset({"keys", "values", "items", "get", "pop", "popitem", "setdefault", "update", "clear", "copy",
                     "fromkeys"}),
}
#: Every method name of :data:`METHODS`: a method outside it proves nothing (a number's
#: ``bit_length``, a user class's own).
_KNOWN_METHODS = frozenset().union(*METHODS.values())
#: Builtins that iterate their first positional argument (``TypeError`` for a number).
ITERATING_CALLS = frozenset({"len", "sorted", "list", "set", "tuple", "enumerate", "reversed", "zip", "any", "all",
                             "frozenset", "iter", "sum"})
#: Builtins whose arguments must be numbers (``TypeError`` for a string or a container).
NUMERIC_CALLS = frozenset({"range", "chr", "bin", "hex", "oct", "round", "abs"})
_MUTATORS = frozenset({"sort", "append", "extend", "insert"})
#: String methods whose first argument must be a string.
_SUBSTRING_METHODS = frozenset({"count", "find", "index", "rfind", "rindex", "split", "rsplit", "replace", "strip",
                                "lstrip", "rstrip", "partition", "rpartition"})
_CALL_KINDS = {"len": NUMBER, "int": NUMBER, "float": NUMBER, "abs": NUMBER, "ord": NUMBER, "round": NUMBER,
               "bool": NUMBER, "str": STR, "chr": STR, "repr": STR, "list": LIST, "sorted": LIST, "tuple": TUPLE,
               "set": SET, "dict": DICT, "bin": STR, "hex": STR, "oct": STR}
_METHOD_KINDS = {(STR, m): STR for m in ("strip", "lstrip", "rstrip", "lower", "upper", "replace", "title",
                                         "capitalize", "join", "format", "zfill", "swapcase", "casefold")}
_METHOD_KINDS.update({(STR, "split"): LIST, (STR, "rsplit"): LIST, (STR, "splitlines"): LIST,
                      (STR, "find"): NUMBER, (STR, "count"): NUMBER, (STR, "index"): NUMBER,
                      (LIST, "count"): NUMBER, (LIST, "index"): NUMBER, (TUPLE, "count"): NUMBER,
                      (TUPLE, "index"): NUMBER, (LIST, "copy"): LIST, (SET, "copy"): SET, (DICT, "copy"): DICT})
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


class _Raises(Exception):
    """An operation that raises on every evaluation (internal)."""


def kind_of_value(value: object) -> str | None:
    """The kind of a Python value (a literal a test passes), ``None`` for any other."""
    if isinstance(value, (bool, int, float)):
        return NUMBER
    return {str: STR, list: LIST, tuple: TUPLE, set: SET, dict: DICT}.get(type(value))


def kind_of(expr: ast.expr, kinds: dict[str, str]) -> str | None:
    """The kind of ``expr`` given the names' ``kinds``; ``None`` when unknown or when
    evaluating it certainly raises (see :func:`raises`)."""
    try:
        return _kind(expr, kinds)
    except (_Raises, RecursionError):  # too deep to read: unknown
        return None


def raises(expr: ast.expr, kinds: dict[str, str]) -> bool:
    """Whether evaluating ``expr`` raises ``TypeError``/``AttributeError`` every time, given the
    names' ``kinds``. Only the parts evaluated on every evaluation are read: not a lambda's body,
    the operands of ``and``/``or`` after the first, the branches of ``a if c else b``, or a
    comprehension's elements and conditions."""
    try:
        _kind(expr, kinds)
    except _Raises:
        return True
    except RecursionError:  # too deep to read: not known to raise
        return False
    return False


def _kind(expr: ast.expr, kinds: dict[str, str]) -> str | None:
    if isinstance(expr, ast.Constant):
        return kind_of_value(expr.value)
    if isinstance(expr, ast.Name):
        return kinds.get(expr.id)
    if isinstance(expr, ast.JoinedStr):
        return STR
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        for element in expr.elts:
            _kind(element.value if isinstance(element, ast.Starred) else element, kinds)
        return {ast.List: LIST, ast.Tuple: TUPLE, ast.Set: SET}[type(expr)]
    if isinstance(expr, ast.Dict):
        for part in expr.keys + expr.values:
            if part is not None:
                _kind(part, kinds)
        return DICT
    if isinstance(expr, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        _iterated(_kind(expr.generators[0].iter, kinds))
        return {ast.ListComp: LIST, ast.SetComp: SET, ast.DictComp: DICT}.get(type(expr))
    if isinstance(expr, ast.BoolOp):
        _kind(expr.values[0], kinds)
        return None
    if isinstance(expr, ast.IfExp):
        _kind(expr.test, kinds)
        return None
    if isinstance(expr, ast.UnaryOp):
        operand = _kind(expr.operand, kinds)
        if isinstance(expr.op, ast.Not):
            return NUMBER
        if operand in _CONTAINERS:
            raise _Raises
        return NUMBER if operand == NUMBER else None
    if isinstance(expr, ast.BinOp):
        return _binop(expr.op, _kind(expr.left, kinds), _kind(expr.right, kinds))
    if isinstance(expr, ast.Compare):
        return _compare(expr, kinds)
    if isinstance(expr, ast.Subscript):
        return _subscript(_kind(expr.value, kinds), expr.slice, kinds)
    if isinstance(expr, ast.Attribute):
        owner = _kind(expr.value, kinds)
        if owner is not None and expr.attr in _KNOWN_METHODS and expr.attr not in METHODS.get(owner, ()):
            raise _Raises
        return None
    if isinstance(expr, ast.Call):
        return _call(expr, kinds)
    if isinstance(expr, ast.Starred):
        _iterated(_kind(expr.value, kinds))
        return None
    return None


def _iterated(kind: str | None) -> None:
    if kind == NUMBER:
        raise _Raises


def _binop(op: ast.operator, left: str | None, right: str | None) -> str | None:
    if left is None or right is None:
        if isinstance(op, ast.Mod) and left == STR:
            return STR  # printf-style formatting
        return None  # an unknown operand may define the reflected operator (an ndarray does)
    if left == NUMBER and right == NUMBER:
        if isinstance(op, ast.MatMult):
            raise _Raises
        return NUMBER
    if isinstance(op, ast.Add) and left == right and left in _SEQUENCES:
        return left
    if isinstance(op, ast.Mult) and {left, right} <= {NUMBER, *_SEQUENCES} and (left == NUMBER) != (right == NUMBER):
        return left if right == NUMBER else right
    if isinstance(op, ast.Mod) and left == STR:
        return STR
    if left == right and left == SET and isinstance(op, (ast.Sub, ast.BitOr, ast.BitAnd, ast.BitXor)):
        return SET
    if left == right and left == DICT and isinstance(op, ast.BitOr):
        return DICT
    raise _Raises


def _compare(expr: ast.Compare, kinds: dict[str, str]) -> str:
    left = _kind(expr.left, kinds)
    for op, comparator in zip(expr.ops, expr.comparators):
        right = _kind(comparator, kinds)
        if isinstance(op, _ORDERING) and left is not None and right is not None and (left != right or left == DICT):
            raise _Raises
        if isinstance(op, (ast.In, ast.NotIn)) and (right == NUMBER or (right == STR and left not in (None, STR))):
            raise _Raises
        if len(expr.ops) > 1:
            break  # later comparisons run only when the first holds
        left = right
    return NUMBER


def _subscript(owner: str | None, index: ast.expr, kinds: dict[str, str]) -> str | None:
    if isinstance(index, ast.Slice):
        for bound in (index.lower, index.upper, index.step):
            if bound is not None and _kind(bound, kinds) in _CONTAINERS:
                raise _Raises
        if owner in (NUMBER, SET, DICT):
            raise _Raises
        return owner if owner in _SEQUENCES else None
    key = _kind(index, kinds)
    if owner in (NUMBER, SET):
        raise _Raises
    if owner in _SEQUENCES and key in _CONTAINERS:
        raise _Raises
    if owner == DICT and key in (LIST, SET, DICT):
        raise _Raises  # unhashable
    return STR if owner == STR else None


def _call(expr: ast.Call, kinds: dict[str, str]) -> str | None:
    args = [_kind(a.value if isinstance(a, ast.Starred) else a, kinds) for a in expr.args]
    for keyword in expr.keywords:
        _kind(keyword.value, kinds)
    func = expr.func
    if isinstance(func, ast.Attribute):
        owner = _kind(func.value, kinds)
        if owner is not None and func.attr in _KNOWN_METHODS and func.attr not in METHODS.get(owner, ()):
            raise _Raises
        if owner in (LIST, SET) and func.attr in ("extend", "update") and args and args[0] == NUMBER:
            raise _Raises
        if owner == STR and args and (func.attr in _SUBSTRING_METHODS and args[0] not in (None, STR)
                                      or func.attr in ("startswith", "endswith") and args[0] not in (None, STR, TUPLE)
                                      or func.attr == "join" and args[0] == NUMBER):
            raise _Raises  # "abc".count(1)
        return _METHOD_KINDS.get((owner, func.attr))
    if not isinstance(func, ast.Name):
        _kind(func, kinds)
        return None
    name = func.id
    if name in kinds:
        raise _Raises  # a number, string or container called
    if any(isinstance(a, ast.Starred) for a in expr.args):
        return None
    if name in ITERATING_CALLS and args and (args[0] == NUMBER or (name == "zip" and NUMBER in args)
                                             or (name == "sum" and args[0] == STR)):
        raise _Raises  # the first argument (every one of zip's); sum's and enumerate's second is a number
    if name in ("max", "min") and len(args) == 1 and args[0] == NUMBER:
        raise _Raises
    if name in NUMERIC_CALLS and any(k in _CONTAINERS for k in args):
        raise _Raises
    if name in ("int", "float") and any(k in (LIST, TUPLE, SET, DICT) for k in args):
        raise _Raises
    if name in ("map", "filter") and (any(isinstance(a, ast.Lambda) for a in expr.args[1:])
                                      or any(k == NUMBER for k in args[1:])):
        raise _Raises  # map(xs, lambda ...): the iterables, which come after the function, are iterated at once
    if name == "len":
        return NUMBER
    return _CALL_KINDS.get(name)


def argument_kinds(func: ast.FunctionDef, test_sources: Iterable[str]) -> dict[str, str]:
    """``{parameter: kind}`` of ``func``'s parameters that every call ``func(...)`` with literal
    arguments in ``test_sources`` gives a literal of one kind (a parameter left to its default
    takes the default's kind), except those the function tests with ``isinstance`` or ``type``.
    Empty when no test calls ``func`` that way."""
    params = [a.arg for a in func.args.posonlyargs + func.args.args]
    defaults = dict(zip(params[len(params) - len(func.args.defaults):], func.args.defaults))
    seen: dict[str, set] = {p: set() for p in params}
    calls = 0
    for tree in parsed_sources(test_sources):
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == func.name):
                continue
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords) \
                    or len(node.args) > len(params):
                continue
            given = dict(zip(params, node.args))
            given.update((k.arg, k.value) for k in node.keywords)
            calls += 1
            for p in params:
                expr = given.get(p, defaults.get(p))
                try:
                    kind = kind_of_value(ast.literal_eval(expr)) if expr is not None else None
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    kind = None
                seen[p].add(kind)
    if not calls:
        return {}
    checked = {a.id for n in ast.walk(func) if _is_call(n, "isinstance") or _is_call(n, "type")
               for a in n.args[:1] if isinstance(a, ast.Name)}  # a kind the function itself doubts
    return {p: next(iter(ks)) for p, ks in seen.items() if len(ks) == 1 and None not in ks and p not in checked}


@functools.lru_cache(maxsize=256)
def value_kinds(func: ast.FunctionDef, arguments: frozenset = frozenset()) -> dict[str, str]:
    """``{name: kind}`` for the names of ``func`` whose kind its code (and ``arguments``,
    ``(parameter, kind)`` pairs from :func:`argument_kinds`) makes certain (see the module doc);
    names bound any other way (or also in a nested scope's ``nonlocal``) are left out. Cached per
    function node and arguments."""
    params = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
    bindings: dict[str, list] = {p: [] for p in params}  # name -> bound values: an expr, a kind mark, or None
    ranged, mutated, unplain = set(), set(), set()
    stores: dict[str, int] = {}
    for node in own_nodes(func):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bindings.setdefault(target.id, []).append(node.value)
                else:
                    for n in ast.walk(target):
                        if isinstance(n, ast.Name):
                            bindings.setdefault(n.id, []).append(None)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            bindings.setdefault(node.target.id, []).append(
                ast.BinOp(left=ast.Name(node.target.id, ast.Load()), op=node.op, right=node.value))
        elif isinstance(node, (ast.For, ast.comprehension)):
            over_range = _is_call(node.iter, "range")
            target, iterable = node.target, node.iter
            if _is_call(iterable, "enumerate") and len(iterable.args) == 1 and isinstance(target, ast.Tuple) \
                    and len(target.elts) == 2 and all(isinstance(e, ast.Name) for e in target.elts):
                bindings.setdefault(target.elts[0].id, []).append(_Given(NUMBER))  # the count
                target, iterable = target.elts[1], iterable.args[0]
            element = _Element(iterable) if isinstance(target, ast.Name) else None
            for n in ast.walk(target):
                if isinstance(n, ast.Name):
                    bindings.setdefault(n.id, []).append(element)
            if over_range and isinstance(node.target, ast.Name):
                ranged.update(a.id for a in node.iter.args if isinstance(a, ast.Name))
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                bindings.setdefault(name, []).append(None)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.attr in _MUTATORS:
            mutated.add(node.func.value.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            unplain.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            unplain.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            unplain.add(node.name)
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            stores[node.id] = stores.get(node.id, 0) + 1  # with, walrus, del: more stores than values
    plain = {n: vs for n, vs in bindings.items() if n not in unplain and stores.get(n, 0) == len(vs)}
    given = dict(arguments)
    for name in params - set(given):
        if name in ranged and name not in mutated:
            given[name] = NUMBER
        elif name in mutated and name not in ranged:
            given[name] = LIST
    fixed: dict[str, str] = {}  # parameters never rebound: their kind does not depend on the others
    for name in params & set(plain):
        if plain[name]:
            plain[name] = [_Given(given.get(name))] + plain[name]  # the argument is the first binding
        elif given.get(name) is not None:
            fixed[name] = given[name]
    guess = dict(fixed)
    for _ in range(2):  # first guesses: the kinds bindings give with what is known so far
        for name, values in plain.items():
            if name not in fixed and values and name not in guess:
                kind = next((k for k in (_bound(v, guess) for v in values) if k is not None), None)
                if kind is not None:
                    guess[name] = kind
    changed = True
    while changed:  # the largest assignment whose every binding gives its name's kind
        changed = False
        for name in sorted(guess):
            if name not in fixed and not all(_bound(v, guess) == guess[name] for v in plain[name]):
                del guess[name]
                changed = True
    return guess


class _Given:
    """A value of ``kind`` (``None``: unknown): a parameter's argument, ``enumerate``'s count."""

    def __init__(self, kind: str | None):
        self.kind = kind


class _Element:
    """A loop target bound to the elements of ``iterable``."""

    def __init__(self, iterable: ast.expr):
        self.iterable = iterable


def _is_call(expr: ast.expr, name: str) -> bool:
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == name


def _bound(value, kinds: dict[str, str]) -> str | None:
    """The kind a binding gives its name (``None``: unknown)."""
    if value is None:
        return None
    if isinstance(value, _Given):
        return value.kind
    if isinstance(value, _Element):
        it = value.iterable
        if _is_call(it, "range"):
            return NUMBER
        return STR if kind_of(it, kinds) == STR else None
    return kind_of(value, kinds)


def _evaluated(stmt: ast.stmt) -> list[ast.expr]:
    """The expressions a statement evaluates every time it is reached (its header for compound
    statements; nothing for ``raise``, definitions and ``try``)."""
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.iter]
    if isinstance(stmt, (ast.Return, ast.Expr)):
        return [stmt.value] if stmt.value is not None else []
    if isinstance(stmt, ast.Assign):
        return [stmt.value] + [t for t in stmt.targets if isinstance(t, (ast.Subscript, ast.Attribute))]
    if isinstance(stmt, ast.AnnAssign):
        return [stmt.value] if stmt.value is not None else []
    if isinstance(stmt, ast.AugAssign):
        target = stmt.target
        read = ast.Name(target.id, ast.Load()) if isinstance(target, ast.Name) else target
        return [ast.BinOp(left=read, op=stmt.op, right=stmt.value)]
    if isinstance(stmt, ast.Assert):
        return [stmt.test]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [item.context_expr for item in stmt.items]
    return []


def statement_raises(stmt: ast.stmt, kinds: dict[str, str]) -> bool:
    """Whether ``stmt`` raises ``TypeError``/``AttributeError`` every time it is reached, given
    the names' ``kinds`` (:func:`raises` of what it evaluates)."""
    if isinstance(stmt, (ast.For, ast.AsyncFor)) and kind_of(stmt.iter, kinds) == NUMBER:
        return True  # a number iterated
    return any(raises(expr, kinds) for expr in _evaluated(stmt))


#: Builtins whose meaning the checks read: a module that binds one of these names is not checked.
_BUILTINS_READ = ITERATING_CALLS | NUMERIC_CALLS | frozenset(_CALL_KINDS) | {"map", "filter", "max", "min"}


class KindCheck:
    """Whether a candidate's edited statement raises on every reach (:func:`statement_raises`),
    for the candidates of one repair: the kinds of parameters come from the literal calls in
    ``test_sources`` (:func:`argument_kinds`) for a function the module never names itself (a
    recursive call or a callback may pass other kinds), those of other names from each
    candidate's own function (:func:`value_kinds`). Off (never dooms) when a test names ``TypeError`` or
    ``AttributeError`` (it may expect one) or the module binds a builtin the checks read.
    ``arguments=False``: no kinds from the tests (a project's other modules call its functions
    too)."""

    def __init__(self, root: ast.Module, test_sources: Iterable[str], arguments: bool = True):
        sources = [s for s in test_sources if s]
        self.enabled = not any("TypeError" in s or "AttributeError" in s for s in sources) and not _shadows(root)
        referenced = {n.id for n in ast.walk(root) if isinstance(n, ast.Name)}
        self.arguments = {node.name: frozenset(argument_kinds(node, sources).items()) for node in root.body
                          if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                          and node.name not in referenced} if self.enabled and arguments else {}

    def doomed(self, tree: ast.Module, op: str, path: tuple, index: int | None = None) -> bool:
        """Whether the candidate ``tree`` made by an edit (``op``, ``path``, ``index`` as in
        :class:`~kelp.program.diff.Edit`, in the candidate's coordinates) raises on every run
        that reaches the edit. ``False`` for deletions and paths that do not resolve."""
        if not self.enabled or op == "delete":
            return False
        node, stmt, func = tree, None, None
        try:
            for step in path + ((index,) if op == "insert" else ()):
                node = node[step] if isinstance(step, int) else getattr(node, step)
                if isinstance(node, ast.stmt):
                    stmt = node
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    func = node
        except (AttributeError, IndexError, TypeError):
            return False
        if stmt is None or stmt is func:
            return False
        if func is None:
            kinds = {}
        else:  # the tests call only the module's own functions
            top = any(func is n for n in tree.body)
            kinds = value_kinds(func, self.arguments.get(func.name, frozenset()) if top else frozenset())
        return statement_raises(stmt, kinds)


def _shadows(tree: ast.Module) -> bool:
    """Whether the module binds (or star-imports) a builtin name the checks read."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in _BUILTINS_READ:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                a.name == "*" or (a.asname or a.name).split(".")[0] in _BUILTINS_READ for a in node.names):
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(n, ast.Name) and n.id in _BUILTINS_READ for t in targets for n in ast.walk(t)):
                return True
    return False
