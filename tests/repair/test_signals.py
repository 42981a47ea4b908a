"""Ranking signals of the enumerative proposer: code that nobody writes on purpose, and what the
tests' errors point at. Each test compares the fix's rank with and without the signal."""

import ast

import pytest

from kelp.execute.sandbox import RunResult, TestOutcome
import kelp.repair.signals as signals_module
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.proposer import Feedback


def _rank(source: str, fixed: str, feedback: Feedback) -> int:
    tree = ast.parse(source)
    cands = [c for c in EnumerativeProposer().propose(tree, feedback) if not c.doomed]  # the search skips those
    for i, cand in enumerate(cands):
        try:
            if ast.unparse(cand.edit.apply(tree)) == ast.unparse(ast.parse(fixed)):
                return i
        except ValueError:  # a candidate that does not apply (the search skips it too)
            continue
    raise AssertionError("the fix was not proposed")


def _error(kind: str, message: str, line: int) -> Feedback:
    run = RunResult("ok", [TestOutcome("t0", "error", kind, f"{kind}: {message} (line {line})")])
    return Feedback.from_run(run, {}, ["assert f(3) == 2"])


LUCAS = ("def lucas(n):\n    if n == 0:\n        return 2\n    if n == 1:\n        return 1\n"
         "    return lucas(n - 1) + lucas(n - {})\n")


def test_an_identity_operand_is_a_likely_changed_constant():
    # `n - 0` is the mutation; the same program with `n - 3` holds no such hint
    boosted = _rank(LUCAS.format(0), LUCAS.format(2), Feedback())
    plain = _rank(LUCAS.format(3), LUCAS.format(2), Feedback())
    assert boosted < plain


def test_degenerate_operands_point_at_a_wrong_variable():
    source = "def gcd(x, y):\n    for k in range(y, 0, -1):\n        if {} % k == 0 and y % k == 0:\n            return k\n"
    assert _rank(source.format("k"), source.format("x"), Feedback()) < \
        _rank(source.format("y"), source.format("x"), Feedback())


ERROR_CASES = {
    "an IndexError line points at its subscripts": (
        "def best(xs):\n    out = [0] * len(xs)\n    for i in range(len(xs)):\n"
        "        out[i] = max(xs[i], xs[i + 2])\n    return out\n",
        ("i + 2", "i + 1"), ("IndexError", "list index out of range", 4)),
    "an AttributeError points at the object read": (
        "def first(items):\n    for i, item in enumerate(items):\n        low = i.value\n        return low * item.size\n",
        ("i.value", "item.value"), ("AttributeError", "'int' object has no attribute 'value'", 3)),
    "an operand TypeError points at the operands": (
        "def first_missing(arr, n):\n    for i in range(n):\n        if arr[i] <= n:\n"
        "            return arr + 1\n    return n + 1\n",
        ("return arr + 1", "return i + 1"), ("TypeError", 'can only concatenate list (not "int") to list', 4)),
    "a value of the wrong kind points at the names its line reads": (
        "PATTERN = 're'\n\ndef row(cells, aligns):\n    cells[0] += ' '\n"
        "    return '|'.join(a + v for a, v in zip(aligns, PATTERN))\n",
        ("zip(aligns, PATTERN)", "zip(aligns, cells)"), ("TypeError", "'int' object is not iterable", 5)),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_an_error_line_points_at_the_fix(case):
    source, (old, new), error = ERROR_CASES[case]
    fixed = source.replace(old, new)
    assert _rank(source, fixed, _error(*error)) < _rank(source, fixed, Feedback())


def test_a_loop_that_cannot_repeat_points_at_a_dropped_guard(monkeypatch):
    source = ("def first_unique(s):\n    seen = dict()\n    for c in s:\n        seen[c] = seen.get(c, 0) + 1\n"
              "    for c in s:\n        return c\n    return None\n")
    fixed = source.replace("        return c", "        if seen[c] == 1:\n            return c")
    boosted = _rank(source, fixed, Feedback())
    monkeypatch.setattr(signals_module, "SINGLE_PASS_LOOP_BOOST", 1.0)
    assert boosted < _rank(source, fixed, Feedback())


def test_a_base_case_that_misses_one_value_is_a_single_candidate():
    source = ("def msort(arr):\n    if len(arr) == 0:\n        return arr\n    mid = len(arr) // 2\n"
              "    return sorted(msort(arr[:mid]) + msort(arr[mid:]))\n")
    for fixed in (source.replace("== 0", "<= 1"), source.replace("== 0", "< 2")):
        assert _rank(source, fixed, Feedback()) < 44


def test_a_functions_own_variable_outranks_the_modules_many(monkeypatch):
    globals_ = "".join(f"G{i} = {i}\n" for i in range(40))
    source = globals_ + ("\ndef total(values, scale):\n    assert scale > 0\n    out = 0\n    for v in values:\n"
                         "        out += v * G3\n    return out\n")
    fixed = source.replace("v * G3", "v * scale")
    weighted = _rank(source, fixed, Feedback())
    monkeypatch.setattr("kelp.repair.enumerate.LOCAL_VARIABLE_FACTOR", 1.0)
    assert weighted < _rank(source, fixed, Feedback()) / 2


def test_one_loop_variable_for_another_is_the_likeliest_variable_confusion(monkeypatch):
    from kelp.repair import signals
    source = ("def sort_pairs(tup):\n    n = len(tup)\n    for i in range(n):\n        for j in range(n - i - 1):\n"
              "            if tup[i][0] > tup[j + 1][0]:\n                tup[j], tup[j + 1] = tup[j + 1], tup[j]\n"
              "    return tup\n")
    fixed = source.replace("tup[i][0] >", "tup[j][0] >")
    boosted = _rank(source, fixed, Feedback())
    monkeypatch.setattr(signals, "LOOP_VARIABLE_BOOST", 1.0)
    assert boosted < _rank(source, fixed, Feedback())


def test_a_loop_variable_read_after_its_loop_points_at_the_outer_one(monkeypatch):
    from kelp.repair import signals
    source = ("def odd_occurrence(arr, n):\n    for i in range(0, n):\n        count = 0\n"
              "        for j in range(0, n):\n            if arr[i] == arr[j]:\n                count += 1\n"
              "        if count % 2 != 0:\n            return arr[j]\n    return -1\n")
    stale = signals._stale_loop_reads(ast.parse(source))
    assert list(stale.values()) == [frozenset({"i"})]  # the j of `return arr[j]`: always n - 1 there
    fixed = source.replace("return arr[j]", "return arr[i]")
    boosted = _rank(source, fixed, Feedback())
    monkeypatch.setattr(signals, "STALE_LOOP_VARIABLE_BOOST", 1.0)
    assert boosted < _rank(source, fixed, Feedback())
    searched = ("def first_even(xs):\n    for k in range(len(xs)):\n        if xs[k] % 2 == 0:\n            break\n"
                "    return k\n")
    assert signals._stale_loop_reads(ast.parse(searched)) == {}  # a loop left by break: k is the one found
