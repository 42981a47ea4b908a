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


def test_from_check_with_statements_between_asserts_replays_them_per_check():
    """A check that goes on building (or loops) between its asserts is split like a scenario:
    each assert, and each loop that asserts, is a test replaying what came before it."""
    check = ("def check(candidate):\n"
             "    xs = [1]\n"
             "    assert candidate(xs) == 1\n"
             "    xs.append(2)\n"
             "    for x in xs:\n"
             "        assert candidate([x]) == x\n"
             "    assert candidate(xs) == 2\n")
    suite = TestSuite.from_check(check, "last")
    assert suite.ids == ["check_0", "check_1", "check_2"]
    sources = [t.source for t in suite.tests]
    assert sources[0] == "xs = [1]\nassert candidate(xs) == 1"
    assert sources[1] == ("xs = [1]\ntry:\n    candidate(xs) == 1\nexcept Exception:\n    pass\n"
                          "xs.append(2)\nfor x in xs:\n    assert candidate([x]) == x")
    assert sources[2].endswith("xs.append(2)\ntry:\n    for x in xs:\n        assert candidate([x]) == x\n"
                               "except Exception:\n    pass\nassert candidate(xs) == 2")


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


def test_import_names_follow_packages(tmp_path):
    from kelp.execute.suites import import_name_for, project_root

    (tmp_path / "src" / "pkg" / "sub").mkdir(parents=True)
    for d in ("src/pkg", "src/pkg/sub"):
        (tmp_path / d / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text("")
    assert import_name_for(str(tmp_path / "src/pkg/sub/mod.py")) == ("pkg.sub.mod", str(tmp_path / "src"))
    assert import_name_for(str(tmp_path / "src/pkg/__init__.py")) == ("pkg", str(tmp_path / "src"))
    assert import_name_for(str(tmp_path / "script.py")) == ("script", str(tmp_path))
    assert import_name_for(str(tmp_path / "my-script.py"))[0] is None
    assert project_root(str(tmp_path / "src/pkg/sub/mod.py")) == str(tmp_path)


def test_rootdir_follows_pytests_rules(tmp_path):
    from kelp.execute.suites import guess_rootdir

    (tmp_path / "proj" / "tests").mkdir(parents=True)
    tests = str(tmp_path / "proj" / "tests")
    assert guess_rootdir([tests], str(tmp_path / "proj")) == str(tmp_path / "proj")  # nothing: common dir
    (tmp_path / "proj" / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # a fallback
    assert guess_rootdir([tests], str(tmp_path)) == str(tmp_path / "proj")
    (tmp_path / "proj" / "tests" / "pytest.ini").write_text("")  # a configuration file wins
    assert guess_rootdir([tests], str(tmp_path)) == tests
    assert guess_rootdir([tests], inifile=str(tmp_path / "x" / "cfg.ini")) == str(tmp_path / "x")


def test_pytest_arguments_are_parsed_as_pytest_parses_them(tmp_path):
    from kelp.execute.suites import parse_pytest_args

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("")
    parsed = parse_pytest_args(["tests/test_a.py::TestA::test_b", "-k", "Tail or head", "-m", "slow",
                                "-p", "no:warnings", "-o", "xfail_strict=true", "-xvs", "--maxfail", "3",
                                "--ignore", "tests/skip", "--rootdir=.", "-W", "error"], str(tmp_path))
    assert parsed.paths == (str(tmp_path / "tests/test_a.py"),)
    assert parsed.args == (str(tmp_path / "tests/test_a.py") + "::TestA::test_b", "-kTail or head", "-mslow",
                           "-pno:warnings", "-oxfail_strict=true", "-v", "-s",
                           f"--ignore={tmp_path / 'tests/skip'}", "-Werror")
    assert parsed.rootdir == str(tmp_path) and parsed.dropped == ("-x", "--maxfail")
    assert parse_pytest_args(["--pyargs", "pkg.tests"], str(tmp_path)).args == ("--pyargs", "pkg.tests")
    with pytest.raises(SuiteError, match="pytest path not found: Tail"):
        parse_pytest_args(["tests", "Tail"], str(tmp_path))
    with pytest.raises(SuiteError, match="needs a value"):
        parse_pytest_args(["tests", "-k"], str(tmp_path))


def test_outcome_messages_are_normalised():
    """Messages that differ only in addresses, temp paths, durations and traceback lines compare
    equal (the sandbox's child module, loaded by path as the worker loads it)."""
    import importlib.util
    import sys

    import kelp.execute as execute

    child = sys.modules.get("_kelp_sandbox_child")
    if child is None:
        path = os.path.join(os.path.dirname(execute.__file__), "_child.py")
        spec = importlib.util.spec_from_file_location("_kelp_sandbox_child", path)
        child = importlib.util.module_from_spec(spec)
        sys.modules["_kelp_sandbox_child"] = child
        spec.loader.exec_module(child)
    text = ("assert <Box object at 0x7f3a2b1c9d80> == 1 in /tmp/kelp-sandbox-0-ab12/jobs/job7-0a1b2c3d4e5f/x.txt"
            ' File "t.py", line 12 took 0.123s (line 4)')
    assert child.normalize_message(text) == (
        'assert <Box object at 0x...> == 1 in <tmp>/x.txt File "t.py", line ? took <duration> (line 4)')
