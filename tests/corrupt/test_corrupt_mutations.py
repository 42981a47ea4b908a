import random

import pytest

from kelp.corrupt import CorruptionError, SubtreeBank, mutate
from kelp.program import node_at, normalise, parse, tree_diff, unparse


def _all_results(src: str, family: str, seeds=range(40), bank=None) -> set[str]:
    """Every distinct program `family` produces on `src` over several seeds."""
    out = set()
    for seed in seeds:
        res = mutate(parse(src), family, random.Random(seed), bank)
        assert res is not None, f"{family} found nothing in {src!r}"
        tree, mutation = res
        assert mutation.family == family
        text = unparse(tree)
        compile(text, "<m>", "exec")
        assert text != normalise(src)
        out.add(text)
    return out


def _body(results: set[str]) -> set[str]:
    """Function bodies only (drop the def line), normalised indentation."""
    return {"\n".join(line.strip() for line in r.splitlines()[1:]) for r in results}


def test_binop_flip():
    tree = parse("def f(a, b):\n    return a + b\n")
    new, m = mutate(tree, "binop_flip", random.Random(0))
    assert (m.path, m.before, m.after) == (("body", 0, "body", 0, "value", "op"), "+", "-")
    assert unparse(new) == "def f(a, b):\n    return a - b\n"
    assert _body(_all_results("def f(a, b):\n    a *= b\n    return a\n", "binop_flip")) == {
        "a /= b\nreturn a", "a //= b\nreturn a"}


def test_compare_flip():
    assert _body(_all_results("def f(a, b):\n    return a < b\n", "compare_flip")) == {
        "return a <= b", "return a > b"}
    assert _body(_all_results("def f(a, b):\n    return a in b\n", "compare_flip")) == {"return a not in b"}
    assert _body(_all_results("def f(a, b):\n    return a is not b\n", "compare_flip")) == {"return a is b"}


def test_boolop_flip():
    assert _body(_all_results("def f(a, b):\n    return a and b\n", "boolop_flip")) == {"return a or b"}


def test_wrong_variable_uses_variables_in_scope_only():
    src = "import math\nG = 3\n\ndef f(a, b):\n    return math.sqrt(a)\n"
    res = _all_results(src, "wrong_variable")
    assert {r.splitlines()[-1].strip() for r in res} == {"return math.sqrt(b)", "return math.sqrt(G)"}
    # a called name is never replaced, and a builtin is never offered
    assert mutate(parse("def f():\n    return len([])\n"), "wrong_variable", random.Random(0)) is None
    # a comprehension variable is offered only inside its comprehension
    res = _all_results("def f(xs):\n    n = len(xs)\n    return [y for y in xs] + [n]\n", "wrong_variable", range(80))
    assert not any("len(y)" in r or "[y]" in r or "in y]" in r for r in res)
    assert any("[xs for y in xs]" in r or "[n for y in xs]" in r for r in res)


def test_wrong_variable_prefers_similar_names():
    src = "def f(count, counts, z):\n    return count\n"
    picks = [unparse(mutate(parse(src), "wrong_variable", random.Random(s))[0]).splitlines()[-1].strip()
             for s in range(200)]
    assert picks.count("return counts") > picks.count("return z")


def test_off_by_one_shapes():
    assert _body(_all_results("def f():\n    return 3\n", "off_by_one")) == {"return 4", "return 2"}
    assert _body(_all_results("def f(n):\n    return list(range(n))\n", "off_by_one")) == {
        "return list(range(n + 1))", "return list(range(n - 1))"}
    assert _body(_all_results("def f(n):\n    return list(range(n + 1))\n", "off_by_one", range(80))) == {
        "return list(range(n))", "return list(range(n + 1 + 1))", "return list(range(n + 1 - 1))",
        "return list(range(n + 2))", "return list(range(n + 0))"}
    assert _body(_all_results("def f(a, i):\n    return a[i]\n", "off_by_one")) == {
        "return a[i + 1]", "return a[i - 1]"}
    sliced = _body(_all_results("def f(a, k):\n    return a[k:]\n", "off_by_one", range(80)))
    assert sliced == {"return a[:]", "return a[k + 1:]", "return a[k - 1:]", "return a[k:-1]"}


def test_change_constant():
    src = "def f(a):\n    if a == 'x':\n        return 5\n    return 'y'\n"
    res = _all_results(src, "change_constant", range(60))
    assert res == {
        normalise("def f(a):\n    if a == 'y':\n        return 5\n    return 'y'\n"),
        normalise("def f(a):\n    if a == 'x':\n        return 5\n    return 'x'\n"),
    }
    assert _body(_all_results("def f(a):\n    return a + 0\n", "change_constant")) == {"return a + 1"}
    assert _body(_all_results("def f(a):\n    return a or True\n", "change_constant")) == {"return a or False"}
    assert _body(_all_results("def f(a):\n    x = a * 2\n    return x + 7\n", "change_constant")) == {
        "x = a * 7\nreturn x + 7", "x = a * 2\nreturn x + 2"}


def test_docstrings_are_never_mutated():
    src = 'def f(a):\n    """keep me"""\n    return a + "x"\n\n"""and me"""\nx = "y"\n'
    for family in ("change_constant", "delete_statement"):
        for seed in range(20):
            res = mutate(parse(src), family, random.Random(seed))
            if res is not None:
                text = unparse(res[0])
                assert '"""keep me"""' in text and "'and me'" in text


def test_negate_condition():
    src = "def f(a):\n    if a > 0:\n        return 1\n    return 2\n"
    assert _body(_all_results(src, "negate_condition")) == {"if not a > 0:\nreturn 1\nreturn 2"}
    src = "def f(a):\n    while not a:\n        a = 1\n    return a if a else 0\n"
    assert _body(_all_results(src, "negate_condition")) == {
        "while a:\na = 1\nreturn a if a else 0", "while not a:\na = 1\nreturn a if not a else 0"}


def test_drop_condition():
    src = "def f(a):\n    x = 0\n    if a > 0:\n        x = a\n    return x\n"
    assert _body(_all_results(src, "drop_condition")) == {"x = 0\nx = a\nreturn x"}
    assert _body(_all_results("def f(a, b):\n    return a and b\n", "drop_condition")) == {"return a", "return b"}
    # an if with an else is not unwrapped
    assert mutate(parse("def f(a):\n    if a:\n        return 1\n    else:\n        return 2\n"),
                  "drop_condition", random.Random(0)) is None


def test_swap_args():
    assert _body(_all_results("def f(a, b):\n    return g(a, b)\n", "swap_args")) == {"return g(b, a)"}
    assert _body(_all_results("def f(a, b):\n    return a - b\n", "swap_args")) == {"return b - a"}
    assert mutate(parse("def f(a, b):\n    return a + b\n"), "swap_args", random.Random(0)) is None


def test_delete_statement():
    src = "def f(a):\n    x = a\n    x += 1\n    return x\n"
    assert _body(_all_results(src, "delete_statement")) == {
        "x += 1\nreturn x", "x = a\nreturn x", "x = a\nx += 1"}
    # the only statement of a block is never deleted
    assert mutate(parse("def f(a):\n    return a\n"), "delete_statement", random.Random(0)) is None


def test_drop_call_forgets_a_wrapper_or_an_argumentless_method():
    assert _body(_all_results("def f(a, b, s):\n    return abs(a - b) + len(s.lower())\n", "drop_call")) == {
        "return a - b + len(s.lower())", "return abs(a - b) + len(s)"}
    assert mutate(parse("def f(x):\n    return max(x, 0)\n"), "drop_call", random.Random(0)) is None


def test_discard_result_throws_away_a_computed_value():
    assert _body(_all_results("def f(xs):\n    xs = sorted(xs)\n    return xs\n", "discard_result")) == {
        "sorted(xs)\nreturn xs"}
    assert mutate(parse("def f(xs):\n    ys = sorted(xs)\n    return ys\n"), "discard_result",
                  random.Random(0)) is None  # the call does not read the name it assigns


def test_swap_call_confuses_builtins_and_methods():
    assert _body(_all_results("def f(xs, out):\n    out.append(len(xs))\n    return out\n", "swap_call")) == {
        "out.extend(len(xs))\nreturn out", "out.append(sum(xs))\nreturn out"}


def test_bank_swap_same_type_and_compiles():
    bank = SubtreeBank.from_sources(["def g(p, q):\n    return p * q\n"])
    src = "def f(a, b):\n    return a + b\n"
    frags = {frag for t in bank.types() for frag in bank.fragments(t)}
    for seed in range(30):
        tree, m = mutate(parse(src), "bank_swap", random.Random(seed), bank)
        assert m.after in frags
        assert type(node_at(tree, m.path)).__name__ == type(node_at(parse(src), m.path)).__name__
        compile(unparse(tree), "<b>", "exec")
    with pytest.raises(CorruptionError, match="SubtreeBank"):
        mutate(parse(src), "bank_swap", random.Random(0))


def test_unknown_family():
    with pytest.raises(CorruptionError, match="unknown mutation family"):
        mutate(parse("x = 1"), "teleport", random.Random(0))


@pytest.mark.parametrize("family", ["binop_flip", "compare_flip", "boolop_flip", "wrong_variable"])
def test_single_flip_diffs_to_one_edit_at_mutation_path(family):
    src = ("def f(a, b, c):\n    if a < b and b >= c:\n        return a * b + c\n"
           "    return [x for x in a if x != c or x in b]\n")
    for seed in range(15):
        tree, m = mutate(parse(src), family, random.Random(seed))
        edits = tree_diff(tree, parse(src))
        assert len(edits) == 1 and edits[0].op == "replace" and edits[0].path == m.path
        assert edits[0].new == m.before


def test_flips_on_mbpp_are_single_edits():
    import json
    from pathlib import Path

    import kelp

    mbpp = Path(kelp.__file__).parent / "data" / "mbpp" / "mbpp.jsonl"
    codes = [json.loads(line)["code"] for line in mbpp.read_text(encoding="utf-8").splitlines()]
    checked = 0
    for i, code in enumerate(codes[::5]):
        original = parse(normalise(code))
        for family in ("binop_flip", "compare_flip", "boolop_flip", "wrong_variable"):
            res = mutate(original, family, random.Random(i))
            if res is None:
                continue
            edits = tree_diff(res[0], original)
            assert len(edits) == 1 and edits[0].path == res[1].path, (code, family)
            checked += 1
    assert checked > 300
