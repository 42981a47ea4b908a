"""`kelp repair --write/--force` and the stderr report, run as a user runs them: the real CLI in a
subprocess, inside a real git repository."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BUGGY = "def inc(x):\n    return x - 1\n"
FIXED = "def inc(x):\n    return x + 1\n"
TESTS = "from mod import inc\n\n\ndef test_one():\n    assert inc(1) == 2\n\n\ndef test_zero():\n    assert inc(0) == 1\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path):
    """A git repository holding the committed buggy module mod.py and its tests."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "mod.py").write_text(BUGGY)
    (root / "test_mod.py").write_text(TESTS)
    (tmp_path / "tmp").mkdir()
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "buggy")
    return root


def _env(repo: Path) -> dict:
    return {**os.environ, "TMPDIR": str(repo.parent / "tmp")}  # the sandbox's dirs, outside the project


def kelp(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kelp.cli", "repair", *args], cwd=repo, capture_output=True,
                          text=True, timeout=300, env=_env(repo))


def test_write_applies_the_repair_and_still_prints_the_diff_and_the_report(repo):
    proc = kelp(repo, "mod.py", "--write", "--", "test_mod.py")
    assert proc.returncode == 0, proc.stderr
    assert (repo / "mod.py").read_text() == FIXED
    assert proc.stdout.startswith("--- a/mod.py\n+++ b/mod.py\n") and "+    return x + 1\n" in proc.stdout
    assert "failing before: 2 of 2 tests\n  test_mod.py::test_one\n  test_mod.py::test_zero\n" in proc.stderr
    assert "localized lines (most suspicious first): 2" in proc.stderr
    assert "repaired: tests 0/2 -> 2/2 passing" in proc.stderr and "wrote the repair to mod.py" in proc.stderr
    _git(repo, "checkout", "mod.py")  # the printed diff applies to the original with git apply
    subprocess.run(["git", "apply", "--check", "-"], input=proc.stdout, text=True, cwd=repo, check=True)


def test_without_write_the_file_is_untouched(repo):
    proc = kelp(repo, "mod.py", "--", "test_mod.py")
    assert proc.returncode == 0 and (repo / "mod.py").read_text() == BUGGY


def test_write_refuses_uncommitted_changes_before_searching_unless_forced(repo):
    edited = BUGGY + "\n\n# a note the user has not committed\n"
    (repo / "mod.py").write_text(edited)
    proc = kelp(repo, "mod.py", "--write", "--", "test_mod.py")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "mod.py has uncommitted changes" in proc.stderr and "--force" in proc.stderr
    assert "Traceback" not in proc.stderr and "failing before" not in proc.stderr  # no search ran
    assert (repo / "mod.py").read_text() == edited
    forced = kelp(repo, "mod.py", "--write", "--force", "--", "test_mod.py")
    assert forced.returncode == 0, forced.stderr
    assert (repo / "mod.py").read_text() == FIXED + "\n\n# a note the user has not committed\n"


def test_force_without_write_is_a_usage_error(repo):
    proc = kelp(repo, "mod.py", "--force", "--", "test_mod.py")
    assert proc.returncode == 2 and "--force only applies with --write" in proc.stderr


def test_a_file_changed_while_kelp_runs_is_never_overwritten(repo):
    # The tests' first run takes 2 s; the file changes once the sandbox exists (the file has
    # been read by then), so the repair must not be written over the new text: exit 4.
    (repo / "test_mod.py").write_text("import time\n" + TESTS.replace(
        "def test_one():\n", "def test_one():\n    time.sleep(2)\n"))
    _git(repo, "commit", "-q", "-am", "slow test")
    proc = subprocess.Popen([sys.executable, "-m", "kelp.cli", "repair", "mod.py", "--write", "--timeout", "10",
                             "--", "test_mod.py"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(repo))
    deadline = time.monotonic() + 120
    while not list((repo.parent / "tmp").glob("kelp-sandbox-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    changed = "def inc(x):\n    return x - 2  # the user's own edit\n"
    (repo / "mod.py").write_text(changed)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 4, stderr
    assert "not written" in stderr and "changed while kelp ran" in stderr
    assert "+    return x + 1\n" in stdout  # the repair is not lost: the diff is on stdout
    assert (repo / "mod.py").read_text() == changed


def test_a_failed_search_reports_its_best_partial_state_and_a_hint(repo):
    (repo / "test_mod.py").write_text(TESTS.replace("assert inc(0) == 1", "assert inc(0) == 'never'"))
    proc = kelp(repo, "mod.py", "--write", "--budget", "40", "--", "test_mod.py")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "not repaired: " in proc.stderr and "hint: " in proc.stderr
    assert "best partial state: 1/2 tests passing with this change:" in proc.stderr
    assert "+    return x + 1" in proc.stderr
    assert (repo / "mod.py").read_text() == BUGGY
