"""TestSuite construction: MBPP asserts, HumanEval check() splitting, pytest module names."""

import os

import pytest

from kelp.execute import SuiteError, TestCase, TestSuite
from kelp.execute.suites import module_names_for

QUIX = os.path.join(os.path.dirname(__file__), "..", "..", "src", "kelp", "data", "quixbugs")


def test_from_asserts_one_test_per_assert():
    suite = TestSuite.from_asserts(["assert f(1) == 2", "assert f(2) == 3"], setup="import math")
    assert suite.kind == "asserts"
    assert suite.ids == ["assert_0", "assert_1"]
    assert suite.tests[1].source == "assert f(2) == 3"
    assert suite.setup == "import math"
    assert suite.module_names == ("candidate",)


def test_from_asserts_rejects_a_bare_string():
    with pytest.raises(SuiteError, match="list of assert"):
        TestSuite.from_asserts("assert f(1) == 2")


def test_from_check_splits_top_level_asserts_with_prelude():
    check = (
        "METADATA = {}\n\n"
        "def check(candidate):\n"
        "    '''doc'''\n"
        "    eps = 1e-6\n"
        "    assert abs(candidate(1) - 2) < eps\n"
        "    assert candidate(2) == 3\n"
    )
    suite = TestSuite.from_check(check, "inc")
    assert suite.kind == "check" and suite.entry_point == "inc"
    assert suite.ids == ["check_0", "check_1"]
    assert suite.tests[0].source.startswith("eps = 1e-06\nassert")
    assert suite.setup == check


def test_from_check_renames_a_differently_named_parameter():
    suite = TestSuite.from_check("def check(f):\n    assert f(1) == 2\n", "g")
    assert suite.tests[0].source == "f = candidate\nassert f(1) == 2"


def test_from_check_falls_back_to_one_test_when_not_splittable():
    check = "def check(candidate):\n    for i in range(3):\n        assert candidate(i) == i\n"
    suite = TestSuite.from_check(check, "ident")
    assert suite.ids == ["check"]
    assert suite.tests[0].source == "check(candidate)"


def test_from_check_errors_are_readable():
    with pytest.raises(SuiteError, match="no top-level function check"):
        TestSuite.from_check("def test(x):\n    pass\n", "f")
    with pytest.raises(SuiteError, match="does not parse"):
        TestSuite.from_check("def check(:\n", "f")


def test_suite_validation():
    with pytest.raises(SuiteError, match="unknown suite kind"):
        TestSuite("unittest")
    with pytest.raises(SuiteError, match="duplicate test ids"):
        TestSuite("asserts", (TestCase("a", "pass"), TestCase("a", "pass")))
    with pytest.raises(SuiteError, match="entry_point"):
        TestSuite("check", (TestCase("c", "pass"),))


def test_ordered_puts_named_tests_first_and_rejects_unknown_ids():
    suite = TestSuite.from_asserts(["pass", "pass", "pass"])
    assert [t.id for t in suite.ordered(["assert_2"])] == ["assert_2", "assert_0", "assert_1"]
    with pytest.raises(SuiteError, match="not in the suite"):
        suite.ordered(["nope"])


def test_module_names_are_every_dotted_suffix():
    names = module_names_for("/a/quixbugs/python_programs/gcd.py")
    assert names == ("gcd", "python_programs.gcd", "quixbugs.python_programs.gcd", "a.quixbugs.python_programs.gcd")
    assert module_names_for("/x/my-dir/pkg/mod.py") == ("mod", "pkg.mod")
    assert module_names_for("/a/quixbugs/python_programs/gcd.py", rootdir="/a/quixbugs") == (
        "gcd", "python_programs.gcd", "quixbugs.python_programs.gcd")


def test_from_pytest_makes_paths_absolute_and_checks_them(tmp_path):
    program = os.path.join(QUIX, "python_programs", "gcd.py")
    test_file = os.path.join(QUIX, "python_testcases", "test_gcd.py")
    suite = TestSuite.from_pytest([test_file], program, rootdir=QUIX)
    assert suite.kind == "pytest" and suite.tests == ()
    assert suite.pytest_args == (os.path.abspath(test_file),)
    assert suite.module_names[:2] == ("gcd", "python_programs.gcd")
    assert suite.rootdir == os.path.abspath(QUIX)
    guessed = TestSuite.from_pytest([test_file], program)  # nearest pytest config upwards
    assert guessed.rootdir == os.path.abspath(os.path.join(QUIX, "..", "..", "..", ".."))
    with pytest.raises(SuiteError, match="pytest path not found"):
        TestSuite.from_pytest([str(tmp_path / "missing.py")], program)
    assert TestSuite.from_pytest([test_file], str(tmp_path / "virtual.py")).module_names[0] == "virtual"
    with pytest.raises(SuiteError, match="must name a .py file"):
        TestSuite.from_pytest([test_file], str(tmp_path / "prog.txt"))
