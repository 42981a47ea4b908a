"""Differential tests: new inputs near the tests' own, judged by the reference solution.

A task's few tests let wrong patches through (Qi et al. 2015, "An analysis of patch plausibility
and correctness"). Judging a repair also on inputs the tests never tried, with the known-good
solution as the oracle, catches more of them (DiffTGen, Xin and Reiss 2017; the differential
testing of McKeeman 1998). The inputs here are made from the tests' own calls of the entry
point: one literal argument at a time is changed a little (an int by one or to 0, a string
shortened or reversed, a list without its last item, reversed, or with its first item again, a
bool negated).

Each differential test runs the reference in its own namespace on the new input and asserts
that the program under test gives an equal result; an input on which the reference raises is
skipped (the test passes), so no test asks for more than the reference does.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Iterator

from kelp.execute.suites import TestCase, TestSuite

#: Differential tests made per task at most.
MAX_TESTS = 10


def _variants(value) -> Iterator:
    """Small changes of one literal value, most natural first."""
    if isinstance(value, bool):
        yield not value
    elif isinstance(value, int):
        yield from (value + 1, value - 1, 0, -value, value * 2)
    elif isinstance(value, float):
        yield from (value + 1.0, 0.0, -value)
    elif isinstance(value, str):
        if value:
            yield from (value[:-1], value[::-1], value + value[0], value.upper())
        else:
            yield "a"
    elif isinstance(value, (list, tuple)):
        kind = type(value)
        if value:
            yield from (kind(value[:-1]), kind(reversed(value)), kind(list(value) + [value[0]]))
        yield kind()


def entry_calls(tests: list[str], entry_point: str) -> list[ast.Call]:
    """Calls of ``entry_point`` in the test sources, in order, each once (by text)."""
    found: dict[str, ast.Call] = {}
    for source in tests:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point:
                found.setdefault(ast.unparse(node), node)
    return list(found.values())


def variant_calls(calls: list[ast.Call], limit: int = MAX_TESTS) -> list[str]:
    """Source texts of calls like ``calls`` with one literal argument changed (see the module
    doc), round-robin over the calls and their arguments so every test contributes; at most
    ``limit``, none equal to an original call."""
    originals = {ast.unparse(c) for c in calls}
    per_call: list[list[str]] = []
    for call in calls:
        texts = []
        for i, arg in enumerate(call.args):
            try:
                value = ast.literal_eval(arg)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            for new in _variants(value):
                args = list(call.args)
                args[i] = ast.parse(repr(new), mode="eval").body
                texts.append(ast.unparse(ast.Call(func=call.func, args=args, keywords=call.keywords)))
        per_call.append(texts)
    out: list[str] = []
    seen = set(originals)
    depth = 0
    while len(out) < limit and any(depth < len(t) for t in per_call):
        for texts in per_call:
            if depth < len(texts) and texts[depth] not in seen and len(out) < limit:
                seen.add(texts[depth])
                out.append(texts[depth])
        depth += 1
    return out


def differential_suite(suite: TestSuite, reference: str, entry_point: str | None,
                       limit: int = MAX_TESTS) -> TestSuite:
    """``suite`` plus up to ``limit`` differential tests ``diff_<i>`` that compare the program's
    result with ``reference``'s on new inputs (see the module doc). Only assert suites are
    extended; any other suite, or one without calls of ``entry_point``, is returned as it is."""
    if suite.kind != "asserts" or not entry_point:
        return suite
    calls = variant_calls(entry_calls([t.source for t in suite.tests], entry_point), limit)
    if not calls:
        return suite
    extra = []
    for i, call in enumerate(calls):
        ref_call = call.replace(f"{entry_point}(", "__kelp_ref[" + repr(entry_point) + "](", 1)
        source = (f"__kelp_ref = {{}}\nexec(compile({reference!r}, '<reference>', 'exec'), __kelp_ref)\n"
                  f"try:\n    __kelp_want = ({ref_call},)\nexcept Exception:\n    __kelp_want = None\n"
                  f"if __kelp_want is not None:\n    assert ({call},) == __kelp_want\n")
        extra.append(TestCase(f"diff_{i}", source))
    return replace(suite, tests=tuple(suite.tests) + tuple(extra))
