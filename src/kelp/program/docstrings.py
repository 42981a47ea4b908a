"""Docstrings of Python definitions: their first sentence, and the source without them.

Used for code search: explanations quote a docstring's first sentence, and code-search pairs
are built the CodeSearchNet way (Husain et al. 2019, arXiv:1909.09436): the query is the first
sentence of a function's docstring, the document is the function with that docstring removed,
so the answer cannot be found by matching the docstring itself.
"""

from __future__ import annotations

import ast
import io
import os
import re
import textwrap
import tokenize

from kelp.program.tree import ProgramSyntaxError

__all__ = ["MAX_SENTENCE", "cap_text", "collapse_whitespace", "dedent_code", "first_sentence", "strip_docstring"]

#: Longest first sentence kept, in characters (longer ones are cut at a word and end in ``…``).
MAX_SENTENCE = 200
#: Words ending in "." that do not end a sentence.
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "cf.", "vs."})
_SENTENCE_END_RE = re.compile(r"\.(?=\s|$)")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+$")


def _split_lines(text: str) -> list[str]:
    """``text`` (with ``\n`` line endings) split into lines that keep their ``\n``; unlike
    ``str.splitlines`` it does not split at form feeds or other separators ``ast`` ignores."""
    return _LINE_RE.findall(text)


def collapse_whitespace(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) replaced by one space, stripped."""
    return " ".join(text.split())


def cap_text(text: str, limit: int = MAX_SENTENCE) -> str:
    """``text`` if it has at most ``limit`` characters; else cut to fewer than ``limit`` (at a
    word boundary when one lies in the second half) and ended with ``"…"``."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if text[limit - 1] != " " and space > limit // 2:  # do not end in the middle of a word
        cut = cut[:space]
    return cut.rstrip() + "…"


def first_sentence(docstring: str, max_chars: int = MAX_SENTENCE) -> str:
    """The first sentence of a docstring (or any prose), on one line.

    The text is cut at its first blank line, whitespace is collapsed to single spaces, and the
    sentence ends at the first ``"."`` followed by whitespace or the end (the period is kept;
    ``e.g.``, ``i.e.``, ``cf.`` and ``vs.`` do not end a sentence). Text without such a period
    is kept whole. Longer than ``max_chars`` characters: cut at a word boundary and ended with
    ``"…"``.

    Args:
        docstring: raw or cleaned docstring text.
        max_chars: the longest result, >= 2.

    Returns:
        The sentence, ``""`` for blank input.
    """
    text = docstring.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraph = collapse_whitespace(re.split(r"\n[ \t]*\n", text, maxsplit=1)[0])
    for match in _SENTENCE_END_RE.finditer(paragraph):
        end = match.end()
        word = paragraph[:end].rsplit(" ", 1)[-1].lstrip("([{\"'`*_").lower()
        if word in _ABBREVIATIONS:
            continue
        paragraph = paragraph[:end]
        break
    return cap_text(paragraph, max_chars)


def dedent_code(source: str) -> str:
    """``source`` (a definition cut from a file, possibly indented) dedented so that it parses.

    First :func:`textwrap.dedent`; if that does not parse (an indented method holding a
    multi-line string whose lines start at column 0, which blocks ``dedent``), the common
    indentation of the statement lines is removed from every line that is not inside a
    multi-line string (string contents are left exactly as they were).

    Line endings are normalised to ``\\n`` (``textwrap`` and ``tokenize`` only know ``\\n``);
    lines keep their positions.

    Raises:
        ProgramSyntaxError: if neither result parses.
    """
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    dedented = textwrap.dedent(source)
    try:
        ast.parse(dedented)
        return dedented
    except (SyntaxError, ValueError):
        pass
    lines = _split_lines(source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("if 1:\n" + source).readline))
    except (tokenize.TokenError, SyntaxError) as error:
        raise ProgramSyntaxError(f"source does not parse: {error}") from None
    interior: set[int] = set()  # 0-based indices of lines inside multi-line tokens
    for token in tokens:
        (start_row, _), (end_row, _) = token.start, token.end
        interior.update(range(start_row - 1, end_row - 1))  # wrapped rows start+1..end -> 0-based
    code_lines = [
        i
        for i, line in enumerate(lines)
        if i not in interior and line.strip() and not line.lstrip().startswith("#")
    ]
    indents = [lines[i][: len(lines[i]) - len(lines[i].lstrip())] for i in code_lines]
    prefix = os.path.commonprefix(indents)
    out = []
    for i, line in enumerate(lines):
        if i not in interior and line.startswith(prefix):
            line = line[len(prefix) :]
        out.append(line)
    result = "".join(out)
    try:
        ast.parse(result)
    except (SyntaxError, ValueError) as error:
        raise ProgramSyntaxError(f"source does not parse: {error}") from None
    return result


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _char_col(line: str, byte_col: int) -> int:
    """An ``ast`` column (UTF-8 bytes) as a character index into ``line``."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def strip_docstring(source: str) -> str:
    """A definition's source without its own docstring.

    ``source`` is one function or class (decorators and comments allowed, indented or not, e.g.
    a method's chunk text); any other source is treated as a module, and the module docstring
    is removed. The docstring's lines are deleted; if it shared a line with another statement
    (``"doc"; x = 1``) only the docstring and its ``;`` go; if it was the only statement of the
    body it becomes ``pass``. Nested definitions keep their docstrings. Everything else
    (comments, formatting) is kept.

    Returns:
        The source, dedented (see :func:`dedent_code`; line endings become ``\\n``) and
        parseable; unchanged apart from that when there is no docstring.

    Raises:
        ProgramSyntaxError: if ``source`` does not parse.
    """
    code = dedent_code(source)
    module = ast.parse(code)
    target: ast.AST = module
    if len(module.body) == 1 and isinstance(module.body[0], _DEFS):
        target = module.body[0]
    body = target.body  # type: ignore[attr-defined]
    if not body or not _is_docstring(body[0]):
        return code
    doc = body[0]
    lines = _split_lines(code)
    first, last = doc.lineno, doc.end_lineno or doc.lineno
    before = lines[first - 1][: _char_col(lines[first - 1], doc.col_offset)]
    after = lines[last - 1][_char_col(lines[last - 1], doc.end_col_offset or 0) :]
    if len(body) == 1:
        middle = [before + "pass" + after]
    else:
        rest = after.lstrip(" \t")
        if rest.startswith(";"):
            middle = [before + rest[1:].lstrip(" \t")]
        elif not before.strip() and not rest.strip():
            middle = []
        else:  # a trailing comment
            middle = [before + rest]
    result = "".join(lines[: first - 1] + middle + lines[last:])
    try:
        ast.parse(result)
    except (SyntaxError, ValueError) as error:  # e.g. a parenthesised docstring
        raise ProgramSyntaxError(f"could not strip the docstring: {error}") from None
    return result
