"""Differential tests: inputs near the tests' own, with the reference as oracle (real sandbox)."""

from kelp.datasets.differential import differential_suite, entry_calls, variant_calls
from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite

REFERENCE = "def inc(x):\n    return x + 1\n"
TESTS = ["assert inc(1) == 2", "assert inc(5) == 6"]


def test_variants_change_one_literal_argument_round_robin_over_the_calls():
    calls = entry_calls(["assert pick([1, 2], 'ab') == 1", "assert pick([3], '') == 3", "assert other(1) == 1"],
                        "pick")
    assert len(calls) == 2
    texts = variant_calls(calls, limit=4)
    assert texts == ["pick([1], 'ab')", "pick([], '')", "pick([2, 1], 'ab')", "pick([1, 2, 1], 'ab')"]
    assert len(variant_calls(calls, limit=100)) == len(set(variant_calls(calls, limit=100)))


def test_a_plausible_but_wrong_program_fails_a_differential_test_and_the_reference_passes():
    suite = differential_suite(TestSuite.from_asserts(TESTS), REFERENCE, "inc")
    assert [t.id for t in suite.tests][:2] == ["assert_0", "assert_1"] and len(suite.tests) > 2
    overfit = "def inc(x):\n    return 2 if x == 1 else 6\n"
    crashes_on_zero = "def inc(x):\n    return x + 1 if x else 1 // x\n"
    with Sandbox(workers=1) as sandbox:
        assert sandbox.run(REFERENCE, suite).all_passed
        assert sandbox.run(overfit, TestSuite.from_asserts(TESTS)).all_passed
        assert not sandbox.run(overfit, suite).all_passed
        assert not sandbox.run(crashes_on_zero, suite).all_passed


def test_a_reference_that_raises_on_a_new_input_asks_nothing_there():
    reference = "def inv(x):\n    return 1 / (x - 1)\n"  # raises at x = 1, which a variant of 2 reaches
    suite = differential_suite(TestSuite.from_asserts(["assert inv(2) == 1.0"]), reference, "inv")
    with Sandbox(workers=1) as sandbox:
        assert sandbox.run(reference, suite).all_passed
    assert differential_suite(TestSuite.from_asserts(["assert 1 == 1"]), reference, "inv").tests == \
        TestSuite.from_asserts(["assert 1 == 1"]).tests
