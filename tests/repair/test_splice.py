from kelp.program.diff import Edit
from kelp.program.tree import parse, unparse
from kelp.repair.splice import minimal_source

SOURCE = '''import math

def area(r):  # circle
    # keep this comment
    return math.pi * r*r  # formatted oddly on purpose
'''


def test_splice_keeps_comments_and_formatting():
    tree = parse(SOURCE)
    path = ("body", 1, "body", 0, "value")
    new = Edit(op="replace", path=path, new="math.pi * (r + r)").apply(tree)
    text = minimal_source(SOURCE, tree, new)
    assert "# keep this comment" in text and "# circle" in text
    assert unparse(parse(text)) == unparse(new)


def test_splice_adds_parentheses_when_precedence_needs_them():
    source = "def f(a, b):\n    return a * b\n"
    tree = parse(source)
    new = Edit(op="replace", path=("body", 0, "body", 0, "value", "right"), new="b + 1").apply(tree)
    text = minimal_source(source, tree, new)
    assert text == "def f(a, b):\n    return a * (b + 1)\n"


def test_splice_deletes_whole_statement_lines():
    source = "def f(xs):\n    xs.sort()  # in place\n    xs.reverse()\n    return xs\n"
    tree = parse(source)
    new = Edit(op="delete", path=("body", 0, "body", 1)).apply(tree)
    assert minimal_source(source, tree, new) == "def f(xs):\n    xs.sort()  # in place\n    return xs\n"
