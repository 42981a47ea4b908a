"""The enumerative proposer: inverse edits of the realistic bug families, ranked.

For every node that failing tests executed, it proposes the edits that undo one mutation of
``kelp.corrupt`` (operator flips, wrong in-scope variable, off-by-one, negated condition, swapped
arguments, changed constant, an extra condition) plus statement deletion. Each candidate's prior
is its probability under a uniform bug model (pick a family, then one of its sites, then a
replacement), so families with few sites are not drowned by families with many; the score is
prior times the node's suspiciousness. This is the generate-and-validate repair space of
GenProg (Le Goues et al. 2012) and PraPR (Ghanbari et al. 2019), restricted to single-node edits.

In a program of more than :data:`FOCUS_MIN_LINES` lines only the :data:`FOCUS_LINES` most
suspicious lines and the functions that hold them are enumerated (:func:`focus_lines`,
:func:`focus_view`), so one call costs about the same for a 1,000-line module as for a
30-line function; smaller programs are enumerated whole. Scopes are looked up once per nest of
scopes (:class:`~kelp.program.scope.ScopeIndex`), not once per name.
"""

from __future__ import annotations

import ast
import builtins
import copy
import difflib
import functools
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator

from kelp.program.diff import Edit
from kelp.program.operators import BINARY, BOOLEAN, COMPARE, NON_COMMUTATIVE
from kelp.program.scope import ScopeIndex, constants
from kelp.program.spans import line_at
from kelp.program.tree import iter_nodes, node_at
from kelp.repair.accumulators import accumulation_alternatives, branch_step_alternatives, loop_step_alternatives
from kelp.repair.calls import (conversion_alternatives, discarded_result_alternatives, method_unwrap_alternatives,
                               wrap_alternatives)
from kelp.repair.excess_logic import guard_removal_alternatives
from kelp.repair.guards import (MAX_CONDITIONS, MAX_RUN, _blocks, _existing_conditions, _is_docstring, _subscripts,
                                best_conditions, first_bindings, guard_alternatives)
from kelp.repair.initialisers import (imported_names, loop_initialisers, never_bound, operand_initialisers,
                                      returning_initialisers, twin_initialisers, usage_initialisers)
from kelp.repair.missing_logic import clause_alternatives, early_return_alternatives, running_update_alternatives
from kelp.repair.parallel import presort_alternatives, twin_alternatives
from kelp.repair.proposer import Candidate, Doomed, Feedback
from kelp.repair.angelic import angelic_guards
from kelp.repair.synthesis import synthesis_alternatives
from kelp.repair.signals import Evidence
from kelp.repair.transplant import (argument_constants, assignment_donors, assignment_transplant_alternatives,
                                   callee, module_names, own_nodes, return_donors, return_transplant_alternatives,
                                   statement_donors, transplant_alternatives)
from kelp.repair.unused import Unused, protocol_params, unused_definitions, unused_imports

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
    "dead_name": 1.0, "missing_guard": 0.2, "missing_return": 1.0, "function_misuse": 0.3,
    "statement_transplant": 0.3, "missing_clause": 0.3, "early_return": 0.1,
    "missing_call": 0.2, "loose_callee": 0.1, "remove_guard": 0.2,
}

#: Functions and methods that are easily called in place of each other (the mirror image of
#: one another, or the other end of a pair): a call of one is also tried with each other one
#: ("function misuse", a frequent class of human bugs in ManySStuBs4J, Karampatsis and Allamanis
#: 2020, and in BugsInPy's categories).
SIBLING_CALLS = [
    ("min", "max"), ("bisect_left", "bisect_right"), ("bisect", "bisect_left"),
    ("insort_left", "insort_right"), ("lstrip", "rstrip", "strip"), ("ljust", "rjust", "center"),
    ("startswith", "endswith"), ("find", "rfind"), ("index", "rindex"), ("split", "rsplit"),
    ("partition", "rpartition"), ("floor", "ceil"), ("any", "all"), ("lower", "upper"),
    ("keys", "values", "items"), ("isupper", "islower"), ("isdigit", "isalpha", "isalnum"),
    ("match", "search", "fullmatch"), ("append", "extend"), ("add", "update"),
]
#: Calls confused less often, though not mirror images (``sum`` for ``len`` when counting,
#: ``int`` for ``round``): the family ``loose_callee``, less likely than ``function_misuse``.
LOOSE_SIBLING_CALLS = [("sum", "len"), ("int", "round"), ("sorted", "reversed"), ("sort", "reverse")]
_SIBLINGS: dict[str, dict[str, str]] = {}
for _groups, _family in ((SIBLING_CALLS, "function_misuse"), (LOOSE_SIBLING_CALLS, "loose_callee")):
    for _group in _groups:
        for _name in _group:
            for _other in _group:
                if _other != _name:
                    _SIBLINGS.setdefault(_name, {}).setdefault(_other, _family)

# An alternative: (family, site key, path, op, new node or None for delete, weight within the site).
_Alt = tuple[str, tuple, tuple, str, "ast.AST | None", float]

#: Builtins tried around a dead name when re-creating a forgotten assignment ``n = f(dead)``.
_WRAPPERS = ("sorted", "list", "set", "len", "sum", "max", "min", "str", "tuple", "dict", "int",
             "abs", "reversed")
#: Builtins tried around a variable when re-creating a forgotten final ``return f(x)``, each
#: with this weight relative to ``return x``.
_RETURN_WRAPPERS = _WRAPPERS + ("ord", "float", "bool")
RETURN_WRAPPER_WEIGHT = 0.1
#: Values a forgotten final ``return <value>`` is tried with (what the failing tests expect), at
#: most, each with this weight relative to ``return x``.
MAX_RETURN_VALUES = 4
RETURN_VALUE_WEIGHT = 0.3


#: Programs of at most this many lines are enumerated whole, at every node the tests executed.
#: Larger ones are enumerated only around their most suspicious lines (see :func:`focus_lines`),
#: so proposing costs as much for one state of a 5,000-line module as for a small program.
FOCUS_MIN_LINES = 200
#: Lines of a large program the enumerator proposes at: the most suspicious ones.
FOCUS_LINES = 48
#: Candidates the enumerator returns at most for one state of a large program when the search
#: asks for all of them (the root state): more than any budget reaches.
FOCUS_MAX_CANDIDATES = 1024


class EnumerativeProposer:
    """Proposes every single-node inverse edit at suspicious nodes, best first (see module doc)."""

    name = "enum"

    def __init__(self, focus_min_lines: int | None = FOCUS_MIN_LINES):
        """``focus_min_lines``: programs longer than this are enumerated around their most
        suspicious lines only (``None``: every program whole)."""
        self.focus_min_lines = focus_min_lines

    def propose(self, tree: ast.Module, feedback: Feedback, k: int | None = None) -> list[Candidate]:
        """Scored candidates for ``tree``, best first; nodes with zero suspiciousness are skipped.
        With ``k`` given (the search's deeper states) missing guards are not synthesised: they
        cost a copy of the enclosing block per candidate, and a dropped condition is one edit.

        A program longer than ``focus_min_lines`` lines is enumerated only at its
        :data:`FOCUS_LINES` most suspicious lines and in the functions that contain them (the
        rest of the module is not visited), and at most :data:`FOCUS_MAX_CANDIDATES` are
        returned; smaller programs are enumerated whole.

        Scores sum to 1 over all candidates (before truncation to ``k``), so they read as the
        probability that the edit is the fix under the bug model and the localization.
        """
        lines = None if self.focus_min_lines is None else focus_lines(tree, feedback, self.focus_min_lines)
        view = tree if lines is None else focus_view(tree, lines)
        scopes = ScopeIndex(view)
        protocol = protocol_params(tree)
        dead_defs = [u for u in unused_definitions(view, scopes.bindings)
                     if not (u.kind == "param" and u.name in protocol)]
        dead_imports = unused_imports(tree) if lines is None or feedback.unbound else []
        donors = assignment_donors(tree, feedback.unbound) if feedback.unbound else {}
        if _says_none(feedback):
            donors = {**donors, RETURNS: return_donors(tree)}
        if k is None:  # the root state: copies of the module's statements (once per repair)
            donors = {**donors, STATEMENTS: statement_donors(tree), GLOBALS: module_names(tree),
                      ARGUMENTS: argument_constants(tree)}
        alts = list(_alternatives(view, feedback, scopes, dead_defs, dead_imports, guards=k is None, lines=lines,
                                  donors=donors))
        evidence = Evidence(view, feedback, dead_defs)
        sites: dict[str, set] = defaultdict(set)
        site_mass: dict[tuple, float] = defaultdict(float)
        for family, key, _path, _op, _new, weight in alts:
            sites[family].add(key)
            site_mass[(family, key)] += weight
        # A guard's text is a copy of the block it wraps: in a large program it is written only
        # for the candidates returned (each guard is its own candidate: nothing to merge with).
        lazy = lines is not None
        merged: dict[tuple, list] = {}
        susp: dict[tuple, float] = {}  # per place: many candidates share one
        for family, key, path, op, new, weight in alts:
            doomed = isinstance(new, Doomed)  # scored and ranked like the rest, never run
            if doomed:
                new = new.node
            prior = FAMILY_WEIGHTS[family] / len(sites[family]) * weight / site_mass[(family, key)]
            prior *= evidence.boost(family, key, path, new)
            place = (key[1] + (key[2],), False) if family == "missing_guard" else (path, op.startswith("insert:"))
            if place not in susp:  # a guard is scored where its run starts: key[1][index]
                susp[place] = _block_susp(feedback, view, place[0]) if place[1] else _susp(feedback, view, place[0])
            score = prior * susp[place]
            if score <= 0.0:
                continue
            if isinstance(new, _Guard):
                text = f"\x00{key!r} {new.condition}"
            else:
                text = None if new is None else ast.unparse(new)
            ident = (op, path, text)
            synthesised = key[0] == "synthesis" or key[-1] == "angelic"
            if ident in merged:
                merged[ident][0] += score
                merged[ident][3] |= synthesised
                merged[ident][4] &= doomed
            else:
                merged[ident] = [score, family, new, synthesised, doomed]
        total = sum(v[0] for v in merged.values()) or 1.0
        ranked = sorted(merged.items(), key=lambda item: (-(item[1][0] / total), item[0][1], item[0][2] or ""))
        limit = k if k is not None else FOCUS_MAX_CANDIDATES if lazy else None
        if limit is not None:
            ranked = ranked[:limit]
        return [Candidate(_edit(op, path, new.text() if isinstance(new, _Guard) else text), score / total, family,
                          synthesised, doomed)
                for (op, path, text), (score, family, new, synthesised, doomed) in ranked]


def focus_lines(tree: ast.Module, feedback: Feedback, min_lines: int = FOCUS_MIN_LINES) -> frozenset[int] | None:
    """The lines the enumerator proposes at in ``tree``: ``None`` (every line) for a program of
    at most ``min_lines`` lines, else the :data:`FOCUS_LINES` most suspicious lines (ties by
    line number); without localization, the lines the test run's errors name (``None`` if
    they name none)."""
    last = tree.body[-1].end_lineno if tree.body else 0
    if (last or 0) <= min_lines:
        return None
    scored = [line for line, score in feedback.lines.items() if score > 0.0]
    if not scored:
        named = feedback.error_lines(None)
        return frozenset(sorted(named)[:FOCUS_LINES]) if named else None
    scored.sort(key=lambda line: (-feedback.lines[line], line))
    return frozenset(scored[:FOCUS_LINES])


def focus_view(tree: ast.Module, lines: frozenset[int]) -> ast.Module:
    """A module that shares with ``tree`` every node on the path to ``lines``: the functions
    that contain one of ``lines`` (whole), the classes around them (their other methods
    stubbed) and every other top-level statement; every other function and class is a stub
    (same name and location, body ``pass``). Paths of the shared nodes are those of ``tree``,
    so an edit proposed on the view applies to ``tree``; analyses of the view (scopes, dead
    names, constants) cost what the shared part costs."""
    def holds(node: ast.stmt) -> bool:
        first, last = node.lineno, node.end_lineno or node.lineno
        first = min([first] + [d.lineno for d in getattr(node, "decorator_list", ())])
        return any(first <= line <= last for line in lines)

    def body(stmts: list) -> list:
        out = []
        for stmt in stmts:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and not holds(stmt):
                stub = ast.FunctionDef(name=stmt.name, args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                                       kw_defaults=[], defaults=[]), body=[ast.Pass()], decorator_list=[])
                out.append(ast.fix_missing_locations(ast.copy_location(stub, stmt)))
            elif isinstance(stmt, ast.ClassDef):
                shell = copy.copy(stmt)
                shell.body = body(stmt.body) if holds(stmt) else [ast.copy_location(ast.Pass(), stmt)]
                if not holds(stmt):
                    shell.bases, shell.keywords, shell.decorator_list = [], [], []
                out.append(shell)
            else:
                out.append(stmt)
        return out

    return ast.Module(body=body(tree.body), type_ignores=[])


@dataclass(frozen=True)
class _Guard:
    """A missing-guard candidate not yet written out: ``block[index:index + length]`` of the
    statement list ``field`` of ``owner`` put under ``if condition:``."""

    owner: ast.AST
    field: str
    index: int
    length: int
    condition: str

    def text(self) -> str:
        """The source of the owner with the guard in place."""
        block = getattr(self.owner, self.field)
        guard = ast.If(test=ast.parse(self.condition, mode="eval").body,
                       body=block[self.index:self.index + self.length], orelse=[])
        new_owner = copy.copy(self.owner)
        setattr(new_owner, self.field, block[:self.index] + [guard] + block[self.index + self.length:])
        return ast.unparse(new_owner)


def _focused_guards(tree: ast.Module, func_path: tuple, func: ast.FunctionDef, dead: list[str],
                    lines: frozenset[int]) -> Iterator[_Alt]:
    """The missing guards of :func:`guard_alternatives` whose guarded run starts on one of
    ``lines``, as :class:`_Guard` (written out only if returned); the same runs, conditions
    and weights, without the conditions of the runs elsewhere in the function."""
    conditions = _existing_conditions(func)
    subscripts = _subscripts(func)
    params = [a.arg for a in func.args.args]
    loop_vars = {n.id for node in ast.walk(func) if isinstance(node, (ast.For, ast.comprehension))
                 for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    dead = [d for d in dead if d not in loop_vars]
    bound = first_bindings(func)
    for block_path, block, loops in _blocks(func, func_path, ()):
        owner_path, field = block_path[:-1], block_path[-1]
        owner = node_at(tree, owner_path)
        for i in range(len(block)):
            if block[i].lineno not in lines or isinstance(
                    block[i], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or _is_docstring(block[i]):
                continue
            for k in range(1, MAX_RUN + 1):
                run = block[i:i + k]
                if len(run) < k or (len(run) == len(block) and block_path == func_path + ("body",)):
                    break
                for text, weight, doomed in best_conditions(run, loops, conditions, subscripts, params, dead, bound,
                                                            MAX_CONDITIONS):
                    guard = _Guard(owner, field, i, k, text)
                    yield ("missing_guard", ("guard", block_path, i, k), owner_path, "replace",
                           Doomed(guard) if doomed else guard, weight)


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


def _alternatives(tree: ast.Module, feedback: Feedback, scopes: ScopeIndex, dead: list[Unused],
                  dead_imports: list[str], guards: bool = True, lines: frozenset[int] | None = None,
                  donors: dict | None = None) -> Iterator[_Alt]:
    """Every inverse edit at every node, unscored (``scopes`` from ``ScopeIndex(tree)``,
    ``dead`` from ``unused_definitions``, ``dead_imports`` from ``unused_imports``, computed
    once by the caller).  ``guards``: include
    missing-guard synthesis (``guards.py``), the costliest family (a copy of the enclosing
    block per candidate).  ``lines``: only nodes on these lines, and the function-level
    families (insertions, missing guards starting on these lines) only in functions that
    contain one of them (``None``: everywhere). ``donors``: :func:`assignment_donors`."""
    consts = constants(tree) + list(feedback.test_constants) + list(feedback.failing_constants)
    ints = list(dict.fromkeys(c for c in consts if type(c) is int and abs(c) <= 10**6))
    strs = list(dict.fromkeys(c for c in consts if type(c) is str))
    strs_tested = {c for c in feedback.failing_constants if type(c) is str}
    docstrings = _docstring_ids(tree)
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
    node_lines: dict[int, int | None] = {}
    for path, node in nodes.items():
        if id(node) in docstrings:
            continue
        parent, field = (parents.get(id(node)) or (None, None, None))[:2]
        if lines is not None:
            line = node_lines[id(node)] = getattr(node, "lineno", None) or node_lines.get(id(parent))
            is_func = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            if line not in lines and not (is_func and any(node.lineno <= ln <= node.end_lineno for ln in lines)):
                continue
        yield from _node_alternatives(tree, feedback, scopes, dead, guards, lines, path, node, parent, field,
                                      ints, strs, strs_tested, dead_imports, donors or {})


def _node_alternatives(tree, feedback, scopes, dead, guards, lines, path, node, parent, field, ints, strs,
                       strs_tested, dead_imports, donors) -> Iterator[_Alt]:
    """The inverse edits at one node (see :func:`_alternatives`)."""
    yield from _operator_alts(path, node)
    yield from _condition_alts(path, node)
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and not (
            isinstance(parent, ast.Call) and field == "func"):
        yield from _variable_alts(scopes, path, node)
    if isinstance(node, ast.Constant):
        yield from _constant_alts(path, node, ints, strs, strs_tested)
        if donors.get(ARGUMENTS) and isinstance(parent, ast.Call) and field == "args" and \
                (name := callee(parent.func)) is not None:
            for value in donors[ARGUMENTS].get((name, path[-1]), ()):
                if value != node.value and type(value) is type(node.value):
                    yield ("change_constant", path, path, "replace", ast.Constant(value), ARGUMENT_WEIGHT)
    if _is_index_position(parent, field, node):
        yield from _shift_alts(path, node)
    if isinstance(node, ast.Slice) and isinstance(parent, ast.Subscript) and field == "slice":
        # a bound dropped: the slice alone (``::2``) is no expression, so the subscript is replaced
        for bound in ("lower", "upper"):
            if getattr(node, bound) is not None:
                new_slice = copy.copy(node)
                setattr(new_slice, bound, None)
                yield ("off_by_one", path + (bound,), path[:-1], "replace", _with(parent, slice=new_slice), 0.5)
    if isinstance(node, ast.Call):
        yield from _swap_alts(path, node)
        yield from _callee_alts(path, node)
        yield from method_unwrap_alternatives(path, node)
    if isinstance(node, ast.expr):
        yield from wrap_alternatives(path, node, parent, field)
    if isinstance(node, ast.Expr):
        yield from discarded_result_alternatives(path, node)
    yield from _template_alts(path, node, parent, field, scopes)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        dead_here = [u for u in dead if u.scope == path]
        if guards and lines is None:
            for key, owner_path, new_owner, weight in guard_alternatives(
                    tree, path, node, [u.name for u in dead_here]):
                yield ("missing_guard", key, owner_path, "replace", new_owner, weight)
        elif guards:
            yield from _focused_guards(tree, path, node, [u.name for u in dead_here], lines)
        yield from _insert_alts(path, node, feedback, ints, strs, tree)
        yield from clause_alternatives(path, node, [u.name for u in dead_here])
        yield from early_return_alternatives(path, node, list(feedback.expected))
        yield from running_update_alternatives(path, node)
        yield from accumulation_alternatives(path, node)
        yield from loop_step_alternatives(path, node)
        yield from branch_step_alternatives(path, node)
        yield from conversion_alternatives(path, node, feedback)
        yield from guard_removal_alternatives(tree, path, node)
        yield from assignment_transplant_alternatives(path, node, feedback.unbound, donors)
        yield from return_transplant_alternatives(tree, path, node, donors.get(RETURNS, ()))
        if donors.get(STATEMENTS):
            for key, block_path, op, stmt, weight in transplant_alternatives(
                    path, node, donors[STATEMENTS], donors[GLOBALS], feedback.lines or None):
                yield ("statement_transplant", key, block_path, op, stmt, weight)
        yield from _dead_name_alts(tree, path, node, feedback, dead_here, dead_imports)
        yield from twin_alternatives(path, node)
        yield from presort_alternatives(path, node)
        yield from synthesis_alternatives(path, node, feedback.unbound, feedback.test_sources, feedback.probes)
        for at, condition, weight in angelic_guards(node, feedback.probes):
            owner = node_at(node, at[:-2]) if at[:-2] else node
            yield ("missing_guard", ("guard", path + at[:-1], at[-1], 1, "angelic"), path + at[:-2], "replace",
                   _Guard(owner, at[-2], at[-1], 1, condition), weight)
    if isinstance(node, ast.stmt) and parent is not None and isinstance(path[-1], int):
        siblings = getattr(parent, field)
        docstring_like = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if len(siblings) > 1 and not docstring_like and not isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            undefined = _leaves_undefined(tree, scopes, path, node)
            yield ("delete_statement", path, path, "delete", Doomed(None) if undefined else None, 1.0)


def _leaves_undefined(tree: ast.AST, scopes: ScopeIndex, path: tuple, stmt: ast.stmt) -> bool:
    """Whether deleting ``stmt`` (at ``path``) removes every binding of a name that the function
    (or module) around it still reads: the patched code reads an undefined name (``NameError``
    or ``UnboundLocalError`` wherever the read is reached), which no fix leaves behind."""
    inside = {id(n) for n in ast.walk(stmt)}
    bound = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    if not bound:
        return False
    visible = scopes.visible(path)
    owner = max((b.scope for b in visible if b.scope_kind == "function"), key=len, default=())
    nodes = list(own_nodes(node_at(tree, owner)) if owner else ast.walk(tree))  # a nested def's names are its own
    for name in sorted(bound - _BUILTIN_NAMES):
        if any(b.name == name and b.path[:len(path)] != path for b in visible):
            continue  # bound elsewhere too
        if any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) and id(n) not in inside
               for n in nodes):
            return True
    return False


_BUILTIN_NAMES = frozenset(dir(builtins))


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


#: How much likelier a variable of the innermost function is than a module variable as the
#: right one at a wrong-variable site.
LOCAL_VARIABLE_FACTOR = 4.0


def _variable_alts(scopes: ScopeIndex, path: tuple, node: ast.Name) -> Iterator[_Alt]:
    """Other variables in scope; similar names and names of the innermost function first
    (the same preferences as the wrong-variable mutation). A local is :data:`LOCAL_VARIABLE_FACTOR`
    times likelier than a module variable as alike, so a module's many globals do not drown
    the function's own few. A local of the innermost function first bound on or after the
    node's line is unbound there (``UnboundLocalError`` on every run): it is :class:`Doomed`.
    (A name of the wrong kind for its place, ``i[i]`` for a number ``i``, is left to the
    search's :class:`~kelp.repair.kinds.KindCheck`.)"""
    variables = [b for b in scopes.visible(path) if b.kind not in ("function", "class", "import")]
    if node.id not in {b.name for b in variables}:
        return
    innermost = max((b.scope for b in variables if b.scope_kind == "function"), key=len, default=None)
    local = {b.name for b in variables if innermost is not None and b.scope == innermost}
    line = getattr(node, "lineno", None)
    for name in dict.fromkeys(b.name for b in variables):
        if name != node.id:
            weight = (1.0 + 2.0 * _similarity(node.id, name)) * (LOCAL_VARIABLE_FACTOR if name in local else 1.0)
            new = ast.Name(id=name, ctx=ast.Load())
            unbound = name in local and line is not None and (scopes.first_line(innermost, name) or 0) >= line
            yield ("wrong_variable", path, path, "replace", Doomed(new) if unbound else new, weight)


@functools.lru_cache(maxsize=1 << 16)
def _similarity(a: str, b: str) -> float:
    """``difflib``'s matching ratio of two names (cached: the same pairs recur at every read)."""
    return difflib.SequenceMatcher(None, a, b).ratio()


#: Weight of a value the module passes at the same argument of the same function elsewhere,
#: relative to the program's other constants, as the replacement of a constant argument.
ARGUMENT_WEIGHT = 5.0

#: Weight of a string that a failing test holds (or a failed assertion expected), relative to
#: the program's other strings, as the replacement of a wrong string constant.
TESTED_STRING_WEIGHT = 3.0


#: Strings tried for a string constant of at most one character: the empty string and the
#: separator people confuse with it.
COMMON_STRINGS = ("", " ")
#: Weight of a common string the program and tests do not hold, relative to their strings.
COMMON_STRING_WEIGHT = 0.5


def _constant_alts(path: tuple, node: ast.Constant, ints: list, strs: list, strs_tested: set = frozenset()
                   ) -> Iterator[_Alt]:
    """Other values for a constant: ``not`` a bool; an int's neighbours and the program's and
    tests' other small ints (0 and 1 likelier); the program's and tests' other strings (those
    of the failing tests likelier) and, for a string of at most one character,
    :data:`COMMON_STRINGS`."""
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
        for c in dict.fromkeys(strs + (list(COMMON_STRINGS) if len(value) <= 1 else [])):
            if c != value:
                yield ("change_constant", path, path, "replace", ast.Constant(c),
                       TESTED_STRING_WEIGHT if c in strs_tested else 1.0 if c in strs else COMMON_STRING_WEIGHT)


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


def _callee_alts(path: tuple, node: ast.Call) -> Iterator[_Alt]:
    """The call with a sibling function or method (:data:`SIBLING_CALLS`, and
    :data:`LOOSE_SIBLING_CALLS` less likely) in place of its own."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    for other, family in _SIBLINGS.get(name, {}).items():
        new = ast.Name(id=other, ctx=ast.Load()) if isinstance(func, ast.Name) else _with(func, attr=other)
        yield (family, path + ("func",), path + ("func",), "replace", new, 1.0)


# Initial values for a forgotten initialisation, with how often each starts a variable.
_INIT_VALUES = {"0": 4.0, "[]": 2.0, "1": 1.0, "''": 1.0, "None": 0.5, "{}": 0.5, "set()": 0.5,
                "True": 0.3, "False": 0.3}


def _insert_alts(path: tuple, func: ast.FunctionDef, feedback: Feedback, ints: list, strs: list,
                 tree: ast.Module) -> Iterator[_Alt]:
    """Inverse of a deleted statement, for the forgotten lines that tests can point at:
    an initialisation of a name the tests reported unbound or that nothing binds
    (:func:`~kelp.repair.initialisers.never_bound`), with the values its uses call for
    first (:mod:`kelp.repair.initialisers`), a missing final ``return`` (of a
    variable, or of a value the failing tests hold), and a missing counter update ``v += 1``
    inside a loop."""
    body_path = path + ("body",)
    start = 1 if _has_docstring(func) else 0
    own = [n for n in own_nodes(func)]
    loaded = {n.id for n in own if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    unbound = list(dict.fromkeys([*feedback.unbound, *never_bound(tree, func)]))
    imported = imported_names(tree) if unbound else set()
    bound = first_bindings(func) if unbound else {}
    for name in unbound:
        if name in loaded:
            again = _bound_before_read(own, bound, name)  # an edit initialised it already
            usage = twin_initialisers(func, name)
            usage += [(v, w) for v, w in returning_initialisers(tree, func, name) if v not in dict(usage)]
            usage += [(v, w) for v, w in usage_initialisers(func, name, imported) if v not in dict(usage)]
            usage += [(v, w) for v, w in operand_initialisers(func, name) if v not in dict(usage)]
            for value, weight in usage + [(v, w) for v, w in _INIT_VALUES.items() if v not in dict(usage)]:
                init = ast.parse(f"{name} = {value}").body[0]
                yield ("insert_statement", ("init", path, name), body_path, f"insert:{start}",
                       Doomed(init) if again else init, weight)
            for block_path, value, weight in loop_initialisers(func, path, name):
                init = ast.parse(f"{name} = {value}").body[0]
                yield ("insert_statement", ("init", block_path, name), block_path, "insert:0",
                       Doomed(init) if again else init, weight)
    params = [a.arg for a in func.args.args]
    assigned = list(dict.fromkeys(t.id for n in own if isinstance(n, (ast.Assign, ast.AugAssign, ast.For))
                                  for t in ast.walk(n.target if not isinstance(n, ast.Assign) else n.targets[0])
                                  if isinstance(t, ast.Name)))
    last = func.body[-1]
    says_none = _says_none(feedback)
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
        for value in feedback.expected[:MAX_RETURN_VALUES]:
            # a fall-through without its final ``return <value>`` (a sentinel the tests expect)
            yield ("missing_return", ("return", path), body_path, f"insert:{len(func.body)}",
                   ast.Return(value=ast.Constant(value)), RETURN_VALUE_WEIGHT)
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


def _bound_before_read(own: list[ast.AST], bound: dict[str, int], name: str) -> bool:
    """Whether ``name`` is bound (``bound``: :func:`~kelp.repair.guards.first_bindings`) on a
    line before its first read among the function's nodes ``own``: an initialisation of it is
    there already (an earlier edit inserted one), so another is no repair."""
    reads = [n.lineno for n in own if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]
    reads += [n.lineno for n in own if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)
              and n.target.id == name]
    return name in bound and bool(reads) and bound[name] < min(reads)


#: Keys of the donor lists among the donors of one propose call (not identifiers, so no name
#: clashes with the names of :func:`~kelp.repair.transplant.assignment_donors`).
RETURNS, STATEMENTS, GLOBALS, ARGUMENTS = "<returns>", "<statements>", "<globals>", "<arguments>"


def _says_none(feedback: Feedback) -> bool:
    """Whether a test's message mentions None (a function that forgot to return gives None)."""
    return feedback.run is not None and any("None" in (o.message or "") for o in feedback.run.outcomes)


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
    assigned = [t.id for n in own_nodes(func) if isinstance(n, (ast.Assign, ast.AugAssign))
                for t in ast.walk(n.targets[0] if isinstance(n, ast.Assign) else n.target) if isinstance(t, ast.Name)]
    targets = [x for x in dict.fromkeys(assigned) if x not in dead_names]
    lists = {n.targets[0].id for n in own_nodes(func) if isinstance(n, ast.Assign) and len(n.targets) == 1
             and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.List)}
    loaded = {n.id for n in own_nodes(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    unbound = [n for n in feedback.unbound if n in loaded]
    start = 1 if _has_docstring(func) else 0
    owner = func.args.args[0].arg if func.args.args and func.args.args[0].arg in ("self", "cls") else None
    for u in dead:
        places = list(_places_after(tree, path, u, start))
        stmts = []
        if owner and u.kind == "param" and u.name != owner:  # a forgotten self.width = width
            stmts.append((f"{owner}.{u.name} = {u.name}", 4.0 if func.name == "__init__" else 1.0))
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


def _template_alts(path, node, parent, field, scopes: ScopeIndex) -> Iterator[_Alt]:
    """Classic fix templates from the APR literature (TBar, Liu et al. 2019; PraPR): shift a
    call argument by one, unwrap a call to its argument, fill an empty list with a variable,
    replace a constant loop/branch condition by a variable, and add a None check before an
    attribute access in a condition, widen a base case by one value (`len(a) == 0` -> `len(a) <= 1`)."""
    def variables():
        return list(dict.fromkeys(b.name for b in scopes.visible(path)
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
