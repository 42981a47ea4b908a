"""The command line, run as a user runs it: a real subprocess with the installed entry point."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

QUIX = Path(__file__).resolve().parent.parent / "src" / "kelp" / "data" / "quixbugs"


def kelp(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "kelp.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def test_demo_repairs_a_real_quixbugs_program():
    proc = kelp("repair", str(QUIX / "python_programs" / "gcd.py"),
                "--pytest", str(QUIX / "python_testcases" / "test_gcd.py"))
    assert proc.returncode == 0, proc.stderr
    assert "-        return gcd(a % b, b)" in proc.stdout
    assert "+        return gcd(b, a % b)" in proc.stdout
    assert "repaired" in proc.stderr


def test_repair_with_an_assert_file_and_json_output(tmp_path):
    (tmp_path / "prog.py").write_text("def double(x):\n    return x + x + 1\n")
    (tmp_path / "tests.py").write_text("assert double(2) == 4\nassert double(0) == 0\n")
    proc = kelp("repair", "prog.py", "--tests", "tests.py", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["solved"] and payload["tests_before"] == [0, 2] and payload["tests_after"] == [2, 2]
    assert "+    return x + x" in payload["diff"]


@pytest.mark.parametrize("program, tests, message", [
    ("def f(:\n", "assert f() == 1\n", "does not parse"),
    ("x = 1\n", "assert x == 2\n", "defines no function"),
    ("def f():\n    return 1\n", "assert f() == 2\nimport not_a_module_anywhere\n", "tests could not"),
    ("def f():\n    return 1\n", "f()\n", "has no tests"),
])
def test_bad_input_exits_2_with_a_clear_message(tmp_path, program, tests, message):
    (tmp_path / "prog.py").write_text(program)
    (tmp_path / "tests.py").write_text(tests)
    proc = kelp("repair", "prog.py", "--tests", "tests.py", cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_file_and_unrepairable_program(tmp_path):
    proc = kelp("repair", "nope.py", "--tests", "t.py", cwd=tmp_path)
    assert proc.returncode == 2 and "not found" in proc.stderr
    (tmp_path / "prog.py").write_text("def f(x):\n    return 'wrong'\n")
    (tmp_path / "tests.py").write_text("assert f(3) == [3, 3, 3]\n")
    proc = kelp("repair", "prog.py", "--tests", "tests.py", "--budget", "8", cwd=tmp_path)
    assert proc.returncode == 1 and "not repaired" in proc.stderr


def test_eval_writes_results_as_it_goes_and_resumes(tmp_path):
    out = tmp_path / "run"
    args = ("eval", "repair", "mbpp", "--n", "4", "--budget", "16", "--out", str(out))
    proc = kelp(*args)
    assert proc.returncode == 0, proc.stderr
    lines = (out / "results.jsonl").read_text().splitlines()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == len(lines) and summary["n"] + sum(summary["dropped"].values()) == 4
    assert set(summary["solved_at"]) == {"1", "4", "16", "64", "256"}
    # resume: nothing is redone, the summary is the same
    proc = kelp(*args)
    assert proc.returncode == 0 and (out / "results.jsonl").read_text().splitlines() == lines
    assert json.loads((out / "summary.json").read_text())["solved"] == summary["solved"]
    # other settings into the same directory are refused
    proc = kelp("eval", "repair", "mbpp", "--n", "4", "--budget", "8", "--out", str(out))
    assert proc.returncode == 2 and "other settings" in proc.stderr


def test_repair_with_a_pytest_file_given_as_tests(tmp_path):
    (tmp_path / "mathx.py").write_text("def clamp(x, lo, hi):\n    return max(lo, min(x, lo))\n")
    (tmp_path / "test_mathx.py").write_text(
        "from mathx import clamp\n\n\ndef test_inside():\n    assert clamp(5, 0, 10) == 5\n\n\n"
        "def test_above():\n    assert clamp(15, 0, 10) == 10\n")
    proc = kelp("repair", "mathx.py", "--tests", "test_mathx.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "+    return max(lo, min(x, hi))" in proc.stdout


def test_the_bundled_checkpoint_is_used_without_a_flag_and_a_bad_one_is_a_user_error(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("def f(x):\n    return x - 1\n")
    tests = tmp_path / "t.py"
    tests.write_text("assert f(1) == 2\n")
    run = kelp("repair", str(prog), "--tests", str(tests), "--proposer", "both")
    assert run.returncode == 0 and "+    return x + 1" in run.stdout
    run = kelp("repair", str(prog), "--tests", str(tests), "--proposer", "model", "--checkpoint", str(tmp_path))
    assert run.returncode == 2 and "config.json is missing" in run.stderr


def test_version():
    from kelp import __version__

    proc = kelp("--version")
    assert proc.returncode == 0 and proc.stdout == f"kelp {__version__}\n"


def test_flags_read_as_flags_in_help():
    proc = kelp("repair", "--help")
    assert proc.returncode == 0 and "--json" in proc.stdout and "<bool>" not in proc.stdout
