"""Hypothesis strategies for small random Python programs (built as ASTs, then unparsed)."""

from __future__ import annotations

import ast
import json
from functools import lru_cache
from pathlib import Path

from hypothesis import strategies as st

import kelp

NAMES = ["a", "b", "c", "x", "y"]
MBPP = Path(kelp.__file__).parent / "data" / "mbpp" / "mbpp.jsonl"


@lru_cache(maxsize=1)
def mbpp_codes() -> tuple[str, ...]:
    """The 974 MBPP reference solutions (field "code"), in file order."""
    with MBPP.open(encoding="utf-8") as fh:
        return tuple(json.loads(line)["code"] for line in fh if line.strip())


def _name(ctx=None):
    return st.sampled_from(NAMES).map(lambda n: ast.Name(id=n, ctx=ctx or ast.Load()))


_leaves = st.one_of(
    _name(),
    st.integers(min_value=0, max_value=12).map(lambda v: ast.Constant(v)),
    st.sampled_from(["s", "t", ""]).map(lambda v: ast.Constant(v)),
    st.sampled_from([True, False, None]).map(lambda v: ast.Constant(v)),
)

_BINOPS = [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod]
_CMPOPS = [ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.In, ast.NotIn]


def _extend(inner):
    return st.one_of(
        st.builds(lambda l, o, r: ast.BinOp(l, o(), r), inner, st.sampled_from(_BINOPS), inner),
        st.builds(lambda l, o, r: ast.Compare(l, [o()], [r]), inner, st.sampled_from(_CMPOPS), inner),
        st.builds(lambda o, vs: ast.BoolOp(o(), vs), st.sampled_from([ast.And, ast.Or]),
                  st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda o, e: ast.UnaryOp(o(), e), st.sampled_from([ast.Not, ast.USub]), inner),
        st.builds(lambda f, args: ast.Call(ast.Name(f, ast.Load()), args, []),
                  st.sampled_from(["f", "g", "len", "range"]), st.lists(inner, max_size=3)),
        st.builds(lambda v, s: ast.Subscript(v, s, ast.Load()), inner, inner),
        st.builds(lambda v, lo, hi: ast.Subscript(v, ast.Slice(lo, hi, None), ast.Load()), inner,
                  st.none() | inner, st.none() | inner),
        st.builds(lambda t, b, o: ast.IfExp(t, b, o), inner, inner, inner),
        st.builds(lambda es: ast.List(es, ast.Load()), st.lists(inner, max_size=3)),
    )


exprs = st.recursive(_leaves, _extend, max_leaves=6)


def _stmts(depth: int):
    simple = st.one_of(
        st.builds(lambda t, v: ast.Assign([t], v), _name(ast.Store()), exprs),
        st.builds(lambda t, o, v: ast.AugAssign(t, o(), v), _name(ast.Store()), st.sampled_from(_BINOPS), exprs),
        st.builds(lambda v: ast.Return(v), exprs),
        st.builds(lambda v: ast.Expr(v), exprs),
    )
    if depth <= 0:
        return simple
    block = st.lists(_stmts(depth - 1), min_size=1, max_size=3)
    return st.one_of(
        simple,
        st.builds(lambda t, b, o: ast.If(t, b, o), exprs, block, st.just([]) | block),
        st.builds(lambda t, i, b: ast.For(t, i, b, []), _name(ast.Store()), exprs, block),
        st.builds(lambda t, b: ast.While(t, b + [ast.Break()], []), exprs, block),
    )


@st.composite
def programs(draw) -> str:
    """Source of a module: optional global assignment plus one function of 1-5 statements."""
    body = draw(st.lists(_stmts(2), min_size=1, max_size=5))
    args = ast.arguments([], [ast.arg(n) for n in ("a", "b")], None, [], [], None, [])
    fn = ast.FunctionDef("f", args, body, [], None)
    mod_body = []
    if draw(st.booleans()):
        mod_body.append(ast.Assign([ast.Name("c", ast.Store())], draw(exprs)))
    mod_body.append(fn)
    module = ast.Module(mod_body, [])
    ast.fix_missing_locations(module)
    return ast.unparse(module) + "\n"
