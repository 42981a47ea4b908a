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


# -- splice_edit: one edit written into the text ------------------------------------------------

import ast  # noqa: E402

import pytest  # noqa: E402

from kelp.program.fragment import dump  # noqa: E402
from kelp.repair.splice import quote_style, requote, splice_edit, text_lines  # noqa: E402


def _spliced(source: str, edit: Edit) -> str:
    tree = parse(source)
    spliced = splice_edit(source, tree, edit)
    assert spliced is not None
    assert dump(spliced.tree) == dump(edit.apply(tree))
    return spliced.text


@pytest.mark.parametrize("source, path, new, want", [
    ("def f(a, b):\n    return a+b  # sum\n", ("body", 0, "body", 0, "value", "op"), "-",
     "def f(a, b):\n    return a-b  # sum\n"),
    ("def f(x):\n    if x<0 :\n        return 1\n", ("body", 0, "body", 0, "test", "ops", 0), ">",
     "def f(x):\n    if x>0 :\n        return 1\n"),
    ("def f(x, d):\n    return x<d\n", ("body", 0, "body", 0, "value", "ops", 0), "in",
     "def f(x, d):\n    return x in d\n"),
    ("def f(k, d):\n    return k not  in d\n", ("body", 0, "body", 0, "value", "ops", 0), "in",
     "def f(k, d):\n    return k in d\n"),
    ("def f(a, b, c):\n    return (a and\n            b and c)\n", ("body", 0, "body", 0, "value", "op"), "or",
     "def f(a, b, c):\n    return (a or\n            b or c)\n"),
    ("def f(n):\n    n -= 1\n    return n\n", ("body", 0, "body", 0, "op"), "+",
     "def f(n):\n    n += 1\n    return n\n"),
    ("def f(a, b):\n    return (a) ** (b)\n", ("body", 0, "body", 0, "value", "op"), "*",
     "def f(a, b):\n    return (a) * (b)\n"),
    ("def f(x):\n    return -x\n", ("body", 0, "body", 0, "value", "op"), "+",
     "def f(x):\n    return +x\n"),
])
def test_an_operator_flip_rewrites_only_the_operator_token(source, path, new, want):
    assert _spliced(source, Edit("replace", path, new=new)) == want


def test_a_replacement_keeps_the_rest_of_the_line_and_adds_parentheses_only_when_needed():
    source = "def f(a, b):\n    return a*b  # product\n"
    assert _spliced(source, Edit("replace", ("body", 0, "body", 0, "value", "right"), new="b + 1")) == \
        "def f(a, b):\n    return a*(b + 1)  # product\n"
    assert _spliced(source, Edit("replace", ("body", 0, "body", 0, "value", "right"), new="c")) == \
        "def f(a, b):\n    return a*c  # product\n"


def test_insertions_take_the_indentation_of_their_block_and_deletions_leave_pass():
    source = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x  # add\n\n    return xs\n"
    assert _spliced(source, Edit("insert", ("body", 0, "body"), index=3, new="return total")) == \
        "def f(xs):\n    total = 0\n    for x in xs:\n        total += x  # add\n\n    return xs\n    return total\n"
    assert _spliced(source, Edit("insert", ("body", 0, "body", 1, "body"), index=0, new="x = abs(x)")) == \
        "def f(xs):\n    total = 0\n    for x in xs:\n        x = abs(x)\n        total += x  # add\n\n    return xs\n"
    assert _spliced(source, Edit("delete", ("body", 0, "body", 1, "body", 0))) == \
        "def f(xs):\n    total = 0\n    for x in xs:\n        pass\n\n    return xs\n"
    assert _spliced(source, Edit("delete", ("body", 0, "body", 0))) == \
        "def f(xs):\n    for x in xs:\n        total += x  # add\n\n    return xs\n"


def test_a_statement_sharing_its_line_is_not_spliced():
    source = "def f(x):\n    x = 1; y = 2\n    return x\n"
    tree = parse(source)
    assert splice_edit(source, tree, Edit("delete", ("body", 0, "body", 0))) is None


def test_a_decorated_definition_is_replaced_with_its_decorators_once():
    source = "class K:\n    @property\n    def size(self):\n        return 3  # three\n"
    tree = parse(source)
    new = ast.unparse(parse("@property\ndef size(self):\n    if self:\n        return 3\n").body[0])
    text = _spliced(source, Edit("replace", ("body", 0, "body", 0), new=new))
    assert text.count("@property") == 1 and "        if self:\n            return 3  # three\n" in text


def test_lines_are_counted_as_the_parser_counts_them():
    source = "\x0c\ndef f(a):\n    return a + 1\n"
    assert len(text_lines(source)) == 3
    assert _spliced(source, Edit("replace", ("body", 0, "body", 0, "value", "op"), new="-")) == \
        "\x0c\ndef f(a):\n    return a - 1\n"


def test_the_line_map_follows_insertions_deletions_and_replacements():
    source = "def f(xs):\n    a = 1\n    b = 2\n    return a\n"
    tree = parse(source)
    identity = (None, 1, 2, 3, 4)
    ins = splice_edit(source, tree, Edit("insert", ("body", 0, "body"), index=1, new="c = 3"))
    assert ins.line_map(identity) == (None, 1, 2, None, 3, 4)
    dele = splice_edit(source, tree, Edit("delete", ("body", 0, "body", 1)))
    assert dele.line_map(identity) == (None, 1, 2, 4)
    guard = "if xs:\n    b = 2"
    rep = splice_edit(source, tree, Edit("replace", ("body", 0, "body", 1), new=guard))
    assert rep.text == "def f(xs):\n    a = 1\n    if xs:\n        b = 2\n    return a\n"
    assert rep.line_map(identity) == (None, 1, 2, 3, 3, 4)


def _mbpp_codes(n: int) -> list[str]:
    """The reference solutions of the first ``n`` tasks of MBPP's train split (task ids 601-)."""
    import json
    from pathlib import Path

    import kelp
    with (Path(kelp.__file__).parent / "data" / "mbpp" / "mbpp.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [r["code"] for r in rows if r["task_id"] >= 601][:n]


def test_every_splice_of_the_enumerators_candidates_gives_the_edited_tree():
    from kelp.corrupt.errors import CorruptionError
    from kelp.corrupt.forward import corrupt
    from kelp.repair.enumerate import EnumerativeProposer
    from kelp.repair.proposer import Feedback

    made = tried = 0
    for seed, code in enumerate(_mbpp_codes(25)):
        try:
            source = corrupt(code, steps=1, seed=seed).source
        except CorruptionError:  # nothing to corrupt
            continue
        tree = parse(source)
        for cand in EnumerativeProposer().propose(tree, Feedback())[:120]:
            try:
                want = dump(cand.edit.apply(tree))
            except ValueError:
                continue
            tried += 1
            spliced = splice_edit(source, tree, cand.edit)
            if spliced is not None:
                made += 1
                assert dump(spliced.tree) == want, (source, cand.edit)
    assert made >= 0.95 * tried


def test_the_files_quote_style_is_kept_in_new_code():
    source = 'def colour(d):\n    return d["colour"]  # the key\n'
    tree = parse(source)
    repaired = parse("def colour(d):\n    return d['color']\n")
    assert quote_style(source) == '"'
    assert minimal_source(source, tree, repaired) == 'def colour(d):\n    return d["color"]  # the key\n'
    assert requote("f('a', \"it's\")", '"') == 'f("a", "it\'s")'
    assert requote("f('say \"hi\"')", '"') == "f('say \"hi\"')"


def test_minimal_source_keeps_the_formatting_of_unchanged_code_around_an_operator_flip():
    source = "def f(xs):\n    return [x for x in xs if x<0]   # negatives\n"
    tree = parse(source)
    repaired = parse("def f(xs):\n    return [x for x in xs if x > 0]\n")
    assert minimal_source(source, tree, repaired) == "def f(xs):\n    return [x for x in xs if x>0]   # negatives\n"
