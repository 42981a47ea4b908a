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
