import ast
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kelp.program.tree import ProgramSyntaxError

from kelp.retrieval.chunking import (
    Chunk,
    chunk_markdown,
    chunk_python,
    chunk_text,
    chunk_tree,
)
from kelp.retrieval.explain import (
    TIERS,
    ExplainError,
    Explanation,
    dedent_code,
    explain,
    first_sentence,
    strip_docstring,
)

REPO_SRC = Path(__file__).resolve().parents[2] / "src" / "kelp"

#: The words a synthesized explanation may add to the names it reads from the code.
TEMPLATE_WORDS = {
    "Function", "Method", "Async", "async", "generator", "function", "method", "Generator",
    "Class", "with", "methods", "attributes", "decorated", "returns", "a", "call", "to",
    "or", "value", "yields", "values", "raises", "calls", "and", "more", "None",
}  # fmt: skip


def chunks_of(source, path="m.py"):
    return {c.name: c for c in chunk_python(source, path)}


def identifiers(text):
    return set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text))


@pytest.mark.parametrize(
    "doc, sentence",
    [
        ("Parse the args. Then more.", "Parse the args."),
        ("Parse the args.", "Parse the args."),
        ("Parse the\n    args\n\nSecond paragraph.", "Parse the args"),
        ("  Split on x.y and 1.5 values. Next", "Split on x.y and 1.5 values."),
        ("Accept inputs, e.g. lists. Next.", "Accept inputs, e.g. lists."),
        ("No period at all", "No period at all"),
        ("\n\n   \n", ""),
        ("", ""),
        ("Line one\r\nline two.\r\n\r\nOther.", "Line one line two."),
    ],
)
def test_first_sentence(doc, sentence):
    assert first_sentence(doc) == sentence


def test_first_sentence_caps_long_text_at_a_word():
    long = " ".join(["word"] * 100) + "."
    capped = first_sentence(long)
    assert len(capped) <= 200 and capped.endswith("…") and capped[:-1].split() == ["word"] * len(capped[:-1].split())
    assert first_sentence(long, max_chars=20) == "word word word word…"


SRC = '''"""Geometry helpers.

Details.
"""
import json


def documented(x):
    """Double a number. Extra."""
    return x * 2


# Load the settings file.
# It is JSON.
def commented(path):
    with open(path) as f:
        return json.load(f)


def body_comment(x):
    # Clamp to zero. Negative values vanish.
    return max(x, 0)


# pylint: disable=invalid-name
def parse_args(argv, *, strict=False) -> Namespace:
    if strict and not argv:
        raise ValueError("empty")
    data = json.load(open(argv[0]))
    return Namespace(data)


def pairs(items, /, start=0, *rest, **options):
    for i, item in enumerate(items, start):
        yield i, item


def abstract(self):
    raise NotImplementedError


def branches(flag):
    if flag:
        return flag
    return


def computed(a, b):
    def helper():
        return open("x")
    return a + b


class Point(Base, metaclass=Meta):
    x: int = 0
    y = 1


class Plain:
    def one(self):
        return self

    async def two(self, url):
        await self.one()
        return await fetch(url)

    @staticmethod
    def three():
        """Three, documented."""
        return 3
'''


def test_docstring_tier_for_functions_methods_and_modules():
    chunks = chunks_of(SRC, "geo.py")
    assert explain(chunks["documented"]) == Explanation("Double a number.", "docstring")
    assert explain(chunks["Plain.three"]) == Explanation("Three, documented.", "docstring")
    assert explain(chunks["geo"]) == Explanation("Geometry helpers.", "docstring")


def test_docstring_is_read_from_the_chunk_text():
    chunk = chunks_of(SRC)["documented"]
    edited = Chunk(chunk.path, chunk.kind, chunk.name, chunk.start_line, chunk.end_line,
                   chunk.text.replace("Double a number.", "Twice x."), chunk.language)  # fmt: skip
    assert explain(edited).text == "Twice x."


def test_comment_tier_above_and_at_body_start():
    chunks = chunks_of(SRC)
    assert explain(chunks["commented"]) == Explanation("Load the settings file.", "comment")
    assert explain(chunks["body_comment"]) == Explanation("Clamp to zero.", "comment")


def test_synthesized_functions():
    chunks = chunks_of(SRC)
    expected = {
        # the "# pylint: ..." directive above is not an explanation
        "parse_args": "Function parse_args(argv, *, strict=False) -> Namespace; returns a call to "
        "Namespace(...); raises ValueError; calls json.load, open.",
        "pairs": "Generator function pairs(items, /, start=0, *rest, **options); yields values; calls enumerate.",
        "abstract": "Function abstract(self); raises NotImplementedError.",
        "branches": "Function branches(flag); returns flag or None.",
        "computed": "Function computed(a, b); returns a value.",
        "Plain.one": "Method Plain.one(self); returns self.",
        "Plain.two": "Async method Plain.two(self, url); returns a value; calls self.one, fetch.",
    }
    for name, text in expected.items():
        assert explain(chunks[name]) == Explanation(text, "synthesized"), name


def test_synthesized_classes():
    chunks = chunks_of(SRC)
    assert explain(chunks["Point"]) == Explanation("Class Point(Base, metaclass=Meta) with attributes x, y.", "synthesized")
    assert explain(chunks["Plain"]) == Explanation("Class Plain with methods one, two, three.", "synthesized")
    deco = chunks_of("@dataclass(frozen=True)\nclass Empty:\n    pass\n")["Empty"]
    assert explain(deco).text == "Class Empty, decorated with dataclass(frozen=True)."
    decorated = chunks_of("@wrap\ndef f():\n    return g()\n")["f"]
    assert explain(decorated).text == "Function f(); decorated with wrap; returns a call to g(...)."


def test_synthesized_text_only_names_what_the_code_has():
    long_default = "x" * 40
    src = SRC + textwrap.dedent(f'''
        def fancy(a=lambda q: q, b="{long_default}", c=[1, 2]) -> "dict[str, list[int]] | None | tuple[int, ...]":
            try:
                value = compute(a)
            except KeyError as error:
                raise LookupError(a) from error
            if b:
                raise
            return [value, c]
        ''')
    count = 0
    for chunk in chunk_python(src, "m.py"):
        e = explain(chunk)
        if e.tier != "synthesized":
            continue
        count += 1
        allowed = identifiers(chunk.text) | identifiers(chunk.name) | TEMPLATE_WORDS
        assert identifiers(e.text) <= allowed, (chunk.name, identifiers(e.text) - allowed)
    assert count >= 9
    fancy = explain(chunks_of(src)["fancy"]).text
    assert fancy == "Function fancy(a=lambda q: q, b=…, c=[1, 2]) -> …; returns a value; raises LookupError; calls compute."


def test_markdown_heading_tier_and_text_tier():
    md = "Intro words. More.\n\n# Setup\n\n```sh\npip install x\n```\n\nInstall the package.\nThen run.\n\n# Empty\n"
    chunks = chunk_markdown(md, "docs/README.md")
    assert [explain(c) for c in chunks] == [
        Explanation("README.md: Intro words.", "heading"),
        Explanation("Setup: Install the package.", "heading"),
        Explanation("Empty", "heading"),
    ]
    windows = chunk_text("\n\n   first   real line  \nsecond\n", "a.txt")
    assert explain(windows[0]) == Explanation("first real line", "text")
    broken = chunk_python("def broken(:\n    pass\n", "b.py")
    assert explain(broken[0]) == Explanation("def broken(:", "text")


def test_explanation_validation():
    for text, tier in [("", "docstring"), ("  ", "text"), ("two\nlines", "text"), ("ok", "guess")]:
        with pytest.raises(ExplainError):
            Explanation(text, tier)
    assert issubclass(ExplainError, ValueError)


METHOD = '''    @property
    def area(self):
        """The area.

        Long text.
        """
        # keep this comment
        return self.w * self.h
'''


def test_strip_docstring_on_an_indented_method():
    stripped = strip_docstring(METHOD)
    assert stripped == "@property\ndef area(self):\n    # keep this comment\n    return self.w * self.h\n"
    node = ast.parse(stripped).body[0]
    assert ast.get_docstring(node) is None


@pytest.mark.parametrize(
    "source, expected",
    [
        ('def f():\n    """Only a docstring."""\n', "def f():\n    pass\n"),
        ('def f(): "doc"\n', "def f(): pass\n"),
        ('def f():\n    "doc"; return 1\n', "def f():\n    return 1\n"),
        ('class A:\n    """Doc."""  # note\n    x = 1\n', "class A:\n    # note\n    x = 1\n"),
        ('def f():\n    """A."""\n    def g():\n        """B."""\n', 'def f():\n    def g():\n        """B."""\n'),
        ('"""Module doc."""\nimport os\n', "import os\n"),
        ("def f(x):\n    return x\n", "def f(x):\n    return x\n"),
        ('    def f(self):\n        """Doc."""\n        return 1\n', "def f(self):\n    return 1\n"),
    ],
)
def test_strip_docstring_cases(source, expected):
    assert strip_docstring(source) == expected


def test_strip_docstring_when_dedent_cannot_dedent():
    # a method holding a multi-line string whose lines start at column 0 blocks textwrap.dedent
    method = '    def f(self):\n        """Doc."""\n        return """\nraw\n  text"""\n'
    assert textwrap.dedent(method) == method
    expected = 'def f(self):\n    return """\nraw\n  text"""\n'
    assert strip_docstring(method) == expected
    assert dedent_code(method) == 'def f(self):\n    """Doc."""\n    return """\nraw\n  text"""\n'
    assert ast.literal_eval(ast.parse(expected).body[0].body[0].value) == "\nraw\n  text"


def test_strip_docstring_and_dedent_reject_unparsable_source():
    for bad in ("def f(:\n    pass\n", "    x = (\n"):
        with pytest.raises(ProgramSyntaxError):
            strip_docstring(bad)
        with pytest.raises(ProgramSyntaxError):
            dedent_code(bad)


@pytest.fixture(scope="module")
def own_chunks():
    return [c for _, chunks in chunk_tree(REPO_SRC) for c in chunks]


def test_every_chunk_of_this_repository_is_explained(own_chunks):
    assert len(own_chunks) > 300
    tiers = set()
    for chunk in own_chunks:
        e = explain(chunk)
        assert e.text.strip() and "\n" not in e.text and e.text == e.text.strip(), chunk
        assert e.tier in TIERS
        if chunk.kind == "window":
            assert e.tier == "text"
        tiers.add(e.tier)
    assert {"docstring", "synthesized", "heading", "text"} <= tiers


def test_strip_docstring_on_every_definition_of_this_repository(own_chunks):
    defs = [c for c in own_chunks if c.kind in ("function", "method", "class")]
    assert len(defs) > 300
    for chunk in defs:
        stripped = strip_docstring(chunk.text)
        node = next(n for n in ast.parse(stripped).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
        assert ast.get_docstring(node) is None, chunk.name
        original = next(n for n in ast.parse(dedent_code(chunk.text)).body if isinstance(n, type(node)))
        if ast.get_docstring(original) is not None and len(original.body) > 1:
            original.body = original.body[1:]
        else:
            original.body = [ast.Pass()] if ast.get_docstring(original) is not None else original.body
        assert ast.dump(node) == ast.dump(original), chunk.name


PY_BLOCKS = [
    'def f(x, y=1):\n    """Doc. More."""\n    return x\n',
    "@deco\ndef g():\n    yield 1\n",
    "# top comment\nasync def h():\n    raise ValueError(x)\n",
    'class C(B):\n    """Doc."""\n    def m(self):\n        return self\n',
    'class D:\n    # a comment\n    def m(self):\n        s = """\nraw """\n        return s\n',
    "def one(): 'doc'; return 1\n",
    'def only():\n    """Only."""\n',
    '"""Module."""\n',
    "x = (\n  1)\n",
    "if x:\n    def cond():\n        pass\n",
    "try:\n    import a\nexcept ImportError:\n    def a():\n        return None\n",
    "def broken(:\n",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PY_BLOCKS), max_size=6),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.sampled_from(["", "\n"]),
)
def test_python_like_sources_never_break_chunking_explaining_or_stripping(blocks, newline, gap):
    source = (gap + "\n").join(blocks).replace("\n", newline)
    for chunk in chunk_python(source, "fuzz.py", window=5, overlap=2):
        e = explain(chunk)
        assert e.text.strip() and e.tier in TIERS
        if chunk.kind in ("function", "method", "class"):
            assert e.tier in ("docstring", "comment", "synthesized")
            ast.parse(strip_docstring(chunk.text))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_text_never_breaks_chunking_or_explaining(text):
    for chunks in (chunk_python(text, "a.py"), chunk_markdown(text, "a.md"), chunk_text(text, "a.txt")):
        for chunk in chunks:
            assert explain(chunk).text.strip()
