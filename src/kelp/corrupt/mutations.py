"""Mutation families of the forward process: where each realistic bug can be planted.

Each family maps a tree to its *sites*: a path plus the concrete options there (a replacement
node, a deletion, or a splice of statements). Choosing among them, applying, and checking
that the result compiles is the job of :mod:`kelp.corrupt.forward`.

Families follow the classic mutation operators of mutation testing (Offutt et al., "An
experimental determination of sufficient mutant operators", TOSEM 1996: AOR/ROR/LCR, SDL,
constant replacement) and the bug classes of QuixBugs (Lin et al., 2017) and ManySStuBs4J
(Karampatsis & Sutton, MSR 2020: change operator, wrong variable, off-by-one, swap
arguments, change constant). ``bank_swap`` is Kelp's subtree-bank noise.

Docstrings (and other bare string statements) and f-string internals are never mutated; def/class/module nodes are never
replaced whole. Pure code: randomness only through the ``rng`` handed to a sampler.
"""

from __future__ import annotations

import ast
import copy
import difflib
from dataclasses import dataclass, field
from typing import Callable

from kelp.program.fragment import dump, fragment_kind, parse_fragment
from kelp.program.operators import BINARY, BOOLEAN, COMPARE, NON_COMMUTATIVE
from kelp.program.scope import bindings, constants, function_scopes, visible_bindings
from kelp.program.tree import Path, ProgramSyntaxError, is_docstring, iter_nodes, node_source

__all__ = ["Option", "Site", "SiteContext", "FAMILY_SITES", "BINOP_FLIPS", "COMPARE_FLIPS"]


@dataclass
class Option:
    """One concrete mutation at a site: ``kind`` "replace" (``new``: node), "delete"
    (``new``: None) or "splice" (``new``: list of statements replacing a list element);
    ``weight`` > 0 for weighted choice among a site's options."""

    kind: str
    new: object = None
    weight: float = 1.0


@dataclass
class Site:
    """A place a family can mutate: ``path`` and its ``options``; when ``sampler`` is set the
    options are drawn lazily with the step's rng (bank swaps)."""

    path: Path
    options: list[Option] | None = None
    sampler: Callable[[object], list[Option]] | None = None

    def expand(self, rng) -> list[Option]:
        """The site's options (sampled once, then cached)."""
        if self.options is None:
            self.options = list(self.sampler(rng)) if self.sampler else []
        return self.options


@dataclass
class SiteContext:
    """What site enumeration needs: the tree, the region (``within``: only paths under it),
    paths to ``avoid`` (earlier mutations: their ancestors and descendants are skipped),
    and the bank for ``bank_swap``. Node lists and scope facts are computed once."""

    tree: ast.Module
    within: Path | None = None
    avoid: tuple[Path, ...] = ()
    bank: object | None = None
    _nodes: list[tuple[Path, ast.AST]] | None = field(default=None, repr=False)
    _scope: tuple | None = field(default=None, repr=False)

    def nodes(self) -> list[tuple[Path, ast.AST]]:
        """Mutable (path, node) pairs in pre-order: inside ``within``, outside f-strings and
        docstrings, not overlapping an avoided path."""
        if self._nodes is None:
            out = []
            skip: list[Path] = []
            for path, node in iter_nodes(self.tree):
                if any(_prefix(s, path) for s in skip):
                    continue
                if isinstance(node, ast.JoinedStr) or _string_statement(node) or (
                    isinstance(node, ast.Constant) and is_docstring(self.tree, path)
                ):
                    skip.append(path)
                    continue
                if self.within is not None and not _prefix(self.within, path):
                    continue
                if any(_prefix(a, path) or _prefix(path, a) for a in self.avoid):
                    continue
                out.append((path, node))
            self._nodes = out
        return self._nodes

    def scope(self):
        """(bindings, function scope paths, name -> line numbers of its uses)."""
        if self._scope is None:
            lines: dict[str, list[int]] = {}
            for _, n in iter_nodes(self.tree):
                if isinstance(n, ast.Name):
                    lines.setdefault(n.id, []).append(n.lineno)
            self._scope = (bindings(self.tree), function_scopes(self.tree), lines)
        return self._scope


def _string_statement(node: ast.AST) -> bool:
    """A bare string statement: a docstring, or a string used as a comment block."""
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _prefix(prefix: Path, path: Path) -> bool:
    return len(prefix) <= len(path) and path[: len(prefix)] == prefix


def _int(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _plus(e: ast.expr, k: int) -> ast.expr:
    return ast.BinOp(left=copy.deepcopy(e), op=ast.Add() if k > 0 else ast.Sub(), right=ast.Constant(1))


def _strip_one(e: ast.expr) -> ast.expr | None:
    """``x + 1`` / ``x - 1`` -> ``x`` (the other half of an off-by-one)."""
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)) and _int(e.right) and e.right.value == 1:
        return copy.deepcopy(e.left)
    return None


def _shift_options(e: ast.expr) -> list[Option]:
    opts = [Option("replace", _plus(e, +1)), Option("replace", _plus(e, -1))]
    stripped = _strip_one(e)
    if stripped is not None:
        opts.insert(0, Option("replace", stripped))
    return opts


# --- operator flips -------------------------------------------------------------------
# The mutations of the shared operator table (kelp.program.operators), whose repairs the
# enumerator proposes.

#: Binary operator -> the operators it is flipped to, in option order.
BINOP_FLIPS: dict[type, tuple[type, ...]] = {op: alts.mutations for op, alts in BINARY.items() if alts.mutations}
#: Comparison operator -> the operators it is flipped to, in option order.
COMPARE_FLIPS: dict[type, tuple[type, ...]] = {op: alts.mutations for op, alts in COMPARE.items() if alts.mutations}
_BOOLOP_FLIPS: dict[type, tuple[type, ...]] = {op: alts.mutations for op, alts in BOOLEAN.items() if alts.mutations}


def binop_flip(ctx: SiteContext) -> list[Site]:
    """``a + b`` -> ``a - b`` (and ``+=`` -> ``-=``), pairs in BINOP_FLIPS."""
    sites = []
    for path, node in ctx.nodes():
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in BINOP_FLIPS:
            sites.append(Site(path + ("op",), [Option("replace", c()) for c in BINOP_FLIPS[type(node.op)]]))
    return sites


def compare_flip(ctx: SiteContext) -> list[Site]:
    """``<`` <-> ``<=``, ``<`` <-> ``>``, ``==`` <-> ``!=``, ``in`` <-> ``not in``, ``is`` <-> ``is not``."""
    sites = []
    for path, node in ctx.nodes():
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in COMPARE_FLIPS:
                    sites.append(Site(path + ("ops", i), [Option("replace", c()) for c in COMPARE_FLIPS[type(op)]]))
    return sites


def boolop_flip(ctx: SiteContext) -> list[Site]:
    """``and`` <-> ``or`` (pairs in the boolean table of kelp.program.operators)."""
    return [
        Site(path + ("op",), [Option("replace", c()) for c in _BOOLOP_FLIPS[type(node.op)]])
        for path, node in ctx.nodes() if isinstance(node, ast.BoolOp) and type(node.op) in _BOOLOP_FLIPS
    ]


# --- names and constants --------------------------------------------------------------

_VARIABLE_KINDS = ("param", "local", "except", "comprehension")


def wrong_variable(ctx: SiteContext) -> list[Site]:
    """A variable read replaced by another variable in scope (never a called name, never a
    def/class/import name). Weights prefer similar names, names of the innermost function,
    and names used in the three lines before the site."""
    all_b, funcs, uses = ctx.scope()
    sites = []
    for path, node in ctx.nodes():
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)) or path[-1:] == ("func",):
            continue
        vis = visible_bindings(ctx.tree, path, all_b, funcs)
        names: dict[str, bool] = {}
        innermost = max((b.scope for b in vis if b.scope_kind == "function"), key=len, default=None)
        for b in vis:
            if b.kind in _VARIABLE_KINDS:
                local = b.scope == innermost and innermost is not None
                names[b.name] = names.get(b.name, False) or local
        if node.id not in names:
            continue
        opts = []
        for name, local in names.items():
            if name == node.id:
                continue
            w = 1.0 + 2.0 * difflib.SequenceMatcher(None, node.id, name).ratio() + (1.5 if local else 0.0)
            if any(node.lineno - 3 <= ln <= node.lineno for ln in uses.get(name, ())):
                w += 1.0
            opts.append(Option("replace", ast.Name(id=name, ctx=ast.Load()), weight=w))
        if opts:
            sites.append(Site(path, opts))
    return sites


def off_by_one(ctx: SiteContext) -> list[Site]:
    """Integer constant ``c`` -> ``c+1``/``c-1``; ``range`` bounds, slice bounds and index
    expressions ``e`` -> ``e+1``/``e-1`` (or ``e±1`` -> ``e``); slice bounds added/removed."""
    sites = []
    for path, node in ctx.nodes():
        if _int(node):
            opts = [Option("replace", ast.Constant(node.value + 1))]
            if node.value > 0:
                opts.append(Option("replace", ast.Constant(node.value - 1)))
            sites.append(Site(path, opts))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
              and 1 <= len(node.args) <= 3 and not node.keywords
              and not any(isinstance(a, ast.Starred) for a in node.args)):
            bounds = [0] if len(node.args) == 1 else [0, 1]
            for k in bounds:
                if not isinstance(node.args[k], ast.Constant):
                    sites.append(Site(path + ("args", k), _shift_options(node.args[k])))
        elif isinstance(node, ast.Slice):
            opts = []
            for fname, added in (("lower", ast.Constant(1)), ("upper", ast.UnaryOp(ast.USub(), ast.Constant(1)))):
                bound = getattr(node, fname)
                if bound is None:
                    new = copy.deepcopy(node)
                    setattr(new, fname, added)
                    opts.append(Option("replace", new))
                    continue
                removed = copy.deepcopy(node)
                setattr(removed, fname, None)
                opts.append(Option("replace", removed))
                if not isinstance(bound, (ast.Constant, ast.UnaryOp)):
                    for o in _shift_options(bound):
                        new = copy.deepcopy(node)
                        setattr(new, fname, o.new)
                        opts.append(Option("replace", new))
            sites.append(Site(path, opts))
        elif (isinstance(node, ast.Subscript) and not isinstance(node.slice, (ast.Slice, ast.Tuple, ast.Constant))
              and not (isinstance(node.slice, ast.UnaryOp) and isinstance(node.slice.operand, ast.Constant))):
            sites.append(Site(path + ("slice",), _shift_options(node.slice)))
    return sites


def change_constant(ctx: SiteContext) -> list[Site]:
    """An int constant -> another int constant of the program (or 0 <-> 1); ``True`` <->
    ``False``; a string constant -> another string constant of the program."""
    consts = constants(ctx.tree)
    ints = [c for c in consts if type(c) is int]
    strs = [c for c in consts if type(c) is str]
    sites = []
    for path, node in ctx.nodes():
        if not isinstance(node, ast.Constant):
            continue
        v = node.value
        if type(v) is bool:
            values: list = [not v]
        elif type(v) is int:
            values = [c for c in ints if c != v]
            if v in (0, 1) and (1 - v) not in values:
                values.append(1 - v)
        elif type(v) is str:
            values = [c for c in strs if c != v]
        else:
            continue
        if values:
            sites.append(Site(path, [Option("replace", ast.Constant(c)) for c in values]))
    return sites


# --- conditions -------------------------------------------------------------------------

def negate_condition(ctx: SiteContext) -> list[Site]:
    """The test of an ``if``/``while``/ternary: ``x`` -> ``not x``, ``not x`` -> ``x``."""
    sites = []
    for path, node in ctx.nodes():
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            t = node.test
            if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not):
                new = copy.deepcopy(t.operand)
            else:
                new = ast.UnaryOp(op=ast.Not(), operand=copy.deepcopy(t))
            sites.append(Site(path + ("test",), [Option("replace", new)]))
    return sites


def drop_condition(ctx: SiteContext) -> list[Site]:
    """An ``if`` without ``else`` unwrapped into its body; one operand dropped from
    ``a and b`` / ``a or b``."""
    sites = []
    for path, node in ctx.nodes():
        if isinstance(node, ast.If) and not node.orelse and isinstance(path[-1], int):
            sites.append(Site(path, [Option("splice", copy.deepcopy(node.body))]))
        elif isinstance(node, ast.BoolOp):
            opts = []
            for k in range(len(node.values)):
                rest = [copy.deepcopy(v) for i, v in enumerate(node.values) if i != k]
                opts.append(Option("replace", rest[0] if len(rest) == 1 else ast.BoolOp(op=type(node.op)(), values=rest)))
            sites.append(Site(path, opts))
    return sites


def swap_args(ctx: SiteContext) -> list[Site]:
    """Two adjacent positional call arguments swapped, or the operands of a non-commutative
    binary operator (``a - b`` -> ``b - a``)."""
    sites = []
    for path, node in ctx.nodes():
        if isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args):
            opts = []
            for i in range(len(node.args) - 1):
                if dump(node.args[i]) != dump(node.args[i + 1]):
                    new = copy.deepcopy(node)
                    new.args[i], new.args[i + 1] = new.args[i + 1], new.args[i]
                    opts.append(Option("replace", new))
            if opts:
                sites.append(Site(path, opts))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, NON_COMMUTATIVE) and dump(node.left) != dump(node.right):
            new = ast.BinOp(left=copy.deepcopy(node.right), op=type(node.op)(), right=copy.deepcopy(node.left))
            sites.append(Site(path, [Option("replace", new)]))
    return sites


_DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.Break, ast.Continue,
              ast.If, ast.Raise, ast.Assert)


def delete_statement(ctx: SiteContext) -> list[Site]:
    """One simple statement (assignment, call, return, break/continue, raise, assert) or
    ``if`` deleted, never the only statement of its block (a forgotten line)."""
    sites = []
    lengths: dict[Path, int] = {}
    for path, node in iter_nodes(ctx.tree):
        if isinstance(node, ast.stmt) and isinstance(path[-1], int):
            lengths[path[:-1]] = lengths.get(path[:-1], 0) + 1
    for path, node in ctx.nodes():
        if isinstance(node, _DELETABLE) and isinstance(path[-1], int) and lengths.get(path[:-1], 0) >= 2:
            sites.append(Site(path, [Option("delete")]))
    return sites


# --- human-style misuse of calls (training data only) ------------------------------------

#: Calls that wrap one value and are easy to forget: ``f(x)`` -> ``x``; methods ``x.m()`` -> ``x``.
DROPPABLE_CALLS = frozenset({"abs", "sorted", "list", "set", "tuple", "int", "float", "str", "round", "reversed"})
DROPPABLE_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "split", "copy", "keys", "values"})
#: Builtins and methods people confuse (both directions are listed).
CALL_SWAPS = {"len": "sum", "sum": "len", "int": "round", "round": "int", "min": "max", "max": "min",
              "sorted": "reversed", "reversed": "sorted", "any": "all", "all": "any"}
METHOD_SWAPS = {"append": "extend", "extend": "append", "add": "update", "update": "add", "lower": "upper",
                "upper": "lower", "find": "index", "index": "find", "strip": "lstrip", "lstrip": "strip"}


def drop_call(ctx: SiteContext) -> list[Site]:
    """A forgotten call: ``abs(a - b)`` -> ``a - b``, ``sorted(xs)`` -> ``xs``, ``s.lower()`` ->
    ``s`` (one-argument wrappers of :data:`DROPPABLE_CALLS`, argument-less methods of
    :data:`DROPPABLE_METHODS`)."""
    sites = []
    for path, node in ctx.nodes():
        if not isinstance(node, ast.Call) or node.keywords:
            continue
        if (isinstance(node.func, ast.Name) and node.func.id in DROPPABLE_CALLS and len(node.args) == 1
                and not isinstance(node.args[0], ast.Starred)):
            sites.append(Site(path, [Option("replace", copy.deepcopy(node.args[0]))]))
        elif isinstance(node.func, ast.Attribute) and node.func.attr in DROPPABLE_METHODS and not node.args:
            sites.append(Site(path, [Option("replace", copy.deepcopy(node.func.value))]))
    return sites


def discard_result(ctx: SiteContext) -> list[Site]:
    """A result computed and thrown away: ``xs = sorted(xs)`` -> ``sorted(xs)``,
    ``s = s.replace(a, b)`` -> ``s.replace(a, b)`` (an assignment of a call that reads the name
    it assigns, as if the call changed its argument in place)."""
    sites = []
    for path, node in ctx.nodes():
        if (isinstance(node, ast.Assign) and isinstance(path[-1], int) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)):
            name = node.targets[0].id
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.value)):
                sites.append(Site(path, [Option("replace", ast.Expr(value=copy.deepcopy(node.value)))]))
    return sites


def swap_call(ctx: SiteContext) -> list[Site]:
    """A call of the wrong builtin or method: ``len`` for ``sum``, ``round`` for ``int``,
    ``extend`` for ``append`` (:data:`CALL_SWAPS`, :data:`METHOD_SWAPS`)."""
    sites = []
    for path, node in ctx.nodes():
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in CALL_SWAPS:
            new = copy.deepcopy(node)
            new.func = ast.Name(id=CALL_SWAPS[node.func.id], ctx=ast.Load())
            sites.append(Site(path, [Option("replace", new)]))
        elif isinstance(node.func, ast.Attribute) and node.func.attr in METHOD_SWAPS:
            new = copy.deepcopy(node)
            new.func.attr = METHOD_SWAPS[node.func.attr]
            sites.append(Site(path, [Option("replace", new)]))
    return sites


# --- bank -------------------------------------------------------------------------------

_NEVER_SWAPPED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)


def bank_swap(ctx: SiteContext) -> list[Site]:
    """Any statement or expression (not def/class/module, not a docstring) replaced by a
    SubtreeBank fragment of the same node type, drawn with the step's rng."""
    bank = ctx.bank
    if bank is None:
        return []
    sites = []
    for path, node in ctx.nodes():
        kind = fragment_kind(node)
        if kind not in ("stmt", "expr") or isinstance(node, _NEVER_SWAPPED) or not path:
            continue
        tname = type(node).__name__
        if not bank.has_type(tname):
            continue

        def sampler(rng, node=node, tname=tname) -> list[Option]:
            frag = bank.sample(tname, rng, exclude=node_source(node))
            if frag is None:
                return []
            try:
                return [Option("replace", parse_fragment(frag, node))]
            except (ProgramSyntaxError, ValueError):
                return []

        sites.append(Site(path, sampler=sampler))
    return sites


FAMILY_SITES: dict[str, Callable[[SiteContext], list[Site]]] = {
    "binop_flip": binop_flip,
    "compare_flip": compare_flip,
    "boolop_flip": boolop_flip,
    "wrong_variable": wrong_variable,
    "off_by_one": off_by_one,
    "negate_condition": negate_condition,
    "drop_condition": drop_condition,
    "swap_args": swap_args,
    "delete_statement": delete_statement,
    "change_constant": change_constant,
    "drop_call": drop_call,
    "discard_result": discard_result,
    "swap_call": swap_call,
    "bank_swap": bank_swap,
}
