"""The sandbox on well-behaved programs: asserts, check(), pytest (temp project and QuixBugs)."""

import os
import textwrap

import pytest

from kelp.execute import CollectError, Job, Limits, Sandbox, SandboxError, SuiteError, TestSuite

QUIX = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src", "kelp", "data", "quixbugs"))

ADD = "def add(a, b):\n    return a + b\n"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, limits=Limits(test_timeout=1.0, job_timeout=20.0)) as sb:
        yield sb


def test_asserts_pass_fail_error_with_messages(sandbox):
    suite = TestSuite.from_asserts(["assert add(1, 2) == 3", "assert add(2, 2) == 5",
                                    "assert add(1, 'x') == 1", "assert add(0, 0)"])
    result = sandbox.run(ADD, suite)
    assert result.status == "ok"
    statuses = [o.status for o in result.outcomes]
    assert statuses == ["pass", "fail", "error", "fail"]
    fail = result.outcomes[1]
    assert fail.error_type == "AssertionError"
    assert "left = 4" in fail.message and "right = 5" in fail.message
    assert result.outcomes[2].error_type == "TypeError" and "line 2" in result.outcomes[2].message
    assert "got 0" in result.outcomes[3].message
    assert (result.passed, result.failed, result.total) == (1, 3, 4)
    assert result.failing_ids == ["assert_1", "assert_2", "assert_3"]
    assert not result.all_passed


def test_setup_code_runs_in_the_program_namespace(sandbox):
    suite = TestSuite.from_asserts(["assert add(OFFSET, 1) == 11"], setup="OFFSET = 10")
    assert sandbox.run(ADD, suite).all_passed


def test_syntax_and_load_errors(sandbox):
    suite = TestSuite.from_asserts(["assert add(1, 2) == 3"])
    bad = sandbox.run("def add(a, b)\n    return a + b\n", suite)
    assert bad.status == "syntax_error" and "SyntaxError" in bad.message
    assert [o.status for o in bad.outcomes] == ["not_run"]
    raising = sandbox.run("x = 1 / 0\n", suite)
    assert raising.status == "load_error"
    assert "program raised ZeroDivisionError" in raising.message and "line 1" in raising.message
    setup = sandbox.run(ADD, TestSuite.from_asserts(["pass"], setup="import no_such_module_kelp"))
    assert setup.status == "load_error" and setup.message.startswith("setup raised ModuleNotFoundError")


def test_order_and_stop_on_first_failure(sandbox):
    suite = TestSuite.from_asserts(["assert add(1, 1) == 2", "assert add(1, 1) == 3", "assert add(2, 2) == 4"])
    result = sandbox.run(ADD, suite, order=["assert_1"], stop_on_first_failure=True)
    assert [(o.test_id, o.status) for o in result.outcomes] == [
        ("assert_1", "fail"), ("assert_0", "not_run"), ("assert_2", "not_run")]
    with pytest.raises(SuiteError):
        sandbox.run(ADD, suite, order=["missing"])


def test_program_output_is_captured(sandbox):
    result = sandbox.run("def add(a, b):\n    print('adding', a, b)\n    return a + b\n",
                         TestSuite.from_asserts(["assert add(1, 2) == 3"]))
    assert result.all_passed and result.stdout == "adding 1 2\n"


def test_humaneval_check_split_into_tests(sandbox):
    check = textwrap.dedent('''
        import math
        def check(candidate):
            assert candidate([1, 2, 3]) == 6
            assert candidate([]) == 0
            assert math.isclose(candidate([0.5, 0.5]), 1.0)
    ''')
    suite = TestSuite.from_check(check, "total")
    good = sandbox.run("def total(xs):\n    return sum(xs)\n", suite)
    assert good.all_passed and good.total == 3
    buggy = sandbox.run("def total(xs):\n    return sum(xs[1:])\n", suite)
    assert [o.status for o in buggy.outcomes] == ["fail", "pass", "fail"]
    missing = sandbox.run("def other(xs):\n    return 0\n", suite)
    assert missing.status == "load_error" and "'total'" in missing.message


def test_run_many_keeps_input_order(sandbox):
    suite = TestSuite.from_asserts(["assert add(1, 2) == 3"])
    jobs = [Job(ADD if i % 2 == 0 else ADD.replace("+", "-"), suite) for i in range(6)]
    results = sandbox.run_many(jobs)
    assert [r.all_passed for r in results] == [True, False] * 3


@pytest.fixture()
def temp_project(tmp_path):
    (tmp_path / "mylib").mkdir()
    (tmp_path / "mylib" / "__init__.py").write_text("VERSION = '1'\n")
    (tmp_path / "mylib" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef ten():\n    return 10\n")
    (tmp_path / "tests" / "test_calc.py").write_text(textwrap.dedent("""
        import pytest
        import mylib.calc
        from mylib.calc import add

        @pytest.mark.parametrize("a,b,want", [(1, 2, 3), (2, 2, 4)])
        def test_add(a, b, want):
            assert add(a, b) == want

        def test_fixture(ten):
            assert mylib.calc.add(ten, 1) == 11

        def test_package_init_runs_and_links_the_candidate():
            import mylib
            assert mylib.VERSION == "1" and mylib.calc.add is add
    """))
    return tmp_path


def test_pytest_temp_project_collect_and_run(sandbox, temp_project):
    program = (temp_project / "mylib" / "calc.py").read_text()
    suite = TestSuite.from_pytest([str(temp_project / "tests")], str(temp_project / "mylib" / "calc.py"),
                                  rootdir=str(temp_project))
    assert "mylib.calc" in suite.module_names
    collected = sandbox.collect(program, suite)
    assert collected.ids == ["tests/test_calc.py::test_add[1-2-3]", "tests/test_calc.py::test_add[2-2-4]",
                             "tests/test_calc.py::test_fixture",
                             "tests/test_calc.py::test_package_init_runs_and_links_the_candidate"]
    assert sandbox.run(program, collected).all_passed
    # the candidate string is what the tests import, not the file on disk
    buggy = sandbox.run("def add(a, b):\n    return a * b\n", collected, order=["tests/test_calc.py::test_fixture"])
    assert [(o.test_id.split("::")[1], o.status) for o in buggy.outcomes] == [
        ("test_fixture", "fail"), ("test_add[1-2-3]", "fail"), ("test_add[2-2-4]", "pass"),
        ("test_package_init_runs_and_links_the_candidate", "pass")]
    assert "assert 10 == 11" in buggy.outcomes[0].message
    # an uncollected suite is collected on the fly
    assert sandbox.run(program, suite).total == 4


def test_pytest_collection_errors_raise_collect_error(sandbox, tmp_path):
    (tmp_path / "test_broken.py").write_text("import definitely_missing_module_kelp\n\ndef test_x():\n    pass\n")
    (tmp_path / "prog.py").write_text("X = 1\n")
    suite = TestSuite.from_pytest([str(tmp_path / "test_broken.py")], str(tmp_path / "prog.py"), rootdir=str(tmp_path))
    with pytest.raises(CollectError, match="definitely_missing_module_kelp"):
        sandbox.collect("X = 1\n", suite)


def _quix_suite(name):
    return TestSuite.from_pytest([os.path.join(QUIX, "python_testcases", f"test_{name}.py")],
                                 os.path.join(QUIX, "python_programs", f"{name}.py"), rootdir=QUIX)


def test_quixbugs_gcd_buggy_fails_correct_passes(sandbox):
    buggy = open(os.path.join(QUIX, "python_programs", "gcd.py")).read()
    correct = open(os.path.join(QUIX, "correct_python_programs", "gcd.py")).read()
    suite = sandbox.collect(buggy, _quix_suite("gcd"))
    assert len(suite.tests) >= 5 and suite.rootdir == QUIX
    bad = sandbox.run(buggy, suite)
    assert bad.status == "ok" and bad.failed >= 1 and not bad.all_passed
    assert {o.error_type for o in bad.outcomes if o.status != "pass"} == {"RecursionError"}
    good = sandbox.run(correct, suite)
    assert good.all_passed, good.outcomes


def test_quixbugs_collects_even_when_the_candidate_does_not_load(sandbox):
    suite = sandbox.collect("def gcd(a, b)\n", _quix_suite("gcd"))
    assert len(suite.tests) >= 5
    result = sandbox.run("def gcd(a, b)\n", suite)
    assert result.status == "syntax_error"


def test_closed_sandbox_refuses_work():
    sb = Sandbox(workers=1)
    sb.close()
    with pytest.raises(SandboxError, match="closed"):
        sb.run(ADD, TestSuite.from_asserts(["pass"]))


def test_pytest_timeouts_stop_or_continue_and_stop_on_first_failure(sandbox, tmp_path):
    (tmp_path / "prog.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "test_prog.py").write_text(textwrap.dedent("""
        import time
        from prog import f

        def test_a():
            assert f(1) == 1

        def test_hang():
            while True:
                time.sleep(0.01)

        def test_wrong():
            assert f(2) == 3

        def test_c():
            assert f(3) == 3
    """))
    suite = sandbox.collect("def f(x):\n    return x\n", TestSuite.from_pytest(
        [str(tmp_path / "test_prog.py")], str(tmp_path / "prog.py"), rootdir=str(tmp_path)))
    program = "def f(x):\n    return x\n"
    go_on = sandbox.run(program, suite, continue_after_timeout=True)
    assert [o.status for o in go_on.outcomes] == ["pass", "timeout", "fail", "pass"]
    stop = sandbox.run(program, suite)
    assert [o.status for o in stop.outcomes] == ["pass", "timeout", "not_run", "not_run"]
    first = sandbox.run(program, suite, order=["test_prog.py::test_wrong"], stop_on_first_failure=True)
    assert [o.status for o in first.outcomes] == ["fail", "not_run", "not_run", "not_run"]


def test_modules_outside_the_preload_import_and_job_dirs_are_removed(sandbox):
    # threading/queue/decimal are not preloaded in the worker; a candidate imports them itself.
    program = "import queue, threading, decimal\nq = queue.Queue()\nq.put(decimal.Decimal('1.5'))\n"
    results = sandbox.run_many([Job(program, TestSuite.from_asserts(["assert q.get() * 2 == 3"]))] * 12)
    assert all(r.all_passed for r in results)
    # children are reaped lazily after their result is sent; their job dirs must not pile up
    worker_dirs = [w.dir for w in sandbox._workers]
    leftover = [name for d in worker_dirs for name in os.listdir(d) if name.startswith("job")]
    assert len(leftover) <= 2 * 5, leftover
