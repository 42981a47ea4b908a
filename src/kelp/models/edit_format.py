"""The edit model's text format: [intent][tests][feedback][program] -> edit.

The program is the normalised source with a position marker ``<nK>`` before every statement and
expression node (``K`` = the node's pre-order index among marked nodes), so a predicted position
is always a real node (Kelp predicted raw token positions; 70% of its failures picked a bad
one). Each line starts with a suspiciousness bucket ``<s0>``..``<s3>`` from fault localization.

An edit is ``<nK>`` then one operation and ``<end>``:

- ``<replace>`` + the node's new source (operator edits replace the enclosing expression);
- ``<delete>`` (statements in a list of two or more);
- ``<before>`` / ``<after>`` + a new statement put next to statement ``K``.

Sections: ``<intent>`` task text or docstring, ``<tests>`` test sources, ``<feedback>`` failing
tests' messages, ``<program>``, then ``<edit>``; intent, tests and feedback may be empty (the
model is trained with and without them).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from kelp.program.diff import Edit, EditError
from kelp.program.tree import Path, node_at, node_source

#: Most position markers a program may have (the vocabulary holds ``<n0>`` .. ``<n{MAX-1}>``).
MAX_MARKERS = 512
#: Suspiciousness buckets: ``<s0>`` (never executed by a failing test) .. ``<s3>`` (>= 0.75).
SUSP_BUCKETS = 4
OPS = ("<replace>", "<delete>", "<before>", "<after>")
SECTIONS = ("<intent>", "<tests>", "<feedback>", "<program>", "<edit>", "<end>")
SPECIAL_TOKENS = (["<pad>", "<bos>", "<eos>"] + list(SECTIONS) + list(OPS)
                  + [f"<s{i}>" for i in range(SUSP_BUCKETS)] + [f"<n{i}>" for i in range(MAX_MARKERS)])


class EditFormatError(ValueError):
    """Text that is not a well-formed edit for the program (message says why)."""


@dataclass(frozen=True)
class RenderedProgram:
    """A program as the model sees it: ``text`` with markers, ``paths[K]`` the path of the node
    behind ``<nK>`` in ``tree`` (the tree parsed from the normalised source)."""

    text: str
    tree: ast.Module
    paths: tuple[Path, ...]


def _marked(node: ast.AST) -> bool:
    return isinstance(node, (ast.stmt, ast.expr)) and hasattr(node, "lineno")


def _walk(node: ast.AST, path: Path):
    """Pre-order (path, node) for marked nodes; children in field order."""
    if _marked(node):
        yield path, node
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, path + (field, i))
        elif isinstance(value, ast.AST):
            yield from _walk(value, path + (field,))


def render_program(source: str, line_susp: dict[int, float] | None = None) -> RenderedProgram:
    """Normalise ``source`` and insert markers and suspiciousness buckets.

    ``line_susp`` maps lines *of the normalised source* to [0, 1] (``None``: every line gets
    ``<s0>``, the model's "no localization" input). Raises :class:`SyntaxError` for source
    that does not parse and :class:`EditFormatError` for more than ``MAX_MARKERS`` nodes."""
    tree = ast.parse(ast.unparse(ast.parse(source)))
    normal = ast.unparse(tree)
    tree = ast.parse(normal)
    nodes = list(_walk(tree, ()))
    if len(nodes) > MAX_MARKERS:
        raise EditFormatError(f"the program has {len(nodes)} nodes; at most {MAX_MARKERS} can be marked")
    lines = normal.split("\n")
    inserts: dict[tuple[int, int], list[str]] = {}
    for k, (_, node) in enumerate(nodes):
        inserts.setdefault((node.lineno, node.col_offset), []).append(f"<n{k}>")
    out = []
    for lineno, line in enumerate(lines, 1):
        raw = line.encode("utf-8")  # col_offset counts UTF-8 bytes
        cols = sorted(c for (ln, c) in inserts if ln == lineno)
        pieces, last = [], 0
        for col in cols:
            pieces.append(raw[last:col].decode("utf-8"))
            pieces.append("".join(inserts[(lineno, col)]))
            last = col
        pieces.append(raw[last:].decode("utf-8"))
        out.append(f"<s{_bucket((line_susp or {}).get(lineno, 0.0))}>" + "".join(pieces))
    return RenderedProgram("\n".join(out), tree, tuple(p for p, _ in nodes))


def _bucket(score: float) -> int:
    return 0 if score <= 0 else 1 if score < 0.4 else 2 if score < 0.75 else 3


def build_prompt(program: RenderedProgram, intent: str = "", tests: list[str] = (),
                 feedback: list[str] = ()) -> str:
    """The model input: ``<intent>..<tests>..<feedback>..<program>..<edit>``."""
    return ("<intent>" + intent.strip() + "<tests>" + "\n".join(t.strip() for t in tests)
            + "<feedback>" + "\n".join(f.strip() for f in feedback) + "<program>" + program.text + "<edit>")


def _anchor(tree: ast.Module, path: Path) -> Path:
    """The nearest marked node at or above ``path`` (operators, arguments, keywords, ... have no
    marker of their own)."""
    while path and not _marked(node_at(tree, path)):
        path = path[:-2] if isinstance(path[-1], int) else path[:-1]
    if not path:
        raise EditFormatError("the edit is not inside any statement")
    return path


def encode_edit(edit: Edit, program: RenderedProgram) -> str:
    """The target text for ``edit`` (applied to ``program.tree``), e.g. ``"<n7><replace>x - 1<end>"``.

    Raises :class:`EditFormatError` when the edit cannot be expressed (an insert into an
    empty block) and :class:`~kelp.program.diff.EditError` when it does not apply."""
    tree, index = program.tree, {p: k for k, p in enumerate(program.paths)}
    if edit.op == "delete":
        return f"<n{index[_anchor(tree, edit.path)]}><delete><end>"
    if edit.op == "insert":
        block = node_at(tree, edit.path[:-1])
        stmts = getattr(block, edit.path[-1])
        if not stmts:
            raise EditFormatError("an insert into an empty block has no statement to attach to")
        if edit.index < len(stmts):
            return f"<n{index[edit.path + (edit.index,)]}><before>{edit.new}<end>"
        return f"<n{index[edit.path + (len(stmts) - 1,)]}><after>{edit.new}<end>"
    anchor = _anchor(tree, edit.path)
    if anchor == edit.path:
        new = edit.new
    else:  # an operator or a non-node field: replace the enclosing node
        new = node_source(node_at(edit.apply(tree, check=False), anchor))
    return f"<n{index[anchor]}><replace>{new}<end>"


def decode_edit(text: str, program: RenderedProgram) -> Edit:
    """Parse a generated edit (``<nK><op>...<end>``, the ``<end>`` optional) into an
    :class:`Edit` on ``program.tree``. Raises :class:`EditFormatError` for text that is not an
    edit of this program and :class:`~kelp.program.diff.EditError` when the edit does not apply."""
    text = text.strip()
    text = text.removesuffix("<end>")
    if not text.startswith("<n") or ">" not in text:
        raise EditFormatError(f"an edit starts with a position marker, got {text[:20]!r}")
    marker, rest = text[2:].split(">", 1)
    if not marker.isdigit() or int(marker) >= len(program.paths):
        raise EditFormatError(f"<n{marker}> is not a node of this program")
    path = program.paths[int(marker)]
    op = next((o for o in OPS if rest.startswith(o)), None)
    if op is None:
        raise EditFormatError(f"expected one of {OPS} after the position, got {rest[:20]!r}")
    body = rest[len(op):]
    node = node_at(program.tree, path)
    if op == "<replace>":
        edit = Edit("replace", path, new=body)
    elif op == "<delete>":
        edit = Edit("delete", path)
    else:
        if not isinstance(node, ast.stmt) or not isinstance(path[-1], int):
            raise EditFormatError(f"<n{marker}> is not a statement, so nothing can be put {op[1:-1]} it")
        edit = Edit("insert", path[:-1], index=path[-1] + (op == "<after>"), new=body)
    edit.apply(program.tree)  # raises EditError when it does not apply
    return edit


__all__ = [
    "MAX_MARKERS",
    "OPS",
    "SPECIAL_TOKENS",
    "EditError",
    "EditFormatError",
    "RenderedProgram",
    "build_prompt",
    "decode_edit",
    "encode_edit",
    "render_program",
]
