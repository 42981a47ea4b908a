"""The enumerative proposer: inverse edits of the realistic bug families, ranked.

For every node that failing tests executed, it proposes the edits that undo one mutation of
``kelp.corrupt`` (operator flips, wrong in-scope variable, off-by-one, negated condition, swapped
arguments, changed constant, an extra condition) plus statement deletion. Each candidate's prior
is its probability under a uniform bug model (pick a family, then one of its sites, then a
replacement), so families with few sites are not drowned by families with many; the score is
prior times the node's suspiciousness. This is the generate-and-validate repair space of
GenProg (Le Goues et al. 2012) and PraPR (Ghanbari et al. 2019), restricted to single-node edits.
"""

from __future__ import annotations

import ast
import copy
import difflib
from collections import defaultdict
from typing import Iterator

from kelp.program.diff import Edit
from kelp.program.operators import BINARY, BOOLEAN, COMPARE, NON_COMMUTATIVE
from kelp.program.scope import bindings, constants, visible_bindings
from kelp.program.spans import line_at
from kelp.program.tree import iter_nodes, node_at
from kelp.repair.guards import guard_alternatives
from kelp.repair.proposer import Candidate, Feedback
from kelp.repair.signals import Evidence
from kelp.repair.unused import Unused, unused_definitions, unused_imports

# Replacement operators with relative weights, realistic partners first: the repairs of the
# operator table shared with the forward process (kelp.program.operators).
_BINOP_ALTS = {op: alts.repairs for op, alts in BINARY.items()}
_CMP_ALTS = {op: alts.repairs for op, alts in COMPARE.items()}
_BOOLOP_ALTS = {op: alts.repairs for op, alts in BOOLEAN.items()}

#: Relative weight of each family in the bug model (1 = as likely as any other family).
FAMILY_WEIGHTS = {
    "binop_flip": 1.0, "compare_flip": 1.0, "boolop_flip": 1.0, "wrong_variable": 1.0,
    "off_by_one": 1.0, "negate_condition": 1.0, "swap_args": 1.0, "change_constant": 1.0,
    "drop_condition": 0.5, "delete_statement": 0.3, "insert_statement": 1.0, "fix_template": 0.5,
    "dead_name": 1.0, "missing_guard": 0.2, "missing_return": 1.0,
}

# An alternative: (family, site key, path, op, new node or None for delete, weight within the site).
_Alt = tuple[str, tuple, tuple, str, "ast.AST | None", float]

#: Builtins tried around a dead name when re-creating a forgotten assignment ``n = f(dead)``.
_WRAPPERS = ("sorted", "list", "set", "len", "sum", "max", "min", "str", "tuple", "dict", "int",
             "abs", "reversed")
#: Builtins tried around a variable when re-creating a forgotten final ``return f(x)``, each
#: with this weight relative to ``return x``.
_RETURN_WRAPPERS = _WRAPPERS + ("ord", "float", "bool")
RETURN_WRAPPER_WEIGHT = 0.1


class EnumerativeProposer:
    """Proposes every single-node inverse edit at suspicious nodes, best first (see module doc)."""

    name = "enum"

    def propose(self, tree: ast.Module, feedback: Feedback, k: int | None = None) -> list[Candidate]:
        """Scored candidates for ``tree``, best first; nodes with zero suspiciousness are skipped.
        With ``k`` given (the search's deeper states) missing guards are not synthesised: they
        cost a copy of the enclosing block per candidate, and a dropped condition is one edit.

        Scores sum to 1 over all candidates (before truncation to ``k``), so they read as the
        probability that the edit is the fix under the bug model and the localization.
        """
        all_bindings = bindings(tree)
        dead_defs = unused_definitions(tree, all_bindings)
        alts = list(_alternatives(tree, feedback, all_bindings, dead_defs, guards=k is None))
        evidence = Evidence(tree, feedback, dead_defs)
        sites: dict[str, set] = defaultdict(set)
        site_mass: dict[tuple, float] = defaultdict(float)
        for family, key, _path, _op, _new, weight in alts:
            sites[family].add(key)
            site_mass[(family, key)] += weight
        merged: dict[tuple, list] = {}
        for family, key, path, op, new, weight in alts:
            prior = FAMILY_WEIGHTS[family] / len(sites[family]) * weight / site_mass[(family, key)]
            prior *= evidence.boost(family, key, path, new)
            if family == "missing_guard":  # scored where the guarded run starts: key[1][index]
                score = prior * _susp(feedback, tree, key[1] + (key[2],))
            else:
                score = prior * (_block_susp(feedback, tree, path) if op.startswith("insert:") else
                                 _susp(feedback, tree, path))
            if score <= 0.0:
                continue
            text = None if new is None else ast.unparse(new)
            ident = (op, path, text)
            if ident in merged:
                merged[ident][0] += score
            else:
                merged[ident] = [score, family]
        total = sum(v[0] for v in merged.values()) or 1.0
        cands = [Candidate(_edit(op, path, text), score / total, family)
                 for (op, path, text), (score, family) in merged.items()]
        cands.sort(key=lambda c: (-c.score, c.edit.path, c.edit.new or ""))
        return cands if k is None else cands[:k]


def _edit(op: str, path: tuple, text: str | None) -> Edit:
    if op.startswith("insert:"):
        return Edit(op="insert", path=path, index=int(op.split(":")[1]), new=text)
    return Edit(op=op, path=path, new=text)


def _block_susp(feedback: Feedback, tree: ast.Module, list_path: tuple) -> float:
    """Suspiciousness of a place to insert into: the most suspicious line of the block."""
    if not feedback.lines:
        return 1.0
    block = node_at(tree, list_path[:-1])
    block = getattr(block, list_path[-1])
    lines = [ln for stmt in block for ln in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1)]
    return max((feedback.lines.get(ln, 0.0) for ln in lines), default=0.0)


def _susp(feedback: Feedback, tree: ast.Module, path: tuple) -> float:
    if not feedback.lines:
        return 1.0
    line = line_at(tree, path)
    return feedback.lines.get(line, 0.0) if line is not None else 0.0


def _alternatives(tree: ast.Module, feedback: Feedback, all_bindings: list, dead: list[Unused],
                  guards: bool = True) -> Iterator[_Alt]:
    """Every inverse edit at every node, unscored (``all_bindings`` from ``bindings(tree)``,
    ``dead`` from ``unused_definitions``, computed once by the caller).  ``guards``: include
    missing-guard synthesis (``guards.py``), the costliest family (a copy of the enclosing
    block per candidate)."""
    consts = constants(tree) + list(feedback.test_constants)
    ints = list(dict.fromkeys(c for c in consts if type(c) is int and abs(c) <= 10**6))
    strs = list(dict.fromkeys(c for c in consts if type(c) is str))
    docstrings = _docstring_ids(tree)
    dead_imports = unused_imports(tree)
    nodes = dict(iter_nodes(tree))
    parents = {}
    for path, node in nodes.items():
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        parents[id(item)] = (node, field, path + (field, i))
            elif isinstance(value, ast.AST):
                parents[id(value)] = (node, field, path + (field,))
    for path, node in nodes.items():
        if id(node) in docstrings:
            continue
        parent, field = (parents.get(id(node)) or (None, None, None))[:2]
        yield from _operator_alts(path, node)
        yield from _condition_alts(path, node)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and not (
                isinstance(parent, ast.Call) and field == "func"):
            yield from _variable_alts(visible_bindings(tree, path, all_bindings), path, node)
        if isinstance(node, ast.Constant):
            yield from _constant_alts(path, node, ints, strs)
        if _is_index_position(parent, field, node):
            yield from _shift_alts(path, node)
        if isinstance(node, ast.Slice):
            for bound in ("lower", "upper"):
                if getattr(node, bound) is not None:
                    new = copy.deepcopy(node)
                    setattr(new, bound, None)
                    yield ("off_by_one", path + (bound,), path, "replace", new, 0.5)
        if isinstance(node, ast.Call):
            yield from _swap_alts(path, node)
        yield from _template_alts(tree, path, node, parent, field, visible_bindings, all_bindings)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            dead_here = [u for u in dead if u.scope == path]
            if guards:
                for key, owner_path, new_owner, weight in guard_alternatives(
                        tree, path, node, [u.name for u in dead_here]):
                    yield ("missing_guard", key, owner_path, "replace", new_owner, weight)
            yield from _insert_alts(path, node, feedback, ints, strs)
            yield from _dead_name_alts(tree, path, node, feedback, dead_here, dead_imports)
        if isinstance(node, ast.stmt) and parent is not None and isinstance(path[-1], int):
            siblings = getattr(parent, field)
            docstring_like = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            if len(siblings) > 1 and not docstring_like and not isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
                yield ("delete_statement", path, path, "delete", None, 1.0)


def _docstring_ids(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                ids.add(id(first))
                ids.add(id(first.value))
    return ids


def _with(node: ast.AST, **changes) -> ast.AST:
    new = copy.copy(node)
    for key, value in changes.items():
        setattr(new, key, value)
    return new


def _operator_alts(path: tuple, node: ast.AST) -> Iterator[_Alt]:
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        for alt, weight in _BINOP_ALTS.get(type(node.op), []):
            yield ("binop_flip", path, path, "replace", _with(node, op=alt()), weight)
        if isinstance(node, ast.BinOp) and isinstance(node.op, NON_COMMUTATIVE):
            yield ("swap_args", path, path, "replace", _with(node, left=node.right, right=node.left), 1.0)
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for alt, weight in _CMP_ALTS.get(type(op), []):
                ops = list(node.ops)
                ops[i] = alt()
                yield ("compare_flip", path + (i,), path, "replace", _with(node, ops=ops), weight)
    elif isinstance(node, ast.BoolOp):
        for alt, weight in _BOOLOP_ALTS.get(type(node.op), ()):
            yield ("boolop_flip", path, path, "replace", _with(node, op=alt()), weight)
        for i in range(len(node.values)):
            rest = node.values[:i] + node.values[i + 1:]
            new = rest[0] if len(rest) == 1 else _with(node, values=rest)
            yield ("drop_condition", path, path, "replace", new, 1.0)


def _condition_alts(path: tuple, node: ast.AST) -> Iterator[_Alt]:
    if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
        test = node.test
        tpath = path + ("test",)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            yield ("negate_condition", tpath, tpath, "replace", test.operand, 1.0)
        elif not isinstance(test, ast.Constant):  # `while not True` is never the fix
            yield ("negate_condition", tpath, tpath, "replace", ast.UnaryOp(op=ast.Not(), operand=test), 1.0)
    elif isinstance(node, ast.Return) and isinstance(node.value, (ast.Compare, ast.BoolOp)):
        vpath = path + ("value",)
        yield ("negate_condition", vpath, vpath, "replace", ast.UnaryOp(op=ast.Not(), operand=node.value), 1.0)


def _variable_alts(visible, path: tuple, node: ast.Name) -> Iterator[_Alt]:
    """Other variables in scope; similar names and names of the innermost function first
    (the same preferences as the wrong-variable mutation)."""
    variables = [b for b in visible if b.kind not in ("function", "class", "import")]
    if node.id not in {b.name for b in variables}:
        return
    innermost = max((b.scope for b in variables if b.scope_kind == "function"), key=len, default=None)
    local = {b.name for b in variables if innermost is not None and b.scope == innermost}
    for name in dict.fromkeys(b.name for b in variables):
        if name != node.id:
            weight = 1.0 + 2.0 * difflib.SequenceMatcher(None, node.id, name).ratio() + (1.5 if name in local else 0.0)
            yield ("wrong_variable", path, path, "replace", ast.Name(id=name, ctx=ast.Load()), weight)


def _constant_alts(path: tuple, node: ast.Constant, ints: list, strs: list) -> Iterator[_Alt]:
    value = node.value
    if type(value) is bool:
        yield ("change_constant", path, path, "replace", ast.Constant(not value), 1.0)
    elif type(value) is int:
        yield ("off_by_one", path, path, "replace", ast.Constant(value + 1), 1.0)
        yield ("off_by_one", path, path, "replace", ast.Constant(value - 1), 1.0)
        pool = [c for c in dict.fromkeys(ints + [0, 1]) if c not in (value, value + 1, value - 1)]
        for c in pool:
            yield ("change_constant", path, path, "replace", ast.Constant(c), 3.0 if c in (0, 1) else 1.0)
    elif type(value) is str:
        for c in strs:
            if c != value:
                yield ("change_constant", path, path, "replace", ast.Constant(c), 1.0)


def _is_index_position(parent: ast.AST | None, field: str | None, node: ast.AST) -> bool:
    """Is ``node`` an index, a slice bound or a ``range()`` argument (off-by-one territory)?"""
    if isinstance(node, (ast.Slice, ast.Constant, ast.Tuple)) or not isinstance(node, ast.expr):
        return False
    if isinstance(parent, ast.Subscript) and field == "slice":
        return True
    if isinstance(parent, ast.Slice):
        return True
    return (isinstance(parent, ast.Call) and field == "args" and isinstance(parent.func, ast.Name)
            and parent.func.id == "range")


def _shift_alts(path: tuple, node: ast.expr) -> Iterator[_Alt]:
    if (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub))
            and isinstance(node.right, ast.Constant) and node.right.value == 1):
        yield ("off_by_one", path, path, "replace", node.left, 2.0)
    for op in (ast.Add, ast.Sub):
        yield ("off_by_one", path, path, "replace", ast.BinOp(left=node, op=op(), right=ast.Constant(1)), 1.0)


def _swap_alts(path: tuple, node: ast.Call) -> Iterator[_Alt]:
    args = node.args
    if len(args) < 2 or len(args) > 5 or any(isinstance(a, ast.Starred) for a in args):
        return
    for i in range(len(args)):
        for j in range(i + 1, len(args)):
            new_args = list(args)
            new_args[i], new_args[j] = new_args[j], new_args[i]
            yield ("swap_args", path, path, "replace", _with(node, args=new_args), 1.0 if j == i + 1 else 0.3)


# Initial values for a forgotten initialisation, with how often each starts a variable.
_INIT_VALUES = {"0": 4.0, "[]": 2.0, "1": 1.0, "''": 1.0, "None": 0.5, "{}": 0.5, "set()": 0.5,
                "True": 0.3, "False": 0.3}


def _insert_alts(path: tuple, func: ast.FunctionDef, feedback: Feedback, ints: list, strs: list) -> Iterator[_Alt]:
    """Inverse of a deleted statement, for the forgotten lines that tests can point at:
    an initialisation of a name the tests reported unbound, a missing final ``return``,
    and a missing counter update ``v += 1`` inside a loop."""
    body_path = path + ("body",)
    start = 1 if _has_docstring(func) else 0
    own = [n for n in _own_nodes(func)]
    loaded = {n.id for n in own if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for name in feedback.unbound:
        if name in loaded:
            for value, weight in _INIT_VALUES.items():
                yield ("insert_statement", ("init", path, name), body_path, f"insert:{start}",
                       ast.parse(f"{name} = {value}").body[0], weight)
    params = [a.arg for a in func.args.args]
    assigned = list(dict.fromkeys(t.id for n in own if isinstance(n, (ast.Assign, ast.AugAssign, ast.For))
                                  for t in ast.walk(n.target if not isinstance(n, ast.Assign) else n.targets[0])
                                  if isinstance(t, ast.Name)))
    last = func.body[-1]
    says_none = feedback.run is not None and any("None" in (o.message or "") for o in feedback.run.outcomes)
    returns = any(isinstance(n, ast.Return) and n.value is not None for n in own)
    # a function that never returns a value is suspect only if the tests call it (not __init__)
    tested = func.name in feedback.test_calls or not feedback.test_calls
    if not isinstance(last, (ast.Return, ast.Raise)) and (says_none or (not returns and tested)):
        for name in assigned + params:
            weight = (2.0 if name in assigned else 1.0) * (3.0 if name not in loaded else 1.0)
            yield ("missing_return", ("return", path), body_path, f"insert:{len(func.body)}",
                   ast.Return(value=ast.Name(id=name, ctx=ast.Load())), weight)
            for wrapper in _RETURN_WRAPPERS:  # return str(res), return sum(parts), ...
                yield ("missing_return", ("return", path), body_path, f"insert:{len(func.body)}",
                       ast.parse(f"return {wrapper}({name})").body[0], weight * RETURN_WRAPPER_WEIGHT)
    counters = [n.targets[0].id for n in own if isinstance(n, ast.Assign) and len(n.targets) == 1
                and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Constant)
                and type(n.value.value) is int and n.value.value in (0, 1)]
    updated = {n.target.id for n in own if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)}
    rebound = [name for name in counters if counters.count(name) > 1]
    for name in dict.fromkeys(c for c in counters if c not in updated and c not in rebound):
        for block_path, block in _loop_blocks(func, path):
            for index in (len(block), 0):
                yield ("insert_statement", ("count", block_path, index, name), block_path, f"insert:{index}",
                       ast.parse(f"{name} += 1").body[0], 1.0)


def _dead_name_alts(tree, path: tuple, func: ast.FunctionDef, feedback: Feedback, dead: list[Unused],
                    dead_imports: list[str]) -> Iterator[_Alt]:
    """Inverse of a deleted statement that used a now-dead name ``u`` (see ``unused.py``),
    inserted where ``u`` becomes available (after its assignment, at the top of its loop body
    or the end of it, or at the top of the function for a parameter):

    - ``x += u``, ``x = u``, ``x.append(u)`` for the function's other local variables ``x``;
    - ``n = u`` and ``n = f(u)`` for a name ``n`` the tests reported unbound, with ``f`` an
      unused import or a common builtin (``sorted``, ``len``, ...).
    """
    if not dead:
        return
    dead_names = {u.name for u in dead}
    assigned = [t.id for n in _own_nodes(func) if isinstance(n, (ast.Assign, ast.AugAssign))
                for t in ast.walk(n.targets[0] if isinstance(n, ast.Assign) else n.target) if isinstance(t, ast.Name)]
    targets = [x for x in dict.fromkeys(assigned) if x not in dead_names]
    lists = {n.targets[0].id for n in _own_nodes(func) if isinstance(n, ast.Assign) and len(n.targets) == 1
             and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.List)}
    loaded = {n.id for n in _own_nodes(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    unbound = [n for n in feedback.unbound if n in loaded]
    start = 1 if _has_docstring(func) else 0
    for u in dead:
        places = list(_places_after(tree, path, u, start))
        stmts = []
        for x in targets:
            stmts += [(f"{x} += {u.name}", 2.0), (f"{x} = {u.name}", 1.0)]
            if x in lists:
                stmts.append((f"{x}.append({u.name})", 2.0))
        for n in unbound:
            stmts.append((f"{n} = {u.name}", 2.0))
            stmts += [(f"{n} = {f}({u.name})", 3.0) for f in dead_imports]
            stmts += [(f"{n} = {f}({u.name})", 0.5) for f in _WRAPPERS if f not in loaded]
        for block_path, index in places:
            for text, weight in stmts:
                yield ("dead_name", (u.name, block_path, index), block_path, f"insert:{index}",
                       ast.parse(text).body[0], weight)


def _places_after(tree, func_path: tuple, u: Unused, start: int) -> Iterator[tuple[tuple, int]]:
    """(statement-list path, index) where a statement using ``u`` could go."""
    if u.stmt is None:
        yield func_path + ("body",), start
        return
    stmt = node_at(tree, u.stmt)
    if isinstance(stmt, (ast.For, ast.AsyncFor)) and u.path[len(u.stmt)] == "target":
        yield u.stmt + ("body",), 0
        yield u.stmt + ("body",), len(stmt.body)
    else:
        yield u.stmt[:-1], u.stmt[-1] + 1


def _has_docstring(func: ast.FunctionDef) -> bool:
    first = func.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def _own_nodes(func: ast.FunctionDef) -> Iterator[ast.AST]:
    """Nodes of ``func`` outside nested functions and classes."""
    stack = list(func.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _loop_blocks(func: ast.FunctionDef, path: tuple) -> Iterator[tuple[tuple, list]]:
    """Statement lists inside loops of ``func`` (loop bodies and the branches of ifs in them)."""
    def visit(node, node_path, in_loop):
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if not isinstance(block, list) or not block or not isinstance(block[0], ast.stmt):
                continue
            inside = in_loop or isinstance(node, (ast.For, ast.While))
            if inside and not (isinstance(node, (ast.For, ast.While)) and field == "orelse"):
                yield node_path + (field,), block
            for i, stmt in enumerate(block):
                if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    yield from visit(stmt, node_path + (field, i), inside)
    yield from visit(func, path, False)


def _boundary_alts(path: tuple, node: ast.Compare) -> Iterator[_Alt]:
    """A base case that misses one value, which single-node edits reach only in two steps
    (operator and constant): ``len(a) == 0`` -> ``len(a) <= 1`` / ``len(a) < 2``, and the
    negations ``len(a) != 0`` -> ``len(a) > 1`` / ``len(a) >= 2``."""
    value = node.comparators[0].value
    if isinstance(node.ops[0], ast.Eq):
        variants = ((ast.LtE, value + 1), (ast.Lt, value + 2))
    elif isinstance(node.ops[0], ast.NotEq):
        variants = ((ast.Gt, value + 1), (ast.GtE, value + 2))
    else:
        return
    for op, bound in variants:
        new = ast.Compare(left=node.left, ops=[op()], comparators=[ast.Constant(bound)])
        yield ("fix_template", path + ("boundary",), path, "replace", new, 1.0)


def _template_alts(tree, path, node, parent, field, visible_bindings, all_bindings) -> Iterator[_Alt]:
    """Classic fix templates from the APR literature (TBar, Liu et al. 2019; PraPR): shift a
    call argument by one, unwrap a call to its argument, fill an empty list with a variable,
    replace a constant loop/branch condition by a variable, and add a None check before an
    attribute access in a condition, widen a base case by one value (`len(a) == 0` -> `len(a) <= 1`)."""
    def variables():
        return list(dict.fromkeys(b.name for b in visible_bindings(tree, path, all_bindings)
                                  if b.kind not in ("function", "class", "import")))

    if isinstance(parent, ast.Call) and field == "args" and isinstance(node, (ast.Name, ast.BinOp)) \
            and not (isinstance(parent.func, ast.Name) and parent.func.id == "range"):
        yield from (("fix_template", path + ("shift",), path, "replace", new, w) for _f, _k, _p, _o, new, w
                    in _shift_alts(path, node))
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords \
            and not isinstance(node.args[0], ast.Starred):
        yield ("fix_template", path + ("unwrap",), path, "replace", node.args[0], 1.0)
    if isinstance(node, ast.List) and not node.elts and isinstance(node.ctx, ast.Load):
        for name in variables():
            yield ("fix_template", path + ("fill",), path, "replace",
                   ast.List(elts=[ast.Name(id=name, ctx=ast.Load())], ctx=ast.Load()), 1.0)
    if isinstance(node, ast.Constant) and type(node.value) is bool and isinstance(parent, (ast.While, ast.If)) \
            and field == "test":
        for name in variables():
            yield ("fix_template", path + ("cond",), path, "replace", ast.Name(id=name, ctx=ast.Load()), 1.0)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.comparators[0], ast.Constant) \
            and type(node.comparators[0].value) is int:
        yield from _boundary_alts(path, node)
    if isinstance(node, (ast.If, ast.While)):
        bases = list(dict.fromkeys(n.value.id for n in ast.walk(node.test)
                                   if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)))
        tpath = path + ("test",)
        for base in bases:
            check = ast.parse(f"{base} is None", mode="eval").body
            yield ("fix_template", tpath + ("none", base), tpath, "replace",
                   ast.BoolOp(op=ast.Or(), values=[check, node.test]), 1.0)
            guard = ast.parse(f"{base} is not None", mode="eval").body
            yield ("fix_template", tpath + ("none", base), tpath, "replace",
                   ast.BoolOp(op=ast.And(), values=[guard, node.test]), 1.0)
