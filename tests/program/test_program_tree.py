import ast
import copy

import pytest
from hypothesis import given, settings

from kelp.program import (
    FunctionInfo,
    PathError,
    ProgramError,
    ProgramSyntaxError,
    ast_hash,
    extract_function,
    functions,
    insert_at,
    is_docstring,
    iter_nodes,
    line_nodes,
    node_at,
    node_source,
    normalise,
    parse,
    replace_at,
    span,
    span_at,
    splice_at,
    unparse,
)
from program_strategies import mbpp_codes, programs

SRC = '''import math
G = 10

def f(a, b=2):
    """Doc."""
    total = 0
    for i in range(a):
        if i > b and i:
            total += i
    return total

class C:
    def m(self, v):
        def inner(z):
            return z
        return inner(v) - 1
'''


def test_parse_error_is_readable():
    with pytest.raises(ProgramSyntaxError) as info:
        parse("def f(:\n    pass\n")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.lineno == 1 and err.offset is not None
    assert str(err).startswith("line 1: ")
    with pytest.raises(ProgramSyntaxError):
        parse("x = '\0'\x00")
    with pytest.raises(ProgramSyntaxError):
        parse(b"x = 1")  # type: ignore[arg-type]


def test_unparse_normalise():
    assert normalise("x=1;y  =  (2)\n") == "x = 1\ny = 2\n"
    assert unparse(parse("")) == ""
    assert unparse(parse("a+b").body[0].value) == "a + b"
    assert normalise(normalise(SRC)) == normalise(SRC)


def test_node_source_operators():
    tree = parse("x = not (a < b) and -c + d\ny = a not in b")
    symbols = [node_source(n) for _, n in iter_nodes(tree)
               if isinstance(n, (ast.operator, ast.boolop, ast.unaryop, ast.cmpop))]
    assert symbols == ["and", "not", "<", "-", "+", "not in"]


def test_ast_hash_ignores_formatting_not_docstrings():
    assert ast_hash("x = (1)\n") == ast_hash("x=1") == ast_hash(parse("x = 1"))
    assert ast_hash("def f():\n    'a'\n    return 1\n") != ast_hash("def f():\n    return 1\n")
    assert len(ast_hash("x")) == 64


def test_iter_nodes_preorder_paths_resolve():
    tree = parse(SRC)
    pairs = list(iter_nodes(tree))
    assert pairs[0] == ((), tree)
    assert all(not isinstance(n, ast.expr_context) for _, n in pairs)
    for path, node in pairs:
        assert node_at(tree, path) is node
    paths = [p for p, _ in pairs]
    assert paths == [p for p, _ in iter_nodes(copy.deepcopy(tree))]
    assert ("body", 2, "body", 2, "body", 0, "test", "op") in paths  # the `and`
    assert ("body", 2, "body", 2, "body", 0, "test", "values", 0, "ops", 0) in paths  # the `>`


def test_node_at_errors_name_the_path():
    tree = parse(SRC)
    assert isinstance(node_at(tree, ("body", 2, "body", 3)), ast.Return)
    for bad in [("body", 99), ("nope",), ("body", "x"), ("body", 2, "name")]:
        with pytest.raises(PathError) as info:
            node_at(tree, bad)
        assert repr(bad) in str(info.value)


def test_replace_at_is_pure_and_fills_pass():
    tree = parse("def f():\n    return 1\nx = 2\n")
    before = unparse(tree)
    new = replace_at(tree, ("body", 1, "value"), ast.Constant(3))
    assert unparse(tree) == before
    assert unparse(new) == "def f():\n    return 1\nx = 3\n"
    emptied = replace_at(tree, ("body", 0, "body", 0), None)
    assert unparse(emptied) == "def f():\n    pass\nx = 2\n"
    assert unparse(replace_at(tree, ("body", 1), None)) == "def f():\n    return 1\n"
    compile(emptied, "<t>", "exec")  # locations filled in
    with pytest.raises(PathError):
        replace_at(tree, ("body", 1, "value"), None)
    with pytest.raises(PathError):
        replace_at(tree, (), ast.Pass())


def test_insert_and_splice():
    tree = parse("if a:\n    x = 1\n    y = 2\n")
    out = insert_at(tree, ("body", 0, "body"), 1, ast.parse("z = 3").body[0])
    assert unparse(out) == "if a:\n    x = 1\n    z = 3\n    y = 2\n"
    out = insert_at(tree, ("body", 0, "orelse"), 0, ast.parse("w = 0").body[0])
    assert unparse(out) == "if a:\n    x = 1\n    y = 2\nelse:\n    w = 0\n"
    with pytest.raises(PathError):
        insert_at(tree, ("body", 0, "body"), 5, ast.Pass())
    with pytest.raises(PathError):
        insert_at(tree, ("body", 0, "test"), 0, ast.Pass())
    unwrapped = splice_at(tree, ("body", 0), node_at(tree, ("body", 0)).body)
    assert unparse(unwrapped) == "x = 1\ny = 2\n"


def test_span_and_span_at():
    tree = parse(SRC)
    assert span(node_at(tree, ("body", 2))) == (4, 10)
    assert span(node_at(tree, ("body", 2, "args"))) == (4, 4)  # union of its args
    with pytest.raises(ProgramError):
        span(node_at(tree, ("body", 2, "body", 2, "body", 0, "test", "op")))
    assert span_at(tree, ("body", 2, "body", 2, "body", 0, "test", "op")) == (8, 8)


def test_line_nodes_innermost_statement_and_its_expressions():
    tree = parse(SRC)
    lines = line_nodes(tree)
    if_line = lines[8]
    assert if_line[0] == ("body", 2, "body", 2, "body", 0)
    assert ("body", 2, "body", 2, "body", 0, "test", "op") in if_line
    assert all(p[:5] == ("body", 2, "body", 2, "body") for p in if_line)
    assert not any(p[:7] == ("body", 2, "body", 2, "body", 0, "body") for p in if_line)
    assert lines[9][0] == ("body", 2, "body", 2, "body", 0, "body", 0)
    assert 3 not in lines and 11 not in lines  # blank lines
    both = line_nodes(parse("a = 1; b = 2\n"))
    assert both[1][0] == ("body", 0) and ("body", 1) in both[1]


def test_functions_and_extract():
    infos = functions(parse(SRC))
    assert [i.qualname for i in infos] == ["f", "C.m", "C.m.inner"]
    assert infos[0] == FunctionInfo("f", "f", ("body", 2), 4, 10, ("a", "b"))
    assert infos[1].args == ("self", "v")
    assert extract_function(SRC, "C.m").startswith("def m(self, v):\n")
    assert extract_function(SRC, "inner") == "def inner(z):\n    return z\n"
    with pytest.raises(ProgramError, match="no function named 'g'"):
        extract_function(SRC, "g")


def test_is_docstring():
    tree = parse(SRC)
    assert is_docstring(tree, ("body", 2, "body", 0))
    assert is_docstring(tree, ("body", 2, "body", 0, "value"))
    assert not is_docstring(tree, ("body", 2, "body", 1))
    assert is_docstring(parse("'mod doc'\nx = 1"), ("body", 0))


@settings(max_examples=100, deadline=None)
@given(programs())
def test_normalise_idempotent_on_generated_programs(src):
    once = normalise(src)
    assert normalise(once) == once
    assert ast_hash(once) == ast_hash(src)


def test_mbpp_round_trip_all():
    codes = mbpp_codes()
    assert len(codes) == 974
    for code in codes:
        once = normalise(code)
        assert normalise(once) == once
        assert ast_hash(once) == ast_hash(code)
