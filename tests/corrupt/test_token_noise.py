import ast
import copy
import math
import random
import warnings
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kelp.corrupt.errors import CorruptionError
from kelp.corrupt.token_noise import (
    CONST_MASK,
    MASK,
    TokenSlot,
    apply_tokens,
    category_symbols,
    is_mask,
    mask_token,
    noise,
    op_category,
    token_nodes,
    valid_token,
)
from kelp.datasets.loaders import load_mbpp
from kelp.program.tree import ProgramSyntaxError, node_at, normalise, parse, unparse

SRC = '''def f(xs, k=2):
    """doc"""
    total = 0
    for x in xs:
        if x not in k and not x:
            total += x.real * -1.5
    return f'{total}' + 'a'
'''

VOCAB = {"name": ["i", "n", "res", "1bad", "None"], "attr": ["append", "split"],
         "const": ["0", "1", "''", "-1", "x"], "arg": ["n"]}


@lru_cache(maxsize=1)
def mbpp_train() -> tuple[str, ...]:
    return tuple(p.code for p in load_mbpp("train"))


def _compiles(source: str) -> None:
    with warnings.catch_warnings():  # e.g. "'int' object is not callable"
        warnings.simplefilter("ignore")
        compile(source, "<noised>", "exec")


def test_token_nodes_kinds_tokens_and_order():
    slots = token_nodes(parse(SRC))
    assert [(s.kind, s.token) for s in slots] == [
        ("arg", "xs"), ("arg", "k"), ("const", "2"), ("name", "total"), ("const", "0"),
        ("name", "x"), ("name", "xs"), ("op", "and"), ("name", "x"), ("op", "not in"),
        ("name", "k"), ("op", "not"), ("name", "x"), ("name", "total"), ("op", "+"),
        ("attr", "real"), ("name", "x"), ("op", "*"), ("op", "-"), ("const", "1.5"),
        ("op", "+"), ("const", "'a'"),
    ]  # the docstring and everything inside the f-string are not slots
    tree = parse(SRC)
    assert all(isinstance(s, TokenSlot) for s in slots)
    assert slots[2].path == ("body", 0, "args", "defaults", 0)
    assert isinstance(node_at(tree, slots[9].path), ast.NotIn)
    assert [op_category(node_at(tree, s.path)) for s in slots if s.kind == "op"] == [
        "boolop", "cmpop", "unaryop", "binop", "binop", "unaryop", "binop"]


def test_token_nodes_skips_unsafe_constants():
    # a bare constant at a docstring position, a case value, bytes/Ellipsis/complex
    src = ("def g():\n    1\n    return 2\n\nmatch y:\n    case 3:\n        pass\n"
           "z = (b'x', ..., 2j, None, True)\n")
    assert [(s.kind, s.token) for s in token_nodes(parse(src))] == [
        ("const", "2"), ("name", "y"), ("name", "z"), ("const", "None"), ("const", "True")]
    # hand-built constants whose repr does not re-parse as one constant are skipped
    tree = ast.Module([ast.Expr(ast.Tuple([ast.Constant(-1), ast.Constant(math.inf), ast.Constant(-0.0),
                                           ast.Constant(7)], ast.Load()))], [])
    assert [s.token for s in token_nodes(tree)] == ["7"]
    assert token_nodes(parse("pass\n")) == []


def test_valid_token_and_masks():
    assert valid_token("name", "x") and not valid_token("name", "1x") and not valid_token("name", "None")
    assert valid_token("const", "'a'") and valid_token("const", '"a"') and valid_token("const", "1e+16")
    assert not valid_token("const", "-1") and not valid_token("const", "x") and not valid_token("const", "b''")
    assert valid_token("op", "not in") and valid_token("op", "+", "unaryop") and not valid_token("op", "*", "unaryop")
    assert not valid_token("nope", "x") and not valid_token("name", 3)
    assert mask_token("name") == mask_token("attr") == mask_token("arg") == MASK == "__mask__"
    assert mask_token("const") == CONST_MASK == "'__mask__'" and mask_token("op") is None
    assert is_mask("const", "'__mask__'") and not is_mask("name", "'__mask__'")
    assert category_symbols("boolop") == ["and", "or"]
    assert set(category_symbols("unaryop")) == {"~", "not", "+", "-"}
    assert len(category_symbols("binop")) == 13 and len(category_symbols("cmpop")) == 10
    with pytest.raises(CorruptionError):
        category_symbols("op")
    with pytest.raises(CorruptionError):
        op_category(ast.Name("x"))


def test_noise_rate_zero_and_one():
    none = noise(SRC, 0.0, random.Random(0))
    assert none.corrupted == [] and none.noisy == none.original and none.source == normalise(SRC)
    full = noise(SRC, 1.0, random.Random(0))
    assert full.corrupted == list(range(len(full.slots)))
    assert all(a != b for a, b in zip(full.original, full.noisy))


def test_noise_exact_counts_and_at_least_one():
    n = len(token_nodes(parse(SRC)))  # 22
    for rate in (0.2, 0.5, 0.75):
        for seed in range(5):
            out = noise(SRC, rate, random.Random(seed))
            assert len(out.corrupted) == round(rate * n)
    assert len(noise("x = 1\n", 0.01, random.Random(0)).corrupted) == 1


def test_noise_is_seeded():
    a = noise(SRC, 0.5, random.Random(7), vocab=VOCAB)
    b = noise(SRC, 0.5, random.Random(7), vocab=VOCAB)
    assert (a.source, a.corrupted, a.noisy) == (b.source, b.corrupted, b.noisy)
    assert len({noise(SRC, 0.5, random.Random(s)).source for s in range(10)}) > 5


def test_noise_draws_from_program_vocab_and_masks():
    tree = parse(SRC)
    slots = token_nodes(tree)
    own = {k: {s.token for s in slots if s.kind == k} for k in ("name", "attr", "const", "arg")}
    allowed = {k: own[k] | {t for t in VOCAB[k] if valid_token(k, t)} | {mask_token(k)} for k in own}
    seen_vocab = seen_mask = False
    for seed in range(30):
        out = noise(tree, 0.75, random.Random(seed), vocab=VOCAB)
        for i in out.corrupted:
            slot, new = out.slots[i], out.noisy[i]
            if slot.kind == "op":
                assert new in category_symbols(op_category(node_at(tree, slot.path)))
            else:
                assert new in allowed[slot.kind] and new not in ("1bad", "None", "-1", "x" if slot.kind == "const" else "")
                seen_vocab |= new in {"i", "res", "append", "split", "''", "1"}
                seen_mask |= is_mask(slot.kind, new)
    assert seen_vocab and seen_mask
    assert normalise(SRC) == unparse(tree)  # the input tree is not modified


def test_mask_prob_extremes_and_fallback():
    out = noise(SRC, 1.0, random.Random(1), mask_prob=1.0)
    assert all(is_mask(s.kind, t) for s, t in zip(out.slots, out.noisy) if s.kind in ("name", "attr", "const"))
    out = noise(SRC, 1.0, random.Random(1), mask_prob=0.0)
    # 'real' is the only attribute: nothing else to draw, so the mask is the fallback
    assert {t for s, t in zip(out.slots, out.noisy) if s.kind == "attr"} == {MASK}
    assert not any(is_mask(s.kind, t) for s, t in zip(out.slots, out.noisy) if s.kind in ("name", "const"))
    single = noise("x = 1\n", 1.0, random.Random(0), mask_prob=0.0)
    assert single.noisy == [MASK, CONST_MASK] and single.source == "__mask__ = '__mask__'\n"


def test_parameters_never_collide():
    src = "def f(a, b, c):\n    return a + b + c\n\ng = lambda p, q: p - q\n"
    for seed in range(40):
        out = noise(src, 1.0, random.Random(seed), mask_prob=0.5)
        tree = parse(out.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.arguments):
                names = [a.arg for a in node.args]
                assert len(names) == len(set(names)), out.source
        _compiles(out.source)


def test_noise_errors():
    for rate in (-0.1, 1.5, math.nan, True, "0.5"):
        with pytest.raises(CorruptionError):
            noise(SRC, rate, random.Random(0))
    with pytest.raises(CorruptionError):
        noise(SRC, 0.5, random.Random(0), mask_prob=2.0)
    with pytest.raises(CorruptionError, match="no token slots"):
        noise("pass\n", 0.5, random.Random(0))
    with pytest.raises(CorruptionError, match="vocab kind"):
        noise(SRC, 0.5, random.Random(0), vocab={"names": ["x"]})
    with pytest.raises(ProgramSyntaxError):
        noise("def f(:\n", 0.5, random.Random(0))
    assert issubclass(CorruptionError, ValueError)


def test_apply_tokens_round_trip_and_errors():
    out = noise(SRC, 0.75, random.Random(3), vocab=VOCAB)
    assert unparse(apply_tokens(out.tree, out.slots, out.original)) == normalise(SRC)
    assert unparse(apply_tokens(parse(SRC), out.slots, out.noisy)) == out.source
    tree = parse("a = b < c\n")
    slots = token_nodes(tree)  # a, b, <, c
    assert unparse(apply_tokens(tree, slots, ["z", "y", "not in", "w"])) == "z = y not in w\n"
    assert unparse(tree) == "a = b < c\n"
    with pytest.raises(CorruptionError, match="3 tokens for 4 slots"):
        apply_tokens(tree, slots, ["z", "y", "<"])
    with pytest.raises(CorruptionError, match="cmpop"):
        apply_tokens(tree, slots, ["a", "b", "+", "c"])
    with pytest.raises(CorruptionError, match="valid name"):
        apply_tokens(tree, slots, ["1a", "b", "<", "c"])
    with pytest.raises(CorruptionError, match="addresses a"):
        apply_tokens(tree, [TokenSlot(slots[0].path, "const", "1")], ["1"])
    const = parse("x = 'a'\n")
    assert unparse(apply_tokens(const, token_nodes(const), ["x", '"b"'])) == "x = 'b'\n"
    with pytest.raises(CorruptionError):
        apply_tokens(const, token_nodes(const), ["x", "-1"])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.2, 0.5, 0.75]), st.integers(0, 2**32 - 1),
       st.sampled_from([0.0, 0.2, 1.0]), st.booleans())
def test_noise_mbpp_properties(index, rate, seed, mask_prob, use_vocab):
    codes = mbpp_train()
    src = codes[index % len(codes)]
    out = noise(src, rate, random.Random(seed), mask_prob=mask_prob, vocab=VOCAB if use_vocab else None)
    n = len(out.slots)
    # exact count, only the listed slots changed, each to a different token
    assert len(out.corrupted) == max(1, round(rate * n)) and out.corrupted == sorted(set(out.corrupted))
    assert [i for i in range(n) if out.noisy[i] != out.original[i]] == out.corrupted
    assert out.original == [s.token for s in token_nodes(parse(src))]
    # valid Python whose re-parsed tree has the same slots (paths, kinds) holding the noisy tokens
    reparsed = token_nodes(parse(out.source))
    assert [(s.path, s.kind) for s in reparsed] == [(s.path, s.kind) for s in out.slots]
    assert [s.token for s in reparsed] == out.noisy
    assert unparse(out.tree) == out.source
    _compiles(out.source)
    # operators stay in their category
    orig_tree = parse(src)
    for s in out.slots:
        if s.kind == "op":
            assert op_category(node_at(out.tree, s.path)) == op_category(node_at(orig_tree, s.path))
    # round trip back to the original
    assert unparse(apply_tokens(out.tree, out.slots, out.original)) == normalise(src)
    # determinism
    again = noise(src, rate, random.Random(seed), mask_prob=mask_prob, vocab=VOCAB if use_vocab else None)
    assert (again.source, again.corrupted) == (out.source, out.corrupted)


def test_noise_accepts_tree_without_modifying_it():
    tree = parse(SRC)
    before = copy.deepcopy(tree)
    out = noise(tree, 0.5, random.Random(0))
    assert ast.dump(tree) == ast.dump(before) and out.tree is not tree
