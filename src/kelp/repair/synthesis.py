"""A forgotten computation, synthesised from the tests' examples (angelic values).

When the statement that computed a function's result is gone (``res = max(len(x) for x in lst)``
deleted, ``return res`` left), no edit of what remains brings it back. But the tests say what
``res`` must be: in ``assert f(args) == expected`` with ``return res``, ``res`` is ``expected``
(the angelic value of SemFix, Nguyen et al. 2013, read here from the assertion). Finding an
expression of the parameters with those values on every example is programming by example;
:func:`synthesise` does it bottom-up over a small grammar of Python expressions, keeping one
expression per distinct tuple of values (observational equivalence; TRANSIT, Udupa et al. 2013;
"Recursive program synthesis", Albarghouthi et al. 2013).

The grammar: the parameters and a few constants; ``len``, ``sum``, ``max``, ``min``,
``sorted``, ``set``, ``list``, ``tuple``, ``abs``, ``str``, ``int``, ``float``, ``any``,
``all``, ``reversed``; arithmetic, comparisons and ``in``; indexing and the common slices;
common ``str`` methods and ``sep.join``; and one level of list comprehension ``[b(e) for e in
s]``, ``[e for e in s if c(e)]`` and flattening, with a body from a fixed set of element
expressions. The values are literals read from the test sources, never the program's, and every
operation is bounded in the size of what it builds, so no candidate code runs here: the search
still runs each proposal in the sandbox.
"""

from __future__ import annotations

import ast
import builtins
import functools
import math
import time
from typing import Callable, Iterator

from kelp.program.tree import parsed_sources

#: Expressions kept per size level, and the most sizes tried.
MAX_TERMS_PER_SIZE = 4000
MAX_SIZE = 6
#: Largest expression a comprehension iterates over (``lst``, ``set(lst)``, ``range(n)``).
MAX_ITERABLE_SIZE = 2
#: Values one synthesis may compute: an expression evaluated on n examples costs n (a count, not
#: a time, so its result does not depend on the machine's load), and a wall-clock limit in
#: seconds that only a pathological case reaches.
MAX_WORK = 600_000
TIME_LIMIT = 20.0
#: Expressions returned, smallest first.
MAX_SOLUTIONS = 4
#: Expressions of the smallest size that fits collected before the shortest texts are chosen.
MAX_FOUND = 32
_MAX_LEN = 2000
_MAX_ITEMS = 5000
_MAX_INT = 10 ** 18


class _TooBig(Exception):
    pass


def _bounded(value):
    """``value`` if small enough to keep (numbers up to 10**18, at most :data:`_MAX_ITEMS` items
    and characters in all, nested included), else :class:`_TooBig`."""
    left = [_MAX_ITEMS]

    def check(v, depth: int) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, int):
            if abs(v) > _MAX_INT:
                raise _TooBig
        elif isinstance(v, float):
            if math.isnan(v) or math.isinf(v):
                raise _TooBig
        elif isinstance(v, str):
            left[0] -= len(v)
        elif isinstance(v, (list, tuple, set, frozenset, dict)) and depth < 8:
            left[0] -= len(v)
            if left[0] < 0:
                raise _TooBig
            for item in (v.items() if isinstance(v, dict) else v):
                check(item, depth + 1)
        else:
            raise _TooBig
        if left[0] < 0:
            raise _TooBig

    check(value, 0)
    return value


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _mul(a, b):
    if _is_num(a) and _is_num(b):
        return a * b
    if (isinstance(a, (str, list, tuple)) and isinstance(b, int) and not isinstance(b, bool)
            and 0 <= b * len(a) <= _MAX_LEN):
        return a * b
    raise TypeError


def _mod(a, b):
    if isinstance(a, (str, bytes)):  # printf-style formatting could build anything
        raise TypeError
    return a % b


def _pow(a, b):
    if _is_num(a) and isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 8 and abs(a) < 10 ** 6:
        return a ** b
    raise TypeError


_UNARY: dict[str, Callable] = {
    "len({})": len, "sum({})": sum, "max({})": max, "min({})": min, "sorted({})": sorted,
    "sorted({}, reverse=True)": lambda v: sorted(v, reverse=True), "set({})": set, "list({})": list,
    "tuple({})": tuple, "abs({})": abs, "str({})": str, "int({})": int, "float({})": float,
    "any({})": any, "all({})": all, "list(reversed({}))": lambda v: list(reversed(v)),
    "{}[::-1]": lambda v: v[::-1], "not {}": lambda v: not v, "-{}": lambda v: -v if _is_num(v) else _raise(),
    "{}.upper()": str.upper, "{}.lower()": str.lower, "{}.strip()": str.strip, "{}.split()": str.split,
    "{}.split(',')": lambda v: v.split(","), "{}.split(', ')": lambda v: v.split(", "),
    "{}.title()": str.title, "{}.swapcase()": str.swapcase, "dict({})": dict,
    "range({})": lambda v: list(range(v)) if isinstance(v, int) and 0 <= v <= _MAX_LEN else _raise(),
}
_BINARY: dict[str, Callable] = {
    "{} + {}": lambda a, b: a + b, "{} - {}": lambda a, b: a - b, "{} * {}": _mul, "{} ** {}": _pow,
    "{} // {}": lambda a, b: a // b, "{} % {}": _mod,
    "{} / {}": lambda a, b: a / b,
    "{} == {}": lambda a, b: a == b, "{} != {}": lambda a, b: a != b, "{} < {}": lambda a, b: a < b,
    "{} <= {}": lambda a, b: a <= b, "{} > {}": lambda a, b: a > b, "{} >= {}": lambda a, b: a >= b,
    "{} in {}": lambda a, b: a in b, "{} not in {}": lambda a, b: a not in b,
    "{}[{}]": lambda a, b: a[b] if not isinstance(b, (bool, float)) else _raise(),
    "{}[:{}]": lambda a, b: a[:b] if isinstance(b, int) and not isinstance(b, bool) else _raise(),
    "{}[{}:]": lambda a, b: a[b:] if isinstance(b, int) and not isinstance(b, bool) else _raise(),
    "{}.join({})": lambda a, b: a.join(b) if len(a) * len(b) <= _MAX_LEN else _raise(),
    "{}.count({})": lambda a, b: a.count(b),
    "{}.split({})": lambda a, b: a.split(b), "{}.index({})": lambda a, b: a.index(b),
    "{}.startswith({})": lambda a, b: a.startswith(b), "{}.endswith({})": lambda a, b: a.endswith(b),
    "round({}, {})": lambda a, b: round(a, b) if isinstance(b, int) and 0 <= b <= 10 else _raise(),
    "max({}, {})": max, "min({}, {})": min, "({}, {})": lambda a, b: (a, b),
}
#: Element expressions of a comprehension over ``e`` (``p`` stands for a parameter).
_BODIES = ("{e}", "len({e})", "{e}[{p}]", "sum({e})", "max({e})", "min({e})", "sorted({e})", "str({e})",
           "int({e})", "{e}[0]", "{e}[1]", "{e}[-1]", "{e} * {e}", "{e} ** 2", "{e} * {p}", "{e} + {p}",
           "abs({e})", "{e}[::-1]", "{e}.upper()", "{e}.lower()", "list({e})", "tuple({e})", "{{}}",
           "({e}, {p})", "{e} % {p}", "{e} // {p}", "{e} / {p}", "{e} ** {p}", "{e}.count({p})")
_CONDITIONS = ("{e} != 0", "{e} > 0", "{e} < 0", "{e} % 2 == 0", "{e} % 2 == 1", "{e} != {p}", "{e} == {p}",
               "{e} > {p}", "{e} < {p}", "{e} >= {p}", "{e} <= {p}", "{e} in {p}", "{e} not in {p}",
               "{e} % {p} == 0", "len({e}) == {p}", "len({e}) > {p}", "{e}.isupper()", "{e}.islower()",
               "{e}.isdigit()", "{e}.isalpha()", "{e} is not None", "{e}")
#: Element expressions of a comprehension over pairs ``a, b`` (``for a, b in zip(xs, ys)`` or over a
#: sequence of pairs).
_PAIR_BODIES = ("a + b", "a - b", "a * b", "a / b", "a // b", "a % b", "a ** b", "a == b", "a != b", "a < b",
                "a > b", "max(a, b)", "min(a, b)", "(b, a)", "[a, b]", "(a, max(b))", "(a, min(b))", "(a, sum(b))",
                "(a, len(b))", "(a, sorted(b))", "a", "b")
_SAFE = {"_mul": _mul, "_pow": _pow, "_mod": _mod, "len": len, "sum": sum, "max": max, "min": min,
         "sorted": sorted, "str": str, "int": int, "abs": abs, "list": list, "tuple": tuple, "None": None}
_CONSTANTS = (0, 1, 2, -1, "", " ", ",", ", ", "-", ".")


def _raise():
    raise TypeError


def examples_of(name: str, test_sources) -> list[tuple[tuple, object]]:
    """``(arguments, expected result)`` of each ``assert name(...) == literal`` (either order),
    ``assert name(...)`` (True) and ``assert not name(...)`` (False) in ``test_sources`` whose
    arguments are literals (``candidate`` also stands for ``name``, as in HumanEval checks)."""
    found = []
    for tree in parsed_sources(test_sources):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assert):
                continue
            test, pairs = node.test, []
            if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
                pairs = [(test.left, test.comparators[0]), (test.comparators[0], test.left)]
            elif isinstance(test, ast.Call):
                pairs = [(test, ast.Constant(True))]
            elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Call):
                pairs = [(test.operand, ast.Constant(False))]
            for call, other in pairs:
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                        and call.func.id in (name, "candidate") and not call.keywords):
                    continue
                try:
                    args = tuple(ast.literal_eval(a) for a in call.args)
                    expected = ast.literal_eval(other)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
                found.append((args, expected))
                break
    return found


def _key(values: tuple) -> str:
    return repr([(type(v).__name__, v) for v in values])


def _apply(fn: Callable, *columns) -> tuple | None:
    """``fn`` on each example's values; None when it fails or builds too much anywhere."""
    try:
        return tuple(_bounded(fn(*vals)) for vals in zip(*columns))
    except (_TooBig, Exception):  # noqa: BLE001 - a type error or the like: no such expression
        return None


class _Guarded(ast.NodeTransformer):
    """``a * b``, ``a ** b`` and ``a % b`` as calls of the bounded :func:`_mul`, :func:`_pow`
    and :func:`_mod`."""

    _CALLS = {ast.Mult: "_mul", ast.Pow: "_pow", ast.Mod: "_mod"}

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        name = self._CALLS.get(type(node.op))
        if name is None:
            return node
        return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=[node.left, node.right], keywords=[])


@functools.lru_cache(maxsize=None)
def _lambda(args: str, text: str) -> Callable | None:
    """``lambda <args>: <text>`` with ``*``, ``**`` and ``%`` bounded (:class:`_Guarded`)."""
    tree = _Guarded().visit(ast.parse(f"lambda {args}: {text}", mode="eval"))
    try:
        code = compile(ast.fix_missing_locations(tree), "<synthesis>", "eval")
    except SyntaxError:
        return None
    return eval(code, {"__builtins__": _SAFE})  # our own template text; the values are literals


def _element_fn(template: str) -> Callable | None:
    """``lambda e, p: <template>``: the element expression with ``p`` for the parameter's value."""
    return _lambda("e, p", template.format(e="e", p="p"))


def _is_pairs(values: tuple) -> bool:
    """Whether every value is a sequence of two-item lists or tuples (what ``for a, b in`` unpacks)."""
    return all(isinstance(v, (list, tuple)) and v and all(isinstance(x, (list, tuple)) and len(x) == 2 for x in v)
               for v in values) and any(values)


def _pair_comprehensions(text: str) -> Iterator[tuple[str, Callable]]:
    """``(text, function of the pairs)`` for ``[body(a, b) for a, b in <text>]``."""
    for body in _PAIR_BODIES:
        fn = _lambda("a, b", body)
        yield f"[{body} for a, b in {text}]", lambda s, fn=fn: [fn(a, b) for a, b in s]


def _comprehensions(text: str, params: dict[str, tuple]) -> Iterator[tuple[str, Callable]]:
    """``(text, function of the iterable's value and the example index)`` for the
    comprehensions over the expression ``text``."""
    plain = [None] + list(params)
    for templates, filtered in ((_BODIES, False), (_CONDITIONS, True)):
        for template in templates:
            for p in (plain[1:] if "{p}" in template else [None]):
                fn = _element_fn(template)
                if fn is None:
                    continue
                inner = template.format(e="e", p=p or "")
                if filtered:
                    yield (f"[e for e in {text} if {inner}]",
                           lambda s, i, fn=fn, p=p: [e for e in s if fn(e, params[p][i] if p else None)])
                else:
                    yield (f"[{inner} for e in {text}]",
                           lambda s, i, fn=fn, p=p: [fn(e, params[p][i] if p else None) for e in s])
    yield (f"[y for x in {text} for y in x]", lambda s, i: [y for x in s for y in x])


#: Value expressions of a dict comprehension ``{k: body(v) for k, v in d.items()}``.
_DICT_BODIES = ("sorted(v)", "len(v)", "sum(v)", "max(v)", "min(v)", "list(v)", "set(v)", "sorted(v, reverse=True)")


def _dict_comprehensions(text: str, params: dict[str, tuple]) -> Iterator[tuple[str, Callable]]:
    """``(text, function of the dict and the example index)`` for the dict comprehensions over
    the items of the dict-valued expression ``text``: a function of each value, or the items whose
    value meets a condition of :data:`_CONDITIONS`."""
    for body in _DICT_BODIES:
        fn = _lambda("v", body)
        yield (f"{{k: {body} for k, v in {text}.items()}}",
               lambda d, i, fn=fn: {k: fn(v) for k, v in d.items()})
    for template in _CONDITIONS:
        for p in (list(params) if "{p}" in template else [None]):
            fn = _element_fn(template)
            if fn is not None:
                yield (f"{{k: v for k, v in {text}.items() if {template.format(e='v', p=p or '')}}}",
                       lambda d, i, fn=fn, p=p: {k: v for k, v in d.items() if fn(v, params[p][i] if p else None)})


def _atomic(template: str) -> bool:
    """Whether an expression made by ``template`` needs no parentheses inside another."""
    return not (template.startswith(("{} ", "not ", "-")))


class _Divisible(ast.NodeTransformer):
    """``not (a % b)`` as ``a % b == 0`` (the same truth value: ``%`` here is arithmetic)."""

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and isinstance(node.operand, ast.BinOp) and isinstance(node.operand.op, ast.Mod):
            return ast.Compare(left=node.operand, ops=[ast.Eq()], comparators=[ast.Constant(0)])
        return node


def _natural(text: str) -> str:
    """``text`` as a person would write it (:class:`_Divisible`)."""
    tree = _Divisible().visit(ast.parse(text, mode="eval"))
    return ast.unparse(ast.fix_missing_locations(tree))


def _bare_len(text: str) -> int:
    """Length of ``text`` without parentheses (``(n % 2) == 0`` is as long as ``n % 2 == 0``)."""
    return len(text) - text.count("(") - text.count(")")


def _plainness(text: str, params) -> tuple[int, int, int, int]:
    """Sort key among expressions of one size: fewer comprehensions, fewer constants, more
    distinct parameters read (an atom ``xs[i - 1]`` counts as one parameter), shorter text
    (``left == total`` before ``2 < i``)."""
    atoms = sorted((p for p in params if not p.isidentifier()), key=len, reverse=True)  # xs[i - 1]
    plain = text
    for k, atom in enumerate(atoms):
        plain = plain.replace(atom, f"_atom{k}")
    nodes = list(ast.walk(ast.parse(plain, mode="eval")))
    read = {n.id for n in nodes if isinstance(n, ast.Name)} & ({p for p in params if p.isidentifier()}
                                                               | {f"_atom{k}" for k in range(len(atoms))})
    return (sum(isinstance(n, ast.comprehension) for n in nodes), sum(isinstance(n, ast.Constant) for n in nodes),
            -len(read), len(ast.unparse(ast.parse(text, mode="eval"))))


def synthesise(params: list[str], examples: list[tuple[tuple, object]], goal: Callable[[object, object], bool],
               *, time_limit: float = TIME_LIMIT, accept: Callable[[tuple], bool] | None = None) -> list[str]:
    """Expressions of ``params`` whose value ``v`` on every example ``(args, expected)``
    satisfies ``goal(v, expected)`` (or, with ``accept``, whose tuple of values on all the
    examples ``accept`` takes), smallest first (then by :func:`_plainness`), at most
    :data:`MAX_SOLUTIONS`; each reads
    at least one parameter. Sizes: a parameter or constant is 1, an operation adds 1 to its
    operands, a comprehension adds 1 to its iterable. Of expressions with the same values and
    size, the one with the shortest text is kept, or of those that fit, the plainest
    (:func:`_plainness`: ``left == total`` rather than ``2 < i``, true at the same places). Deterministic within :data:`MAX_WORK`
    computed values (one expression on one example each). Empty when there are no examples, arguments do not match ``params``, or
    nothing is found within :data:`MAX_WORK` values (or ``time_limit`` seconds) and
    :data:`MAX_SIZE`."""
    examples = [(args, exp) for args, exp in examples if len(args) == len(params)]
    if not examples or not params:
        return []
    deadline = time.monotonic() + time_limit
    columns = {p: tuple(args[i] for args, _ in examples) for i, p in enumerate(params)}
    expected = [exp for _, exp in examples]
    seen: dict[str, tuple[int, int]] = {}  # values -> (size, index) of the expression kept for them
    # size -> [(text, text to nest, values, reads a parameter)]
    by_size: dict[int, list[tuple[str, str, tuple, bool]]] = {s: [] for s in range(1, MAX_SIZE + 1)}
    solutions: list[str] = []

    class Done(Exception):
        pass

    work = [0]

    comprehensions = {s: 0 for s in by_size}

    def add(size: int, text: str, atomic: bool, values: tuple | None, reads: bool, comp: bool = False) -> None:
        work[0] += len(expected)
        if work[0] > MAX_WORK or time.monotonic() > deadline:
            raise Done
        if values is None or len(by_size[size]) >= MAX_TERMS_PER_SIZE:
            return
        if comp:  # comprehensions come first in a size: they may fill half of it
            if comprehensions[size] >= MAX_TERMS_PER_SIZE // 2:
                return
            comprehensions[size] += 1
        key = _key(values)
        if key in seen:
            at, index = seen[key]
            old = by_size[at][index]
            if at == size and reads == old[3] and (
                    _plainness(text, params) < _plainness(old[0], params) if old[0] in solutions
                    else _bare_len(text) < _bare_len(old[0])):  # same size: the plainer fit, else shorter
                by_size[at][index] = (text, text if atomic else f"({text})", values, reads)
                solutions[:] = [text if found == old[0] else found for found in solutions]
            return
        seen[key] = (size, len(by_size[size]))
        by_size[size].append((text, text if atomic else f"({text})", values, reads))
        if reads and not any(found in text for found in solutions):  # not float(a) after a
            try:
                if accept(values) if accept is not None else all(goal(v, e) for v, e in zip(values, expected)):
                    solutions.append(text)
            except Exception:  # noqa: BLE001 - a comparison that fails is no solution
                return
            if len(solutions) >= MAX_FOUND:
                raise Done

    try:
        for p, col in columns.items():
            add(1, p, True, col, True)
        for c in _CONSTANTS:
            add(1, repr(c), not (_is_num(c) and c < 0), tuple(c for _ in examples), False)
        for size in range(2, MAX_SIZE + 1):
            if solutions:  # the smallest expressions that fit; larger ones fit by accident more often
                break
            for text, nested, values, reads in list(by_size[size - 1]) if size <= MAX_ITERABLE_SIZE + 1 else ():
                if reads and all(isinstance(v, (list, tuple, str, set, dict)) for v in values):
                    for comp, fn in _comprehensions(nested, columns):
                        add(size, comp, True, _apply(lambda s, i, fn=fn: fn(s, i), values, range(len(values))), True, True)
                    if _is_pairs(values):
                        for comp, fn in _pair_comprehensions(nested):
                            add(size, comp, True, _apply(fn, values), True, True)
                    if all(isinstance(v, dict) for v in values):
                        for comp, fn in _dict_comprehensions(nested, columns):
                            add(size, comp, True, _apply(lambda d, i, fn=fn: fn(d, i), values, range(len(values))), True, True)
            if size == 4:  # max(a, b, c): nested twice it is too large to be found in time
                atoms = [(t, v) for t, _, v, r in by_size[1] if r]
                for (at, av), (bt, bv), (ct, cv) in ((x, y, z) for i, x in enumerate(atoms) for j, y in enumerate(atoms)
                                                     for z in atoms[j + 1:] if i < j):
                    for fn in ("max", "min"):
                        add(size, f"{fn}({at}, {bt}, {ct})", True, _apply(getattr(builtins, fn), av, bv, cv), True)
            if size == 3:  # [a op b for a, b in zip(xs, ys)]
                for lt, ln, lv, lr in list(by_size[1]):
                    for rt, rn, rv, rr in list(by_size[1]):
                        if lr and rr and lt != rt and all(isinstance(v, (list, tuple, str)) for v in lv + rv):
                            pairs = tuple(list(zip(x, y)) for x, y in zip(lv, rv))
                            for comp, fn in _pair_comprehensions(f"zip({ln}, {rn})"):
                                add(size, comp, True, _apply(fn, pairs), True, True)
            for text, nested, values, reads in list(by_size[size - 1]):
                for template, fn in _UNARY.items():
                    add(size, template.format(nested), _atomic(template), _apply(fn, values), reads)
            for left in range(1, size - 1):
                right = size - 1 - left
                for template, fn in _BINARY.items():
                    atomic = _atomic(template)
                    for lt, ln, lv, lr in list(by_size[left]):
                        for rt, rn, rv, rr in list(by_size[right]):
                            if lr or rr:
                                add(size, template.format(ln, rn), atomic, _apply(fn, lv, rv), True)
    except Done:
        pass
    ordered = sorted(solutions, key=lambda t: _plainness(t, params))  # stable: the order found breaks ties
    return list(dict.fromkeys(_natural(t) for t in ordered))[:MAX_SOLUTIONS]


#: Wrappers of the forgotten name in ``return wrapper(name)`` that the goal can undo.
_WRAPPERS = {"list": list, "tuple": tuple, "set": set, "str": str, "int": int, "float": float, "len": len,
             "sum": sum, "sorted": sorted, "max": max, "min": min, "bool": bool, "abs": abs}
#: Examples a synthesis needs: one example fits too many expressions (with one visible test,
#: 4 of the 6 repairs it added on MBPP's test split were wrong on the other tests).
MIN_EXAMPLES = 2
#: Weight of the first synthesised expression (the next ones weigh less, in turn).
SYNTHESIS_WEIGHT = 4.0


def exactly(value, expected) -> bool:
    """``value == expected``, with the kinds a natural program would return: a ``bool`` for a
    ``bool``, an ``int`` (not ``123.0``) for an ``int``, the same sequence type, item by item."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return type(value) is type(expected) and value == expected
    if isinstance(expected, int) and isinstance(value, float):
        return False
    if isinstance(expected, (list, tuple)) and isinstance(value, (list, tuple)):
        return (type(value) is type(expected) and len(value) == len(expected)
                and all(exactly(v, e) for v, e in zip(value, expected)))
    return value == expected


def _goal(ret: ast.expr | None, name: str) -> Callable[[object, object], bool] | None:
    """How a value of ``name`` is judged against a test's expected result, when the function
    ends in ``return name`` or ``return wrapper(name)``; None for any other return. Without a
    return (``ret`` None) the value is the result itself."""
    if ret is None or isinstance(ret, ast.Name) and ret.id == name:
        return exactly
    if (isinstance(ret, ast.Call) and isinstance(ret.func, ast.Name) and ret.func.id in _WRAPPERS
            and len(ret.args) == 1 and not ret.keywords and isinstance(ret.args[0], ast.Name)
            and ret.args[0].id == name):
        wrap = _WRAPPERS[ret.func.id]
        return lambda v, e: exactly(wrap(v), e)
    return None


_CACHE: dict[tuple, tuple[str, ...]] = {}
#: Syntheses remembered at most (the cache is emptied when it grows past this).
CACHE_SIZE = 256


def remembered(key: tuple, compute: Callable[[], list[str]]) -> tuple[str, ...]:
    """``compute()``'s expressions, remembered under ``key`` (a search asks again for every
    state it expands, with the same function and examples)."""
    if key not in _CACHE:
        if len(_CACHE) > CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = tuple(compute())
    return _CACHE[key]


def solutions(params: tuple[str, ...], examples: list, ret: ast.expr | None, name: str) -> tuple[str, ...]:
    """:func:`synthesise`'s expressions for ``name`` over ``params`` from ``examples``
    (``ret``: the ``return`` expression that reads ``name``, or None), :func:`remembered`."""
    key = (params, repr(examples), ast.dump(ret) if ret is not None else None, name)
    return remembered(key, lambda: synthesise(list(params), examples, _goal(ret, name)))


def _own_name(func: ast.FunctionDef) -> tuple[str, ...]:
    """``(func.name,)`` when ``func`` ends in ``return <its own name>`` (or a wrapper of it) and
    never binds or calls that name: the function returns itself, and the name stands for a
    forgotten result of the same name (``count = ...`` deleted in ``def count``)."""
    last = func.body[-1] if func.body else None
    if not (isinstance(last, ast.Return) and last.value is not None):
        return ()
    if not any(isinstance(n, ast.Name) and n.id == func.name for n in ast.walk(last.value)):
        return ()
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and node.id == func.name and isinstance(node.ctx, ast.Store):
            return ()
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == func.name:
            return ()
    return (func.name,)


def probe_of(func: ast.FunctionDef, probes, kind: str) -> tuple | None:
    """The probe of ``kind`` at ``func`` among ``probes`` with at least :data:`MIN_EXAMPLES`."""
    for probe in probes:
        if probe[0].func == func.name and probe[0].kind == kind and len(probe[2]) >= MIN_EXAMPLES:
            return probe
    return None


def synthesis_alternatives(path: tuple, func: ast.FunctionDef, unbound, test_sources, probes=()) -> Iterator[tuple]:
    """``(family, site key, block path, op, statement, weight)``: ``name = <expression>`` before
    the ``return`` of a function whose whole body is ``return name`` (or ``return
    wrapper(name)``) for a name of ``unbound`` (reported unbound by the tests), with the
    expressions :func:`synthesise` finds from the tests' examples of ``func`` (at least
    :data:`MIN_EXAMPLES` of them). With a value probe among ``probes`` (``(ProbeSite, names,
    examples)`` of :func:`kelp.repair.probe.probe_locals`) for this function, the same before a final ``return``
    that follows other statements, over the locals observed there; or, where the function has
    no ``return``, ``return <expression>`` at its end (family ``missing_return``)."""
    body = [s for s in func.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not body:
        return
    args = func.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        return
    probe = probe_of(func, probes, "value")
    probed = probe is not None
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        params, examples = tuple(a.arg for a in args.args), None
    elif probed and isinstance(body[-1], ast.Return) and body[-1].value is not None:
        params, examples = probe[1], list(probe[2])
    elif probed and not any(isinstance(n, ast.Return) for n in ast.walk(func)):
        for rank, text in enumerate(solutions(probe[1], list(probe[2]), None, "")):
            stmt = ast.Return(value=ast.parse(text, mode="eval").body, lineno=0)
            yield ("missing_return", ("synthesis", path, "", rank), path + ("body",), f"insert:{len(func.body)}",
                   stmt, SYNTHESIS_WEIGHT / (rank + 1))
        return
    else:
        return
    ret = body[-1]
    names = {n.id for n in ast.walk(ret) if isinstance(n, ast.Name)}
    for name in tuple(unbound) + _own_name(func):
        if name not in names or name in params or _goal(ret.value, name) is None:
            continue
        if examples is None:
            examples = examples_of(func.name, test_sources)
        if len(examples) < MIN_EXAMPLES:
            return
        index = func.body.index(ret)
        for rank, text in enumerate(solutions(params, examples, ret.value, name)):
            stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=ast.parse(text, mode="eval").body,
                              lineno=0)
            yield ("insert_statement", ("synthesis", path, name, rank), path + ("body",), f"insert:{index}", stmt,
                   SYNTHESIS_WEIGHT / (rank + 1))
