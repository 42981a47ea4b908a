"""program/docstrings: the module the code-search pairs and explanations share (more cases,
including every definition of this repository, are in tests/retrieval/test_explain.py)."""

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kelp.program.docstrings import first_sentence, strip_docstring
from kelp.program.tree import ProgramSyntaxError


def test_first_sentence_cuts_at_sentence_and_paragraph():
    assert first_sentence("Return x.  Then more.") == "Return x."
    assert first_sentence("\n    Parse the\n    header line\n\n    Details.") == "Parse the header line"
    assert first_sentence("Version 1.2 is used, e.g. here. Next") == "Version 1.2 is used, e.g. here."
    assert first_sentence("   ") == ""
    long = first_sentence("word " * 100, max_chars=30)
    assert long.endswith("…") and len(long) <= 30


def test_strip_docstring_keeps_comments_and_code_of_an_indented_method():
    method = '''    def area(self):
        """Compute the area.

        Long text.
        """
        # width times height
        return self.w * self.h
'''
    out = strip_docstring(method)
    assert '"""' not in out and "Compute" not in out
    assert "# width times height" in out and "return self.w * self.h" in out
    ast.parse(out)


def test_strip_docstring_only_docstring_becomes_pass():
    tree = ast.parse(strip_docstring('def f():\n    """f doc"""\n'))
    assert isinstance(tree.body[0].body[0], ast.Pass)


def test_strip_docstring_leaves_strings_that_are_not_docstrings():
    src = 'def f():\n    x = "not a doc"\n    return x\n'
    assert strip_docstring(src) == src


def test_strip_docstring_keeps_form_feeds_in_their_lines():
    src = 'def f():\n    """Doc."""\n    x = 1  # a\x0cb\n    return x\n'
    assert strip_docstring(src) == 'def f():\n    x = 1  # a\x0cb\n    return x\n'


def test_strip_docstring_bad_source():
    with pytest.raises(ProgramSyntaxError):
        strip_docstring("def f(:\n")


@given(st.text(max_size=200))
def test_first_sentence_never_raises_and_is_single_line(text):
    assert "\n" not in first_sentence(text)
