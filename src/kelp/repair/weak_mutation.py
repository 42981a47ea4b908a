"""Comparison flips that cannot change the first failing test: weak mutation on a value profile.

A mutant is *weakly killed* by a run when the mutated expression takes another value somewhere
in it (Howden 1982, "Weak mutation testing and completeness of test sets"); a mutant the run
does not weakly kill behaves exactly as the original on that run. The search's first candidates
are one-node edits of the buggy program, many of them comparison flips (``<`` for ``<=``), and
a flip changes a comparison's value only where its operands stand in a relation the two
operators judge differently (``a == b`` for ``<`` and ``<=``). :func:`profile_comparisons` runs
the program once on its first failing test with every comparison instrumented to record which
relations its operands stood in (less, equal, greater; equal or unequal for unordered values);
:meth:`ComparisonProfile.unchanged` then says whether a flip at a comparison gives the same
value on every evaluation the test made. Such a candidate fails that test exactly as the buggy
program does (the tests run failing-first), so it is neither a repair nor progress: the search
does not run it. A comparison the test never evaluated is unchanged too.

Only comparisons of one operator among ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=`` whose
operands are ``int``, ``float``, ``str`` or ``bool`` values are judged; anything else (a
user-defined ``__lt__``, a NaN, a tuple) makes the comparison unknown and nothing is skipped.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kelp.program.tree import iter_nodes

if TYPE_CHECKING:
    from kelp.execute.sandbox import RunResult, Sandbox
    from kelp.execute.suites import TestSuite

#: Marker of the profile in the instrumented test's error message.
MARK = "kelp-profile:"
_OPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
#: The value of each operator for each recorded relation: ``<`` ``=`` ``>`` (ordered values),
#: ``e`` ``n`` (equal / unequal values without an order; ordering them raises).
_TRUTH = {
    "<": {ast.Lt: True, ast.LtE: True, ast.Gt: False, ast.GtE: False, ast.Eq: False, ast.NotEq: True},
    "=": {ast.Lt: False, ast.LtE: True, ast.Gt: False, ast.GtE: True, ast.Eq: True, ast.NotEq: False},
    ">": {ast.Lt: False, ast.LtE: False, ast.Gt: True, ast.GtE: True, ast.Eq: False, ast.NotEq: True},
    "e": {ast.Lt: None, ast.LtE: None, ast.Gt: None, ast.GtE: None, ast.Eq: True, ast.NotEq: False},
    "n": {ast.Lt: None, ast.LtE: None, ast.Gt: None, ast.GtE: None, ast.Eq: False, ast.NotEq: True},
}
_MIRROR = {"<": ">", ">": "<", "=": "=", "e": "e", "n": "n"}
# The recorder, defined before the program's own code: builtins are bound as defaults, so a
# program that rebinds ``type`` or ``set`` does not change it.
_RECORDER = '''
__kelp_profile__ = {}
def __kelp_cmp__(k, a, b, op, _type=type, _set=set, _plain=(int, float, str, bool), _p=__kelp_profile__,
                 _ops=(lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b, lambda a, b: a >= b,
                       lambda a, b: a == b, lambda a, b: a != b)):
    code = "x"
    if _type(a) in _plain and _type(b) in _plain:
        try:
            lt, eq, gt = a < b, a == b, a > b
            code = "<" if lt and not eq and not gt else "=" if eq and not lt and not gt else \\
                ">" if gt and not lt and not eq else "x"
        except TypeError:
            code = "e" if a == b else "n"
    _p.setdefault(k, _set()).add(code)
    return _ops[op](a, b)
def __kelp_export__(exc, _type=type, _p=__kelp_profile__, _sorted=sorted):
    name = "" if exc is None else _type(exc).__name__
    return name + "|" + ";".join(str(k) + "".join(_sorted(v)) for k, v in _sorted(_p.items())) + "|end"
'''


@dataclass(frozen=True)
class ComparisonProfile:
    """The relations the operands of each comparison stood in on one test run: ``relations``
    maps a comparison's path (in the profiled program) to the set of relation codes (see the
    module doc); a comparison absent from it was never evaluated."""

    tree: ast.Module
    relations: dict

    def unchanged(self, path: tuple, new: str) -> bool:
        """Whether replacing the comparison at ``path`` by the source ``new`` (the same operands,
        perhaps swapped, another operator) gives the same value on every evaluation the profiled
        run made. ``False`` for any other edit, or when a relation is unknown."""
        try:
            node = self.tree
            for step in path:
                node = node[step] if isinstance(step, int) else getattr(node, step)
            other = ast.parse(new, mode="eval").body
        except (AttributeError, IndexError, TypeError, SyntaxError, ValueError, RecursionError):
            return False
        if not (_profiled(node) and _profiled(other)):
            return False
        left, right = ast.dump(node.left), ast.dump(node.comparators[0])
        new_left, new_right = ast.dump(other.left), ast.dump(other.comparators[0])
        if (new_left, new_right) == (left, right):
            mirror = False
        elif (new_left, new_right) == (right, left):
            mirror = True
        else:
            return False
        codes = self.relations.get(path, frozenset())
        if "x" in codes:
            return False
        before, after = type(node.ops[0]), type(other.ops[0])
        return all(_TRUTH[code][before] == _TRUTH[_MIRROR[code] if mirror else code][after] for code in codes)


def _profiled(node: ast.AST) -> bool:
    return isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], _OPS)


def instrument(tree: ast.Module) -> tuple[str, dict[int, tuple]]:
    """``(program text, {index: path})``: ``tree`` with every comparison of one operator among
    ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=`` replaced by a call of the recorder (operands
    evaluated once, left first, as before), which keeps their relations in ``__kelp_profile__``
    under the comparison's index."""
    tree = copy.deepcopy(tree)
    paths = {}
    for path, node in list(iter_nodes(tree)):
        if _profiled(node):
            paths[id(node)] = (len(paths), path)

    class _Swap(ast.NodeTransformer):
        def visit_Compare(self, node):
            self.generic_visit(node)
            found = paths.get(id(node))
            if found is None:
                return node
            op = _OPS.index(type(node.ops[0]))
            return ast.copy_location(ast.Call(ast.Name("__kelp_cmp__", ast.Load()),
                                              [ast.Constant(found[0]), node.left, node.comparators[0],
                                               ast.Constant(op)], []), node)

    swapped = _Swap().visit(tree)
    body = swapped.body
    at = 0
    while at < len(body) and (isinstance(body[at], ast.ImportFrom) and body[at].module == "__future__"
                              or at == 0 and isinstance(body[at], ast.Expr)
                              and isinstance(body[at].value, ast.Constant)):
        at += 1  # after the docstring and future imports
    swapped.body = body[:at] + ast.parse(_RECORDER).body + body[at:]
    text = ast.unparse(ast.fix_missing_locations(swapped))
    return text, {index: path for index, path in paths.values()}


def _reporting_test(source: str) -> str:
    """The test ``source`` made to end, however it ends, by raising ``LookupError`` with the
    profile and the name of what it raised (empty when it passed)."""
    report = f"raise LookupError({MARK!r} + __kelp_export__({{}})) from None"
    wrapped = ast.Try(body=ast.parse(source).body or [ast.Pass()],
                      handlers=[ast.ExceptHandler(ast.Name("BaseException", ast.Load()), "__kelp_exc__",
                                                  ast.parse(report.format("__kelp_exc__")).body)],
                      orelse=ast.parse(report.format("None")).body, finalbody=[])
    return ast.unparse(ast.fix_missing_locations(ast.Module([wrapped], [])))


def profile_comparisons(tree: ast.Module, suite: "TestSuite", run0: "RunResult",
                        sandbox: "Sandbox") -> ComparisonProfile | None:
    """The comparison profile of ``tree`` on the first test that ``run0`` (the buggy program's
    run of ``suite``) saw fail or raise: one sandbox run of the instrumented program on that
    test. ``None`` for pytest suites, when no test failed or raised, or when the instrumented
    run did not end as the buggy one did (another exception, a timeout, a message too long to
    read back)."""
    from dataclasses import replace

    if suite.kind == "pytest":
        return None
    first = next((o for o in run0.outcomes if o.status in ("fail", "error")), None)
    test = next((t for t in suite.tests if first is not None and t.id == first.test_id), None)
    if test is None or not test.source:
        return None
    try:
        program, paths = instrument(tree)
        probe = replace(suite, tests=(replace(test, source=_reporting_test(test.source)),))
    except (SyntaxError, ValueError, RecursionError):
        return None
    run = sandbox.run(program, probe)
    outcome = run.outcomes[0] if run.status == "ok" and run.outcomes else None
    if outcome is None or not outcome.message or MARK not in outcome.message:
        return None
    raised, _, report = outcome.message.split(MARK, 1)[1].partition("|")
    report, end, _ = report.partition("|end")
    if not end or raised != (first.error_type or ""):
        return None  # cut short by the message cap, or the run ended otherwise than the buggy one
    relations = {}
    for item in filter(None, report.split(";")):
        digits = len(item) - len(item.lstrip("0123456789"))
        if not digits or int(item[:digits]) not in paths:
            return None  # not ours
        relations[paths[int(item[:digits])]] = frozenset(item[digits:])
    if any(not codes or not codes <= set("<=>enx") for codes in relations.values()):
        return None
    return ComparisonProfile(tree, relations)
