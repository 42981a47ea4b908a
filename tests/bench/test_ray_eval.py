"""`kelp eval` as Ray tasks on a real local Ray runtime: the serial run's verdicts, a resume
that neither loses nor repeats a task, and a Ray worker killed in the middle of a task."""

import json
import os
import signal
import threading
import time

import pytest

from kelp.bench.evaluate import EvalConfig, run_eval
from kelp.datasets.jsonl import read_records

ray = pytest.importorskip("ray")

#: Fields of a result line that do not depend on time.
VERDICT = ("solved", "executions", "executions_to_solve", "repaired", "reason", "restored", "equivalent",
           "tests_before", "tests_after")
CONFIG = EvalConfig(bench="mbpp-validation", n=6, budget=48)


def _verdicts(folder):
    return {r["task_id"]: tuple(json.dumps(r.get(k)) for k in VERDICT) for r in read_records(folder / "results.jsonl")}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serial")
    summary = run_eval(CONFIG, folder, workers=1, quiet=True)
    return folder, summary


@pytest.fixture(scope="module")
def ray_runtime():
    from kelp.scale import connect

    with connect("local", cpus=2):
        yield


def test_ray_gives_the_serial_verdicts_and_a_resume_neither_loses_nor_repeats(serial, ray_runtime, tmp_path):
    folder, summary = serial
    expected = _verdicts(folder)
    assert len(expected) + sum(summary["dropped"].values()) == CONFIG.n
    out = tmp_path / "ray"
    got = run_eval(CONFIG, out, quiet=True, ray="local")
    assert _verdicts(out) == expected
    assert (got["solved"], got["solved_at"], got["dropped"]) == (summary["solved"], summary["solved_at"], summary["dropped"])
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(lines[:2]))  # as a driver killed after two tasks leaves it
    again = run_eval(CONFIG, out, quiet=True, ray="local")
    ids = [r["task_id"] for r in read_records(out / "results.jsonl")]
    assert len(ids) == len(set(ids)) == len(expected)
    assert _verdicts(out) == expected and again["solved_at"] == summary["solved_at"]


def _kill_one_running_task(stop: threading.Event, killed: list) -> None:
    """SIGKILL the first Ray worker process seen running one of kelp's units."""
    import psutil

    while not stop.is_set() and not killed:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if "ray::_run_unit" in " ".join(proc.info["cmdline"] or []):
                os.kill(proc.info["pid"], signal.SIGKILL)
                killed.append(proc.info["pid"])
                return
        time.sleep(0.01)


def test_a_worker_killed_in_the_middle_of_a_task_is_retried_with_the_same_verdict(serial, ray_runtime, tmp_path):
    folder, _ = serial
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_one_running_task, args=(stop, killed), daemon=True)
    killer.start()
    try:
        run_eval(CONFIG, tmp_path / "ray", quiet=True, ray="local")
    finally:
        stop.set()
        killer.join()
    assert killed, "no Ray worker was seen running a task"
    assert _verdicts(tmp_path / "ray") == _verdicts(folder)


def test_sigterm_stops_a_ray_eval_with_143_and_the_rerun_finishes_it(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "run"
    command = [sys.executable, "-m", "kelp.cli", "eval", "repair", "mbpp-validation", "--n", "12", "--budget", "48",
               "--ray", "local", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(read_records(out / "results.jsonl")) < 2 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143 and stdout == "", stderr[-2000:]
    assert "kelp: interrupted (SIGTERM)" in stderr
    kept = read_records(out / "results.jsonl")
    assert 2 <= len(kept) < 12
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout)
    ids = [r["task_id"] for r in read_records(out / "results.jsonl")]
    assert len(ids) == len(set(ids)) == summary["n"] and summary["n"] + sum(summary["dropped"].values()) == 12
    assert all(r in read_records(out / "results.jsonl") for r in kept)
