"""The values of a function's locals where a computation is missing, observed in the sandbox.

Angelic debugging (Chandra et al. 2011) and SemFix (Nguyen et al. 2013) ask what value an
expression must take for the tests to pass; the tests answer only for the function's result.
Where the function's last statement is ``return name`` (or ``return wrapper(name)``) with
``name`` never bound, or where the function falls off its end and returns ``None``, what is
missing is an expression over the locals at that point, and its value on each test is the
test's expected result. :func:`probe_locals` runs the program once in the sandbox with a probe
statement at that point that raises with the repr of the locals, and reads them back per test
with :func:`ast.literal_eval` (never ``eval``: the program and its messages are untrusted).
:mod:`kelp.repair.synthesis` then builds the expression from those examples.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kelp.execute.sandbox import Sandbox
    from kelp.execute.suites import TestSuite

#: Marker of the probe's message; the exception type the probe raises.
MARK = "kelp-probe:"
_ERROR = "LookupError"
#: Locals one probe reports at most (the synthesis grows with every name it combines).
MAX_NAMES = 6
#: Kinds of values a probe reports, by class name: the program may bind ``list`` or ``type``.
_PLAIN = ("int", "float", "str", "bool", "list", "tuple", "dict", "set", "NoneType")
#: The builtins as the probe reaches them, whatever names the program shadows.
_BUILTINS = "__import__('builtins')"


#: Key of the would-be result in a guard probe's report (not an identifier: no local clashes).
RESULT = "<return>"


@dataclass(frozen=True)
class ProbeSite:
    """Where a probe goes: the function ``func`` (top-level, by name), before statement ``index``
    of its body (``index == len(body)``: at its end, where it falls off). ``kind``: ``"value"``
    (a missing computation: the examples' target is the test's expected result) or ``"guard"``
    (a ``return`` whose guard is missing: the probe also reports what it would return, and the
    target is whether that is the expected result) or ``"loop_guard"`` (a ``return`` that opens a
    loop body, at ``path`` from the function node: :mod:`kelp.repair.loop_probe`)."""

    func: str
    index: int
    kind: str = "value"
    path: tuple = ()


def probe_site(tree: ast.Module, unbound: tuple[str, ...], returned_none: bool) -> ProbeSite | None:
    """The first top-level function that ends in ``return <expr reading a name of unbound>`` (the
    name bound nowhere in it, the function having other statements), or, when a test got
    ``None`` (``returned_none``), the first one with statements and no ``return`` at all; None
    when there is neither."""
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.body:
            continue
        last = node.body[-1]
        bound = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        if isinstance(last, ast.Return) and last.value is not None and len(node.body) > 1:
            read = {n.id for n in ast.walk(last.value) if isinstance(n, ast.Name)}
            if any(name in read and name not in bound for name in unbound):
                return ProbeSite(node.name, len(node.body) - 1)
        elif returned_none and not any(isinstance(n, ast.Return) for n in ast.walk(node)):
            return ProbeSite(node.name, len(node.body))
    return None


def guard_site(tree: ast.Module) -> ProbeSite | None:
    """The first top-level function with a ``return`` in its own body (not in a loop or branch)
    that has statements after it, which can never run: the ``if`` that guarded the ``return`` is
    missing (``if d == 0: return 0`` flattened to ``return 0``). None when there is none."""
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for index, stmt in enumerate(node.body[:-1]):
            if isinstance(stmt, ast.Return):
                return ProbeSite(node.name, index, "guard")
    return None


def probe_program(tree: ast.Module, site: ProbeSite) -> str:
    """The program's text with a probe statement at ``site``: it raises ``LookupError`` whose
    message is :data:`MARK` and the repr of the locals whose values are plain data (and, for a
    guard site, the value the ``return`` there would give, under :data:`RESULT`). Raises
    ``ValueError`` when ``site`` names no top-level function of ``tree``."""
    tree = copy.deepcopy(tree)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == site.func:
            report = ""
            if site.kind == "guard":
                value = node.body[site.index].value
                report = f", {RESULT!r}: {ast.unparse(value) if value is not None else 'None'}"
            probe = ast.parse(f"raise {_BUILTINS}.{_ERROR}({MARK!r} + {_BUILTINS}.repr({{**{{k: v for k, v in "
                              f"{_BUILTINS}.locals().items() if v.__class__.__name__ in {_PLAIN!r}}}{report}}}))"
                              ).body[0]
            node.body.insert(site.index, probe)
            return ast.unparse(ast.fix_missing_locations(tree))
    raise ValueError(f"no top-level function {site.func!r} to probe")


def read_locals(message: str | None) -> dict | None:
    """The locals a probe reported in a test's error ``message``; None when the message is not a
    probe's or its repr does not parse as a literal (a value cut short by the message cap)."""
    if not message or MARK not in message:
        return None
    text = message.split(MARK, 1)[1]
    end = text.rfind(" (line ")
    text = text[:end] if end >= 0 else text
    try:
        found = ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return found if isinstance(found, dict) and all(isinstance(k, str) for k in found) else None


def probe_locals(tree: ast.Module, site: ProbeSite, suite: "TestSuite", sandbox: "Sandbox",
                 ) -> tuple[tuple[str, ...], tuple[tuple[tuple, object], ...]]:
    """``(names, examples)``: the locals reported at ``site`` on every test that is one literal
    call of the function with a literal expected value (``examples_of``), as ``(values of names,
    target)``; the target is the expected value, or for a guard site whether the ``return``
    would give it (:func:`~kelp.repair.synthesis.exactly`). ``names`` are those reported on every such test, parameters first, at most
    :data:`MAX_NAMES`. Empty when the probe is never reached or nothing parses."""
    from kelp.repair.synthesis import examples_of, exactly

    run = sandbox.run(probe_program(tree, site), suite)
    found: list[tuple[dict, object]] = []
    for test, outcome in zip(suite.tests, run.outcomes):
        if outcome.error_type != _ERROR:
            continue
        values, examples = read_locals(outcome.message), examples_of(site.func, [test.source])
        if values is None or len(examples) != 1:
            continue
        expected = examples[0][1]
        if site.kind == "guard":
            if RESULT not in values:
                continue
            expected = exactly(values.pop(RESULT), expected)
        found.append((values, expected))
    if not found:
        return (), ()
    params = [a.arg for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == site.func for a in n.args.args]
    common = [k for k in found[0][0] if all(k in values for values, _ in found)]
    names = tuple(sorted(common, key=lambda k: (k not in params, common.index(k)))[:MAX_NAMES])
    return names, tuple((tuple(values[k] for k in names), expected) for values, expected in found)
