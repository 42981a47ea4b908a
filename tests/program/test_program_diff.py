import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kelp.program import Edit, EditError, apply_edits, normalise, parse, tree_diff, unparse
from program_strategies import mbpp_codes, programs

BASE = "def f(x, y):\n    if x < y:\n        return x + y\n    return x\n"


def _check(a: str, b: str) -> list[Edit]:
    edits = tree_diff(a, b)
    assert unparse(apply_edits(parse(a), edits)) == normalise(b)
    return edits


def test_identity_is_empty():
    assert tree_diff(BASE, BASE) == []
    assert tree_diff(BASE, "def f(x,y):\n  if (x<y): return (x+y)\n  return x") == []


def test_operator_flip_is_one_edit_at_the_operator():
    edits = _check(BASE, BASE.replace("x + y", "x - y"))
    assert edits == [Edit("replace", ("body", 0, "body", 0, "body", 0, "value", "op"), new="-")]
    edits = _check(BASE, BASE.replace("x < y", "x <= y"))
    assert edits == [Edit("replace", ("body", 0, "body", 0, "test", "ops", 0), new="<=")]
    edits = _check("z = a and b\n", "z = a or b\n")
    assert edits == [Edit("replace", ("body", 0, "value", "op"), new="or")]
    edits = _check("z = a not in b\n", "z = a in b\n")
    assert edits == [Edit("replace", ("body", 0, "value", "ops", 0), new="in")]
    edits = _check("z = -a\n", "z = not a\n")
    assert edits == [Edit("replace", ("body", 0, "value", "op"), new="not")]


def test_name_change_is_one_edit_at_the_name():
    edits = _check(BASE, BASE.replace("    return x\n", "    return y\n"))
    assert edits == [Edit("replace", ("body", 0, "body", 1, "value"), new="y")]
    # a store-context name is replaced with the right context
    edits = _check("x = 1\n", "y = 1\n")
    assert edits == [Edit("replace", ("body", 0, "targets", 0), new="y")]
    compile(apply_edits(parse("x = 1\n"), edits), "<t>", "exec")


def test_statement_insert_delete():
    b = BASE.replace("    return x\n", "    z = 1\n    return x\n")
    assert _check(BASE, b) == [Edit("insert", ("body", 0, "body"), index=1, new="z = 1")]
    assert _check(b, BASE) == [Edit("delete", ("body", 0, "body", 1))]
    # several list edits apply in sequence
    _check("a = 1\nb = 2\nc = 3\nd = 4\n", "b = 2\nx = 0\nd = 5\ne = 6\n")
    _check("if a:\n    x = 1\n", "if a:\n    x = 1\nelse:\n    y = 2\n")
    _check("if a:\n    x = 1\nelse:\n    y = 2\n", "if a:\n    x = 1\n")


def test_unexpressible_fields_bubble_up():
    edits = _check("f(a=1)\n", "f(b=1)\n")
    assert [e.path for e in edits] == [("body", 0, "value")]
    _check("def f(a):\n    return a\n", "def g(a):\n    return a\n")
    _check("x = a[1:2]\n", "x = a[1:3]\n")
    _check("x = a[1:2, ::3]\n", "x = a[1:2, ::4]\n")
    _check("f(*a)\n", "f(*b)\n")
    _check("x = f'{a!r:>{w}}'\n", "x = f'{a!r:<{w}}'\n")
    _check("global a\n", "global b\n")
    _check("x = 1\n", "x = 1.0\n")
    _check("x = 1\n", "x = True\n")
    _check("x = 0.0\n", "x = -0.0\n")
    _check("try:\n    pass\nexcept E:\n    pass\n", "try:\n    pass\nexcept E:\n    pass\nexcept F:\n    pass\n")


def test_edit_json_round_trip_and_validation():
    edits = tree_diff(BASE, "def f(x, y):\n    if x > y:\n        return y\n    z = 0\n    return x\n")
    back = [Edit.from_json(json.loads(json.dumps(e.to_json()))) for e in edits]
    assert back == edits
    with pytest.raises(EditError):
        Edit("move", ("body", 0))
    with pytest.raises(EditError):
        Edit("insert", ("body",), new="x = 1")
    with pytest.raises(EditError):
        Edit.from_json({"op": "delete", "path": ["body", 1.5]})


def test_edit_apply_errors_are_readable():
    tree = parse(BASE)
    with pytest.raises(EditError, match="does not apply"):
        Edit("replace", ("body", 5), new="x = 1").apply(tree)
    with pytest.raises(EditError, match="does not apply"):
        Edit("replace", ("body", 0, "body", 1, "value"), new="x = 1").apply(tree)
    with pytest.raises(EditError, match="does not apply"):
        Edit("replace", ("body", 0, "body", 0, "test", "ops", 0), new="+").apply(tree)
    with pytest.raises(EditError):
        Edit("delete", ("body", 0, "body", 0, "test")).apply(tree)
    with pytest.raises(EditError, match="invalid Python"):
        Edit("replace", ("body", 0, "targets", 0), new="f(x)").apply(parse("x = 1\n"))
    with pytest.raises(EditError):
        Edit("insert", ("body", 0, "body", 0, "test"), index=0, new="pass").apply(tree)
    assert unparse(tree) == normalise(BASE)  # never mutated


@settings(max_examples=100, deadline=None)
@given(programs(), programs())
def test_tree_diff_property_generated(a, b):
    _check(a, b)
    assert tree_diff(a, a) == []


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(mbpp_codes()), st.sampled_from(mbpp_codes()))
def test_tree_diff_property_mbpp_hypothesis(a, b):
    _check(a, b)


def test_tree_diff_random_mbpp_pairs():
    codes = mbpp_codes()
    rng = random.Random(1234)
    for _ in range(300):
        _check(rng.choice(codes), rng.choice(codes))
    for code in codes:
        assert tree_diff(code, code) == []
