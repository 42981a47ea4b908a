"""Evidence that raises a candidate edit's prior: what the tests' errors and the program's odd
code point at.

The enumerative proposer's bug model is uniform over families and sites; these signals multiply
the prior of the candidates the evidence points at (each multiplier is a module constant):
a name bound but never read (a wrong variable left its definition dead), a name the tests
report unbound, a subscript on a line that raised IndexError, the object of an attribute that
raised AttributeError, the operands of an operation that raised a TypeError about operand types,
degenerate code (``k % k``, ``x - 0``, rare large constants), a loop that can only run once (its
exit lost an ``if``), an assertion that got ``None`` (a forgotten ``return``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator

from kelp.program.spans import line_at
from kelp.program.tree import iter_nodes
from kelp.repair.guards import _blocks
from kelp.repair.proposer import Feedback
from kelp.repair.unused import Unused

#: How much likelier a wrong-variable fix (or an added clause) is when a name it puts in is
#: otherwise never read (the mutation that replaced a read of it usually left its definition
#: dead, as does a forgotten clause; see ``unused.py``).
DEAD_NAME_BOOST = 6.0
#: How much likelier a wrong-variable fix is at a read of a name the tests reported unbound (the
#: read, not a missing definition, is often the bug: a name misused before it is assigned).
UNBOUND_READ_BOOST = 3.0
#: How much likelier a constant site is when its value is large and appears nowhere else in the
#: program or the tests (typical of a changed constant; programs mostly hold 0, 1, 2, 10...).
ODD_CONSTANT_BOOST = 3.0
#: How much likelier a missing final ``return`` is when a failing assertion compared an actual
#: ``None`` with an expected value that is not ``None``.
NONE_RESULT_BOOST = 4.0
#: How much likelier an off-by-one inside a subscript is on a line that raised IndexError.
INDEX_ERROR_BOOST = 3.0
#: How much likelier a wrong-variable fix is at a degenerate operand (``k % k``, ``i == i``) or
#: at the object of an attribute read on a line that raised AttributeError.
SUSPECT_NAME_BOOST = 3.0
#: How much likelier a wrong-variable fix is when it swaps one loop variable for another (``i``
#: for ``j`` in nested loops: the likeliest variable confusion in hand-written loops).
LOOP_VARIABLE_BOOST = 3.0
#: How much likelier a wrong-variable fix is when it puts an enclosing loop's variable for a loop
#: variable read after its own loop ended without ``break`` (there it is always the last value:
#: ``return arr[j]`` after ``for j in ...`` inside ``for i in ...``).
STALE_LOOP_VARIABLE_BOOST = 10.0
#: How much likelier a missing guard is around the unconditional ``return`` / ``break`` of a
#: loop body (a loop that can only run once: its exit lost its ``if``).
SINGLE_PASS_LOOP_BOOST = 10.0
#: How much likelier a missing guard is around a ``return`` / ``raise`` that has statements after
#: it in its block (code that can never run: the exit lost its ``if``).
UNREACHABLE_CODE_BOOST = 10.0
#: How much likelier a guard is whose condition was synthesised from the locals observed on the
#: tests (it separates the tests that the guarded ``return`` answers from the others).
ANGELIC_GUARD_BOOST = 10.0
#: How much likelier a ``while`` loop's forgotten step is (in its body, or in a branch that stalls
#: it) when a test hung: a loop that never ends.
HUNG_LOOP_BOOST = 10.0


class Evidence:
    """The signals of one program state under one test run, computed once per propose call;
    :meth:`boost` gives a candidate's prior multiplier (>= 1)."""

    def __init__(self, tree: ast.Module, feedback: Feedback, dead_defs: list[Unused]):
        self.tree = tree
        self.returned_none = feedback.returned_none
        self.dead = {(u.scope, u.name) for u in dead_defs}
        self.odd = _odd_constants(tree, feedback)
        self.index_errors = feedback.error_lines("IndexError")
        self.suspect_names = _suspect_names(tree, feedback.error_lines("AttributeError"),
                                            feedback.error_lines("TypeError", ("operand", "concatenate")),
                                            feedback.error_lines("TypeError", _WRONG_KIND))
        self.single_pass = _single_pass_loops(tree)
        self.premature = _premature_exits(tree)
        self.unbound_reads = {path for path, node in iter_nodes(tree) if isinstance(node, ast.Name)
                              and isinstance(node.ctx, ast.Load) and node.id in feedback.unbound}
        self.loop_reads = _loop_variable_reads(tree)
        self.stale_reads = _stale_loop_reads(tree)
        self.hung = feedback.run is not None and any(o.status == "timeout" for o in feedback.run.outcomes)

    def boost(self, family: str, key: tuple, path: tuple, new: ast.AST | None) -> float:
        """Prior multiplier of the candidate ``(family, site key, path, new node)``."""
        factor = 1.0
        if family == "wrong_variable":
            if isinstance(new, ast.Name) and any((scope, new.id) in self.dead for scope in _prefixes(path)):
                factor *= DEAD_NAME_BOOST
            if path in self.unbound_reads:
                factor *= UNBOUND_READ_BOOST
            if path in self.suspect_names:
                factor *= SUSPECT_NAME_BOOST
            if isinstance(new, ast.Name) and new.id in self.loop_reads.get(path, ()):
                factor *= LOOP_VARIABLE_BOOST
            if isinstance(new, ast.Name) and new.id in self.stale_reads.get(path, ()):
                factor *= STALE_LOOP_VARIABLE_BOOST
        elif family in ("change_constant", "off_by_one"):
            if path in self.odd:
                factor *= ODD_CONSTANT_BOOST
            if family == "off_by_one" and "slice" in path and line_at(self.tree, path) in self.index_errors:
                factor *= INDEX_ERROR_BOOST
        elif family == "missing_guard":  # key = ("guard", block path, first index, run length[, "angelic"])
            if key[4:] == ("angelic",):
                factor *= ANGELIC_GUARD_BOOST
            if key[2] <= self.single_pass.get(key[1], -1) < key[2] + key[3]:
                factor *= SINGLE_PASS_LOOP_BOOST
            if key[2] <= self.premature.get(key[1], -1) < key[2] + key[3]:
                factor *= UNREACHABLE_CODE_BOOST
        elif family == "insert_statement" and self.hung and key[0] in ("step", "branch_step"):
            factor *= HUNG_LOOP_BOOST
        elif family == "missing_return" and self.returned_none:
            factor *= NONE_RESULT_BOOST
        elif family == "missing_clause" and new is not None and any(
                isinstance(n, ast.Name) and any((scope, n.id) in self.dead for scope in _prefixes(path))
                for n in ast.walk(new.values[-1])):
            factor *= DEAD_NAME_BOOST  # the forgotten clause read the parameter left unread
        return factor


def _loop_variable_reads(tree: ast.Module) -> dict[tuple, frozenset[str]]:
    """``{path of a read of a loop variable: the other variables of the loops around it}``:
    where ``i`` may stand for ``j`` (for-loop targets that are plain names, and comprehension
    targets, of the loops enclosing the read)."""
    found: dict[tuple, frozenset[str]] = {}

    def visit(node, path, loops):
        if isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.target, ast.Name):
            loops = loops + (node.target.id,)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            loops = loops + tuple(g.target.id for g in node.generators if isinstance(g.target, ast.Name))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in loops:
            others = frozenset(v for v in loops if v != node.id)
            if others:
                found[path] = others
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        visit(item, path + (field, i), loops)
            elif isinstance(value, ast.AST):
                visit(value, path + (field,), loops)

    visit(tree, (), ())
    return found


def _stale_loop_reads(tree: ast.Module) -> dict[tuple, frozenset[str]]:
    """``{path of a stale read: the variables of the loops around it}``: reads of a ``for``
    loop's variable (a plain name) in the statements after the loop in its block, when the loop
    body has no ``break`` of its own and those statements never rebind the name (after such a
    loop the variable always holds the last value), inside other ``for`` loops whose variables
    may be the one meant."""
    found: dict[tuple, frozenset[str]] = {}
    for func_path, func in iter_nodes(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for block_path, block, loops in _blocks(func, func_path, ()):
            others = frozenset(loops)
            for k, stmt in enumerate(block):
                if not (others and isinstance(stmt, (ast.For, ast.AsyncFor)) and isinstance(stmt.target, ast.Name)
                        and stmt.target.id not in others and not _breaks(stmt.body)):
                    continue
                name, rest = stmt.target.id, block[k + 1:]
                if any(isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load)
                       for r in rest for n in ast.walk(r)):
                    continue
                for offset, later in enumerate(rest, start=k + 1):
                    for sub, node in iter_nodes(later):
                        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
                            found[block_path + (offset,) + sub] = others
    return found


def _breaks(body: list) -> bool:
    """Whether a loop body holds a ``break`` of that loop (not of a loop nested in it)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if not isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef, ast.AsyncFunctionDef,
                                 ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _prefixes(path: tuple) -> Iterator[tuple]:
    """Every prefix of ``path`` (candidate enclosing scopes), longest first."""
    return (path[:n] for n in range(len(path), -1, -1))


def _odd_constants(tree: ast.Module, feedback: Feedback) -> set[tuple]:
    """Paths of int constants with ``abs(value) >= 100`` whose value occurs once in the program
    and never in the tests, and of identity operands (the 0 of ``x - 0``, the 1 of ``x * 1``)."""
    found: dict[int, list[tuple]] = defaultdict(list)
    for path, node in iter_nodes(tree):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            found[node.value].append(path)
    tests = set(feedback.test_constants)
    odd = {paths[0] for value, paths in found.items()
           if abs(value) >= 100 and len(paths) == 1 and value not in tests}
    for path, node in iter_nodes(tree):  # x + 0, x - 0, x * 1, x / 1, x ** 1: nobody writes these
        if isinstance(node, ast.BinOp):
            for side, other in (("right", node.left), ("left", node.right)):
                const = getattr(node, side)
                if isinstance(const, ast.Constant) and type(const.value) is int and not isinstance(other, ast.Constant):
                    ident = {ast.Add: 0, ast.Mult: 1}.get(type(node.op))
                    if side == "right":
                        ident = {ast.Sub: 0, ast.Div: 1, ast.FloorDiv: 1, ast.Pow: 1}.get(type(node.op), ident)
                    if const.value == ident:
                        odd.add(path + (side,))
    return odd


def _single_pass_loops(tree: ast.Module) -> dict[tuple, int]:
    """``{loop body path: index}`` for loops whose body leaves unconditionally (a top-level
    ``return``, ``break`` or ``raise`` at ``index``), so the loop never repeats."""
    found = {}
    for path, node in iter_nodes(tree):
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            for index, stmt in enumerate(node.body):
                if isinstance(stmt, (ast.Return, ast.Break, ast.Raise)):
                    found[path + ("body",)] = index
                    break
    return found


def _premature_exits(tree: ast.Module) -> dict[tuple, int]:
    """``{block path: index}`` for statement lists with a ``return`` or ``raise`` at ``index``
    that is not their last statement (the first such exit of each block)."""
    found = {}
    for path, node in iter_nodes(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            for index, stmt in enumerate(block[:-1]):
                if isinstance(stmt, (ast.Return, ast.Raise)):
                    found[path + (field,)] = index
                    break
    return found


#: TypeError messages that say a value is of the wrong kind for what the line does with it.
_WRONG_KIND = ("is not iterable", "is not subscriptable", "has no len()", "is not callable", "must be a mapping")


def _suspect_names(tree: ast.Module, attribute_error_lines: set[int], operand_error_lines: set[int] = frozenset(),
                   kind_error_lines: set[int] = frozenset()) -> set[tuple]:
    """Paths of name reads that look like a wrong variable: both operands of ``k % k`` or
    ``i == i``, ``x`` in ``x.attr`` on a line where a test raised AttributeError, the name
    operands of ``a + b`` on a line where a test raised a TypeError about operand types
    ("can only concatenate list (not "int") to list"), and the names a line reads where a test
    raised a TypeError about a value of the wrong kind ("'re.Pattern' object is not iterable")."""
    found = set()
    for path, node in iter_nodes(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                and getattr(node, "lineno", None) in kind_error_lines and path[-1] != "func":
            found.add(path)
            continue
        if isinstance(node, ast.BinOp):
            if getattr(node, "lineno", None) in operand_error_lines:
                found.update(path + (side,) for side in ("left", "right")
                             if isinstance(getattr(node, side), ast.Name))
            pair = (("left",), node.left), (("right",), node.right)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            pair = (("left",), node.left), (("comparators", 0), node.comparators[0])
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and getattr(node, "lineno", None) in attribute_error_lines:
            found.add(path + ("value",))
            continue
        else:
            continue
        (pa, a), (pb, b) = pair
        if isinstance(a, ast.Name) and isinstance(b, ast.Name) and a.id == b.id:
            found.update((path + pa, path + pb))
    return found
