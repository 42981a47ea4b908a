"""Source fragments: turning the text of one node back into a node that fits a slot.

Edits and corruptions carry nodes as normalised source text (``node_source``). A fragment
is parsed according to the *slot* it goes into: a statement slot takes exactly one
statement, an expression slot one expression (its Load/Store/Del context copied from the
node it replaces), an operator slot an operator symbol of the same family (``"-"`` in a
``BinOp.op`` slot is ``ast.Sub``, in a ``UnaryOp.op`` slot ``ast.USub``).
Pure code: no I/O, no randomness.
"""

from __future__ import annotations

import ast
import warnings

from kelp.program.tree import OPERATOR_SYMBOLS, ProgramSyntaxError, is_operator, node_source

__all__ = [
    "fragment_kind",
    "parse_expr",
    "parse_stmt",
    "parse_operator",
    "parse_fragment",
    "set_ctx",
    "roundtrips",
    "dump",
]

_OP_BASES = (ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
_SYMBOL_TO_OP: dict[tuple[type, str], type] = {}
for _cls, _sym in OPERATOR_SYMBOLS.items():
    for _base in _OP_BASES:
        if issubclass(_cls, _base):
            _SYMBOL_TO_OP[(_base, _sym)] = _cls


def dump(node: ast.AST) -> str:
    """``ast.dump`` without attributes: equal dumps mean equal trees."""
    return ast.dump(node, annotate_fields=True, include_attributes=False)


def fragment_kind(node: ast.AST) -> str | None:
    """"stmt", "expr", "operator", or None for nodes that are never swapped alone
    (``arguments``, ``keyword``, ``comprehension``, patterns, ...)."""
    if isinstance(node, ast.stmt):
        return "stmt"
    if isinstance(node, ast.expr):
        return "expr"
    if is_operator(node):
        return "operator"
    return None


def _syntax(exc: SyntaxError, source: str, what: str) -> ProgramSyntaxError:
    return ProgramSyntaxError(f"{what} {source!r} does not parse: {exc.msg}", exc.lineno, exc.offset)


def parse_expr(source: str) -> ast.expr:
    """One expression (``eval`` mode). Raises ProgramSyntaxError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise _syntax(exc, source, "expression") from None
    except (ValueError, RecursionError) as exc:
        raise ProgramSyntaxError(f"expression {source!r} does not parse: {exc}") from None


def parse_stmt(source: str) -> ast.stmt:
    """Exactly one statement. Raises ProgramSyntaxError (also for 0 or 2+ statements)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            body = ast.parse(source).body
    except SyntaxError as exc:
        raise _syntax(exc, source, "statement") from None
    except (ValueError, RecursionError) as exc:
        raise ProgramSyntaxError(f"statement {source!r} does not parse: {exc}") from None
    if len(body) != 1:
        raise ProgramSyntaxError(f"expected exactly one statement, got {len(body)} in {source!r}")
    return body[0]


def parse_operator(symbol: str, like: ast.AST | type) -> ast.AST:
    """The operator node for ``symbol`` in the family of ``like`` (an operator node or class).

    Raises ProgramSyntaxError for a symbol that is not an operator of that family."""
    cls = like if isinstance(like, type) else type(like)
    for base in _OP_BASES:
        if issubclass(cls, base):
            op = _SYMBOL_TO_OP.get((base, symbol.strip()))
            if op is None:
                raise ProgramSyntaxError(f"{symbol!r} is not a {base.__name__} symbol")
            return op()
    raise ProgramSyntaxError(f"{cls.__name__} is not an operator")


def set_ctx(node: ast.AST, ctx: ast.expr_context) -> ast.AST:
    """Give ``node`` the context ``ctx`` in place (targets: Name/Attribute/Subscript/Starred,
    and List/Tuple elements recursively). Returns ``node``."""
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        node.ctx = type(ctx)()
    elif isinstance(node, ast.Starred):
        node.ctx = type(ctx)()
        set_ctx(node.value, ctx)
    elif isinstance(node, (ast.List, ast.Tuple)):
        node.ctx = type(ctx)()
        for elt in node.elts:
            set_ctx(elt, ctx)
    return node


def parse_fragment(source: str, slot: ast.AST) -> ast.AST:
    """Parse ``source`` as a node to replace ``slot`` (the node currently there).

    Raises ProgramSyntaxError when it does not parse as that kind of node, or when the
    slot's kind cannot be replaced by a fragment (see :func:`fragment_kind`)."""
    kind = fragment_kind(slot)
    if kind == "operator":
        return parse_operator(source, slot)
    if kind == "stmt":
        return parse_stmt(source)
    if kind == "expr":
        node = parse_expr(source)
        ctx = getattr(slot, "ctx", None)
        if ctx is not None and not isinstance(ctx, ast.Load):
            set_ctx(node, ctx)
        return node
    raise ProgramSyntaxError(f"a {type(slot).__name__} node cannot be replaced by a source fragment")


def roundtrips(node: ast.AST) -> bool:
    """True when ``parse_fragment(node_source(node), node)`` gives back an equal node.

    False for nodes whose text is not standalone-parseable (``Slice``, ``Starred``,
    ``FormattedValue``, tuples of slices) and for non-fragment kinds."""
    if fragment_kind(node) is None:
        return False
    try:
        back = parse_fragment(node_source(node), node)
    except (ProgramSyntaxError, ValueError):
        return False
    return dump(back) == dump(node)
