"""The enumerative proposer: what it proposes, where, and that every proposal applies."""

import ast

from kelp.program.diff import Edit
from kelp.program.spans import line_at
from kelp.program.tree import node_at, parse, unparse
from kelp.repair.enumerate import (
    FOCUS_LINES,
    FOCUS_MAX_CANDIDATES,
    EnumerativeProposer,
    _focused_guards,
    focus_lines,
    focus_view,
)
from kelp.repair.guards import guard_alternatives
from kelp.repair.proposer import Doomed, Feedback

HELPER = '''def helper_{i}(xs, limit):
    total = 0
    for x in xs:
        if x > limit:
            total += x
    return total

'''

BUGGY = '''def clip(values, lo, hi):
    out = []
    for v in values:
        if v < lo:
            out.append(lo)
        elif v < hi:  # the bug: should be v > hi
            out.append(hi)
        else:
            out.append(v)
    return out
'''


def _large_program(helpers: int = 40) -> tuple[str, int]:
    """A module of ``helpers`` seven-line functions followed by the buggy one, and the line
    where the buggy function starts."""
    head = "".join(HELPER.format(i=i) for i in range(helpers))
    return head + BUGGY, head.count("\n") + 1


def _feedback(first: int, program: str) -> Feedback:
    """Line suspiciousness as the tests give it: the buggy function's body high, two helpers'
    bodies lower (they ran in passing tests too)."""
    lines = {first + i: 1.0 for i in range(1, 10)}
    lines.update({2 + i: 0.2 for i in range(5)})
    lines.update({9 + i: 0.1 for i in range(5)})
    return Feedback(lines=lines)


def _line_of(tree, edit: Edit) -> int:
    if edit.op == "insert":
        return node_at(tree, edit.path[:-1]).lineno
    return line_at(tree, edit.path)


def test_slice_bound_removal_is_a_replacement_that_applies():
    tree = parse("def f(xs):\n    return xs[1:-1:2]\n")
    cands = EnumerativeProposer().propose(tree, Feedback())
    results = [unparse(c.edit.apply(tree)) for c in cands if c.family == "off_by_one"]
    assert "def f(xs):\n    return xs[:-1:2]\n" in results
    assert "def f(xs):\n    return xs[1::2]\n" in results


def test_a_small_program_is_enumerated_whole():
    tree = parse(BUGGY)
    feedback = Feedback(lines={i: 1.0 for i in range(2, 11)})
    assert focus_lines(tree, feedback) is None
    full = EnumerativeProposer(focus_min_lines=None).propose(tree, feedback)
    assert EnumerativeProposer().propose(tree, feedback) == full


def test_a_large_program_is_enumerated_at_its_most_suspicious_lines_only():
    program, first = _large_program()
    tree = parse(program)
    feedback = _feedback(first, program)
    lines = focus_lines(tree, feedback)
    assert lines is not None and len(lines) <= FOCUS_LINES and set(range(first + 1, first + 10)) <= lines
    cands = EnumerativeProposer().propose(tree, feedback)
    assert 0 < len(cands) <= FOCUS_MAX_CANDIDATES
    for c in cands:  # guards and insertions edit a block of a function that holds a focused line
        func = tree.body[c.edit.path[1]]
        block_level = c.edit.op == "insert" or c.family == "missing_guard"
        assert _line_of(tree, c.edit) in lines or (
            block_level and any(func.lineno <= line <= func.end_lineno for line in lines))
    fixed = [i for i, c in enumerate(cands) if "elif v > hi:" in unparse(c.edit.apply(tree))]
    assert fixed and fixed[0] < 10
    # every focused candidate is one the whole enumeration makes too
    full = EnumerativeProposer(focus_min_lines=None).propose(tree, feedback)
    assert {(c.edit.op, c.edit.path, c.edit.index, c.edit.new) for c in cands} <= \
        {(c.edit.op, c.edit.path, c.edit.index, c.edit.new) for c in full}


def test_the_focus_view_shares_the_focused_functions_under_the_same_paths():
    program, first = _large_program(30)
    tree = parse(program)
    view = focus_view(tree, frozenset({first + 5}))
    assert len(view.body) == len(tree.body)
    assert view.body[-1] is tree.body[-1]  # the function holding the line: the same node
    stub = view.body[0]
    assert stub is not tree.body[0] and stub.name == "helper_0" and isinstance(stub.body[0], ast.Pass)


def test_a_class_around_a_focused_method_keeps_its_other_methods_as_stubs():
    methods = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(5))
    tree = parse(f"class K:\n    size = 3\n\n{methods}")
    line = tree.body[0].body[3].body[0].lineno  # inside m2
    view = focus_view(tree, frozenset({line}))
    shell = view.body[0]
    assert shell is not tree.body[0] and shell.body[0] is tree.body[0].body[0]
    assert shell.body[3] is tree.body[0].body[3] and isinstance(shell.body[2].body[0], ast.Pass)


def test_focused_guards_are_the_guards_of_the_runs_on_the_focused_lines():
    tree = parse(BUGGY)
    func = tree.body[0]
    lines = frozenset({3, 4, 5})
    unwrap = lambda new: (True, new.node) if isinstance(new, Doomed) else (False, new)
    focused = {(alt[1], *unwrap(alt[4])) for alt in _focused_guards(tree, ("body", 0), func, [], lines)}
    focused = {(key, doomed, guard.text()) for key, doomed, guard in focused}
    expected = {(key, *unwrap(new)) for key, _owner, new, _w in guard_alternatives(tree, ("body", 0), func, [])
                if node_at(tree, key[1] + (key[2],)).lineno in lines}
    expected = {(key, doomed, ast.unparse(owner)) for key, doomed, owner in expected}
    assert focused == expected and focused


def test_without_localization_a_large_program_is_enumerated_where_loading_it_raised():
    from kelp.execute.results import RunResult
    program, first = _large_program()
    tree = parse(program)
    run = RunResult("load_error", message=f"program raised ValueError: no (line {first + 5})")
    assert focus_lines(tree, Feedback(run=run)) == frozenset({first + 5})


def test_a_call_of_the_wrong_one_of_two_sibling_functions_is_proposed_with_the_other():
    program = ("import bisect\n\n\ndef ceil(x, options):\n    options = sorted(options)\n"
               "    i = bisect.bisect_right(options, x)\n    return options[i].lstrip()\n")
    tree = parse(program)
    cands = EnumerativeProposer().propose(tree, Feedback(lines={6: 1.0, 7: 0.5}))
    texts = [unparse(c.edit.apply(tree)) for c in cands]
    assert any("bisect.bisect_left(options, x)" in t for t in texts)
    assert any("options[i].rstrip()" in t for t in texts)
    assert not any("sorted(" not in t for t in texts if "bisect_left" in t)  # one call changed at a time


def _texts(program: str, feedback: Feedback) -> list[str]:
    tree = parse(program)
    return [unparse(c.edit.apply(tree)) for c in EnumerativeProposer().propose(tree, feedback)]


def test_a_forgotten_assignment_is_transplanted_from_elsewhere_in_the_module():
    program = ("class A:\n    def get(self, key):\n        val = self.__func(key)\n        return val\n\n\n"
               "class B:\n    def get(self, key):\n        try:\n            return self.cache[key]\n"
               "        except KeyError:\n            pass\n        self.cache[key] = val\n        return val\n")
    texts = _texts(program, Feedback(lines={13: 1.0, 14: 1.0}, unbound=("val",)))
    fixed = "        except KeyError:\n            pass\n        val = self.__func(key)\n        self.cache[key] = val\n"
    assert any(fixed in t for t in texts)


def test_a_forgotten_attribute_store_of_a_constructor_parameter_is_proposed():
    program = ("class Wrap:\n    def __init__(self, width, indent):\n        self.indent = indent\n\n"
               "    def lines(self, text):\n        return [text[i:i + self.width] for i in range(0, len(text), self.width)]\n")
    texts = _texts(program, Feedback(lines={3: 0.5, 6: 1.0}))
    assert any("        self.width = width\n" in t for t in texts)


def test_a_forgotten_return_is_copied_from_the_twin_function():
    program = ("_names_to_hex = {'red': '#f00'}\n_hex_to_names = {'#f00': 'red'}\n\n\n"
               "def _get_name_to_hex_map(spec):\n    if not spec:\n        raise ValueError(spec)\n"
               "    return _names_to_hex[spec]\n\n\n"
               "def _get_hex_to_name_map(spec):\n    if not spec:\n        raise ValueError(spec)\n")
    from kelp.execute.results import RunResult, TestOutcome
    run = RunResult("ok", [TestOutcome("t", "fail", "AssertionError", "assert None == {'#f00': 'red'}")])
    texts = _texts(program, Feedback(lines={12: 1.0, 13: 0.5}, run=run))
    assert any(t.endswith("        raise ValueError(spec)\n    return _names_to_hex[spec]\n") for t in texts)


def test_wrong_variable_fixes_never_read_a_local_before_it_is_bound():
    source = ("def second(numbers):\n    if len(numbers) < 2:\n        return None\n    seen = []\n"
              "    for x in numbers:\n        seen.append(x)\n    return seen[1]\n")
    tree = parse(source)
    cands = EnumerativeProposer().propose(tree, Feedback(lines={2: 1.0, 7: 0.5}))
    fixes = lambda line, doomed: [c.edit.new for c in cands if c.family == "wrong_variable"
                                  and line_at(tree, c.edit.path) == line and c.doomed == doomed]
    assert fixes(2, False) == [] and sorted(fixes(2, True)) == ["seen", "x"]  # kept for the ranks, never run
    assert "numbers" in fixes(7, False) and "x" in fixes(7, False) and fixes(7, True) == []
    # a parameter is bound on entry, even on the line that uses it (a lambda, a one-line def)
    source = "def by_mark(marks):\n    marks.sort(key=lambda x: marks[1])\n    return marks\n"
    tree = parse(source)
    cands = EnumerativeProposer().propose(tree, Feedback(lines={2: 1.0}))
    assert "x" in fixes(2, False), fixes(2, True)
