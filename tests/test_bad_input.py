"""Bad input and interruptions, run as a user runs them: the real `kelp` entry point in a
subprocess, on small real files (no mocks). Covers `kelp repair` on binary / non-UTF-8 / huge
files, programs whose tests already pass, the --seconds bound, SIGINT / SIGTERM (exit status,
message, and no sandbox worker dir left behind), and `kelp eval repair`'s results.jsonl surviving an
interruption and a torn last line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kelp.datasets.jsonl import append_record, read_records
from kelp.repair.inputs import MAX_FUNCTIONS, MAX_SOURCE_BYTES

#: A function with many edit sites, so the search always has candidates left to run.
HARD_PROGRAM = '''def score(values, weight, bias):
    total = 0
    count = 0
    for i, v in enumerate(values):
        if v > 3 and i % 2 == 0:
            total += v * weight - bias
        elif v < -2 or i > 7:
            total -= v + 1
        else:
            count += 2
    return total * 3 + count - 5
'''
#: Tests no edit of HARD_PROGRAM can satisfy (a number is never a string or a list).
HARD_TESTS = 'assert score([1, 2, 3], 2, 1) == "never"\nassert score([], 0, 0) == [None]\n'


def _env(tmp_path: Path) -> dict:
    """The environment with a private TMPDIR, so the sandbox's worker dirs are all in it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp)}


def kelp(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "kelp.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=_env(Path(cwd)))


def _sandbox_dirs(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "tmp").glob("kelp-sandbox-*")}


def _assert_one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kelp: error: "), proc.stderr
    for word in words:
        assert word in lines[0], proc.stderr


# ---------------------------------------------------------------- 1. binary and non-UTF-8 files
@pytest.mark.parametrize("content, message", [
    (b"def f(x):\n    return '\xff\xfe'\n", "is not UTF-8 text"),
    (b"def f(x):\n    return x\x00\n", "is a binary file"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)), "is a binary file"),
])
def test_binary_or_non_utf8_program_is_refused_in_one_line(tmp_path, content, message):
    (tmp_path / "prog.py").write_bytes(content)
    (tmp_path / "tests.py").write_text("assert f(1) == 2\n")
    proc = kelp("repair", "prog.py", "--tests", "tests.py", cwd=tmp_path)
    _assert_one_line_error(proc, "prog.py", message)


@pytest.mark.parametrize("content, message", [
    (b"assert f(1) == '\xe9t\xe9'\n", "is not UTF-8 text"),  # Latin-1
    (b"assert f(1) == 2\n\x00\x00", "is a binary file"),
])
def test_binary_or_non_utf8_tests_file_is_refused_in_one_line(tmp_path, content, message):
    (tmp_path / "prog.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "tests.py").write_bytes(content)
    proc = kelp("repair", "prog.py", "--tests", "tests.py", cwd=tmp_path)
    _assert_one_line_error(proc, "tests.py", message)


# ---------------------------------------------------------------- 2. size limits
def test_a_program_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    assert MAX_SOURCE_BYTES == 1_000_000
    body = b"def f(x):\n    return x\n"
    # invalid UTF-8 at the end: the size message (not the encoding one) shows it was never read
    big = body + b"#" * (MAX_SOURCE_BYTES - len(body)) + b"\xff"
    assert len(big) == MAX_SOURCE_BYTES + 1
    (tmp_path / "prog.py").write_bytes(big)
    (tmp_path / "tests.py").write_text("assert f(1) == 2\n")
    t0 = time.monotonic()
    proc = kelp("repair", "prog.py", "--tests", "tests.py", cwd=tmp_path)
    _assert_one_line_error(proc, "prog.py", "too large", "1,000,001 bytes")
    assert time.monotonic() - t0 < 30
    # exactly at the limit it is accepted (it then fails on the non-UTF-8 tests file instead)
    (tmp_path / "prog.py").write_bytes(big[:-1])
    (tmp_path / "tests.py").write_bytes(b"assert f(1) == '\xff'\n")
    proc = kelp("repair", "prog.py", "--tests", "tests.py", cwd=tmp_path)
    _assert_one_line_error(proc, "tests.py", "is not UTF-8 text")


def test_a_program_with_too_many_functions_is_refused(tmp_path):
    assert MAX_FUNCTIONS == 2_000
    (tmp_path / "prog.py").write_text("".join(f"def f{i}(x):\n    return x\n" for i in range(MAX_FUNCTIONS + 1)))
    (tmp_path / "tests.py").write_text("assert f0(1) == 2\n")
    proc = kelp("repair", "prog.py", "--tests", "tests.py", cwd=tmp_path)
    _assert_one_line_error(proc, "prog.py", "2,001 functions")
    assert _sandbox_dirs(tmp_path) == set()  # refused before a sandbox was started


# ---------------------------------------------------------------- 3. --seconds bounds the whole run
def test_seconds_bounds_the_whole_repair(tmp_path):
    (tmp_path / "prog.py").write_text(HARD_PROGRAM)
    (tmp_path / "tests.py").write_text(HARD_TESTS)
    seconds = 3
    t0 = time.monotonic()
    proc = kelp("repair", "prog.py", "--tests", "tests.py", "--seconds", str(seconds), "--budget", "1000000",
                "--json", cwd=tmp_path)
    wall = time.monotonic() - t0
    assert proc.returncode == 1, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["status"] == "not_repaired" and payload["reason"] == "time limit", payload
    assert payload["executions"] > 0 and payload["diff"] == ""
    assert wall < seconds + 5, wall


# ---------------------------------------------------------------- 4. tests that already pass
def test_a_correct_program_is_not_reported_as_repaired(tmp_path):
    (tmp_path / "prog.py").write_text("def double(x):\n    return x + x\n")
    (tmp_path / "tests.py").write_text("assert double(2) == 4\nassert double(0) == 0\nassert double(-1) == -2\n")
    proc = kelp("repair", "prog.py", "--tests", "tests.py", cwd=tmp_path)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert proc.stdout == ""  # no diff
    assert "nothing to repair: all 3 tests already pass" in proc.stderr and "Traceback" not in proc.stderr
    proc = kelp("repair", "prog.py", "--tests", "tests.py", "--json", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["status"] == "already_passing" and payload["diff"] == "" and payload["edits"] == []
    assert payload["tests_before"] == [3, 3]


def test_the_repair_help_documents_the_exit_codes(tmp_path):
    proc = kelp("repair", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for code in ("0 repaired", "1 not repaired", "2 bad input", "3 nothing to repair", "130 interrupted",
                 "143 terminated"):
        assert code in text, text


# ---------------------------------------------------------------- 5. SIGINT / SIGTERM
def _start_and_wait_for_sandbox(args, cwd: Path, ready=None, timeout=90.0):
    """Start kelp; return once its sandbox workers are up (and ``ready()`` holds) plus a moment."""
    # SIGINT as a terminal delivers it: a test run started in the background (CI) inherits an
    # ignored SIGINT, which kelp, like any Unix program, keeps ignoring
    proc = subprocess.Popen([sys.executable, "-m", "kelp.cli", *args], cwd=cwd, env=_env(cwd),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    while not (_sandbox_dirs(cwd) and (ready is None or ready())):
        if proc.poll() is not None:
            raise AssertionError(f"kelp ended early ({proc.returncode}): {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("kelp did not start its sandbox in time")
        time.sleep(0.1)
    time.sleep(2.0)  # let the search run (candidates in flight)
    assert proc.poll() is None, proc.communicate()
    return proc


@pytest.mark.parametrize("sig, status, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_repair_interrupted_by_a_signal_cleans_up_and_exits(tmp_path, sig, status, name):
    (tmp_path / "prog.py").write_text(HARD_PROGRAM)
    (tmp_path / "tests.py").write_text(HARD_TESTS)
    before = _sandbox_dirs(tmp_path)
    proc = _start_and_wait_for_sandbox(["repair", "prog.py", "--tests", "tests.py", "--seconds", "300",
                                        "--budget", "1000000"], tmp_path)
    t0 = time.monotonic()
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == status, stderr
    assert time.monotonic() - t0 < 30
    assert "kelp: interrupted" in stderr and name in stderr and "nothing written" in stderr
    assert "Traceback" not in stderr and stdout == ""
    assert _sandbox_dirs(tmp_path) == before  # every worker dir removed: the sandbox was closed


def test_eval_interrupted_reports_the_results_written_and_leaves_whole_lines(tmp_path):
    tasks = [{"task_id": "easy1", "source": "def f(x):\n    return x - 1\n", "tests": ["assert f(1) == 2"]},
             {"task_id": "easy2", "source": "def g(x):\n    return x * 3\n", "tests": ["assert g(2) == 4"]},
             {"task_id": "hard", "source": HARD_PROGRAM, "tests": HARD_TESTS.splitlines()}]
    (tmp_path / "tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tasks))
    out = tmp_path / "run"
    results = out / "results.jsonl"
    proc = _start_and_wait_for_sandbox(
        ["eval", "repair", "jsonl:tasks.jsonl", "--seconds", "300", "--budget", "1000000", "--workers", "2", "--out", str(out)],
        tmp_path, ready=lambda: results.exists() and len(results.read_bytes().splitlines()) >= 2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "kelp: interrupted" in stderr and f"2 results written to {results}" in " ".join(stderr.split())
    assert "Traceback" not in stderr
    data = results.read_bytes()
    assert data.endswith(b"\n") and [json.loads(line)["task_id"] for line in data.splitlines()] == ["easy1", "easy2"]
    assert _sandbox_dirs(tmp_path) == set()


# ---------------------------------------------------------------- 6. whole result lines, torn tails
def test_jsonl_helper_drops_a_torn_last_line_and_appends_after_the_last_whole_one(tmp_path):
    path = tmp_path / "results.jsonl"
    assert read_records(path) == []
    append_record(path, {"task_id": "a", "solved": True})
    append_record(path, {"task_id": "b", "solved": False})
    with path.open("ab") as fh:  # a write cut by a crash
        fh.write(b'{"task_id": "c", "sol')
    assert [r["task_id"] for r in read_records(path)] == ["a", "b"]
    append_record(path, {"task_id": "c", "solved": True, "text": "é\n"})
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 4
    assert [json.loads(line)["task_id"] for line in lines[:-1]] == ["a", "b", "c"]
    assert read_records(path)[-1] == {"task_id": "c", "solved": True, "text": "é\n"}
    # a torn line longer than the helper's read chunk, and a file that is only a torn line
    with path.open("ab") as fh:
        fh.write(b'{"task_id": "d", "x": "' + b"y" * 200_000)
    append_record(path, {"task_id": "d"})
    assert [r["task_id"] for r in read_records(path)] == ["a", "b", "c", "d"]
    only = tmp_path / "only.jsonl"
    only.write_bytes(b'{"task_id": "z"')
    assert read_records(only) == []
    append_record(only, {"task_id": "z"})
    assert only.read_bytes() == b'{"task_id": "z"}\n'


def test_eval_resume_after_a_torn_line_redoes_that_task_only(tmp_path):
    tasks = [{"task_id": f"t{i}", "source": f"def f(x):\n    return x - {i}\n", "tests": [f"assert f(1) == {1 + i}"]}
             for i in (1, 2, 3)]
    (tmp_path / "tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tasks))
    out = tmp_path / "run"
    args = ("eval", "repair", "jsonl:tasks.jsonl", "--budget", "16", "--workers", "2", "--out", str(out))
    proc = kelp(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = out / "results.jsonl"
    lines = results.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3
    results.write_bytes(b"".join(lines[:2]) + lines[2][: len(lines[2]) // 2])  # the last write was cut
    proc = kelp(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = results.read_bytes()
    assert data.endswith(b"\n")
    records = [json.loads(line) for line in data.splitlines()]
    assert [r["task_id"] for r in records] == ["t1", "t2", "t3"] and all(r["solved"] for r in records)
    assert json.loads((out / "summary.json").read_text())["n"] == 3


def test_doctor_reports_every_layer_as_json():
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "doctor", "--json"], capture_output=True,
                          text=True, timeout=120)
    report = json.loads(proc.stdout)
    assert [row["layer"] for row in report["layers"]] == ["namespaces", "cgroups", "landlock", "seccomp"]
    assert proc.returncode == (0 if all(row["active"] for row in report["layers"]) else 1)


def test_a_piped_diff_with_long_lines_and_tabs_applies_with_git_apply(tmp_path):
    """stdout carries the diff byte for byte: no wrapping at 80 columns, no tab expansion."""
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    long_list = ", ".join(str(i) for i in range(80))  # a line of ~300 characters
    program = ("def f(x):\n"
               f"    table = [{long_list}]\n"
               "    label = 'a\tb'\n"
               "    return x - 1\n")
    (tmp_path / "prog.py").write_text(program)
    (tmp_path / "tests.py").write_text("assert f(1) == 2\nassert f(5) == 6\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "repair", "prog.py", "--tests", "tests.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert max(len(line) for line in proc.stdout.splitlines()) > 200
    applied = subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=proc.stdout, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    fixed = (tmp_path / "prog.py").read_text()
    assert "return x + 1" in fixed and "'a\tb'" in fixed and long_list in fixed
