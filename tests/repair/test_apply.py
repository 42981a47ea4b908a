"""Writing a repair in place: only over the text the run started from, never over uncommitted
work unless forced, atomically and with the file's mode kept."""

import os
import shutil
import subprocess

import pytest

from kelp.repair.apply import WriteRefused, uncommitted, write_repair

OLD = "def f(x):\n    return x - 1\n"
NEW = "def f(x):\n    return x + 1\n"


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def test_writes_outside_git_and_keeps_the_mode(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(OLD)
    path.chmod(0o640)
    assert uncommitted(path) is None
    write_repair(path, OLD, NEW)
    assert path.read_text() == NEW and (path.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary file left


def test_a_file_changed_since_the_run_began_is_never_overwritten(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(OLD + "# edited meanwhile\n")
    with pytest.raises(WriteRefused, match="changed while kelp ran"):
        write_repair(path, OLD, NEW, force=True)
    assert path.read_text().endswith("# edited meanwhile\n")


@needs_git
def test_uncommitted_changes_are_refused_unless_forced(tmp_path):
    git("init", "-q", cwd=tmp_path)
    path = tmp_path / "m.py"
    path.write_text(OLD)
    git("add", "m.py", cwd=tmp_path)
    git("commit", "-q", "-m", "one", cwd=tmp_path)
    assert uncommitted(path) is False
    write_repair(path, OLD, NEW)  # clean: written
    assert path.read_text() == NEW
    with pytest.raises(WriteRefused, match="uncommitted changes"):  # now dirty: the repair above
        write_repair(path, NEW, OLD)
    write_repair(path, NEW, OLD, force=True)
    assert path.read_text() == OLD
