"""One-line explanations of chunks, each tagged with the tier it came from.

Search results show every chunk with a short explanation, and the explanation is indexed
next to the code. An explanation must be faithful: it is read from the chunk, never guessed.
:func:`explain` tries, in order:

Python definitions (``"function"``, ``"method"``, ``"class"``, ``"module"`` chunks):

1. ``"docstring"``: the first sentence (:func:`first_sentence`) of the definition's docstring,
   read from the chunk text itself (so an edited docstring shows at once).
2. ``"comment"``: the first sentence of the ``#`` comment block directly above the definition
   (inside the chunk: :mod:`kelp.retrieval.chunking` puts it in the span), or else, for
   functions, of the comment lines at the start of the body. Tool directives (``# noqa``, ``# type: ...``,
   ``# pylint: ...``, ``# pragma ...``, ``# fmt: ...``, ...) and ``TODO``/``FIXME``/``XXX``
   notes are not explanations and are skipped; banner dashes (``# --- Parsing ---``) are trimmed.
3. ``"synthesized"``: a sentence built from the definition's AST, only from facts it states::

       Function parse_args(argv, *, strict=False) -> Namespace; returns a call to
       Namespace(...); raises ValueError; calls open, json.load.

   Functions: kind (``Function``/``Method``, with ``Async``/``generator`` when they apply),
   qualified name, parameters with defaults (``ast.unparse``; a default or annotation longer than
   30 characters is elided to ``…``), return annotation, decorators, what it returns (``returns
   None`` when it has no ``return`` and does not end in ``raise``; the distinct returned names,
   attributes, constants or ``a call to f(...)`` when every ``return`` is one of those, else
   ``returns a value``; ``yields values`` for generators), the exceptions it raises (``raise X``
   / ``raise X(...)``) and the first five distinct functions it calls (dotted names, in source
   order, without the raised exceptions and returned calls). Nested functions, classes and
   lambdas are not looked into. Classes: ``Class Foo(Base) with methods a, b, c.`` (or ``with
   attributes x, y`` when it has no methods), plus its decorators.

Markdown sections: ``"heading"``, the section's heading (the file name for the text before the
first heading) and the first sentence of its prose (fenced code skipped): ``"Setup: Install the
package with pip."``. Line windows (and anything else): ``"text"``, the first non-blank line,
trimmed. Every explanation is one non-empty line (whitespace collapsed) of at most about 200
characters per part.

:func:`strip_docstring` removes a definition's docstring (for the retrieval evaluation, where
docstrings are the queries and the indexed code must not contain them), and :func:`first_sentence`
is the sentence rule shared by both.

Pure code: no I/O.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from kelp.program.docstrings import MAX_SENTENCE, cap_text, collapse_whitespace, dedent_code, first_sentence, strip_docstring
from kelp.program.tree import ProgramSyntaxError
from kelp.retrieval.chunking import Chunk, split_lines

__all__ = [
    "TIERS",
    "MAX_SENTENCE",
    "ExplainError",
    "Explanation",
    "explain",
    "first_sentence",
    "strip_docstring",
    "dedent_code",
]

#: Explanation tiers, from most to least authored.
TIERS: tuple[str, ...] = ("docstring", "comment", "synthesized", "heading", "text")
#: Longest rendered default, annotation, constant or decorator in a synthesized sentence.
_MAX_PART = 30
#: How many called functions / methods a synthesized sentence names.
_MAX_CALLS = 5
_MAX_METHODS = 8
_DIRECTIVE_RE = re.compile(
    r"^(noqa\b|type:|pylint:|pragma\b|fmt:|mypy:|ruff:|isort:|nosec\b|pyright:|TODO\b|FIXME\b|XXX\b)",
    re.IGNORECASE,
)
_HEADING_RE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?[ \t]*$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


class ExplainError(ValueError):
    """Source that cannot be explained or stripped (it does not parse), or an invalid
    :class:`Explanation`."""


@dataclass(frozen=True)
class Explanation:
    """A chunk's one-line explanation.

    Attributes:
        text: one non-empty line.
        tier: where it came from, one of :data:`TIERS`.

    Raises:
        ExplainError: on an unknown tier, or a ``text`` that is blank or spans lines.
    """

    text: str
    tier: str

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ExplainError(f"unknown tier {self.tier!r}; expected one of {TIERS}")
        if not self.text.strip() or "\n" in self.text or "\r" in self.text:
            raise ExplainError(f"an explanation is one non-empty line, got {self.text!r}")


# --- Sentences ---------------------------------------------------------------------------------


# --- Parsing chunk text --------------------------------------------------------------------------


# --- Python ------------------------------------------------------------------------------------


def _comment_text(line: str) -> str | None:
    """The words of a comment-only line (``""`` for an empty comment), or None for a line that
    is not a comment or is a tool directive."""
    stripped = line.strip()
    if not stripped.startswith("#"):
        return None
    words = stripped.lstrip("#").strip().strip("-=*~").strip()
    if _DIRECTIVE_RE.match(words) or stripped.startswith("#!"):
        return None
    return words


def _leading_comments(node: ast.stmt, lines: list[str]) -> str:
    """The comment block above ``node`` (decorators included) in ``lines``, else, for a
    function, the comment lines between its header and its first body statement (at the start
    of a class body they more often describe the first member); one text, lines joined by
    ``\\n``."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno] + [d.lineno for d in decorators])
    spans = [range(start - 1)]
    if not isinstance(node, ast.ClassDef):
        spans.append(range(node.lineno, node.body[0].lineno - 1))  # type: ignore[attr-defined]
    for span in spans:
        words = [w for w in (_comment_text(lines[i]) for i in span) if w is not None]
        if any(words):
            return "\n".join(words)
    return ""


def _own_nodes(node: ast.AST) -> list[ast.AST]:
    """The nodes of a definition's body in source order, without descending into nested
    functions, classes or lambdas (which are included themselves, but not their insides)."""
    found: list[ast.AST] = []

    def visit(n: ast.AST) -> None:
        for child in ast.iter_child_nodes(n):
            found.append(child)
            if not isinstance(child, _SCOPES):
                visit(child)

    for stmt in node.body:  # type: ignore[attr-defined]
        found.append(stmt)
        if not isinstance(stmt, _SCOPES):
            visit(stmt)
    found.sort(key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
    return found


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= _MAX_PART else "…"


def _signature(args: ast.arguments) -> str:
    parts: list[str] = []
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    for i, (arg, default) in enumerate(zip(positional, defaults)):
        parts.append(arg.arg if default is None else f"{arg.arg}={_short(default)}")
        if args.posonlyargs and i == len(args.posonlyargs) - 1:
            parts.append("/")
    if args.vararg is not None:
        parts.append("*" + args.vararg.arg)
    elif args.kwonlyargs:
        parts.append("*")
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        parts.append(arg.arg if default is None else f"{arg.arg}={_short(default)}")
    if args.kwarg is not None:
        parts.append("**" + args.kwarg.arg)
    return ", ".join(parts)


def _returned(value: ast.expr | None) -> str | None:
    """How a returned expression is named, or None when it is not simple."""
    if value is None:
        return "None"
    if isinstance(value, ast.Constant):
        return _short(value)
    if isinstance(value, ast.Call):
        func = _dotted(value.func)
        return None if func is None else f"a call to {func}(...)"
    return _dotted(value)


def _join(items: list[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _synthesize_function(node: ast.FunctionDef | ast.AsyncFunctionDef, chunk: Chunk) -> str:
    own = _own_nodes(node)
    generator = any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in own)
    words = []
    if isinstance(node, ast.AsyncFunctionDef):
        words.append("async")
    if generator:
        words.append("generator")
    words.append("method" if chunk.kind == "method" else "function")
    kind = " ".join(words)
    name = chunk.name if chunk.kind in ("function", "method") else node.name
    head = f"{kind[0].upper()}{kind[1:]} {name}({_signature(node.args)})"
    if node.returns is not None:
        head += f" -> {_short(node.returns)}"
    clauses = []
    if node.decorator_list:
        clauses.append("decorated with " + ", ".join(_short(d) for d in node.decorator_list))

    raised_calls: set[int] = set()
    raised: list[str] = []
    returned_calls: set[int] = set()
    returns: list[ast.Return] = []
    for n in own:
        if isinstance(n, ast.Raise) and n.exc is not None:
            exc = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            if isinstance(n.exc, ast.Call):
                raised_calls.add(id(n.exc))
            label = _dotted(exc)
            if label is not None:
                raised.append(label)
        elif isinstance(n, ast.Return):
            returns.append(n)
            if isinstance(n.value, ast.Call):
                returned_calls.add(id(n.value))

    if generator:
        clauses.append("yields values")
    elif returns:
        labels = [_returned(r.value) for r in returns]
        if all(label is not None for label in labels):
            clauses.append("returns " + " or ".join(_unique(labels)))  # type: ignore[arg-type]
        else:
            clauses.append("returns a value")
    elif not isinstance(node.body[-1], ast.Raise):
        clauses.append("returns None")
    if raised:
        clauses.append("raises " + ", ".join(_unique(raised)))
    calls = _unique(
        [
            label
            for n in own
            if isinstance(n, ast.Call) and id(n) not in raised_calls and id(n) not in returned_calls
            for label in [_dotted(n.func)]
            if label is not None
        ]
    )
    if calls:
        clauses.append("calls " + _join(calls, _MAX_CALLS))
    return "; ".join([head] + clauses) + "."


def _synthesize_class(node: ast.ClassDef) -> str:
    bases = [_short(b) for b in node.bases]
    bases += [f"{k.arg}={_short(k.value)}" if k.arg else f"**{_short(k.value)}" for k in node.keywords]
    head = f"Class {node.name}" + (f"({', '.join(bases)})" if bases else "")
    if node.decorator_list:
        head += ", decorated with " + ", ".join(_short(d) for d in node.decorator_list) + ","
    methods = [s.name for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if methods:
        return f"{head} with methods {_join(methods, _MAX_METHODS)}."
    attributes = []
    for s in node.body:
        if isinstance(s, ast.Assign):
            attributes += [t.id for t in s.targets if isinstance(t, ast.Name)]
        elif isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name):
            attributes.append(s.target.id)
    if attributes:
        return f"{head} with attributes {_join(_unique(attributes), _MAX_METHODS)}."
    return head.rstrip(",") + "."


def _explain_python(chunk: Chunk) -> Explanation | None:
    try:
        code = dedent_code(chunk.text)
    except ProgramSyntaxError:
        return None
    module = ast.parse(code)
    lines = split_lines(code)
    if chunk.kind == "module":
        doc = first_sentence(ast.get_docstring(module) or "")
        return Explanation(doc, "docstring") if doc else None
    node = next((s for s in module.body if isinstance(s, _DEFS)), None)
    if node is None:
        return None
    doc = first_sentence(ast.get_docstring(node) or "")
    if doc:
        return Explanation(doc, "docstring")
    comment = first_sentence(_leading_comments(node, lines))
    if comment:
        return Explanation(comment, "comment")
    if isinstance(node, ast.ClassDef):
        return Explanation(_synthesize_class(node), "synthesized")
    return Explanation(_synthesize_function(node, chunk), "synthesized")


# --- Markdown and text ---------------------------------------------------------------------------


def _explain_markdown(chunk: Chunk) -> Explanation | None:
    lines = [line.rstrip("\r\n") for line in split_lines(chunk.text)]
    heading = _HEADING_RE.match(lines[0]) if lines else None
    if heading:
        title = re.sub(r"(?:^|[ \t]+)#+$", "", heading.group(1) or "").strip()
        lines = lines[1:]
    else:
        title = chunk.name
    prose, fence = [], None
    for line in lines:
        opened = _FENCE_RE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0]
        elif fence is not None:
            if line.strip() and set(line.strip()) == {fence} and len(line.strip()) >= 3:
                fence = None
        else:
            prose.append(line)
    sentence = first_sentence("\n".join(prose))
    title = cap_text(collapse_whitespace(title))
    text = f"{title}: {sentence}" if title and sentence else title or sentence
    return Explanation(text, "heading") if text else None


def _first_line(chunk: Chunk) -> Explanation:
    line = next((line for line in split_lines(chunk.text) if line.strip()), chunk.name)
    return Explanation(cap_text(collapse_whitespace(line)) or chunk.name, "text")


def explain(chunk: Chunk) -> Explanation:
    """The chunk's one-line explanation and its tier (see the module docstring for the rules).

    ``"window"`` chunks (of any language) get the ``"text"`` tier; Markdown sections the
    ``"heading"`` tier; Python definitions ``"docstring"``, ``"comment"`` or ``"synthesized"``.
    A chunk whose rule gives nothing (e.g. Python text that does not parse) falls back to
    ``"text"``. Never raises for a valid :class:`~kelp.retrieval.chunking.Chunk`, and the text
    is never empty.
    """
    result: Explanation | None = None
    if chunk.kind != "window":
        try:
            if chunk.language == "python":
                result = _explain_python(chunk)
            elif chunk.language == "markdown":
                result = _explain_markdown(chunk)
        except RecursionError:  # absurdly deep code: fall back to the first line
            result = None
    return result if result is not None else _first_line(chunk)
