"""Missing logic: the pieces a person forgets, rebuilt from the rest of the function.

Single-node edits undo a wrong piece; they cannot add one that is not there. Three kinds of
forgotten logic are frequent in human bugs (the "missing logic" class of HumanEvalFix,
Muennighoff et al. 2023; the "missing/more specific if" patterns of ManySStuBs4J, Karampatsis and
Allamanis 2020) and are proposed here:

- **a missing clause** (:func:`clause_alternatives`): a condition ``c`` that should have been
  ``c and d`` (or ``c or d``). The clause ``d`` is a condition that could guard the code under
  ``c`` (the conditions of :mod:`kelp.repair.guards`; ``v not in seen`` for code that adds
  ``v`` to ``seen``), or a copy of a comparison in ``c`` made
  parallel: a name swapped for a parameter the function never reads, a constant index moved
  by one (``s[0] >= h`` -> ``s[1] >= w``);
- **a missing early return** (:func:`early_return_alternatives`): ``if p < 0: return -1`` at
  the top of the function, a test of a parameter and a value the failing tests expected (the
  angelic value of SemFix/Nopol, read from the assertion rather than solved for: Nguyen et al.
  2013; Xuan et al. 2016);
- **a missing update of a running bound** (:func:`running_update_alternatives`): in
  ``if x > best: result = i`` the line ``best = x`` was forgotten, so ``best`` never moves.

Each alternative is ``(family, site key, path, op, new node, weight)`` like the enumerator's.
"""

from __future__ import annotations

import ast
import copy
from typing import Iterator

from kelp.repair.guards import _conditions, _existing_conditions, _names_of, _subscripts, first_bindings
from kelp.repair.proposer import Doomed

#: Clauses tried per condition (the best by weight).
MAX_CLAUSES = 12
#: Conditions tried for an early return, per function.
MAX_EARLY_CONDITIONS = 12
#: Values tried as the result of an early return, per function.
MAX_EARLY_VALUES = 4
#: Values an early return often gives when nothing in the tests says otherwise.
_DEFAULT_RESULTS = ("-1", "0", "None", "False", "True")


def _test_sites(func: ast.FunctionDef, func_path: tuple) -> Iterator[tuple[tuple, ast.expr, list, tuple, ast.AST]]:
    """``(path, condition, guarded statements, loop variables innermost first, innermost loop
    or None)`` for every ``if``/``while`` test and comprehension ``if`` of ``func`` (nested
    functions excluded)."""
    def visit(node, path, loops, loop):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) and path != func_path:
            return
        if isinstance(node, (ast.If, ast.While)) and not isinstance(node.test, ast.Constant):
            yield path + ("test",), node.test, node.body, loops, loop
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            targets = tuple(n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name))
            elt = node.value if isinstance(node, ast.DictComp) else node.elt
            for g, gen in enumerate(node.generators):
                for j, cond in enumerate(gen.ifs):
                    yield path + ("generators", g, "ifs", j), cond, [ast.Expr(value=elt)], targets + loops, node
        inner, inner_loop = loops, loop
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            inner_loop = node
            if not isinstance(node, ast.While):
                inner = tuple(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)) + loops
        for field, value in ast.iter_fields(node):
            body = field == "body"
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        yield from visit(item, path + (field, i), inner if body else loops,
                                         inner_loop if body else loop)
            elif isinstance(value, ast.AST):
                yield from visit(value, path + (field,), loops, loop)
    yield from visit(func, func_path, (), None)


def _parallel_clauses(cond: ast.expr, dead_params: list[str]) -> Iterator[tuple[str, float]]:
    """Copies of the comparisons in ``cond`` made parallel: a name replaced by a parameter the
    function never reads, a constant index moved by one, or both (``s[0] >= h`` ->
    ``s[1] >= w``)."""
    for node in ast.walk(cond):
        if not isinstance(node, ast.Compare):
            continue
        names = list(dict.fromkeys(n.id for n in ast.walk(node) if isinstance(n, ast.Name)))
        indexes = [n for n in ast.walk(node) if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant)
                   and type(n.slice.value) is int]
        renames = [(old, new) for old in names for new in dead_params if new != old]
        shifts = [(sub, sub.slice.value + d) for sub in indexes for d in (1, -1) if sub.slice.value + d >= 0]
        for old, new in renames:
            yield _rewrite(node, {old: new}, None), 3.0
            for sub, value in shifts:
                yield _rewrite(node, {old: new}, (sub, value)), 4.0
        for sub, value in shifts:
            yield _rewrite(node, {}, (sub, value)), 1.0


def _rewrite(node: ast.Compare, names: dict[str, str], shift) -> str:
    new = copy.deepcopy(node)
    originals = [n for n in ast.walk(node)]
    for old_n, new_n in zip(originals, ast.walk(new)):
        if isinstance(new_n, ast.Name) and new_n.id in names:
            new_n.id = names[new_n.id]
        if shift is not None and old_n is shift[0]:
            new_n.slice = ast.Constant(shift[1])
    return ast.unparse(new)


def clause_alternatives(func_path: tuple, func: ast.FunctionDef, dead: list[str]) -> Iterator[tuple]:
    """A clause added to each condition of ``func``: ``c and d`` (weight 1) or ``c or d``
    (weight 0.5) for the :data:`MAX_CLAUSES` likeliest ``d`` (parallel copies first, then the
    guard conditions of the code ``c`` guards); ``dead``: names the function binds and never
    reads. Site: ``("clause", condition path)``; family ``missing_clause``."""
    params = [a.arg for a in func.args.args]
    dead_params = [d for d in dead if d in params]
    existing = _existing_conditions(func)
    subscripts = _subscripts(func)
    bound = first_bindings(func)
    for path, cond, body, loops, _loop in _test_sites(func, func_path):
        own = ast.unparse(cond)
        clauses: dict[str, float] = {}
        for text, weight in _parallel_clauses(cond, dead_params):
            clauses[text] = max(clauses.get(text, 0.0), weight)
        for stmt in body:  # the value added to a collection was already in it: `x not in seen`
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                        and node.func.attr in ("append", "add") and len(node.args) == 1 \
                        and isinstance(node.func.value, ast.Name):
                    text = f"{ast.unparse(node.args[0])} not in {node.func.value.id}"
                    clauses[text] = max(clauses.get(text, 0.0), 3.0)
        unbound = {name for name, line in bound.items() if line >= cond.lineno}
        for text, weight in _conditions(body, loops, existing, subscripts, params, dead):
            if text != own and text not in own and own not in text:
                clauses[text] = max(clauses.get(text, 0.0), weight)
        best = sorted(clauses.items(), key=lambda kv: -kv[1])[:MAX_CLAUSES]
        for text, weight in best:
            clause = ast.parse(text, mode="eval").body
            doomed = bool(unbound.intersection(_names_of(text)))  # unbound where the condition is tested
            for op, factor in ((ast.And, 1.0), (ast.Or, 0.5)):
                new = ast.BoolOp(op=op(), values=[copy.deepcopy(cond), clause])
                yield ("missing_clause", ("clause", path), path, "replace", Doomed(new) if doomed else new,
                       weight * factor)


def _param_conditions(func: ast.FunctionDef) -> list[tuple[str, float]]:
    """Tests of one parameter an early return often makes: sign and zero, emptiness, parity,
    None. Never two parameters against each other: ``if x == k: return 6`` is how a patch
    fits one test, not how people write edge cases."""
    params = [a.arg for a in func.args.args if a.arg not in ("self", "cls")]
    found: list[tuple[str, float]] = []
    for p in params:
        found += [(f"{p} < 0", 1.0), (f"{p} == 0", 1.0), (f"not {p}", 1.0), (f"{p} <= 0", 0.5),
                  (f"{p} is None", 0.5), (f"{p} % 2 == 0", 0.3)]
    return sorted(found, key=lambda kv: -kv[1])[:MAX_EARLY_CONDITIONS]


def early_return_alternatives(func_path: tuple, func: ast.FunctionDef, expected: list) -> Iterator[tuple]:
    """``if C: return V`` at the top of ``func`` (after its docstring): ``C`` a test of the
    parameters (:func:`_param_conditions`), ``V`` a value the failing tests expected
    (``expected``, likeliest first) or a common sentinel. Site: ``("early", func path)``;
    family ``early_return``."""
    conditions = _param_conditions(func)
    if not conditions:
        return
    values: dict[str, float] = {}
    for v in expected:
        if isinstance(v, (bool, int, float, str)) or v is None:
            values.setdefault(repr(v), 3.0)
    for text in _DEFAULT_RESULTS:
        values.setdefault(text, 1.0)
    chosen = sorted(values.items(), key=lambda kv: -kv[1])[:MAX_EARLY_VALUES]
    start = 1 if func.body and isinstance(func.body[0], ast.Expr) and isinstance(func.body[0].value, ast.Constant) \
        and isinstance(func.body[0].value.value, str) else 0
    body_path = func_path + ("body",)
    for cond, cw in conditions:
        for value, vw in chosen:
            stmt = ast.parse(f"if {cond}:\n    return {value}").body[0]
            yield ("early_return", ("early", func_path), body_path, f"insert:{start}", stmt, cw * vw)


def running_update_alternatives(func_path: tuple, func: ast.FunctionDef) -> Iterator[tuple]:
    """``best = x`` inserted at the top of the body of ``if x > best:`` (any of ``<, <=, >,
    >=``) inside a loop, when ``best`` is a plain name the loop never assigns: the forgotten
    update of a running maximum or minimum. Site: ``("update", if path)``; family
    ``insert_statement``."""
    for path, cond, _body, loops, loop in _test_sites(func, func_path):
        if loop is None or path[-1] != "test" or not isinstance(cond, ast.Compare) or len(cond.ops) != 1 \
                or not isinstance(cond.ops[0], (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
            continue
        left, right = cond.left, cond.comparators[0]
        assigned = {t.id for n in ast.walk(loop) if isinstance(n, (ast.Assign, ast.AugAssign))
                    for t in ast.walk(n.targets[0] if isinstance(n, ast.Assign) else n.target)
                    if isinstance(t, ast.Name)}
        for bound, value in ((right, left), (left, right)):
            if isinstance(bound, ast.Name) and bound.id not in assigned and bound.id not in loops \
                    and bound.id not in _names_of(ast.unparse(value)):
                stmt = ast.parse(f"{bound.id} = {ast.unparse(value)}").body[0]
                yield ("insert_statement", ("update", path[:-1]), path[:-1] + ("body",), "insert:0", stmt, 2.0)
