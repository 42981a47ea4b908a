"""Cut a source tree into searchable chunks: Python definitions, Markdown sections, line windows.

A *chunk* (:class:`Chunk`) is a span of whole source lines of one file, with a kind, a name and
a language. What counts as a chunk depends on the file:

* Python (``.py``, :func:`chunk_python`, read with :mod:`ast`): one ``"function"`` chunk per
  top-level function, one ``"class"`` chunk per class (the whole class: header, docstring and
  body), one ``"method"`` chunk per function directly in a class body (``async`` included), and
  one ``"module"`` chunk holding the module docstring if there is one. Definitions inside
  ``if``/``try``/``with``/``for``/``while`` blocks count as if they were outside them (so both
  branches of ``if sys.platform == ...`` are found); classes nested in classes are chunked too
  (``Outer.Inner``, ``Outer.Inner.method``); functions nested in functions stay part of their
  parent. Methods are qualified by their class (``Class.method``). A definition's span starts
  at its first decorator, or above it at the block of ``#`` comment lines that sits directly on
  top of it (same indentation, no blank line between; a shebang or coding line is never taken),
  and ends at its last line. Source that does not parse, and source that parses but holds no
  definition and no docstring (a plain script), is cut into line windows instead: user files
  never make chunking raise.
* Markdown (``.md``, ``.markdown``, :func:`chunk_markdown`): one ``"section"`` chunk per ATX
  heading (``#`` to ``######``), from the heading line to the line before the next heading of
  any level. Headings inside fenced code blocks (```````` ``` ```` or ``~~~``) are not headings.
  The section's name is its heading path, ``"Intro > Setup"``; text before the first heading is a
  section named after the file (``"README.md"``).
* Other text files with a known suffix (:data:`TEXT_SUFFIXES`, :func:`chunk_text`): ``"window"``
  chunks of ``window`` lines (default 40) that overlap by ``overlap`` lines (default 10), named
  ``"lines a-b"``.

Whitespace-only chunks are never emitted. Lines are split on ``\\n``, ``\\r\\n`` and ``\\r`` only
(the line breaks Python's parser counts), and a chunk's ``text`` is exactly its lines, line
endings included (a leading UTF-8 byte-order mark is dropped).

:func:`iter_files` walks a tree the way a search index wants it: sorted, without VCS,
vendored, generated or hidden directories, without files that ``.gitignore`` files ignore (the
root's and nested ones, matched by :mod:`pathspec`), binary or non-UTF-8 files, files over a
size limit, and symlinks that lead out of the tree; given ``exclude`` glob patterns
(:func:`is_excluded`, e.g. :data:`DEFAULT_EXCLUDES`, the test files) it skips matching files and
directories too. :func:`chunk_tree` chunks every file it yields.

Pure functions on strings, except :func:`iter_files`, :func:`chunk_file` and :func:`chunk_tree`,
which read the file system (and never write).
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pathspec

from kelp.errors import KelpError

__all__ = [
    "KINDS",
    "LANGUAGES",
    "SKIP_DIRS",
    "TEXT_SUFFIXES",
    "PYTHON_SUFFIXES",
    "MARKDOWN_SUFFIXES",
    "DEFAULT_MAX_BYTES",
    "TEXT_WINDOW_MAX_CHARS",
    "DEFAULT_WINDOW",
    "DEFAULT_OVERLAP",
    "DEFAULT_EXCLUDES",
    "ChunkingError",
    "Chunk",
    "split_lines",
    "chunk_python",
    "chunk_markdown",
    "chunk_text",
    "read_text",
    "is_excluded",
    "exclude_patterns",
    "iter_files",
    "chunk_file",
    "chunk_tree",
]

#: Chunk kinds.
KINDS: tuple[str, ...] = ("function", "method", "class", "module", "section", "window")
#: Chunk languages.
LANGUAGES: tuple[str, ...] = ("python", "markdown", "text")
#: Directory names never entered: version control, virtualenvs, vendored and generated code,
#: tool caches. (Hidden directories, names starting with ``"."``, are skipped too.)
SKIP_DIRS: frozenset[str] = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", "CVS", "_darcs",
        "node_modules", ".venv", "venv", "site-packages", "__pycache__", "dist", "build",
        ".tox", ".mypy_cache", ".pytest_cache", "vendor", "third_party",
    }
)  # fmt: skip
#: Suffixes chunked as Python.
PYTHON_SUFFIXES: frozenset[str] = frozenset({".py"})
#: Suffixes chunked as Markdown.
MARKDOWN_SUFFIXES: frozenset[str] = frozenset({".md", ".markdown"})
#: Suffixes chunked as plain line windows. Files with any other suffix are not chunked.
TEXT_SUFFIXES: frozenset[str] = frozenset(
    {
        ".txt", ".rst", ".toml", ".yaml", ".yml", ".json", ".cfg", ".ini", ".sh", ".bash",
        ".js", ".jsx", ".ts", ".tsx", ".c", ".h", ".cc", ".cpp", ".hpp", ".rs", ".go", ".java",
        ".kt", ".rb", ".sql", ".css", ".html",
    }
)  # fmt: skip
#: Files larger than this many bytes are skipped by default (1 MB).
DEFAULT_MAX_BYTES = 1_000_000
#: Plain-text files (window chunks) longer than this many characters are skipped: at that size
#: they are generated data (tokenizer vocabularies, lock files, datasets), not prose or code.
TEXT_WINDOW_MAX_CHARS = 100_000
#: Glob patterns ``kelp index`` excludes unless told ``--include-tests``: test modules, test
#: directories and pytest's ``conftest.py`` (matched by :func:`is_excluded`).
DEFAULT_EXCLUDES: tuple[str, ...] = ("test_*.py", "*_test.py", "tests/", "test/", "conftest.py")
#: Default window length and overlap of :func:`chunk_text`, in lines.
DEFAULT_WINDOW = 40
DEFAULT_OVERLAP = 10

#: How many leading bytes are searched for a NUL byte to call a file binary.
_BINARY_PROBE = 8192
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_CODING_RE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")
_FENCE_OPEN_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING_HASHES_RE = re.compile(r"(?:^|[ \t]+)#+$")


class ChunkingError(KelpError, ValueError):
    """Invalid chunking arguments (a bad window, a path outside the root, an invalid chunk)."""


@dataclass(frozen=True)
class Chunk:
    """One searchable span of a file.

    Attributes:
        path: the file's POSIX path relative to the indexed root, e.g. ``"src/kelp/cli.py"``.
        kind: one of :data:`KINDS`.
        name: ``"parse"``, ``"Class.method"`` or a dotted module name (Python); the heading
            path ``"Intro > Setup"`` (Markdown); ``"lines 41-80"`` (windows).
        start_line, end_line: 1-based, inclusive; for Python definitions the span includes the
            decorators (and a comment block directly above).
        text: exactly the source lines ``start_line..end_line``, line endings included.
        language: one of :data:`LANGUAGES`.

    Raises:
        ChunkingError: on an unknown kind or language, a whitespace-only ``text``,
            ``start_line < 1``, ``end_line < start_line``, or a ``text`` that does not have
            ``end_line - start_line + 1`` lines.
    """

    path: str
    kind: str
    name: str
    start_line: int
    end_line: int
    text: str
    language: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ChunkingError(f"unknown chunk kind {self.kind!r}; expected one of {KINDS}")
        if self.language not in LANGUAGES:
            raise ChunkingError(f"unknown language {self.language!r}; expected one of {LANGUAGES}")
        if not self.text.strip():
            raise ChunkingError(f"blank chunk {self.path}:{self.start_line}-{self.end_line}")
        if self.start_line < 1 or self.end_line < self.start_line:
            raise ChunkingError(f"bad span {self.start_line}-{self.end_line} in {self.path}")
        n = len(split_lines(self.text))
        if n != self.end_line - self.start_line + 1:
            raise ChunkingError(
                f"text of {self.path}:{self.start_line}-{self.end_line} has {n} lines, "
                f"expected {self.end_line - self.start_line + 1}"
            )

    @property
    def chunk_id(self) -> str:
        """A stable id: the first 16 hex digits of the SHA-1 of path, kind, name and start line.

        It does not depend on the text, so an edited function keeps its id while its start line
        does not move (compare :attr:`content_hash` to see whether it changed).
        """
        key = "\0".join((self.path, self.kind, self.name, str(self.start_line)))
        return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]

    @property
    def content_hash(self) -> str:
        """SHA-256 of ``text`` (UTF-8), 64 hex digits."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def split_lines(text: str) -> list[str]:
    """``text`` split into lines, each keeping its line ending (``\\n``, ``\\r\\n`` or ``\\r``).

    Unlike :meth:`str.splitlines`, form feeds, vertical tabs and Unicode line separators do not
    end a line (Python's parser does not count them either). ``"".join(split_lines(t)) == t``.
    """
    return _LINE_RE.findall(text)


def _span_text(lines: list[str], start: int, end: int) -> str:
    return "".join(lines[start - 1 : end])


# --- Python ------------------------------------------------------------------------------------

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar)


def _module_name(path: str) -> str:
    p = PurePosixPath(path)
    parts = list(p.with_suffix("").parts) if p.suffix else list(p.parts)
    if parts and parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts) or p.name


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t\f"))]


def _def_start(node: ast.stmt, lines: list[str], floor: int) -> int:
    """First line of a definition: its first decorator, or a comment block directly above it
    (same indentation, strictly below line ``floor``; never a shebang or coding line)."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno] + [d.lineno for d in decorators])
    indent = _indent(lines[start - 1])
    j = start - 1
    while j > max(floor, 0):
        line = lines[j - 1]
        stripped = line.strip()
        if not stripped.startswith("#") or _indent(line) != indent:
            break
        if (j == 1 and stripped.startswith("#!")) or (j <= 2 and _CODING_RE.match(line)):
            break
        j -= 1
    return j + 1


def _python_defs(
    body: list[ast.stmt], prefix: str, in_class: bool, floor: int, lines: list[str], out: list[tuple]
) -> None:
    """Append ``(start, end, kind, name)`` for the definitions of ``body`` (see the module doc)."""
    for stmt in body:
        if isinstance(stmt, _DEFS):
            name = prefix + stmt.name
            if isinstance(stmt, ast.ClassDef):
                kind = "class"
            else:
                kind = "method" if in_class else "function"
            out.append((_def_start(stmt, lines, floor), stmt.end_lineno, kind, name))
            if isinstance(stmt, ast.ClassDef):
                _python_defs(stmt.body, name + ".", True, stmt.lineno, lines, out)
        elif isinstance(stmt, _BLOCKS):
            sub_floor = stmt.lineno
            for field in ("body", "orelse", "finalbody"):
                sub = getattr(stmt, field, None) or []
                _python_defs(sub, prefix, in_class, sub_floor, lines, out)
                if sub:
                    sub_floor = sub[-1].end_lineno or sub_floor
            for handler in getattr(stmt, "handlers", None) or []:
                _python_defs(handler.body, prefix, in_class, handler.lineno, lines, out)
        floor = stmt.end_lineno or floor


def chunk_python(
    source: str, path: str, *, window: int = DEFAULT_WINDOW, overlap: int = DEFAULT_OVERLAP
) -> list[Chunk]:
    """The chunks of one Python file, in source order (a class before its methods).

    Args:
        source: the file's text.
        path: its POSIX path relative to the root (stored in the chunks; names the module chunk:
            ``"pkg/mod.py"`` -> ``"pkg.mod"``, ``"pkg/__init__.py"`` -> ``"pkg"``).
        window, overlap: line windows used when ``source`` does not parse or holds no
            definition and no docstring (see :func:`chunk_text`).

    Returns:
        ``"module"``, ``"class"``, ``"function"`` and ``"method"`` chunks (language
        ``"python"``), or ``"window"`` chunks with language ``"python"`` in the fallback case;
        ``[]`` for a whitespace-only source.

    Raises:
        ChunkingError: only for a bad ``window``/``overlap``, never for the source's content.
    """
    _check_window(window, overlap)
    source = source.removeprefix("\ufeff")
    lines = split_lines(source)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return chunk_text(source, path, window=window, overlap=overlap, language="python")
    spans: list[tuple] = []
    first = tree.body[0] if tree.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        and first.value.value.strip()
    ):
        spans.append((first.lineno, first.end_lineno, "module", _module_name(path)))
    _python_defs(tree.body, "", False, 0, lines, spans)
    chunks = [
        Chunk(path, kind, name, start, end, _span_text(lines, start, end), "python")
        for start, end, kind, name in spans
        if _span_text(lines, start, end).strip()
    ]
    if not chunks:
        return chunk_text(source, path, window=window, overlap=overlap, language="python")
    return chunks


# --- Markdown ----------------------------------------------------------------------------------


def _markdown_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """``(line, level, title)`` of the ATX headings outside fenced code blocks."""
    headings = []
    fence: tuple[str, int] | None = None  # (fence char, fence length) while inside a fence
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if fence is not None:
            char, length = fence
            stripped = line.strip()
            if (
                len(line) - len(line.lstrip(" ")) <= 3
                and stripped
                and set(stripped) == {char}
                and len(stripped) >= length
            ):
                fence = None
            continue
        opened = _FENCE_OPEN_RE.match(line)
        if opened and not (opened.group(1)[0] == "`" and "`" in opened.group(2)):
            fence = (opened.group(1)[0], len(opened.group(1)))
            continue
        heading = _HEADING_RE.match(line)
        if heading:
            title = _CLOSING_HASHES_RE.sub("", heading.group(2) or "").strip()
            headings.append((number, len(heading.group(1)), title))
    return headings


def chunk_markdown(source: str, path: str) -> list[Chunk]:
    """The ``"section"`` chunks of one Markdown file, in order (language ``"markdown"``).

    Args:
        source: the file's text.
        path: its POSIX path relative to the root; its last component names the text before the
            first heading.

    Returns:
        One chunk per ATX heading outside fenced code (heading line to the line before the next
        heading), plus the text before the first heading if it is not whitespace; ``[]`` for a
        whitespace-only source. Names are heading paths, ``"Intro > Setup"``: a heading of
        level n closes the open headings of level >= n.
    """
    source = source.removeprefix("\ufeff")
    lines = split_lines(source)
    headings = _markdown_headings(lines)
    sections: list[tuple[int, int, str]] = []
    first = headings[0][0] if headings else len(lines) + 1
    if first > 1:
        sections.append((1, first - 1, PurePosixPath(path).name))
    stack: list[tuple[int, str]] = []
    for i, (line, level, title) in enumerate(headings):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        end = headings[i + 1][0] - 1 if i + 1 < len(headings) else len(lines)
        sections.append((line, end, " > ".join(t for _, t in stack)))
    return [
        Chunk(path, "section", name, start, end, _span_text(lines, start, end), "markdown")
        for start, end, name in sections
        if _span_text(lines, start, end).strip()
    ]


# --- Text windows ------------------------------------------------------------------------------


def _check_window(window: int, overlap: int) -> None:
    if window < 1:
        raise ChunkingError(f"window must be >= 1 line, got {window}")
    if not 0 <= overlap < window:
        raise ChunkingError(f"overlap must be in [0, window={window}), got {overlap}")


def chunk_text(
    source: str,
    path: str,
    *,
    window: int = DEFAULT_WINDOW,
    overlap: int = DEFAULT_OVERLAP,
    language: str = "text",
) -> list[Chunk]:
    """``"window"`` chunks of ``window`` lines, each starting ``window - overlap`` lines after the
    previous one; the last window ends at the last line (and may be shorter).

    Args:
        source: the file's text.
        path: its POSIX path relative to the root.
        window: lines per window, >= 1.
        overlap: lines shared by consecutive windows, ``0 <= overlap < window``.
        language: the chunks' language (``"python"`` for unparsable Python).

    Returns:
        The windows that are not whitespace-only, named ``"lines a-b"``; ``[]`` for an empty
        source.

    Raises:
        ChunkingError: if ``window < 1`` or ``overlap`` is not in ``[0, window)``.
    """
    _check_window(window, overlap)
    source = source.removeprefix("\ufeff")
    lines = split_lines(source)
    chunks = []
    start = 1
    while start <= len(lines):
        end = min(start + window - 1, len(lines))
        text = _span_text(lines, start, end)
        if text.strip():
            chunks.append(Chunk(path, "window", f"lines {start}-{end}", start, end, text, language))
        if end == len(lines):
            break
        start += window - overlap
    return chunks


# --- Files -------------------------------------------------------------------------------------


def read_text(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """The text of a file, or ``None`` if it should not be indexed.

    ``None`` when the file cannot be read, is larger than ``max_bytes`` bytes, has a NUL byte
    in its first 8 KiB (binary) or is not valid UTF-8. A leading byte-order mark is dropped.
    """
    try:
        if os.path.getsize(path) > max_bytes:
            return None
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes or b"\0" in data[:_BINARY_PROBE]:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _is_within(path: str, real_root: str) -> bool:
    return path == real_root or path.startswith(real_root.rstrip(os.sep) + os.sep)


def exclude_patterns(extra: tuple[str, ...] | list[str] = (), *, include_tests: bool = False) -> list[str]:
    """The exclude patterns of an index build: :data:`DEFAULT_EXCLUDES` (``test_*.py``,
    ``*_test.py``, ``tests/``, ``test/``, ``conftest.py``) unless ``include_tests``, then
    ``extra`` (the user's own), duplicates dropped, order kept."""
    patterns = [] if include_tests else list(DEFAULT_EXCLUDES)
    return list(dict.fromkeys([*patterns, *extra]))


def is_excluded(rel: str, patterns: tuple[str, ...] | list[str], *, is_dir: bool = False) -> bool:
    """Whether the POSIX path ``rel`` (relative to the indexed root; a directory when ``is_dir``)
    matches one of the glob ``patterns`` (:func:`fnmatch.fnmatchcase`: ``*``, ``?``, ``[seq]``;
    ``*`` also matches ``/``). A pattern

    * ending in ``/`` (``tests/``, ``src/gen/``) names directories: it matches a path with a
      directory component of that name (``tests/a.py``, ``pkg/tests/b.py``, the directory
      ``tests`` itself), or, if it holds another ``/``, a path under a directory at that
      relative path;
    * holding no ``/`` (``gen_*.py``, ``conftest.py``) matches the whole relative path or any one
      of its components (a file name, or a directory name, excluding all beneath it);
    * holding a ``/`` otherwise (``src/*_pb2.py``) matches the whole relative path.

    A leading ``./`` or ``/`` of a pattern is ignored (patterns are always relative to the root).
    """
    rel = rel.strip("/")
    parts = rel.split("/")
    dirs = parts if is_dir else parts[:-1]
    for pattern in patterns:
        pattern = pattern.removeprefix("./").lstrip("/")
        if not pattern:
            continue
        if pattern.endswith("/"):
            name = pattern.rstrip("/")
            if "/" in name:
                if any(fnmatch.fnmatchcase("/".join(dirs[:i]), name) for i in range(1, len(dirs) + 1)):
                    return True
            elif any(fnmatch.fnmatchcase(part, name) for part in dirs):
                return True
        elif "/" in pattern:
            if fnmatch.fnmatchcase(rel, pattern):
                return True
        elif fnmatch.fnmatchcase(rel, pattern) or any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def _load_gitignore(directory: str) -> pathspec.GitIgnoreSpec | None:
    gitignore = os.path.join(directory, ".gitignore")
    if not os.path.isfile(gitignore):
        return None
    try:
        with open(gitignore, encoding="utf-8", errors="replace") as handle:
            return pathspec.GitIgnoreSpec.from_lines(handle.read().splitlines())
    except OSError:
        return None


def _ignored(rel: str, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
    """Whether the ``.gitignore`` files on the way to ``rel`` ignore it (``rel`` ends in ``/``
    for a directory). Deeper files override shallower ones, the last matching line wins."""
    ignored = False
    for prefix, spec in specs:
        result = spec.check_file(rel[len(prefix) :])
        if result.include is not None:
            ignored = result.include
    return ignored


def _walk(
    root: Path,
    max_bytes: int,
    wanted: Callable[[Path], bool] | None,
    exclude: tuple[str, ...] | list[str] = (),
) -> Iterator[tuple[Path, str]]:
    """``(path, text)`` of the files :func:`iter_files` yields (restricted to ``wanted``, without
    what the ``exclude`` patterns match: see :func:`is_excluded`)."""
    real_root = os.path.realpath(root)

    def visit(directory: str, prefix: str, specs: list) -> Iterator[tuple[Path, str]]:
        spec = _load_gitignore(directory)
        if spec is not None:
            specs = specs + [(prefix, spec)]
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            rel = prefix + entry.name
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not _is_within(target, real_root) or not os.path.isfile(target):
                        continue  # leads out of the tree, dangling, or a directory: not followed
                    is_dir = False
                else:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if not is_dir and not entry.is_file(follow_symlinks=False):
                        continue  # sockets, fifos, devices
            except OSError:
                continue
            if is_dir:
                if entry.name in SKIP_DIRS or entry.name.startswith("."):
                    continue
                if _ignored(rel + "/", specs) or (exclude and is_excluded(rel, exclude, is_dir=True)):
                    continue
                yield from visit(entry.path, rel + "/", specs)
                continue
            if _ignored(rel, specs) or (exclude and is_excluded(rel, exclude)):
                continue
            path = Path(entry.path)
            if wanted is not None and not wanted(path):
                continue
            text = read_text(path, max_bytes)
            if text is not None:
                yield path, text

    yield from visit(os.fspath(root), "", [])


def _check_root(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise ChunkingError(f"not a directory: {root}")
    return root


def iter_files(
    root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, exclude: tuple[str, ...] | list[str] = ()
) -> Iterator[Path]:
    """The indexable files under ``root``, depth first with each directory's entries sorted by
    name (so the sequence is sorted by path components).

    Yields paths ``root / relative``, each a readable UTF-8 text file of at most ``max_bytes``
    bytes. Skipped:

    * directories named in :data:`SKIP_DIRS` (VCS, virtualenvs, ``node_modules``, ``dist``,
      ``build``, caches, ``vendor``, ``third_party``, ...) and hidden directories (``.name``;
      ``root`` itself is always walked);
    * paths ignored by ``.gitignore`` files: the root's and every nested one, each matched
      relative to its own directory with git's rules (``pathspec.GitIgnoreSpec``: deeper files
      override shallower ones, ``!pattern`` re-includes, nothing inside an ignored directory is
      re-included); ``.gitignore`` files above ``root`` and ``.git/info/exclude`` are not read;
    * binary files (a NUL byte in the first 8 KiB), non-UTF-8 files, unreadable files, files
      larger than ``max_bytes`` bytes, and special files (fifos, sockets, devices);
    * symlinks that lead outside ``root`` or nowhere. Symlinked directories are never followed
      (no cycles; a target inside the tree is walked under its own path); a symlinked file
      inside the tree is yielded under the link's path;
    * files and directories matching one of the ``exclude`` glob patterns (:func:`is_excluded`,
      on the path relative to ``root``; none by default; ``kelp index`` passes
      :data:`DEFAULT_EXCLUDES` unless ``--include-tests``). An excluded directory is not entered.

    Raises:
        ChunkingError: if ``root`` is not a directory (raised by the call itself, not lazily).
    """
    root = _check_root(root)
    return (path for path, _ in _walk(root, max_bytes, None, tuple(exclude)))


def _language_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in PYTHON_SUFFIXES:
        return "python"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in TEXT_SUFFIXES:
        return "text"
    return None


def _relative(path: Path, root: Path) -> str:
    absolute, absolute_root = os.path.abspath(path), os.path.abspath(root)
    if not _is_within(absolute, absolute_root) or absolute == absolute_root:
        raise ChunkingError(f"{path} is not a file under {root}")
    return Path(os.path.relpath(absolute, absolute_root)).as_posix()


def _chunk_source(
    text: str, rel: str, language: str | None, window: int, overlap: int
) -> list[Chunk]:
    if language == "python":
        return chunk_python(text, rel, window=window, overlap=overlap)
    if language == "markdown":
        return chunk_markdown(text, rel)
    if language == "text":
        if len(text) > TEXT_WINDOW_MAX_CHARS:
            return []
        return chunk_text(text, rel, window=window, overlap=overlap)
    return []


def chunk_file(
    path: Path,
    root: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    window: int = DEFAULT_WINDOW,
    overlap: int = DEFAULT_OVERLAP,
) -> list[Chunk]:
    """The chunks of one file, chosen by suffix (case-insensitive).

    ``.py`` -> :func:`chunk_python`, ``.md``/``.markdown`` -> :func:`chunk_markdown`, a suffix in
    :data:`TEXT_SUFFIXES` -> :func:`chunk_text`; any other suffix, and a file :func:`read_text`
    rejects (binary, non-UTF-8, over ``max_bytes``, unreadable), gives ``[]``. Chunk paths are
    ``path`` relative to ``root``, in POSIX form.

    Raises:
        ChunkingError: if ``path`` is not under ``root`` (compared without resolving symlinks),
            or for a bad ``window``/``overlap``.
    """
    _check_window(window, overlap)
    rel = _relative(path, root)
    language = _language_of(Path(path))
    if language is None:
        return []
    text = read_text(Path(path), max_bytes)
    if text is None:
        return []
    return _chunk_source(text, rel, language, window, overlap)


def chunk_tree(
    root: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    window: int = DEFAULT_WINDOW,
    overlap: int = DEFAULT_OVERLAP,
) -> Iterator[tuple[Path, list[Chunk]]]:
    """``(path, chunks)`` for every file of :func:`iter_files` that has a chunkable suffix, in
    the same order; a file with no non-empty chunk is yielded with ``[]``.

    Raises:
        ChunkingError: if ``root`` is not a directory, or for a bad ``window``/``overlap``
            (raised by the call itself, not lazily).
    """
    _check_window(window, overlap)
    root = _check_root(root)
    files = _walk(root, max_bytes, lambda p: _language_of(p) is not None)
    return (
        (path, _chunk_source(text, _relative(path, root), _language_of(path), window, overlap))
        for path, text in files
    )
