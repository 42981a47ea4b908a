"""Python source as trees: parse, normalised unparse, node paths, functions.

(Spans and the line -> nodes map live in :mod:`kelp.program.spans`.)

A node's *path* is a tuple alternating field names and list indices, read from the
module root: ``("body", 0, "body", 2, "test")`` is ``module.body[0].body[2].test``.
Paths only depend on the tree's shape, so they survive ``copy.deepcopy`` and
``ast.copy_location``.

Expression-context nodes (``ast.Load``/``ast.Store``/``ast.Del``) are never visited or
addressed. Operator nodes (``ast.Add``, ``ast.Lt``, ``ast.And``, ``ast.Not``, ...) are
ordinary addressable children (``(..., "op")``, ``(..., "ops", 0)``) because edits flip
them; their source text (:func:`node_source`) is the operator symbol, e.g. ``"+"``,
``"<="``, ``"and"``, ``"not"``, ``"not in"``.

Pure code: no I/O, no randomness.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import warnings
from dataclasses import dataclass
from typing import Iterator, Union

Path = tuple[Union[str, int], ...]

__all__ = [
    "Path",
    "ProgramError",
    "ProgramSyntaxError",
    "PathError",
    "OPERATOR_SYMBOLS",
    "parse",
    "unparse",
    "normalise",
    "node_source",
    "ast_hash",
    "iter_nodes",
    "node_at",
    "list_at",
    "resolve_path",
    "replace_at",
    "insert_at",
    "splice_at",
    "FunctionInfo",
    "functions",
    "find_function",
    "extract_function",
    "is_docstring",
    "is_operator",
    "required_body",
]


class ProgramError(ValueError):
    """A program-level failure (missing function, node without a location, ...)."""


class ProgramSyntaxError(ProgramError):
    """Source text that does not parse.

    Attributes: ``lineno`` (1-based line or None), ``offset`` (1-based column or None),
    ``msg`` (the parser's message). ``str()`` reads like ``"line 3: invalid syntax"``.
    """

    def __init__(self, msg: str, lineno: int | None = None, offset: int | None = None):
        self.msg = msg
        self.lineno = lineno
        self.offset = offset
        where = f"line {lineno}: " if lineno is not None else ""
        super().__init__(f"{where}{msg}")


class PathError(ProgramError):
    """A path that does not address a node (or list) of the given tree."""


# Operator node class -> source symbol. Used by node_source and by edits that flip operators.
OPERATOR_SYMBOLS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.MatMult: "@", ast.Div: "/",
    ast.Mod: "%", ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
    ast.BitXor: "^", ast.BitAnd: "&", ast.FloorDiv: "//",
    ast.And: "and", ast.Or: "or",
    ast.Invert: "~", ast.Not: "not", ast.UAdd: "+", ast.USub: "-",
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}

_OPERATOR_BASES = (ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
_CTX = (ast.expr_context,)
# Statement-list fields that Python requires to be non-empty.
_REQUIRED_BODY_OWNERS = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor, ast.While,
    ast.If, ast.With, ast.AsyncWith, ast.Try, ast.ExceptHandler, ast.match_case,
)
if hasattr(ast, "TryStar"):
    _REQUIRED_BODY_OWNERS = _REQUIRED_BODY_OWNERS + (ast.TryStar,)


def is_operator(node: ast.AST) -> bool:
    """True for operator nodes (``ast.operator``, ``boolop``, ``unaryop``, ``cmpop``)."""
    return isinstance(node, _OPERATOR_BASES)


def required_body(owner: ast.AST, field: str) -> bool:
    """True when ``owner.<field>`` is a statement list Python requires to be non-empty."""
    return field == "body" and isinstance(owner, _REQUIRED_BODY_OWNERS)


def parse(source: str) -> ast.Module:
    """Parse Python source into an ``ast.Module``.

    Raises ProgramSyntaxError (a ValueError) with line/offset when the source does not
    parse (including null bytes and non-str input).
    """
    if not isinstance(source, str):
        raise ProgramSyntaxError(f"expected source text (str), got {type(source).__name__}")
    try:
        with warnings.catch_warnings():  # invalid escapes etc. in user code are not our business
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except SyntaxError as exc:
        return _raise_syntax(exc)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ProgramSyntaxError(str(exc) or type(exc).__name__) from None


def parsed_sources(sources) -> Iterator[ast.Module]:
    """The trees of the Python ``sources`` (strings) that parse, in order; the others are
    skipped (tests and snippets that are not whole statements)."""
    for text in sources:
        try:
            yield ast.parse(text)
        except (SyntaxError, ValueError):
            continue


def _raise_syntax(exc: SyntaxError):
    raise ProgramSyntaxError(exc.msg or "invalid syntax", exc.lineno, exc.offset) from None


def node_source(node: ast.AST) -> str:
    """Normalised source of any node, without trailing newline.

    Operator nodes give their symbol (``"+"``, ``"not in"``); other nodes use
    ``ast.unparse``. Multi-statement lists are not nodes; join their sources yourself.
    """
    if is_operator(node):
        return OPERATOR_SYMBOLS[type(node)]
    return ast.unparse(node)


def unparse(tree: ast.AST) -> str:
    """Normalised source of a module (or statement): ``ast.unparse`` plus one trailing newline.

    An empty module unparses to ``""``. For expression and operator nodes the result
    is :func:`node_source` without newline (they are fragments, not programs).
    """
    if isinstance(tree, (ast.Module, ast.stmt)):
        text = ast.unparse(tree)
        return text + "\n" if text else ""
    return node_source(tree)


def normalise(source: str) -> str:
    """``unparse(parse(source))``: one canonical text per syntax tree. Raises ProgramSyntaxError."""
    return unparse(parse(source))


def ast_hash(tree_or_source: ast.AST | str) -> str:
    """Hex sha256 of ``ast.dump(tree, annotate_fields=True, include_attributes=False)``.

    Accepts a tree or source text (parsed first; ProgramSyntaxError if it does not parse).
    Docstrings are part of the tree and therefore of the hash; comments and formatting are not.
    """
    tree = parse(tree_or_source) if isinstance(tree_or_source, str) else tree_or_source
    dump = ast.dump(tree, annotate_fields=True, include_attributes=False)
    return hashlib.sha256(dump.encode("utf-8")).hexdigest()


def iter_nodes(tree: ast.AST, path: Path = ()) -> Iterator[tuple[Path, ast.AST]]:
    """Yield ``(path, node)`` for every node in pre-order (fields in ``_fields`` order).

    Context nodes (Load/Store/Del) are skipped; operator nodes are included.
    ``path`` is the prefix given to ``tree`` itself (default ``()``, the module root).
    """
    stack: list[tuple[Path, ast.AST]] = [(path, tree)]
    while stack:
        p, node = stack.pop()
        yield p, node
        children: list[tuple[Path, ast.AST]] = []
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, ast.AST):
                if not isinstance(value, _CTX):
                    children.append((p + (field,), value))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST) and not isinstance(item, _CTX):
                        children.append((p + (field, i), item))
        stack.extend(reversed(children))


def _check_path(path: Path) -> None:
    if not isinstance(path, tuple):
        raise PathError(f"path must be a tuple, got {type(path).__name__}: {path!r}")


def resolve_path(tree: ast.AST, path: Path):
    """The object at ``path``: a node, a list field, or a scalar value. Raises PathError."""
    _check_path(path)
    cur: object = tree
    for depth, step in enumerate(path):
        try:
            if isinstance(step, str) and isinstance(cur, ast.AST) and step in cur._fields:
                cur = getattr(cur, step)
            elif isinstance(step, int) and not isinstance(step, bool) and isinstance(cur, list):
                if not 0 <= step < len(cur):
                    raise IndexError(step)
                cur = cur[step]
            else:
                raise KeyError(step)
        except (KeyError, IndexError, AttributeError):
            raise PathError(
                f"path {path!r} does not exist: step {depth} ({step!r}) fails on "
                f"{type(cur).__name__}"
            ) from None
    return cur


def node_at(tree: ast.AST, path: Path) -> ast.AST:
    """The node at ``path``. Raises PathError (with the path in the message) if absent."""
    obj = resolve_path(tree, path)
    if not isinstance(obj, ast.AST):
        raise PathError(f"path {path!r} addresses a {type(obj).__name__}, not a node")
    return obj


def list_at(tree: ast.AST, list_path: Path) -> list:
    """The list field at ``list_path`` (e.g. ``("body", 0, "body")``); PathError otherwise."""
    obj = resolve_path(tree, list_path)
    if not isinstance(obj, list):
        raise PathError(f"path {list_path!r} addresses a {type(obj).__name__}, not a list")
    return obj


def _finish(tree: ast.AST) -> ast.Module:
    ast.fix_missing_locations(tree)
    return tree  # type: ignore[return-value]


def replace_at(tree: ast.AST, path: Path, new: ast.AST | None) -> ast.Module:
    """A NEW tree (deep copy) with the node at ``path`` replaced by ``new``.

    ``new=None`` deletes a list element (a statement); a required body left empty gets
    ``pass``. ``new`` is deep-copied and missing locations are filled in.
    Raises PathError when the path does not exist, is the root, or ``None`` targets a
    non-list slot.
    """
    _check_path(path)
    if not path:
        raise PathError("cannot replace the root of the tree (empty path)")
    node_at(tree, path)  # validates
    out = copy.deepcopy(tree)
    parent = resolve_path(out, path[:-1])
    last = path[-1]
    if isinstance(last, int):
        owner = resolve_path(out, path[:-2])
        if new is None:
            del parent[last]
            if not parent and required_body(owner, path[-2]):
                parent.append(ast.Pass())
        else:
            parent[last] = copy.deepcopy(new)
    else:
        if new is None:
            raise PathError(f"path {path!r} is not a list element; only list elements can be deleted")
        setattr(parent, last, copy.deepcopy(new))
    return _finish(out)


def insert_at(tree: ast.AST, list_path: Path, index: int, new_stmt: ast.AST) -> ast.Module:
    """A NEW tree with ``new_stmt`` inserted into the list at ``list_path`` before ``index``.

    ``0 <= index <= len(list)``; raises PathError otherwise or when ``list_path`` is not a list.
    """
    target = list_at(tree, list_path)
    if not isinstance(index, int) or not 0 <= index <= len(target):
        raise PathError(f"insert index {index!r} out of range 0..{len(target)} for list {list_path!r}")
    out = copy.deepcopy(tree)
    list_at(out, list_path).insert(index, copy.deepcopy(new_stmt))
    return _finish(out)


def splice_at(tree: ast.AST, path: Path, new_items: list[ast.AST]) -> ast.Module:
    """A NEW tree where the list element at ``path`` is replaced by ``new_items`` (0..n nodes).

    Used to unwrap a compound statement into its body. A required body left empty gets ``pass``.
    """
    _check_path(path)
    if not path or not isinstance(path[-1], int):
        raise PathError(f"path {path!r} is not a list element")
    node_at(tree, path)
    out = copy.deepcopy(tree)
    parent = resolve_path(out, path[:-1])
    i = path[-1]
    parent[i:i + 1] = [copy.deepcopy(n) for n in new_items]
    if not parent and len(path) >= 2 and required_body(resolve_path(out, path[:-2]), path[-2]):
        parent.append(ast.Pass())
    return _finish(out)


@dataclass(frozen=True)
class FunctionInfo:
    """A function or method: ``name``, ``qualname`` (``"Cls.meth"``; nested functions are
    ``"outer.inner"``), ``path`` to its def node, 1-based ``lineno``/``end_lineno`` of the
    ``def`` (decorators excluded), ``args``: all parameter names in signature order
    (positional-only, positional, ``*args``, keyword-only, ``**kwargs``)."""

    name: str
    qualname: str
    path: Path
    lineno: int
    end_lineno: int
    args: tuple[str, ...]


def _arg_names(a: ast.arguments) -> tuple[str, ...]:
    names = [x.arg for x in a.posonlyargs + a.args]
    if a.vararg:
        names.append(a.vararg.arg)
    names.extend(x.arg for x in a.kwonlyargs)
    if a.kwarg:
        names.append(a.kwarg.arg)
    return tuple(names)


def functions(tree: ast.AST) -> list[FunctionInfo]:
    """All (nested) functions and methods in pre-order, with qualnames like ``"Cls.meth"``."""
    out: list[FunctionInfo] = []

    def visit(node: ast.AST, path: Path, prefix: str) -> None:
        for field in node._fields:
            value = getattr(node, field, None)
            items = [(path + (field,), value)] if isinstance(value, ast.AST) else (
                [(path + (field, i), v) for i, v in enumerate(value)] if isinstance(value, list) else [])
            for cp, child in items:
                if not isinstance(child, ast.AST):
                    continue
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    q = prefix + child.name
                    lo, hi = child.lineno, child.end_lineno or child.lineno
                    out.append(FunctionInfo(child.name, q, cp, lo, hi, _arg_names(child.args)))
                    visit(child, cp, q + ".")
                elif isinstance(child, ast.ClassDef):
                    visit(child, cp, prefix + child.name + ".")
                else:
                    visit(child, cp, prefix)

    visit(tree, (), "")
    return out


def find_function(tree: ast.AST, name: str) -> FunctionInfo:
    """The first function (pre-order) whose qualname or name equals ``name``.

    Qualname matches win over plain-name matches. Raises ProgramError listing the
    available functions when there is none.
    """
    infos = functions(tree)
    for info in infos:
        if info.qualname == name:
            return info
    for info in infos:
        if info.name == name:
            return info
    have = ", ".join(i.qualname for i in infos) or "none"
    raise ProgramError(f"no function named {name!r} in the program (functions: {have})")


def extract_function(source: str, name: str) -> str:
    """Normalised source (trailing newline) of the function ``name`` (name or qualname)
    in ``source``, decorators included. Raises ProgramSyntaxError / ProgramError."""
    tree = parse(source)
    info = find_function(tree, name)
    return unparse(node_at(tree, info.path))


def is_docstring(tree: ast.AST, path: Path) -> bool:
    """True when ``path`` addresses a docstring statement (or its string constant): the
    first statement of a module, class or function body that is a string literal."""
    p = path
    if len(p) >= 1 and p[-1] == "value":
        p = p[:-1]
    if len(p) < 2 or p[-1] != 0 or p[-2] != "body":
        return False
    try:
        stmt = node_at(tree, p)
        owner = node_at(tree, p[:-2]) if len(p) > 2 else tree
    except PathError:
        return False
    if not isinstance(owner, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))
