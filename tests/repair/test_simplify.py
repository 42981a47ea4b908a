"""Patch simplification: degenerate code a repair introduced, rewritten; the rest left alone."""

import ast

import pytest

from kelp.repair.simplify import degenerate, patch_cost, simplify


@pytest.mark.parametrize("code, simpler", [
    ("-n * 1", "-n"), ("x + 0", "x"), ("0 + x", "x"), ("x - 0", "x"), ("x ** 1", "x"), ("1 * x", "x"),
    ("not s < threshold", "s >= threshold"), ("not a == b", "a != b"), ("not k in d", "k not in d"),
    ("not not x", "x"), ("- -x", "x"), ("+x", "x"), ("-0", "0"),
    ("i + 1 - 1", "i"), ("i - 1 + 2", "i + 1"), ("x - -1", "x + 1"), ("x + -2", "x - 2"), ("2 + 3", "5"),
])
def test_degenerate_code_has_a_simpler_form(code, simpler):
    new = degenerate(ast.parse(code, mode="eval").body)
    assert new is not None and ast.unparse(new) == simpler


@pytest.mark.parametrize("code", ["x + 1", "a < b", "not x", "-n", "x * 2", "len(a) - 1", "1.5 * 1"])
def test_ordinary_code_is_not_degenerate(code):
    assert degenerate(ast.parse(code, mode="eval").body) is None


def test_simplify_rewrites_what_the_repair_introduced_keeping_the_files_formatting():
    original = "def f(n, s, t):\n    if s < t:  # low\n        return -n\n    return n\n"
    repaired = "def f(n, s, t):\n    if not s >= t:  # low\n        return -n * 1\n    return n\n"
    found = simplify(original, repaired)
    assert found[0] == original  # both rewrites at once: the repair was a no-op
    assert "def f(n, s, t):\n    if s < t:  # low\n        return -n * 1\n    return n\n" in found
    assert "def f(n, s, t):\n    if not s >= t:  # low\n        return -n\n    return n\n" in found


def test_degenerate_code_the_program_already_had_is_left_alone():
    original = "def f(x):\n    y = x + 0\n    return y * 2\n"
    repaired = "def f(x):\n    y = x + 0\n    return y * 3\n"
    assert simplify(original, repaired) == []
    fixed = "def f(x):\n    y = x + 0\n    return (y + 0) * 3\n"
    assert simplify(original, fixed) == [repaired]


def test_patch_cost_prefers_small_changes_without_degenerate_code():
    original = "def f(a, b):\n    return a - b\n"
    assert patch_cost(original, "def f(a, b):\n    return a + b\n") == (0, 2)
    assert patch_cost(original, "def f(a, b):\n    return a - b + 0\n")[0] == 1
    assert patch_cost(original, "def f(a, b):\n    return a + b\n") < patch_cost(
        original, "def f(a, b):\n    return b - a - 2 * b + 2 * a\n")
    assert patch_cost(original, original) == (0, 0)
