"""Unified diffs that `git apply` and `patch -p1` take, including files without a final newline,
CRLF line endings, tabs and long lines."""

import shutil
import subprocess

import pytest

from kelp.program.unified_diff import unified_diff

CASES = {
    "plain": ("def f(x):\n    return x - 1\n", "def f(x):\n    return x + 1\n"),
    "no final newline": ("def f(x):\n    return x - 1", "def f(x):\n    return x + 1"),
    "newline added": ("def f(x):\n    return x - 1", "def f(x):\n    return x + 1\n"),
    "crlf and tabs": ("def f(x):\r\n\treturn x - 1\r\n", "def f(x):\r\n\treturn x + 1\r\n"),
    "long line": ("x = [" + ", ".join(map(str, range(80))) + "]\ny = x[0] - 1\n",
                  "x = [" + ", ".join(map(str, range(80))) + "]\ny = x[0] + 1\n"),
}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_diff_applies_with_git_apply(case, tmp_path):
    before, after = CASES[case]
    (tmp_path / "m.py").write_bytes(before.encode())
    diff = unified_diff(before, after, "m.py")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    proc = subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=diff.encode(), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode() + diff
    assert (tmp_path / "m.py").read_bytes() == after.encode()


@pytest.mark.skipif(shutil.which("patch") is None, reason="patch is not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_diff_applies_with_patch(case, tmp_path):
    before, after = CASES[case]
    (tmp_path / "m.py").write_bytes(before.encode())
    diff = unified_diff(before, after, "m.py")
    proc = subprocess.run(["patch", "-p1", "-s"], cwd=tmp_path, input=diff.encode(), capture_output=True)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode() + diff
    assert (tmp_path / "m.py").read_bytes() == after.encode()


def test_equal_texts_give_no_diff():
    assert unified_diff("a\n", "a\n", "m.py") == ""
