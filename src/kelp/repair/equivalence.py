"""Candidates the first failing test cannot tell from the buggy program: value-based test equivalence.

Two programs that differ in one expression are *test-equivalent* on a test when the expression
takes the same value in both at every evaluation the test makes: from there on both compute
the same (Mechtaev, Gao, Tan & Roychoudhury 2018, "Test-equivalence analysis for automatic
patch generation", TOSEM 27(4); the same idea as weak mutation, Howden 1982, and as the
infected-state partitioning of Just, Ernst & Fraser 2014). A statement that the test never
reaches can be deleted or edited, and a statement inserted where the test never goes, without
changing the test; a guard ``if c: ...`` inserted where ``c`` is false at every reach changes
nothing either.

The search's first candidates are one-edit changes of the buggy program, tried on its first
failing test first (they stop at their first failure), and a candidate test-equivalent to the
program on that test fails it exactly as the program does: it is neither a repair nor progress.
:func:`profile_edits` instruments the program once for many such edits and runs it on that test:

- an edit of an expression is judged at the *site*, the largest side-effect-free expression
  around it within its statement (names, constants, operators, subscripts, attribute reads and
  calls of builtins and methods that do not mutate: :func:`pure`). At every evaluation the
  site's alternatives (the site with each edit made) are evaluated first, in the same
  environment, then the site itself; an alternative that raises, or whose value differs from the
  site's (another type; another value; a mutable value unless both sides build a fresh one of
  plain elements), tells the edit apart. A site that raised is unknown.
- a deleted, replaced or inserted statement is judged by whether the test reached its place;
  an inserted ``if c:`` without ``else`` (an early return, a guard) and a statement wrapped in
  ``if c:`` by the truth of ``c`` there, when ``c`` is side-effect free.

Edits of other kinds (and of expressions the test never evaluated beyond a side-effect-free
site) are not judged: :meth:`EquivalenceProfile.unchanged` answers ``False`` for them, and the
search runs them as before.
"""

from __future__ import annotations

import ast
import copy
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kelp.program.diff import Edit
from kelp.program.fragment import parse_fragment
from kelp.program.tree import PathError, ProgramSyntaxError, iter_nodes

if TYPE_CHECKING:
    from kelp.execute.sandbox import Sandbox
    from kelp.execute.suites import TestSuite

#: Marker of the profile in the instrumented test's error message.
MARK = "kelp-equivalence:"
#: Builtins whose calls neither mutate their arguments nor have other effects.
PURE_BUILTINS = frozenset({
    "abs", "all", "any", "ascii", "bin", "bool", "chr", "divmod", "float", "hex", "int", "isinstance",
    "len", "list", "max", "min", "oct", "ord", "pow", "range", "repr", "round", "set", "sorted", "str",
    "sum", "tuple", "frozenset", "dict", "type",
})
#: Method names that read their receiver and change nothing (of ``str``, ``list``, ``dict``, ...).
PURE_METHODS = frozenset({
    "count", "index", "find", "rfind", "startswith", "endswith", "isdigit", "isalpha", "isalnum",
    "isspace", "isupper", "islower", "isnumeric", "isdecimal", "istitle", "lower", "upper", "strip",
    "lstrip", "rstrip", "split", "rsplit", "join", "replace", "get", "keys", "values", "items",
    "title", "capitalize", "swapcase", "zfill", "format", "casefold", "partition", "rpartition",
    "sqrt", "floor", "ceil", "log", "log2", "log10", "gcd", "factorial", "isqrt", "fabs", "exp", "comb",
})
_PURE_NODES = (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
               ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Attribute, ast.Call,
               ast.keyword, ast.JoinedStr, ast.FormattedValue, ast.expr_context, ast.operator, ast.cmpop,
               ast.boolop, ast.unaryop)
#: Expressions that build a new object each time (a mutable value of theirs aliases nothing).
_FRESH = (ast.List, ast.Set, ast.Dict, ast.BinOp)
_FRESH_CALLS = frozenset({"sorted", "list", "set", "dict", "tuple", "frozenset"})
_LINE = re.compile(r" \(line \d+\)$")  # where the sandbox says the error was raised
#: Characters of the failing test's message that the instrumented run must reproduce.
MESSAGE_PREFIX = 120
#: Errors whose place depends on the depth of the stack or on memory, which the instrumentation
#: changes: no profile ends in them.
_UNSTABLE = frozenset({"RecursionError", "MemoryError"})
_ITERATORS = frozenset({"map", "filter", "zip", "iter", "reversed", "enumerate"})
#: Most edits judged by one run (the first given).
MAX_EDITS = 400

# The recorder, defined before the program's own code; builtins are bound as defaults, so a
# program that rebinds ``type`` or ``len`` does not change it. ``__kelp_alts__`` evaluates a
# site's alternatives (those not yet told apart) before the site; ``__kelp_site__`` compares
# them with the site's value; ``__kelp_point__`` records a reached place and the truth of the
# conditions judged there.
_RECORDER = '''
__kelp_eq__ = ({}, set(), set(), set())
def __kelp_same__(a, b, fresh, _type=type, _repr=repr, _len=len, _zip=zip, _all=all,
                  _plain=(int, str, bool, bytes, range, type(None))):
    t = _type(a)
    if t is not _type(b):
        return False
    if t in _plain:
        return a == b
    if t is float:
        return a == b and _repr(a) == _repr(b)
    if t is tuple:
        return _len(a) == _len(b) and _all(__kelp_same__(x, y, False) for x, y in _zip(a, b))
    if fresh and t is list:
        return _len(a) == _len(b) and _all(__kelp_same__(x, y, False) for x, y in _zip(a, b))
    if fresh and t in (set, frozenset, dict):
        return a == b and _all(_type(x) in _plain for x in a) and (
            t is not dict or _all(_type(x) in _plain for x in a.values()))
    return False
def __kelp_alts__(k, fresh, alts, _s=__kelp_eq__, _enumerate=enumerate, _Exception=Exception):
    told = _s[1]
    out = []
    for j, f in _enumerate(alts):
        if (k, j) in told:
            out.append(None)
            continue
        try:
            out.append((f(),))
        except _Exception:
            told.add((k, j))
            out.append(None)
    _s[0][k] = _s[0].get(k, 0) + 1
    return k, fresh, out
def __kelp_site__(token, value, _s=__kelp_eq__, _enumerate=enumerate, _Exception=Exception):
    k, fresh, out = token
    _s[0][k] -= 1
    for j, r in _enumerate(out):
        try:
            same = r is None or __kelp_same__(value, r[0], fresh)
        except _Exception:
            same = False
        if not same:
            _s[1].add((k, j))
    return value
def __kelp_point__(k, conds, wanted, _s=__kelp_eq__, _bool=bool, _enumerate=enumerate, _Exception=Exception):
    _s[2].add(k)
    for j, f in _enumerate(conds):
        if (k, j) in _s[3]:
            continue
        try:
            if _bool(f()) != wanted[j]:
                _s[3].add((k, j))
        except _Exception:
            _s[3].add((k, j))
def __kelp_report__(exc, _s=__kelp_eq__, _type=type, _enumerate=enumerate, _format=format):
    name = "" if exc is None else _type(exc).__name__
    pending = {k for k, n in _s[0].items() if n}
    bits = 0
    for g, (kind, k, j) in _enumerate(__kelp_layout__):
        if kind == 0:
            same = k not in pending and (k, j) not in _s[1]
        elif kind == 1:
            same = k not in _s[2]
        else:
            same = (k, j) not in _s[3]
        if same:
            bits |= 1 << g
    return _format(bits, "x") + "|" + name
'''


@dataclass(frozen=True)
class EquivalenceProfile:
    """What the instrumented run of one test showed: ``judged``, the edits it could judge;
    ``same``, those of them the test cannot tell from the profiled program."""

    judged: frozenset
    same: frozenset

    def unchanged(self, edit: Edit) -> bool:
        """Whether the program with ``edit`` made behaves on the profiled test exactly as the
        profiled program (``False`` when the edit was not judged)."""
        return edit in self.same


def pure(node: ast.AST, shadowed: frozenset = frozenset(), subscripts: bool = True,
         iterators: frozenset = frozenset()) -> bool:
    """Whether evaluating expression ``node`` changes nothing: only names, constants, operators,
    subscripts (not when ``subscripts`` is False: a ``defaultdict`` inserts on reads), attribute
    reads, and calls of :data:`PURE_BUILTINS` (not rebound by the program: ``shadowed``) and of
    :data:`PURE_METHODS`. Nothing that binds, yields, awaits or opens a scope, and no read of a
    name in ``iterators`` (one-shot iterators: ``sum(it)`` consumes what the program reads next)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Name):
                if func.id not in PURE_BUILTINS or func.id in shadowed:
                    return False
            elif not (isinstance(func, ast.Attribute) and func.attr in PURE_METHODS):
                return False
        elif isinstance(sub, ast.Name) and (not isinstance(sub.ctx, ast.Load) or sub.id in iterators):
            return False
        elif isinstance(sub, ast.Subscript) and not subscripts:
            return False
        elif not isinstance(sub, _PURE_NODES):
            return False
    return True


def _parent(path: tuple) -> tuple | None:
    """The path of the node that holds the node at ``path`` (None for the module)."""
    if not path:
        return None
    return path[:-2] if isinstance(path[-1], int) else path[:-1]


def _wrappable(node: ast.AST, parent: ast.AST | None) -> bool:
    """Whether ``node`` can be replaced by a call returning its value."""
    if not isinstance(node, ast.expr) or isinstance(node, (ast.Slice, ast.Starred)):
        return False
    if not isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
        return False
    return not isinstance(parent, (ast.JoinedStr, ast.FormattedValue, ast.pattern))


def _fresh(node: ast.AST) -> bool:
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in _FRESH_CALLS
    return isinstance(node, _FRESH) or isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)


class _Plan:
    """The sites, places and conditions of one instrumentation, and the check of each edit."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.nodes = dict(iter_nodes(tree))
        self.shadowed = frozenset(_bound_names(tree)) & PURE_BUILTINS
        self.subscripts = not any(isinstance(n, (ast.Name, ast.Attribute)) and
                                  getattr(n, "id", getattr(n, "attr", None)) in ("defaultdict", "setdefault")
                                  for n in ast.walk(tree))
        self.sites: dict[tuple, tuple[int, list[str]]] = {}  # site path -> (k, alternative sources)
        self.places: dict[tuple, tuple[int, list[str], list[bool]]] = {}  # (list path, index) -> (p, conds, wanted)
        self.checks: dict[Edit, tuple] = {}
        self.preamble = _preamble_length(tree)
        self._purity: dict[int, bool] = {}
        self.iterators = _iterator_names(tree)

    def add(self, edit: Edit) -> None:
        """Plan the check of ``edit`` (nothing when it cannot be judged)."""
        try:
            if edit.op == "insert":
                self._insert(edit)
            elif edit.op == "delete":
                if self._same_scope(edit.path, self.nodes[edit.path], []):
                    self._at_statement(edit, edit.path)
            else:
                self._replace(edit)
        except (PathError, ProgramSyntaxError, SyntaxError, ValueError, TypeError, RecursionError, KeyError):
            return

    def _insert(self, edit: Edit) -> None:
        new = ast.parse(edit.new).body
        place = (edit.path, edit.index)
        if not self._same_scope(edit.path + (0,), None, new):
            return
        if len(new) == 1 and isinstance(new[0], ast.If) and not new[0].orelse and self._pure(new[0].test):
            self._condition(edit, place, ast.unparse(new[0].test), False)
        elif len(new) == 1:
            self._reach(edit, place)

    def _replace(self, edit: Edit) -> None:
        path = edit.path
        slot = self.nodes[path]
        if isinstance(slot, ast.stmt):
            new = ast.parse(edit.new).body
            if not self._same_scope(path, slot, new):
                return
            wrap = new[0] if len(new) == 1 else None
            if isinstance(wrap, ast.If) and not wrap.orelse and len(wrap.body) == 1 and \
                    ast.dump(wrap.body[0]) == ast.dump(slot) and self._pure(wrap.test):
                self._condition(edit, (path[:-1], path[-1]), ast.unparse(wrap.test), True)
            else:
                self._at_statement(edit, path)
            return
        start = path
        while not isinstance(self.nodes[start], (ast.expr, ast.stmt)):
            start = _parent(start)
        fragment = parse_fragment(edit.new, slot)
        if isinstance(self.nodes[start], ast.stmt):
            self._edited_statement(edit, path, fragment, start)
            return
        if not (self._pure(self.nodes[start]) and pure(fragment, self.shadowed, self.subscripts, self.iterators)):
            self._edited_statement(edit, path, fragment, self._statement_of(start))
            return
        chain = [start]
        while True:
            up = _parent(chain[-1])
            node = self.nodes.get(up)
            if not isinstance(node, ast.expr) or isinstance(node, (ast.Lambda, ast.NamedExpr)) \
                    or not self._pure(node):
                break
            chain.append(up)
        site = next((p for p in reversed(chain) if _wrappable(self.nodes[p], self.nodes.get(_parent(p)))), None)
        if site is None:
            self._edited_statement(edit, path, fragment, self._statement_of(start))
            return
        k, alternatives = self.sites.setdefault(site, (len(self.sites), []))
        self.checks[edit] = ("site", k, len(alternatives))
        alternatives.append(self._with(path, fragment, site))

    def _with(self, path: tuple, fragment: ast.AST, site: tuple) -> str:
        """The source of the node at ``site`` with the node at ``path`` (below it) replaced by
        ``fragment``."""
        if path == site:
            return ast.unparse(fragment)
        with self._swapped(path, fragment):
            return ast.unparse(self.nodes[site])

    @contextmanager
    def _swapped(self, path: tuple, fragment: ast.AST):
        """The tree with ``fragment`` in place of the node at ``path``, for the ``with`` block."""
        holder = self.nodes[_parent(path)]
        if isinstance(path[-1], int):
            items = getattr(holder, path[-2])
            old, items[path[-1]] = items[path[-1]], fragment
            try:
                yield
            finally:
                items[path[-1]] = old
        else:
            old = getattr(holder, path[-1])
            setattr(holder, path[-1], fragment)
            try:
                yield
            finally:
                setattr(holder, path[-1], old)

    def _edited_statement(self, edit: Edit, path: tuple, fragment: ast.AST, statement: tuple) -> None:
        """Judge ``edit`` (``fragment`` at ``path``, inside the statement at ``statement``) by
        whether the statement is reached, when the edit binds the same names."""
        before = _bindings([self.nodes[statement]])
        with self._swapped(path, fragment):
            after = _bindings([self.nodes[statement]])
        if before == after:
            self._at_statement(edit, statement)

    def _same_scope(self, path: tuple, old: ast.stmt | None, new: list) -> bool:
        """Whether putting the statements ``new`` in place of ``old`` (None: beside the statement
        at ``path``) leaves the names local to the enclosing function as they were: a name
        bound anywhere in a function is local everywhere in it, so a binding added or removed
        changes statements the test reaches (``NameError`` becomes ``UnboundLocalError``)."""
        if any(isinstance(n, (ast.Global, ast.Nonlocal)) for stmt in new for n in ast.walk(stmt)):
            return False
        scope = _parent(path)
        while scope is not None and not isinstance(self.nodes.get(scope), (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = _parent(scope)
        if scope is None:
            return True  # module level: globals are looked up when read
        function = self.nodes[scope]
        before = _bindings(function.body)
        kept = [stmt for stmt in function.body if stmt is not old] if old is not None else function.body
        return before == _bindings(kept, skip=old) | _bindings(new)

    def _statement_of(self, path: tuple) -> tuple:
        while not isinstance(self.nodes[path], ast.stmt):
            path = _parent(path)
        return path

    def _at_statement(self, edit: Edit, path: tuple) -> None:
        if path and isinstance(path[-1], int) and isinstance(self.nodes[path], ast.stmt):
            self._reach(edit, (path[:-1], path[-1]))

    def _reach(self, edit: Edit, place: tuple) -> None:
        if self._placeable(place):
            self.checks[edit] = ("reach", self._place(place)[0])

    def _condition(self, edit: Edit, place: tuple, source: str, wanted: bool) -> None:
        if self._placeable(place):
            p, conds, wants = self._place(place)
            self.checks[edit] = ("cond", p, len(conds))
            conds.append(source)
            wants.append(wanted)

    def _place(self, place: tuple) -> tuple:
        return self.places.setdefault(place, (len(self.places), [], []))

    def _placeable(self, place: tuple) -> bool:
        owner_path, index = place
        if not owner_path or owner_path[-1] not in ("body", "orelse", "finalbody"):
            return False
        owner = self.nodes.get(owner_path[:-1]) if len(owner_path) > 1 else self.tree
        statements = getattr(owner, owner_path[-1], None)
        if not isinstance(statements, list) or not 0 <= index <= len(statements):
            return False
        if owner is self.tree and index < self.preamble:
            return False  # before the docstring, future imports or the recorder
        return not isinstance(owner, ast.ClassDef)

    def _pure(self, node: ast.AST) -> bool:
        """:func:`pure` for a node of the tree (remembered)."""
        found = self._purity.get(id(node))
        if found is None:
            found = self._purity[id(node)] = pure(node, self.shadowed, self.subscripts, self.iterators)
        return found

    def instrumented(self) -> str:
        """The program with the recorder, every site wrapped and every place marked."""
        tree = copy.deepcopy(self.tree)
        copies = dict(iter_nodes(tree))
        wraps = {id(copies[path]): (k, alts, _fresh(self.nodes[path])) for path, (k, alts) in self.sites.items()}

        class _Wrap(ast.NodeTransformer):
            def visit(self, node):
                found = wraps.get(id(node))
                node = self.generic_visit(node)
                if found is None:
                    return node
                k, alts, fresh = found
                lambdas = [ast.Lambda(_NO_ARGS, ast.parse(a, mode="eval").body) for a in alts]
                token = ast.Call(ast.Name("__kelp_alts__", ast.Load()),
                                 [ast.Constant(k), ast.Constant(fresh), ast.Tuple(lambdas, ast.Load())], [])
                return ast.copy_location(ast.Call(ast.Name("__kelp_site__", ast.Load()), [token, node], []), node)

        tree = _Wrap().visit(tree)
        for (owner_path, index), (p, conds, wants) in sorted(self.places.items(), key=lambda kv: -kv[0][1]):
            owner = copies[owner_path[:-1]]
            lambdas = [ast.Lambda(_NO_ARGS, ast.parse(c, mode="eval").body) for c in conds]
            mark = ast.Expr(ast.Call(ast.Name("__kelp_point__", ast.Load()),
                                     [ast.Constant(p), ast.Tuple(lambdas, ast.Load()),
                                      ast.Tuple([ast.Constant(w) for w in wants], ast.Load())], []))
            getattr(owner, owner_path[-1]).insert(index, mark)
        kinds = {"site": 0, "reach": 1, "cond": 2}
        layout = tuple((kinds[c[0]], c[1], c[2] if len(c) > 2 else 0) for c in self.checks.values())
        tree.body[self.preamble:self.preamble] = ast.parse(f"__kelp_layout__ = {layout!r}\n" + _RECORDER).body
        return ast.unparse(tree)


_NO_ARGS = ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                         defaults=[])


def _iterator_names(tree: ast.Module) -> frozenset:
    """Names the program binds to one-shot iterators: a call of ``map``, ``filter``, ``zip``,
    ``iter``, ``reversed`` or ``enumerate``, or a generator expression."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and (
                isinstance(node.value, ast.GeneratorExp) or isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id in _ITERATORS):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name))
    return frozenset(names)


def _bindings(statements: list, skip: ast.AST | None = None) -> frozenset:
    """The names ``statements`` bind in their own scope (assignment, loop, ``with``, ``except``
    and import targets, walrus targets, names of nested functions and classes; not what nested
    scopes bind inside), leaving out the statement ``skip`` wherever it is nested."""
    names = set()
    stack = [s for s in statements if s is not skip]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            stack.extend(node.decorator_list)
            continue
        elif isinstance(node, ast.Lambda):
            continue
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        stack.extend(child for child in ast.iter_child_nodes(node) if child is not skip)
    return frozenset(names)


def _bound_names(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            yield node.id
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, ast.alias):
            yield (node.asname or node.name).split(".")[0]
        elif isinstance(node, ast.arg):
            yield node.arg


def _preamble_length(tree: ast.Module) -> int:
    """Statements that must stay first: the docstring and ``from __future__`` imports."""
    at = 0
    body = tree.body
    while at < len(body) and (isinstance(body[at], ast.ImportFrom) and body[at].module == "__future__"
                              or at == 0 and isinstance(body[at], ast.Expr)
                              and isinstance(body[at].value, ast.Constant)):
        at += 1
    return at


def _reporting_test(sources: list[str]) -> str:
    """The tests ``sources`` run one after the other (their asserts rewritten as the sandbox
    rewrites them, to report their values), made to end, however they end, by raising
    ``LookupError`` with the number of tests that completed, the report, the name of what was
    raised (empty when every test passed) and its message."""
    from kelp.execute._asserts import rewrite_asserts

    report = (f"raise LookupError({MARK!r} + str(__kelp_done__) + '|' + __kelp_report__({{0}}) + '|end|' + "
              "('' if {0} is None else str({0}))) from None")
    body = [ast.parse("__kelp_done__ = 0").body[0]]
    for n, source in enumerate(sources, 1):
        body += rewrite_asserts(source).body + ast.parse(f"__kelp_done__ = {n}").body
    wrapped = ast.Try(body=body, handlers=[ast.ExceptHandler(ast.Name("BaseException", ast.Load()), "__kelp_exc__",
                                                             ast.parse(report.format("__kelp_exc__")).body)],
                      orelse=ast.parse(report.format("None")).body, finalbody=[])
    return ast.unparse(ast.fix_missing_locations(ast.Module([wrapped], [])))


def plan(tree: ast.Module, edits) -> _Plan:
    """The instrumentation that judges ``edits`` (of ``tree``) on one run."""
    planned = _Plan(tree)
    for edit in edits:
        planned.add(edit)
    return planned


def profile_edits(tree: ast.Module, edits, suite: "TestSuite", behaviour: tuple,
                  sandbox: "Sandbox") -> EquivalenceProfile | None:
    """The equivalence profile of ``edits`` (edits of ``tree``; the first :data:`MAX_EDITS`) on
    the tests of ``behaviour`` (what ``tree``'s stop-at-first-failure run saw: ``(test id,
    status, error type, message)`` per test, every one passing but the last, which failed or
    raised): one sandbox run of the instrumented program on those tests, in one namespace as the
    tests of a run share it. ``None`` for pytest suites, when the last test did not fail or
    raise or raised :data:`_UNSTABLE` errors, when nothing could be judged, or when the instrumented run did not end as ``tree``'s
    did (an earlier test not passing, another exception, a timeout, a report cut short)."""
    if suite.kind == "pytest" or not behaviour or any(len(entry) != 4 for entry in behaviour):
        return None
    *passing, (last_id, status, error_type, message) = behaviour
    by_id = {t.id: t for t in suite.tests}
    tests = [by_id.get(entry[0]) for entry in behaviour]
    if status not in ("fail", "error") or error_type in _UNSTABLE or any(entry[1] != "pass" for entry in passing) or \
            any(t is None or not t.source for t in tests):
        return None
    try:
        planned = plan(tree, list(edits)[:MAX_EDITS])
        if not planned.checks:
            return None
        program = planned.instrumented()
        probe = replace(suite, tests=(replace(tests[-1], source=_reporting_test([t.source for t in tests])),))
    except (SyntaxError, ValueError, TypeError, RecursionError):
        return None
    run = sandbox.run(program, probe)
    outcome = run.outcomes[0] if run.status == "ok" and run.outcomes else None
    if outcome is None or not outcome.message or MARK not in outcome.message:
        return None
    fields = outcome.message.split(MARK, 1)[1].split("|", 4)
    if len(fields) < 5 or fields[3] != "end" or fields[0] != str(len(passing)) or fields[2] != (error_type or ""):
        return None  # cut short by the message cap, or the run ended otherwise than tree's
    said, expected = fields[4], _LINE.sub("", message or "")[:MESSAGE_PREFIX]
    if expected not in (said[:MESSAGE_PREFIX], (f"{error_type}: {said}" if said else error_type)[:MESSAGE_PREFIX]):
        return None  # the same exception with other values: the run went otherwise
    try:
        bits = int(fields[1], 16)
    except ValueError:
        return None
    order = list(planned.checks)
    return EquivalenceProfile(frozenset(order), frozenset(e for g, e in enumerate(order) if bits >> g & 1))
