import os
import re
from pathlib import Path

import pytest

from kelp.retrieval.chunking import (
    KINDS,
    LANGUAGES,
    Chunk,
    ChunkingError,
    chunk_file,
    chunk_markdown,
    chunk_python,
    chunk_text,
    chunk_tree,
    iter_files,
    split_lines,
)

REPO_SRC = Path(__file__).resolve().parents[2] / "src" / "kelp"

PY = '''#!/usr/bin/env python
"""Module doc.

More text.
"""
import functools


# Adds one.
# Really.
@functools.lru_cache(maxsize=None)
@staticmethod
def add_one(x):
    def inner(y):
        return y
    return inner(x) + 1


class Shape(object):
    """A shape."""

    sides = 0

    # Area of the shape.
    def area(self):
        return 0

    @property
    def name(self):
        return "shape"

    async def fetch(self, url):
        return url

    class Inner:
        def deep(self):
            pass


if True:
    def conditional():
        return 1
else:
    def conditional():
        return 2
'''


def check_spans(chunks, source):
    lines = split_lines(source)
    for c in chunks:
        assert 1 <= c.start_line <= c.end_line <= len(lines)
        assert c.text == "".join(lines[c.start_line - 1 : c.end_line])
        assert c.text.strip()
        assert c.kind in KINDS and c.language in LANGUAGES


def by_name(chunks):
    return {c.name: c for c in chunks}


def test_python_chunks_kinds_names_and_spans():
    chunks = chunk_python(PY, "pkg/shapes.py")
    check_spans(chunks, PY)
    assert [(c.kind, c.name) for c in chunks] == [
        ("module", "pkg.shapes"),
        ("function", "add_one"),
        ("class", "Shape"),
        ("method", "Shape.area"),
        ("method", "Shape.name"),
        ("method", "Shape.fetch"),
        ("class", "Shape.Inner"),
        ("method", "Shape.Inner.deep"),
        ("function", "conditional"),
        ("function", "conditional"),
    ]
    assert all(c.language == "python" and c.path == "pkg/shapes.py" for c in chunks)
    named = by_name(chunks)
    assert named["pkg.shapes"].start_line == 2 and named["pkg.shapes"].end_line == 5
    # the comment block directly above and both decorators are part of the function's span
    add_one = named["add_one"]
    assert add_one.text.startswith("# Adds one.\n# Really.\n@functools.lru_cache")
    assert add_one.text.rstrip().endswith("return inner(x) + 1")
    assert "def inner" in add_one.text and "inner" not in {c.name for c in chunks}
    # the class chunk is the whole class
    shape = named["Shape"]
    assert shape.text.startswith("class Shape(object):") and "def deep(self):" in shape.text
    assert named["Shape.area"].text.startswith("    # Area of the shape.\n    def area")
    assert named["Shape.name"].text.startswith("    @property\n")
    assert named["Shape.fetch"].text.lstrip().startswith("async def fetch")
    conditionals = [c for c in chunks if c.name == "conditional"]
    assert conditionals[0].start_line < conditionals[1].start_line
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_comment_blocks_attach_only_directly_above_at_same_indent():
    src = (
        "#!/usr/bin/env python\n"
        "def a():\n"
        "    x = 1\n"
        "    # trailing note of a\n"
        "def b():\n"
        "    pass\n"
        "# separated by a blank line\n"
        "\n"
        "def c():\n"
        "    pass\n"
    )
    named = by_name(chunk_python(src, "m.py"))
    assert named["a"].start_line == 2  # the shebang is never taken
    assert named["b"].start_line == 5  # a deeper-indented comment belongs to a
    assert named["c"].start_line == 9
    assert named["a"].end_line == 3


def test_line_endings_crlf_and_cr_keep_spans_exact():
    for newline in ("\r\n", "\r"):
        src = newline.join(["import os", "", "def f():", "    return 1", "", "def g():", "    pass", ""])
        chunks = chunk_python(src, "m.py")
        check_spans(chunks, src)
        assert [(c.name, c.start_line, c.end_line) for c in chunks] == [("f", 3, 4), ("g", 6, 7)]
        assert chunks[0].text == "def f():" + newline + "    return 1" + newline


def test_form_feed_does_not_end_a_line():
    src = "def f():\n    return 1\n\x0c\ndef g():\n    pass\n"
    assert [(c.name, c.start_line) for c in chunk_python(src, "m.py")] == [("f", 1), ("g", 4)]


def test_unparsable_python_falls_back_to_windows():
    src = "def broken(:\n" + "".join(f"x{i} = {i}\n" for i in range(60))
    chunks = chunk_python(src, "bad.py")
    check_spans(chunks, src)
    assert [c.kind for c in chunks] == ["window", "window"]
    assert all(c.language == "python" for c in chunks)
    assert [(c.start_line, c.end_line, c.name) for c in chunks] == [(1, 40, "lines 1-40"), (31, 61, "lines 31-61")]
    # NUL bytes make ast.parse raise ValueError: still no exception
    assert chunk_python("x = 1\0\n", "nul.py")[0].kind == "window"


def test_script_without_definitions_is_windowed_and_blank_source_gives_nothing():
    chunks = chunk_python("import sys\nprint(sys.argv)\n", "script.py")
    assert [(c.kind, c.name) for c in chunks] == [("window", "lines 1-2")]
    assert chunk_python("", "e.py") == [] and chunk_python("\n  \n\n", "e.py") == []
    # a module docstring alone is a module chunk; an empty docstring is not
    assert [c.kind for c in chunk_python('"""Doc."""\nx = 1\n', "pkg/__init__.py")] == ["module"]
    assert chunk_python('"""Doc."""\n', "pkg/__init__.py")[0].name == "pkg"
    assert [c.kind for c in chunk_python('""" """\nx = 1\n', "m.py")] == ["window"]


MD = """Preamble text.

# Intro

Intro text.

## Setup

```bash
# not a heading
pip install kelp
```

~~~
## also not a heading
~~~

#hashtag is not a heading

### Deep ###

## Usage
Use it.

# Next
"""


def test_markdown_sections_and_fenced_headings():
    chunks = chunk_markdown(MD, "docs/README.md")
    check_spans(chunks, MD)
    assert [(c.name, c.start_line, c.end_line) for c in chunks] == [
        ("README.md", 1, 2),
        ("Intro", 3, 6),
        ("Intro > Setup", 7, 19),
        ("Intro > Setup > Deep", 20, 21),
        ("Intro > Usage", 22, 24),
        ("Next", 25, 25),
    ]
    assert all(c.kind == "section" and c.language == "markdown" for c in chunks)
    assert "# not a heading" in chunks[2].text and "## also not a heading" in chunks[2].text
    assert chunk_markdown("# Only\n", "a.md")[0].name == "Only"
    assert chunk_markdown("\n\n", "a.md") == []


def test_text_windows_and_overlap():
    src = "".join(f"line {i}\n" for i in range(1, 101))
    chunks = chunk_text(src, "notes.txt")
    check_spans(chunks, src)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 40), (31, 70), (61, 100)]
    small = chunk_text(src, "notes.txt", window=10, overlap=0)
    assert [(c.start_line, c.end_line) for c in small] == [(i, i + 9) for i in range(1, 101, 10)]
    assert chunk_text("a\nb\nc", "x.txt", window=2, overlap=1)[-1].name == "lines 2-3"
    # whitespace-only windows are skipped
    gappy = "a\n" + "\n" * 10 + "b\n"
    assert [c.name for c in chunk_text(gappy, "g.txt", window=4, overlap=0)] == ["lines 1-4", "lines 9-12"]
    assert chunk_text("", "e.txt") == []


@pytest.mark.parametrize("window, overlap", [(0, 0), (-1, 0), (5, 5), (5, -1), (5, 7)])
def test_bad_windows_raise(window, overlap):
    with pytest.raises(ChunkingError):
        chunk_text("a\n", "x.txt", window=window, overlap=overlap)
    assert issubclass(ChunkingError, ValueError)


def test_chunk_ids_hashes_and_validation():
    c = Chunk("a.py", "function", "f", 3, 4, "def f():\n    pass\n", "python")
    assert re.fullmatch(r"[0-9a-f]{16}", c.chunk_id)
    assert re.fullmatch(r"[0-9a-f]{64}", c.content_hash)
    edited = Chunk("a.py", "function", "f", 3, 4, "def f():\n    return 1\n", "python")
    assert edited.chunk_id == c.chunk_id and edited.content_hash != c.content_hash
    moved = Chunk("a.py", "function", "f", 5, 6, c.text, "python")
    assert moved.chunk_id != c.chunk_id
    bad = [
        {"kind": "lambda"},
        {"language": "cobol"},
        {"start_line": 0, "end_line": 1},
        {"start_line": 4, "end_line": 3},
        {"text": "one line\n"},
        {"text": "  \n\n"},
    ]
    base = {"path": "a.py", "kind": "function", "name": "f", "start_line": 3, "end_line": 4}
    for change in bad:
        fields = {**base, "text": c.text, "language": "python", **change}
        with pytest.raises(ChunkingError):
            Chunk(**fields)


def write(path: Path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    outside = tmp_path / "outside.py"
    write(outside, "def secret():\n    pass\n")
    write(root / ".gitignore", "*.log\n!keep.log\nbuild-out/\n/top_only.txt\n")
    write(root / "main.py", "def main():\n    return 0\n")
    write(root / "README.md", "# Title\n\nText.\n")
    write(root / "top_only.txt", "ignored at the root\n")
    write(root / "debug.log", "ignored\n")
    write(root / "keep.log", "re-included\n")
    write(root / "image.png", b"\x89PNG\r\n\x1a\n\0\0\0")
    write(root / "latin1.txt", "caf\xe9\n".encode("latin-1"))
    write(root / "big.txt", "x" * 2000 + "\n")
    write(root / "build-out" / "gen.py", "x = 1\n")
    write(root / "node_modules" / "lib" / "index.js", "module.exports = 1;\n")
    write(root / ".git" / "config", "[core]\n")
    write(root / ".hidden" / "tool.py", "x = 1\n")
    write(root / "src" / "__pycache__" / "m.txt", "cache\n")
    write(root / "src" / ".gitignore", "/local.txt\ndata/\n*.tmp\n")
    write(root / "src" / "local.txt", "ignored: anchored in src\n")
    write(root / "src" / "top_only.txt", "kept: /top_only.txt is anchored at the root\n")
    write(root / "src" / "data" / "x.py", "x = 1\n")
    write(root / "src" / "pkg" / "local.txt", "kept: /local.txt only matches src/local.txt\n")
    write(root / "src" / "pkg" / "a.tmp", "ignored by src/.gitignore\n")
    write(root / "src" / "pkg" / "mod.py", "class A:\n    def m(self):\n        return 1\n")
    write(root / "other" / "b.tmp", "kept: *.tmp only applies under src\n")
    os.symlink(outside, root / "link_out.py")
    os.symlink(root / "main.py", root / "link_in.py")
    os.symlink(root / "src", root / "src_link")
    os.symlink(tmp_path / "missing.py", root / "dangling.py")
    return root


def rel(paths, root):
    return [p.relative_to(root).as_posix() for p in paths]


def test_iter_files_skips_ignored_vendored_hidden_binary_big_and_outside_links(repo):
    found = rel(iter_files(repo, max_bytes=1000), repo)
    assert found == [
        ".gitignore",
        "README.md",
        "keep.log",
        "link_in.py",
        "main.py",
        "other/b.tmp",
        "src/.gitignore",
        "src/pkg/local.txt",
        "src/pkg/mod.py",
        "src/top_only.txt",
    ]
    # the size limit is a parameter; the default is 1 MB
    assert "big.txt" in rel(iter_files(repo), repo)
    assert all(isinstance(p, Path) for p in iter_files(repo))
    with pytest.raises(ChunkingError):
        iter_files(repo / "main.py")


def test_chunk_file_dispatch_and_chunk_tree(repo):
    assert [(c.kind, c.name, c.path) for c in chunk_file(repo / "src" / "pkg" / "mod.py", repo)] == [
        ("class", "A", "src/pkg/mod.py"),
        ("method", "A.m", "src/pkg/mod.py"),
    ]
    assert [(c.kind, c.name) for c in chunk_file(repo / "README.md", repo)] == [("section", "Title")]
    assert [(c.kind, c.language) for c in chunk_file(repo / "src" / "pkg" / "local.txt", repo)] == [("window", "text")]
    assert chunk_file(repo / "keep.log", repo) == []  # unknown suffix
    assert chunk_file(repo / "latin1.txt", repo) == []  # not UTF-8
    assert chunk_file(repo / "big.txt", repo, max_bytes=100) == []
    with pytest.raises(ChunkingError):
        chunk_file(repo.parent / "outside.py", repo)
    tree = list(chunk_tree(repo, max_bytes=1000))
    assert rel([p for p, _ in tree], repo) == [
        "README.md",
        "link_in.py",
        "main.py",
        "src/pkg/local.txt",
        "src/pkg/mod.py",
        "src/top_only.txt",
    ]
    for path, chunks in tree:
        assert chunks == chunk_file(path, repo)
        check_spans(chunks, path.read_text())
    with pytest.raises(ChunkingError):
        chunk_tree(repo, window=3, overlap=3)


@pytest.fixture(scope="module")
def own_tree():
    return list(chunk_tree(REPO_SRC))


def test_chunks_of_this_repository_have_exact_spans(own_tree):
    assert len(own_tree) > 30
    kinds = set()
    for path, chunks in own_tree:
        source = path.read_text(encoding="utf-8-sig")
        check_spans(chunks, source)
        kinds.update(c.kind for c in chunks)
        for c in chunks:
            assert c.path == path.relative_to(REPO_SRC).as_posix()
    assert {"module", "function", "class", "method"} <= kinds
    paths = [p.relative_to(REPO_SRC).parts for p, _ in own_tree]
    assert paths == sorted(paths)
    assert not any("__pycache__" in parts for parts in paths)


def test_large_plain_text_files_are_generated_data_and_skipped(tmp_path):
    from kelp.retrieval.chunking import TEXT_WINDOW_MAX_CHARS, chunk_file

    big = tmp_path / "vocab.json"
    big.write_text('{"a": 1}\n' * (TEXT_WINDOW_MAX_CHARS // 9 + 1))
    small = tmp_path / "package.json"
    small.write_text('{"name": "demo"}\n')
    assert chunk_file(big, tmp_path) == []
    assert [c.kind for c in chunk_file(small, tmp_path)] == ["window"]
