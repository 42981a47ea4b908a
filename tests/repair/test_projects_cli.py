"""``kelp repair FILE -- PYTEST_ARGS...`` on small projects, as a user runs it: real pytest
arguments, and bad input refused in one line with exit status 2, the user's files untouched."""

import subprocess
import sys
import time

import pytest

from project_files import make


def kelp(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "kelp.cli", "repair", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def snapshot(root) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kelp: error: "), proc.stderr
    for word in words:
        assert word in lines[0], proc.stderr


LISTS_TESTS = """
    from lists import tail

    class TestHead:
        def test_broken_elsewhere(self):
            assert False, "not selected by -k Tail"

    class TestTail:
        def test_two(self):
            assert tail([1, 2]) == [2]

        def test_three(self):
            assert tail([1, 2, 3]) == [2, 3]
"""


@pytest.fixture
def lists_project(tmp_path):
    return make(tmp_path, {"pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
                           "lists/__init__.py": "def tail(xs):\n    return xs[2:]\n",
                           "tests/test_lists.py": LISTS_TESTS})


def test_repair_a_package_init_with_pytest_arguments_after_a_double_dash(lists_project):
    before = snapshot(lists_project)
    proc = kelp("lists/__init__.py", "--", "tests/test_lists.py", "-k", "Tail", cwd=lists_project)
    assert proc.returncode == 0, proc.stderr
    assert "+    return xs[1:]" in proc.stdout and "tests 0/2 -> 2/2" in proc.stderr
    assert snapshot(lists_project) == before
    # the same selection as one quoted string
    proc = kelp("lists/__init__.py", "--pytest", "tests/test_lists.py -k Tail", "--json", cwd=lists_project)
    assert proc.returncode == 0 and '"tests_before": [0, 2]' in proc.stdout, proc.stderr


def test_a_missing_plugin_and_an_unknown_option_are_one_line_errors(lists_project):
    one_line_error(kelp("lists/__init__.py", "--", "-p", "nosuch_plugin_kelp", "tests", cwd=lists_project),
                   "nosuch_plugin_kelp")
    one_line_error(kelp("lists/__init__.py", "--", "tests", "--no-such-option", cwd=lists_project),
                   "--no-such-option")


def test_tests_that_fail_to_collect_show_pytests_own_error(lists_project):
    (lists_project / "tests/test_broken.py").write_text("import definitely_missing_module_kelp\n")
    one_line_error(kelp("lists/__init__.py", "--", "tests", cwd=lists_project),
                   "tests/test_broken.py", "No module named 'definitely_missing_module_kelp'")


def test_a_conftest_that_hangs_is_bounded_by_seconds(lists_project):
    (lists_project / "tests/conftest.py").write_text("import time\nwhile True:\n    time.sleep(0.1)\n")
    before = snapshot(lists_project)
    t0 = time.monotonic()
    proc = kelp("lists/__init__.py", "--seconds", "4", "--", "tests", cwd=lists_project)
    assert time.monotonic() - t0 < 20
    one_line_error(proc, "did not finish", "conftest")
    assert snapshot(lists_project) == before


def test_a_file_outside_the_project_or_never_imported(lists_project, tmp_path_factory):
    elsewhere = make(tmp_path_factory.mktemp("elsewhere"), {"tail.py": "def tail(xs):\n    return xs\n"})
    one_line_error(kelp(str(elsewhere / "tail.py"), "--", "tests", cwd=lists_project), "outside the project")
    make(lists_project, {"lists/unused.py": "def tail(xs):\n    return xs\n"})
    one_line_error(kelp("lists/unused.py", "--", "tests/test_lists.py", "-k", "Tail", cwd=lists_project),
                   "never import", "lists/unused.py")


def test_tests_that_already_pass_exit_3(lists_project):
    (lists_project / "lists/__init__.py").write_text("def tail(xs):\n    return xs[1:]\n")
    proc = kelp("lists/__init__.py", "--", "tests", "-k", "Tail", cwd=lists_project)
    assert proc.returncode == 3, proc.stderr
    assert "nothing to repair: all 2 tests already pass" in proc.stderr
