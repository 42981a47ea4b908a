"""The locals probe: where a computation is missing, the values of the function's locals on each
test, read back from the sandbox; and the repairs synthesised over them, for real."""

import ast
import re

import pytest

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.loop_probe import accepts, accepts_additions, accumulate_site, loop_guard_site, probe_loop
from kelp.repair.probe import ProbeSite, guard_site, probe_locals, probe_program, probe_site, read_locals
from kelp.repair.search import RepairConfig, repair

CONVERT = "def convert(xs):\n    s = [str(i) for i in xs]\n    return res\n"
CONVERT_TESTS = ["assert convert([1, 2, 3]) == 123", "assert convert([4, 5]) == 45", "assert convert([7, 0]) == 70"]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def test_the_site_is_a_final_return_of_an_unbound_name_or_the_end_of_a_function_without_return():
    tree = ast.parse("def helper(x):\n    return x\n\n" + CONVERT)
    assert probe_site(tree, ("res",), False) == ProbeSite("convert", 1)
    assert probe_site(tree, ("other",), False) is None
    falls = ast.parse("def pair(a):\n    x = a + 1\n    y = a - 1\n")
    assert probe_site(falls, (), True) == ProbeSite("pair", 2)
    assert probe_site(falls, (), False) is None
    bound = ast.parse("def f(a):\n    if a:\n        res = 1\n    return res\n")
    assert probe_site(bound, ("res",), False) is None  # bound on some path: not a forgotten computation


def test_a_message_is_read_as_a_literal_never_evaluated():
    assert read_locals("LookupError: kelp-probe:{'a': [1, 2], 's': 'x'} (line 3)") == {"a": [1, 2], "s": "x"}
    assert read_locals("LookupError: kelp-probe:{'a': __import__('os').system('true')} (line 3)") is None
    assert read_locals("LookupError: kelp-probe:{'a': [1, 2, 3, 4, 5") is None  # cut short by the cap
    assert read_locals("AssertionError: x") is None


def test_the_locals_are_observed_per_test_in_the_sandbox(sandbox):
    tree = ast.parse(CONVERT)
    assert "LookupError(" in probe_program(tree, ProbeSite("convert", 1))
    names, examples = probe_locals(tree, ProbeSite("convert", 1), TestSuite.from_asserts(CONVERT_TESTS), sandbox)
    assert names == ("xs", "s")
    assert examples == ((([1, 2, 3], ["1", "2", "3"]), 123), (([4, 5], ["4", "5"]), 45), (([7, 0], ["7", "0"]), 70))


def test_the_probe_reports_values_when_the_program_shadows_builtins(sandbox):
    program = "def convert(list, type=None):\n    repr = [str(i) for i in list]\n    return res\n"
    names, examples = probe_locals(ast.parse(program), ProbeSite("convert", 1),
                                   TestSuite.from_asserts(CONVERT_TESTS), sandbox)
    assert names == ("list", "type", "repr")
    assert examples[0] == (([1, 2, 3], None, ["1", "2", "3"]), 123)


def test_a_hostile_program_that_forges_probe_messages_only_misleads_itself(sandbox):
    program = ("def convert(xs):\n    raise LookupError(\"kelp-probe:{'xs': __import__('os').getpid()}\")\n"
               "    return res\n")
    names, examples = probe_locals(ast.parse(program), ProbeSite("convert", 1),
                                   TestSuite.from_asserts(CONVERT_TESTS), sandbox)
    assert (names, examples) == ((), ())


def test_a_computation_over_the_locals_is_synthesised_for_real(sandbox):
    result = repair(CONVERT, TestSuite.from_asserts(CONVERT_TESTS), sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert "res = int(''.join(s))" in result.repaired


def test_a_missing_final_return_is_synthesised_over_the_locals_for_real(sandbox):
    program = "def bounds(xs):\n    low = min(xs)\n    high = max(xs)\n"
    suite = TestSuite.from_asserts(["assert bounds([3, 1, 2]) == (1, 3)", "assert bounds([5]) == (5, 5)",
                                    "assert bounds([0, 9, 4]) == (0, 9)"])
    result = repair(program, suite, sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert "return (low, high)" in result.repaired


SAFE_DIV = "def safe_div(a, b):\n    q = a // 1\n    return 0\n    return q // b\n"
SAFE_DIV_TESTS = ["assert safe_div(6, 3) == 2", "assert safe_div(5, 0) == 0", "assert safe_div(9, 2) == 4"]


def test_a_return_before_code_that_never_runs_is_a_guard_site():
    assert guard_site(ast.parse(SAFE_DIV)) == ProbeSite("safe_div", 1, "guard")
    assert guard_site(ast.parse("def f(a):\n    if a:\n        return 1\n    return 0\n")) is None


def test_a_guard_probe_labels_each_test_by_whether_the_return_gives_its_result(sandbox):
    names, examples = probe_locals(ast.parse(SAFE_DIV), ProbeSite("safe_div", 1, "guard"),
                                   TestSuite.from_asserts(SAFE_DIV_TESTS), sandbox)
    assert names == ("a", "b", "q")
    assert examples == (((6, 3, 6), False), ((5, 0, 5), True), ((9, 2, 9), False))


def test_a_missing_guard_is_synthesised_for_real(sandbox):
    result = repair(SAFE_DIV, TestSuite.from_asserts(SAFE_DIV_TESTS), sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert re.search(r"if (b == 0|not b|b < 1):\n        return 0\n    return q // b", result.repaired)


FIRST_DIVISOR = ("def smallest_divisor(n):\n    for i in range(2, n):\n        return i\n    return n\n")
FIRST_DIVISOR_TESTS = ["assert smallest_divisor(10) == 2", "assert smallest_divisor(25) == 5",
                       "assert smallest_divisor(31) == 31", "assert smallest_divisor(21) == 3"]


def test_a_return_that_opens_a_loop_body_is_a_loop_guard_site():
    site = loop_guard_site(ast.parse(FIRST_DIVISOR))
    assert site == ProbeSite("smallest_divisor", 0, "loop_guard", ("body", 0, "body", 0))
    assert loop_guard_site(ast.parse("def f(xs):\n    for x in xs:\n        if x:\n            return x\n")) is None


def test_each_pass_is_tagged_by_whether_the_return_there_gives_the_result(sandbox):
    site = loop_guard_site(ast.parse(FIRST_DIVISOR))
    names, examples = probe_loop(ast.parse(FIRST_DIVISOR), site, TestSuite.from_asserts(FIRST_DIVISOR_TESTS), sandbox)
    assert names == ("n", "i")
    assert examples[:2] == (((10, 2), (0, True, False)), ((25, 2), (1, False, False)))  # 10's later passes cannot decide
    assert ((25, 5), (1, True, False)) in examples
    assert ((31, 17), (2, False, True)) in examples  # 31: the code after the loop gives 31
    assert ((31, 18), (2, False, True)) not in examples  # at most 16 of its passes are kept
    tags = tuple(tag for _, tag in examples)
    divides = tuple(n % i == 0 for (n, i), _ in examples)
    assert accepts(divides, tags)
    assert not accepts(tuple(i == 2 for (n, i), _ in examples), tags)  # 25 would fall through to 25, not 5
    assert not accepts(tuple(False for _ in examples), tags)  # never true: the deleted return


def test_a_missing_guard_in_a_loop_is_synthesised_for_real(sandbox):
    result = repair(FIRST_DIVISOR, TestSuite.from_asserts(FIRST_DIVISOR_TESTS), sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert re.search(r"if (n % i == 0|not n % i):\n            return i", result.repaired), result.repaired


COUNT_EVEN = "def evens(xs):\n    found = []\n    for x in xs:\n        found.append(x)\n    return found\n"
COUNT_EVEN_TESTS = ["assert evens([1, 2, 3, 4]) == [2, 4]", "assert evens([5, 7]) == []",
                    "assert evens([2, 8, 9, 6]) == [2, 8, 6]"]


def test_an_unconditional_addition_in_a_loop_is_an_accumulate_site():
    site = accumulate_site(ast.parse(COUNT_EVEN))
    assert site == ProbeSite("evens", 0, "accumulate", ("body", 1, "body", 0))
    assert accumulate_site(ast.parse("def f(xs):\n    t = []\n    for x in xs:\n        t.append(x)\n    return t * 2\n")) is None
    assert accumulate_site(ast.parse("def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t\n")) is None


def test_each_pass_is_tagged_with_what_it_adds_and_the_target(sandbox):
    site = accumulate_site(ast.parse(COUNT_EVEN))
    names, examples = probe_loop(ast.parse(COUNT_EVEN), site, TestSuite.from_asserts(COUNT_EVEN_TESTS), sandbox)
    assert names == ("xs", "found", "x")
    assert examples[0] == (([1, 2, 3, 4], [], 1), (0, 1, [2, 4]))
    tags = tuple(tag for _, tag in examples)
    assert accepts_additions(tuple(row[2] % 2 == 0 for row, _ in examples), tags)
    assert not accepts_additions(tuple(True for _ in examples), tags)  # the program as it is
    assert not accepts_additions(tuple(row[2] > 4 for row, _ in examples), tags)


def test_a_missing_guard_of_a_filter_is_synthesised_for_real(sandbox):
    result = repair(COUNT_EVEN, TestSuite.from_asserts(COUNT_EVEN_TESTS), sandbox, RepairConfig(budget=64))
    assert result.solved, result.reason
    assert re.search(r"if (x % 2 == 0|not x % 2):\n            found.append\(x\)", result.repaired), result.repaired
