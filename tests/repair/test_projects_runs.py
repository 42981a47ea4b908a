"""Pytest runs of real projects in the sandbox: pytest's own arguments, per-test timeouts that
never break pytest, exact counts, outcomes that compare equal when the behaviour is the same, and
warm sessions that keep nothing of one candidate for the next."""

import re
import subprocess
import sys
import textwrap
import time

import pytest

from kelp.execute import CollectError, Limits, Sandbox, TestSuite
from kelp.execute.suites import parse_pytest_args
from kelp.repair.search import _behaviour

from project_files import make


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1, limits=Limits(test_timeout=1.0, job_timeout=25.0)) as sb:
        yield sb


LISTS = "def head(xs):\n    return xs[0]\n\n\ndef tail(xs):\n    return xs[1:]\n"
LISTS_TESTS = """
    import pytest
    from lists import head, tail

    class TestHead:
        def test_one(self):
            assert head([1, 2]) == 1

    class TestTail:
        def test_one(self):
            assert tail([1, 2]) == [2]

        @pytest.mark.slow
        def test_empty(self):
            assert tail([]) == []
"""


def test_pytest_arguments_select_as_pytest_does(sandbox, tmp_path):
    root = make(tmp_path, {"pytest.ini": "[pytest]\nmarkers =\n    slow: slow tests\n",
                           "lists.py": LISTS, "tests/test_lists.py": LISTS_TESTS})

    def ids(*args):
        suite = TestSuite.from_pytest(list(args), str(root / "lists.py"), invocation_dir=str(root))
        return [i.split("::", 1)[1] for i in sandbox.collect(LISTS, suite).ids]

    assert ids("tests/test_lists.py", "-k", "Tail") == ["TestTail::test_one", "TestTail::test_empty"]
    assert ids("tests/test_lists.py::TestTail", "-m", "not slow") == ["TestTail::test_one"]
    assert ids("-k", "Head or empty", "tests") == ["TestHead::test_one", "TestTail::test_empty"]
    with pytest.raises(CollectError, match="collected no tests"):  # an ini override is passed on
        ids("tests", "-o", "python_functions=nothing_matches")
    parsed = parse_pytest_args(["tests", "-vsx", "-kTail", "--tb", "line", "-p", "no:warnings"], str(root))
    assert parsed.paths == (str(root / "tests"),) and parsed.dropped == ("-x",)
    assert parsed.args == (str(root / "tests"), "-v", "-s", "-kTail", "--tb=line", "-pno:warnings")


HANG_TESTS = """
    import time
    import pytest
    from prog import f

    @pytest.mark.parametrize("x", range(20))
    def test_value(x):
        assert f(x) == x + 1

    def test_hangs():
        while True:
            time.sleep(0.01)

    @pytest.fixture
    def stuck():
        while True:
            time.sleep(0.01)

    def test_setup_hangs(stuck):
        pass

    def test_after():
        assert f(0) == 1
"""


def test_a_hanging_test_is_a_timeout_and_the_session_goes_on(sandbox, tmp_path):
    root = make(tmp_path, {"prog.py": "def f(x):\n    return x + 1\n", "test_prog.py": HANG_TESTS})
    program = (root / "prog.py").read_text()
    suite = sandbox.collect(program, TestSuite.from_pytest(["test_prog.py"], str(root / "prog.py"),
                                                           invocation_dir=str(root)))
    assert len(suite.tests) == 23
    t0 = time.monotonic()
    run = sandbox.run(program, suite, continue_after_timeout=True)
    assert time.monotonic() - t0 < 8
    statuses = {o.test_id.split("::")[1]: o for o in run.outcomes}
    assert run.status == "ok" and run.total == 23 and run.passed == 21, run
    assert statuses["test_hangs"].status == "timeout" and statuses["test_hangs"].error_type == "Timeout"
    assert statuses["test_setup_hangs"].status == "timeout"
    assert statuses["test_after"].status == "pass"
    assert "INTERNALERROR" not in run.stdout
    # without continue_after_timeout the job stops at the first timeout, as for any suite
    stop = sandbox.run(program, suite)
    assert [o.status for o in stop.outcomes].count("timeout") == 1 and stop.outcomes[-1].status == "not_run"


def test_counts_match_a_plain_pytest_run(sandbox, tmp_path):
    root = make(tmp_path, {"prog.py": "def f(x):\n    return x * 2 if x < 30 else -1\n", "test_many.py": """
        import pytest
        from prog import f

        @pytest.mark.parametrize("x", range(40))
        def test_f(x):
            assert f(x) == 2 * x

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            assert False

        @pytest.mark.xfail
        def test_xfail():
            assert f(1) == 3

        def test_error():
            raise KeyError("missing")
    """})
    program = (root / "prog.py").read_text()
    suite = sandbox.collect(program, TestSuite.from_pytest(["test_many.py"], str(root / "prog.py"),
                                                           invocation_dir=str(root)))
    run = sandbox.run(program, suite, continue_after_timeout=True)
    plain = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_many.py"],
                           cwd=root, capture_output=True, text=True)
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", plain.stdout.splitlines()[-1])}
    assert run.failed == counts["failed"] + counts.get("error", 0) == 11
    assert run.passed == counts["passed"] + counts["skipped"] + counts["xfailed"] == 32
    errors = [o for o in run.outcomes if o.status == "error"]
    assert [o.error_type for o in errors] == ["KeyError"]


def test_identical_failures_give_identical_outcomes(sandbox, tmp_path):
    root = make(tmp_path, {"prog.py": "class Box:\n    pass\n\n\ndef make():\n    return Box()\n",
                           "test_box.py": """
        from prog import make

        def test_box():
            assert make() is None

        def test_where(tmp_path):
            assert str(tmp_path) == "elsewhere"
    """})
    program = (root / "prog.py").read_text()
    suite = sandbox.collect(program, TestSuite.from_pytest(["test_box.py"], str(root / "prog.py"),
                                                           invocation_dir=str(root)))
    first, second = sandbox.run(program, suite), sandbox.run(program + "\n\n# same behaviour\n", suite)
    assert [o.status for o in first.outcomes] == ["fail", "fail"]
    message = first.outcomes[0].message
    assert "Box object at 0x..." in message and not re.search(r"0x[0-9a-f]{6,}", message), message
    assert "<tmp>/" in first.outcomes[1].message and "kelp-sandbox" not in first.outcomes[1].message
    assert [o.message for o in first.outcomes] == [o.message for o in second.outcomes]
    assert _behaviour(first) == _behaviour(second)


def test_a_warm_session_keeps_nothing_of_one_candidate_for_the_next(sandbox, tmp_path):
    root = make(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/settings.py": "LIMIT = 3\n",
                           "pkg/mod.py": "from pkg import settings\n\n\ndef limit():\n    return settings.LIMIT\n",
                           "tests/test_mod.py": """
        import os
        import sys
        from pkg import settings
        from pkg.mod import limit

        def test_limit():
            assert limit() == 3

        def test_clean():
            assert "KELP_LEAK" not in os.environ and not hasattr(sys, "kelp_leak")
            assert settings.LIMIT == 3 and max([1, 2]) == 2
    """})
    good = (root / "pkg/mod.py").read_text()
    suite = sandbox.collect(good, TestSuite.from_pytest(["tests"], str(root / "pkg/mod.py"), invocation_dir=str(root)))
    hostile = good + textwrap.dedent("""
        import builtins, os, sys
        os.environ["KELP_LEAK"] = "1"
        sys.kelp_leak = True
        settings.LIMIT = 99
        builtins.max = lambda *args: 0
        open(os.path.join(os.environ["TMPDIR"], "left-behind"), "w").write("x")
    """)
    assert not sandbox.run(hostile, suite).all_passed
    after = sandbox.run(good, suite)
    assert after.all_passed, after.outcomes
    killer = good + "\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
    sandbox.run(killer, suite)  # the warm parent is out of reach (or restarted if not)
    assert sandbox.run(good, suite).all_passed
