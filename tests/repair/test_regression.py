"""A repair found on selected tests must not break the project's other tests (the regression
suite: the project's default pytest run), in the real sandbox on a small real project."""

import textwrap

import pytest

from kelp.execute import Limits, Sandbox, TestSuite
from kelp.repair.inputs import regression_suite
from kelp.repair.search import RepairConfig, repair

BUGGY = "def inc(x):\n    return x - 1\n"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1, limits=Limits(test_timeout=2.0, job_timeout=20.0)) as sb:
        yield sb


def project(root, other_test: str):
    files = {"pyproject.toml": "[project]\nname = 'calc'\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
             "calc/__init__.py": BUGGY,
             "tests/test_sel.py": "from calc import inc\n\ndef test_one():\n    assert inc(1) == 2\n",
             "tests/test_other.py": "from calc import inc\n\n" + textwrap.dedent(other_test)}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return TestSuite.from_pytest(["tests/test_sel.py"], str(root / "calc/__init__.py"), invocation_dir=str(root))


def test_the_regression_suite_is_the_default_run_with_the_users_options(tmp_path):
    suite = project(tmp_path, "def test_two():\n    assert inc(2) == 3\n")
    wider = regression_suite(TestSuite.from_pytest(["tests/test_sel.py", "-k", "one", "-p", "no:randomly"],
                                                   suite.program_path, invocation_dir=str(tmp_path)))
    assert wider is not None and wider.pytest_args == ("-pno:randomly",) and wider.rootdir == str(tmp_path)
    assert regression_suite(TestSuite.from_pytest(["-p", "no:randomly"], suite.program_path,
                                                  invocation_dir=str(tmp_path))) is None  # selects nothing
    assert regression_suite(TestSuite.from_asserts(["assert inc(1) == 2"])) is None


def test_a_patch_that_breaks_a_test_that_passed_before_is_not_a_repair(sandbox, tmp_path):
    # Every patch that makes inc(1) == 2 breaks test_other, which the program passes.
    suite = sandbox.collect(BUGGY, project(tmp_path, "def test_other():\n    assert inc(1) == 0\n"))
    loose = repair(BUGGY, suite, sandbox, RepairConfig(budget=16, seconds=60))
    assert loose.solved and loose.regressions == 0
    strict = repair(BUGGY, suite, sandbox, RepairConfig(budget=16, seconds=60), regression=regression_suite(suite))
    assert not strict.solved and strict.regressions >= 1 and strict.regression_tests == 1


def test_a_patch_that_keeps_the_other_tests_passing_is_accepted(sandbox, tmp_path):
    suite = sandbox.collect(BUGGY, project(tmp_path, "def test_other():\n    assert isinstance(inc(1), int)\n"
                                                     "\ndef test_two():\n    assert inc(2) == 3\n"))
    result = repair(BUGGY, suite, sandbox, RepairConfig(budget=32, seconds=60), regression=regression_suite(suite))
    assert result.solved and "x + 1" in result.repaired
    assert result.regression_tests == 1  # test_two failed before: it need not pass, but it does here


def test_the_projects_passing_tests_localize_a_single_selected_failure(sandbox, tmp_path):
    # One selected failing test runs both functions; the project's other tests, which pass,
    # run only `area`: with them the search localizes `perimeter` first.
    program = ("def area(w, h):\n    return w * h\n\n\n"
               "def perimeter(w, h):\n    return 2 * (w - h)\n\n\n"
               "def report(w, h):\n    return area(w, h), perimeter(w, h)\n")
    files = {"pyproject.toml": "[project]\nname = 'geo'\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
             "geo/__init__.py": program,
             "tests/test_sel.py": "from geo import report\n\ndef test_report():\n    assert report(2, 3) == (6, 10)\n",
             "tests/test_area.py": "from geo import area\n\ndef test_area():\n    assert area(2, 3) == 6\n\n"
                                   "def test_unit():\n    assert area(1, 1) == 1\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    suite = sandbox.collect(program, TestSuite.from_pytest(["tests/test_sel.py"], str(tmp_path / "geo/__init__.py"),
                                                           invocation_dir=str(tmp_path)))
    alone = repair(program, suite, sandbox, RepairConfig(budget=0))
    assert alone.localization[0] == 2  # every executed line alike: ties go by line number
    wider = repair(program, suite, sandbox, RepairConfig(budget=32, seconds=60), regression=regression_suite(suite))
    assert wider.localization[0] == 6
    assert wider.solved and "2 * (w + h)" in wider.repaired


CLAMP = "def clamp(x, lo, hi):\n    return max(lo, max(x, hi))\n"


def clamp_project(root):
    files = {"pyproject.toml": "[project]\nname = 'calc'\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
             "calc/__init__.py": CLAMP,
             "tests/test_sel.py": "from calc import clamp\n\ndef test_high():\n    assert clamp(5, 0, 3) == 3\n",
             "tests/test_other.py": "from calc import clamp\n\ndef test_inside():\n    assert clamp(1, 0, 3) == 1\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return TestSuite.from_pytest(["tests/test_sel.py"], str(root / "calc/__init__.py"), invocation_dir=str(root))


def test_a_repair_that_also_fixes_the_projects_other_failing_tests_is_preferred(sandbox, tmp_path):
    # `max(hi, hi)` passes the selected test first; only `min(x, hi)` also fixes test_inside,
    # which failed before outside the selection.
    suite = sandbox.collect(CLAMP, clamp_project(tmp_path))
    first = repair(CLAMP, suite, sandbox, RepairConfig(budget=64, seconds=60, others_extra=0),
                   regression=regression_suite(suite))
    assert first.solved and first.others == (0, 1) and "min(x, hi)" not in first.repaired
    best = repair(CLAMP, suite, sandbox, RepairConfig(budget=64, seconds=60), regression=regression_suite(suite))
    assert best.solved and best.others == (1, 1) and "min(x, hi)" in best.repaired
    assert best.to_json()["others"] == [1, 1]
    from kelp.repair.report import format_report
    assert "the repair passes 0 of them (no candidate in the search passed more)" in format_report(first, "c.py", budget=64)
    assert "other failing tests: 1 tests of the project outside the selection failed before; the repair " \
           "passes 1 of them\n" in format_report(best, "c.py", budget=64)
