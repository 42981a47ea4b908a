"""A loop's missing guard, from the locals observed on every pass of the loop.

A ``return`` among the statements of a loop body (``for i in ...: return i``) leaves the loop on
its first pass: the ``if`` that guarded it is gone. Which pass should have returned is known from the
tests: the first pass whose value of the returned expression is the test's expected result (or
none, when the code after the loop gives that result). :func:`probe_loop` runs the program once
in the sandbox with the ``return`` replaced by a record of the locals and the would-be result on
each pass, and tags each pass with whether its ``return`` would give that result; the condition's
first true pass must be such a pass (:func:`accepts`). Likewise an unconditional
``found.append(x)`` in a loop whose list the function returns: the passes the condition lets
through must append exactly the expected list (:func:`accepts_additions`). The condition is
synthesised from the tagged passes (:func:`kelp.repair.angelic.angelic_guards`), as Nopol
collects runtime values at each execution of a condition (Xuan et al. 2016).

The records come back on the program's standard output, one line per call of the function,
and are read with :func:`ast.literal_eval` only (the program is untrusted).
"""

from __future__ import annotations

import ast
import copy
from typing import TYPE_CHECKING

from kelp.repair.probe import MARK, MAX_NAMES, RESULT, ProbeSite

if TYPE_CHECKING:
    from kelp.execute.sandbox import Sandbox
    from kelp.execute.suites import TestSuite

#: Passes kept for one synthesis (its cost grows with every example), and of one call that the
#: code after the loop gets right (the rest of its passes are left unchecked).
MAX_PASSES = 120
PASSES_PER_CALL = 16
_B = "__import__('builtins')"
_KINDS = ("int", "float", "str", "bool", "list", "tuple", "dict", "set", "NoneType")


def loop_guard_site(tree: ast.Module) -> ProbeSite | None:
    """The first top-level function with a loop whose body holds ``return <value>`` among its own
    statements (so the loop never makes a second pass), as a site of kind ``"loop_guard"`` whose
    ``path`` leads from the function to that ``return``; None when there is none."""
    for func in tree.body:
        if isinstance(func, ast.FunctionDef):
            found = _loop_statement(func, (), lambda stmt: isinstance(stmt, ast.Return) and stmt.value is not None)
            if found is not None:
                return ProbeSite(func.name, 0, "loop_guard", found)
    return None


def _accumulation(stmt: ast.stmt, name: str) -> ast.expr | None:
    """``e`` of ``name.append(e)``; None for any other statement. (A count, ``name += 1``,
    says only how many passes to keep, which too many conditions fit by chance.)"""
    if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "append" and isinstance(stmt.value.func.value, ast.Name)
            and stmt.value.func.value.id == name and len(stmt.value.args) == 1 and not stmt.value.keywords):
        return stmt.value.args[0]
    return None


def accumulate_site(tree: ast.Module) -> ProbeSite | None:
    """The first top-level function that ends in ``return name`` and appends to ``name``
    unconditionally in a loop (``name.append(e)`` among a loop body's own statements), as a site
    of kind ``"accumulate"`` whose ``path`` leads from the function to that statement: a filter
    whose guard is missing. None when there is none."""
    for func in tree.body:
        if not (isinstance(func, ast.FunctionDef) and func.body and isinstance(func.body[-1], ast.Return)
                and isinstance(func.body[-1].value, ast.Name)):
            continue
        name = func.body[-1].value.id
        found = _loop_statement(func, (), lambda stmt: _accumulation(stmt, name) is not None)
        if found is not None:
            return ProbeSite(func.name, 0, "accumulate", found)
    return None


def _loop_statement(node: ast.AST, path: tuple, wanted) -> tuple | None:
    """Path of the first statement of a loop body (the body's own statements) that ``wanted``
    takes, in the statements under ``node`` (nested functions and classes left out)."""
    for field in ("body", "orelse", "handlers", "finalbody"):
        block = getattr(node, field, None)
        if not isinstance(block, list):
            continue
        for i, stmt in enumerate(block):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(stmt, (ast.For, ast.While)):
                for j, inner in enumerate(stmt.body):
                    if wanted(inner):
                        return path + (field, i, "body", j)
            found = _loop_statement(stmt, path + (field, i), wanted)
            if found is not None:
                return found
    return None


def _at(node: ast.AST, path: tuple) -> ast.AST:
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return node


def loop_probe_program(tree: ast.Module, site: ProbeSite) -> str:
    """The program's text with the statement at ``site`` replaced by a record of the plain
    locals and what the statement would give (under :data:`RESULT`: the returned value of a
    ``return``, the added value of an accumulation), and the function wrapped so that each
    outermost call prints :data:`MARK` with the call's arguments, its records and its result."""
    tree = copy.deepcopy(tree)
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == site.func)
    stmt = _at(func, site.path)
    block = _at(func, site.path[:-1])
    if site.kind == "accumulate":
        value = _accumulation(stmt, func.body[-1].value.id)
    else:
        value = stmt.value
    record = ast.parse(
        f"{_B}.__kelp_rows__.append({_B}.repr({{**{{k: v for k, v in {_B}.locals().items() "
        f"if v.__class__.__name__ in {_KINDS!r}}}, {RESULT!r}: {ast.unparse(value)}}}))").body[0]
    block[site.path[-1]] = record
    wrapper = ast.parse(f"""
def __kelp_probe__(f):
    def call(*args):
        b = {_B}
        if getattr(b, '__kelp_rows__', None) is not None:
            return f(*args)
        shown, b.__kelp_rows__, result = b.repr(args), [], None
        try:
            result = f(*args)
        finally:
            rows, b.__kelp_rows__ = b.__kelp_rows__, None
            b.print({MARK!r} + b.repr((shown, rows, b.repr(result))))
        return result
    return call
{site.func} = __kelp_probe__({site.func})
""").body
    tree.body.extend(wrapper)
    return ast.unparse(ast.fix_missing_locations(tree))


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def read_calls(stdout: str) -> list[tuple[tuple, list[dict], object]]:
    """``(arguments, records, result)`` of each call a loop probe printed; lines that do not
    parse as literals are skipped."""
    calls = []
    for line in stdout.splitlines():
        if not line.startswith(MARK):
            continue
        found = _literal(line[len(MARK):])
        if not (isinstance(found, tuple) and len(found) == 3 and isinstance(found[1], list)):
            continue
        args, rows = _literal(found[0]), [_literal(r) for r in found[1] if isinstance(r, str)]
        if isinstance(args, tuple) and all(isinstance(r, dict) and RESULT in r for r in rows):
            calls.append((args, rows, _literal(found[2])))
    return calls


def probe_loop(tree: ast.Module, site: ProbeSite, suite: "TestSuite", sandbox: "Sandbox",
               ) -> tuple[tuple[str, ...], tuple[tuple[tuple, tuple], ...]]:
    """``(names, examples)``: one example per observed pass of the loop at ``site`` on the tests
    whose literal call and expected value are known (``examples_of``): the values of ``names``
    on that pass, and a tag. At a ``"loop_guard"`` site the tag is ``(call, gives, falls_through)``:
    the call's number, whether the ``return`` there would give the expected result, and whether
    the code after the loop does. At an ``"accumulate"`` site it is ``(call, added, target)``:
    the value the statement would add on that pass, and what the added values must come to
    (:func:`accepts_additions`).
    The guard's condition must first be true on a pass that gives the result, or never where
    the loop falls through to it (:func:`accepts`). Calls that can be right neither way are left
    out; a call's passes after its last that gives the result are left out (they cannot decide),
    but where the loop also falls through to it, up to :data:`PASSES_PER_CALL` are kept; at most
    :data:`MAX_PASSES` passes, whole calls only. ``names`` are those seen on every
    pass, parameters first, at most :data:`~kelp.repair.probe.MAX_NAMES`. Empty when nothing
    usable was observed."""
    from kelp.repair.synthesis import examples_of, exactly

    expected = {}
    for args, value in examples_of(site.func, [t.source for t in suite.tests]):
        expected.setdefault(repr(args), value)
    run = sandbox.run(loop_probe_program(tree, site), suite)
    tagged: list[tuple[dict, tuple]] = []
    for call, (args, rows, result) in enumerate(read_calls(run.stdout)):
        if repr(args) not in expected or not rows:
            continue
        want = expected[repr(args)]
        if site.kind == "accumulate":
            target = _still_to_add(result, want)
            if target is None or len(tagged) + len(rows) > MAX_PASSES:
                continue
            tags = [(call, row[RESULT], target) for row in rows]
        else:
            gives = [exactly(row[RESULT], want) for row in rows]
            falls = exactly(result, want)
            last = max((i for i, g in enumerate(gives) if g), default=-1)
            keep = max(last + 1, PASSES_PER_CALL if falls else 0)  # later passes cannot decide
            rows, gives = rows[:keep], gives[:keep]
            if not (any(gives) or falls) or len(tagged) + len(rows) > MAX_PASSES:
                continue
            tags = [(call, g, falls) for g in gives]
        tagged.extend(({k: v for k, v in row.items() if k != RESULT}, tag) for row, tag in zip(rows, tags))
    if not tagged or (site.kind == "accumulate" and not _reachable(tagged)):
        return (), ()
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == site.func)
    params = [a.arg for a in func.args.args]
    common = [k for k in tagged[0][0] if all(k in row for row, _ in tagged)]
    names = tuple(sorted(common, key=lambda k: (k not in params, common.index(k)))[:MAX_NAMES])
    return names, tuple((tuple(row[k] for k in names), tag) for row, tag in tagged)


def _still_to_add(result, expected):
    """What the missing additions must make up: the tail of the list ``expected`` after the
    list ``result``; None when that does not fit."""
    if isinstance(result, list) and isinstance(expected, list) and expected[:len(result)] == result:
        return expected[len(result):]
    return None


def _subsequence(part: list, whole: list) -> bool:
    items = iter(whole)
    return all(any(x == y for y in items) for x in part)


def _reachable(tagged: list[tuple[dict, tuple]]) -> bool:
    """Whether every call's target is a subsequence of the values its passes would append, and
    some call needs fewer than all of them: else no condition can fit, and the synthesis is not
    tried."""
    calls: dict[int, tuple[list, list]] = {}
    for _, (call, added, target) in tagged:
        calls.setdefault(call, ([], target))[0].append(added)
    return (all(_subsequence(target, added) for added, target in calls.values())
            and any(len(target) < len(added) for added, target in calls.values()))


def accepts_additions(values: tuple, tags: tuple) -> bool:
    """Whether a condition with ``values`` on the passes tagged ``(call, appended value,
    target)`` (an ``"accumulate"`` site of :func:`probe_loop`) lets through exactly each call's
    target, in order. It must be a ``bool`` on every pass, true on some pass and false on some
    other (always true is the program as it is)."""
    chosen: dict[int, list] = {}
    targets: dict[int, list] = {}
    seen = set()
    for value, (call, added, target) in zip(values, tags):
        if not isinstance(value, bool):
            return False
        targets[call] = target
        chosen.setdefault(call, [])
        seen.add(value)
        if value:
            chosen[call].append(added)
    return seen == {True, False} and all(chosen[call] == target for call, target in targets.items())


def accepts(values: tuple, tags: tuple) -> bool:
    """Whether a condition with ``values`` on the passes tagged ``tags`` (:func:`probe_loop`)
    guards the ``return`` right: on every call it is a ``bool`` on each pass, and its first true
    pass gives the expected result, or it is never true and the loop falls through to it; and
    it is true somewhere (a guard that never holds is the deleted ``return``, not a guard)."""
    first: dict[int, bool] = {}
    falls: dict[int, bool] = {}
    for value, (call, gives, falls_through) in zip(values, tags):
        if not isinstance(value, bool):
            return False
        falls[call] = falls_through
        if value and call not in first:
            first[call] = gives
    return bool(first) and all(first.get(call, falls[call]) for call in falls)
