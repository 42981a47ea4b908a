"""Carry an edit into program text with the smallest textual change.

The search works on trees; a user wants a diff that touches only what changed, with their
comments, formatting and quote style kept, and the search itself wants candidate programs
without writing out a whole module per candidate. :func:`splice_edit` writes one edit into the
text at the span of the innermost located node it touches (for an operator, the operator's
token only), re-parses, and checks that the edited node came out as intended; it gives up
(``None``) rather than guess. :func:`minimal_source` splices every edit of
``tree_diff(original, repaired)`` into the original text; if a splice cannot be made exact, the
whole file falls back to the normalised unparse.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from dataclasses import dataclass

from kelp.program.diff import Edit, tree_diff
from kelp.program.fragment import dump, parse_fragment, parse_stmt
from kelp.program.tree import (
    OPERATOR_SYMBOLS,
    ProgramError,
    insert_at,
    list_at,
    node_at,
    replace_at,
    required_body,
    unparse,
)

_MAX_SPLICES = 32
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_PREFIX = re.compile(r"^[A-Za-z]*")


@dataclass(frozen=True)
class Spliced:
    """One edit written into a text: the new ``text`` and its ``tree``; the lines
    ``first..last`` of the old text became ``first..new_last`` of the new one (``last =
    first - 1``: nothing was removed, an insertion; ``new_last = first - 1``: nothing was
    written, a deletion); ``replaced``: the new lines stand for the old line ``first`` (a
    replacement), not for new code (an insertion)."""

    text: str
    tree: ast.Module
    first: int
    last: int
    new_last: int
    replaced: bool

    def line_map(self, before: tuple) -> tuple:
        """``before`` (for each line of the old text, index 0 unused: the line of some other
        text it stands for, or None) carried to the new text: lines outside the splice keep
        theirs, the lines of a replacement take that of its first line, inserted lines get
        None."""
        head, tail = before[: self.first], before[self.last + 1:]
        fill = before[self.first] if self.replaced and self.first < len(before) else None
        return head + (fill,) * (self.new_last - self.first + 1) + tail


def text_lines(text: str) -> list[str]:
    """``text`` split into lines with their endings, as the parser counts lines (``\\n``,
    ``\\r\\n`` or ``\\r``; unlike ``str.splitlines``, a form feed does not end a line)."""
    return _LINE.findall(text)


def splice_edit(text: str, tree: ast.Module, edit: Edit, quote: str | None = None) -> Spliced | None:
    """``text`` with ``edit`` written in at the span of the node it changes, or ``None`` when
    that cannot be done exactly (the node has no span, a statement shares its line, the result
    does not parse to the edited tree). ``tree`` must be ``ast.parse(text)``; it is not
    modified. ``quote``: write the new code's string literals with this quote character where
    that needs no escapes (the file's style); ``None``: as ``ast.unparse`` writes them.

    The check is local: the node the edit writes (or the statement list it inserts into or
    deletes from) must re-parse, at the same path and the same place in the text, to what the
    edit makes of it; the text around it is unchanged."""
    try:
        lines = text_lines(text)
        if edit.op == "replace":
            return _splice_replace(lines, tree, edit, quote)
        if edit.op == "delete":
            return _splice_delete(lines, tree, edit)
        return _splice_insert(lines, tree, edit, quote)
    except (ProgramError, SyntaxError, ValueError, IndexError, AttributeError, TypeError, RecursionError,
            UnicodeDecodeError):
        return None


def _parse(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _located(node) -> bool:
    return isinstance(node, (ast.expr, ast.stmt)) and getattr(node, "end_col_offset", None) is not None


def _in_fstring(tree: ast.Module, path: tuple) -> bool:
    node = tree
    for step in path:
        if isinstance(node, ast.JoinedStr):
            return True
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return False


def _splice_replace(lines: list[str], tree: ast.Module, edit: Edit, quote: str | None) -> Spliced | None:
    path = tuple(edit.path)
    slot = node_at(tree, path)
    if _in_fstring(tree, path):
        return None
    new_slot = parse_fragment(edit.new, slot)
    top = path
    while top and not _located(node_at(tree, top)):
        top = top[:-2] if isinstance(top[-1], int) else top[:-1]
    if not top:
        return None
    node = node_at(tree, top)
    rel = path[len(top):]
    want = replace_at(node, rel, new_slot) if rel else new_slot
    if isinstance(slot, (ast.operator, ast.cmpop, ast.boolop, ast.unaryop)):
        spliced = _splice_operator(lines, tree, top, node, rel, slot, edit.new.strip(), want)
        if spliced is not None:
            return spliced
    new = edit.new if not rel else ast.unparse(want)
    if quote is not None:
        new = requote(new, quote)
    variants = [new, f"({new})"] if isinstance(node, ast.expr) else [new]
    for variant in variants:
        spliced = _replace_span(lines, node, variant)
        if spliced is None:
            continue
        text, first, new_last = spliced
        new_tree = _parse(text)
        if new_tree is None:
            continue
        try:
            got = node_at(new_tree, top)
        except ProgramError:
            continue
        shift = 1 if variant is not new else 0
        same_place = got.col_offset == node.col_offset + shift and (
            isinstance(node, ast.stmt) or got.lineno == node.lineno)
        if same_place and dump(got) == dump(want):
            return Spliced(text, new_tree, first, node.end_lineno, new_last, True)
    return None


def _splice_operator(lines: list[str], tree: ast.Module, top: tuple, node: ast.AST, rel: tuple, slot: ast.AST,
                     symbol: str, want: ast.AST) -> Spliced | None:
    """Replace only the operator's token(s) between the operands of ``node`` (the located
    node that owns the operator at ``rel``)."""
    old = OPERATOR_SYMBOLS.get(type(slot))
    if old is None or len(rel) not in (1, 2):
        return None
    gaps = []  # (start, end) positions in the text between which the operator token lies
    if isinstance(node, ast.BinOp) and rel == ("op",):
        gaps = [(_end(node.left), _start(node.right))]
    elif isinstance(node, ast.AugAssign) and rel == ("op",):
        gaps = [(_end(node.target), _start(node.value))]
        old, symbol = old + "=", symbol + "="
    elif isinstance(node, ast.UnaryOp) and rel == ("op",):
        gaps = [(_start(node), _start(node.operand))]
    elif isinstance(node, ast.BoolOp) and rel == ("op",):
        gaps = [(_end(a), _start(b)) for a, b in zip(node.values, node.values[1:])]
    elif isinstance(node, ast.Compare) and rel[0] == "ops":
        i = rel[1]
        gaps = [(_end(node.left if i == 0 else node.comparators[i - 1]), _start(node.comparators[i]))]
    else:
        return None
    if old[0].isalpha():  # and, or, not, in, not in, is, is not
        pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, old.split())) + r"(?!\w)")
    else:
        pattern = re.compile(r"(?<![=<>!*/%&|^~+-])" + re.escape(old) + r"(?![=*/<>])")
    text = "".join(lines)
    offsets = _line_offsets(lines)
    pieces, at = [], 0
    for (l1, c1), (l2, c2) in gaps:
        lo, hi = offsets[l1 - 1] + _chars(lines[l1 - 1], c1), offsets[l2 - 1] + _chars(lines[l2 - 1], c2)
        gap = text[lo:hi]
        code = re.sub(r"#[^\r\n]*", lambda m: " " * len(m.group()), gap)  # comments cannot hold the operator
        found = [m for m in pattern.finditer(code)]
        if len(found) != 1:
            return None
        m = found[0]
        pieces.append(text[at:lo + m.start()])
        word = symbol
        if symbol[0].isalpha():  # a word needs space around it: a<b -> a in b
            before, after = text[lo + m.start() - 1:lo + m.start()], text[lo + m.end():lo + m.end() + 1]
            word = ("" if not before or before.isspace() else " ") + symbol + ("" if after.isspace() else " ")
        pieces.append(word)
        at = lo + m.end()
    pieces.append(text[at:])
    new_text = "".join(pieces)
    new_tree = _parse(new_text)
    if new_tree is None:
        return None
    try:
        got = node_at(new_tree, top)
    except ProgramError:
        return None
    if dump(got) != dump(want):
        return None
    first = gaps[0][0][0]
    last = gaps[-1][1][0]
    return Spliced(new_text, new_tree, first, last, last, True)


def _start(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _end(node: ast.AST) -> tuple[int, int]:
    return node.end_lineno, node.end_col_offset


def _chars(line: str, byte_offset: int) -> int:
    """The character offset of UTF-8 ``byte_offset`` in ``line`` (``ast`` columns are bytes)."""
    return len(line.encode()[:byte_offset].decode(errors="strict"))


def _line_offsets(lines: list[str]) -> list[int]:
    out, at = [], 0
    for line in lines:
        out.append(at)
        at += len(line)
    return out


def _replace_span(lines: list[str], node: ast.AST, new: str) -> tuple[str, int, int] | None:
    """The text with the node's (UTF-8 byte offset) span replaced by ``new`` (for a decorated
    definition, the span from its first ``@``), continuation lines re-indented for a
    statement; with the first line and the new last line of the replacement."""
    first, last = node.lineno - 1, node.end_lineno - 1
    head = lines[first].encode()[: node.col_offset].decode(errors="strict")
    decorators = getattr(node, "decorator_list", None)
    if decorators:
        first = min(d.lineno for d in decorators) - 1
        at = lines[first].find("@")
        head = lines[first][:at] if at >= 0 else "x"
    tail = lines[last].encode()[node.end_col_offset:].decode(errors="strict")
    if isinstance(node, ast.stmt) and head.strip():
        return None
    if isinstance(node, ast.If) and lines[first][len(head):].startswith("elif") and new.startswith("if"):
        new = "el" + new  # an elif stays one
    indent = head if isinstance(node, ast.stmt) else ""
    new_lines = new.split("\n")
    body = new_lines[0] + "".join("\n" + (indent + ln if ln else ln) for ln in new_lines[1:])
    text = "".join(lines[:first]) + head + body + tail + "".join(lines[last + 1:])
    return text, first + 1, first + len(new_lines)


def _alone_on_lines(lines: list[str], node: ast.stmt) -> bool:
    before = lines[node.lineno - 1].encode()[: node.col_offset].decode()
    after = lines[node.end_lineno - 1].encode()[node.end_col_offset:].decode()
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])
    return (first == node.lineno and not before.strip() and not after.split("#")[0].strip()
            and not after.strip().startswith(";"))


def _owner_path(path: tuple) -> tuple:
    """The path of the node that owns the statement list ``path`` (its last step a field)."""
    return path[:-1]


def _check_owner(new_tree: ast.Module, owner_path: tuple, want_owner: ast.AST) -> bool:
    try:
        got = node_at(new_tree, owner_path) if owner_path else new_tree
    except ProgramError:
        return False
    return dump(got) == dump(want_owner)


def _splice_delete(lines: list[str], tree: ast.Module, edit: Edit) -> Spliced | None:
    path = tuple(edit.path)
    if len(path) < 3 or not isinstance(path[-1], int):  # module-level statements: not checked locally
        return None
    node = node_at(tree, path)
    if not isinstance(node, ast.stmt) or not _alone_on_lines(lines, node):
        return None
    owner_path = path[:-2]
    owner = node_at(tree, owner_path)
    block = list_at(tree, path[:-1])
    first, last = node.lineno, node.end_lineno
    if len(block) == 1:
        if not required_body(owner, path[-2]):
            return None
        indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())]
        ending = lines[last - 1][len(lines[last - 1].rstrip("\r\n")):] or "\n"
        text = "".join(lines[: first - 1]) + indent + "pass" + ending + "".join(lines[last:])
        new_last = first
    else:
        text = "".join(lines[: first - 1] + lines[last:])
        new_last = first - 1
    new_tree = _parse(text)
    if new_tree is None or not _check_owner(new_tree, owner_path, replace_at(owner, path[len(owner_path):], None)):
        return None
    return Spliced(text, new_tree, first, last, new_last, False)


def _splice_insert(lines: list[str], tree: ast.Module, edit: Edit, quote: str | None) -> Spliced | None:
    path = tuple(edit.path)
    if len(path) < 2:  # the module body: not checked locally
        return None
    body = list_at(tree, path)
    if not body or not 0 <= edit.index <= len(body):
        return None
    anchor = body[min(edit.index, len(body) - 1)]
    line = lines[anchor.lineno - 1]
    head = line.encode()[: anchor.col_offset].decode(errors="strict")
    if head.strip() or (edit.index == len(body) and not _alone_on_lines(lines, anchor)):
        return None
    if edit.index < len(body) and getattr(anchor, "decorator_list", None):
        return None
    new = edit.new if quote is None else requote(edit.new, quote)
    ending = "\r\n" if line.endswith("\r\n") else "\n"
    new_lines = [(head + ln if ln else ln) + ending for ln in new.split("\n")]
    at = anchor.lineno - 1 if edit.index < len(body) else anchor.end_lineno
    if at == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        lines = lines[:-1] + [lines[-1] + ending]
    text = "".join(lines[:at] + new_lines + lines[at:])
    new_tree = _parse(text)
    owner_path = _owner_path(path)
    owner = node_at(tree, owner_path)
    if new_tree is None or not _check_owner(new_tree, owner_path,
                                            insert_at(owner, path[len(owner_path):], edit.index, parse_stmt(edit.new))):
        return None
    return Spliced(text, new_tree, at + 1, at, at + len(new_lines), False)


def requote(code: str, quote: str) -> str:
    """``code`` with its string literals written between ``quote`` characters (``'`` or
    ``"``) where that needs no escape: literals whose text holds the other quote, a
    backslash next to a quote, or three quotes are left as they are. The result parses to
    the same tree (else ``code`` is returned)."""
    if quote not in ("'", '"') or ("'" not in code and '"' not in code):
        return code
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return code
    lines = code.split("\n")
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln) + 1)
    out, at = [], 0
    for tok in tokens:
        if tok.type != tokenize.STRING:
            continue
        prefix = _PREFIX.match(tok.string).group()
        body = tok.string[len(prefix):]
        if len(body) < 2 or body[0] == quote or body[:3] in ("'''", '"""') or "f" in prefix.lower():
            continue
        inner = body[1:-1]
        if quote in inner or "\\" in inner:
            continue
        start = offsets[tok.start[0] - 1] + tok.start[1]
        end = offsets[tok.end[0] - 1] + tok.end[1]
        out.append(code[at:start] + prefix + quote + inner + quote)
        at = end
    if not out:
        return code
    new = "".join(out) + code[at:]
    try:
        same = dump(ast.parse(new)) == dump(ast.parse(code))
    except SyntaxError:
        same = False
    return new if same else code


def quote_style(source: str) -> str | None:
    """The quote character most string literals of ``source`` use (``None``: no string
    literals, or as many of each)."""
    counts = {"'": 0, '"': 0}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING:
                body = tok.string[len(_PREFIX.match(tok.string).group()):]
                if body[:3] not in ("'''", '"""') and body[:1] in counts:
                    counts[body[0]] += 1
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    if counts["'"] == counts['"']:
        return None
    return "'" if counts["'"] > counts['"'] else '"'


def minimal_source(source: str, original: ast.Module, repaired: ast.Module) -> str:
    """``source`` with the edits that turn ``original`` into ``repaired`` spliced in place,
    string literals of the new code in the file's quote style.

    ``original`` must be ``parse(source)``. The result parses to a tree equal to ``repaired``
    (compared by normalised unparse); never raises on an awkward splice, it falls back to
    ``unparse(repaired)`` instead.
    """
    target = unparse(repaired)
    quote = quote_style(source)
    text, tree = source, original
    for edit in tree_diff(original, repaired)[:_MAX_SPLICES]:
        spliced = splice_edit(text, tree, edit, quote)
        if spliced is None:
            break
        text, tree = spliced.text, spliced.tree
    if unparse(tree) == target:
        return text
    return _spliced_one_by_one(source, original, repaired, target, quote)


def _spliced_one_by_one(source: str, original: ast.Module, repaired: ast.Module, target: str,
                        quote: str | None) -> str:
    """Splice the first edit of a fresh ``tree_diff`` at a time (its paths follow the text as
    it is after the splices before it); the normalised ``target`` when a splice fails."""
    text, tree = source, original
    for _ in range(_MAX_SPLICES):
        if unparse(tree) == target:
            return text
        edits = tree_diff(tree, repaired)
        if not edits:
            break
        spliced = splice_edit(text, tree, edits[0], quote)
        if spliced is None:
            break
        text, tree = spliced.text, spliced.tree
    return text if unparse(tree) == target else target


__all__ = ["Spliced", "minimal_source", "quote_style", "requote", "splice_edit", "text_lines"]
