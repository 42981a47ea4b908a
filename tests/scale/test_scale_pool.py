"""The map over units of work: in this process, and as real Ray tasks on a local Ray runtime
whose worker processes are really killed."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kelp.scale import Failed, ScaleError, Work, connect, map_units


def _setup(cpus):
    return {"cpus": cpus, "pid": os.getpid()}


def _run(state, payload):
    kind, marker = payload
    if kind == "die-once" and not Path(marker).exists():
        Path(marker).write_text("killed once")
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "raise":
        raise ValueError("bad unit")
    print("a worker's print")  # must never reach the caller's stdout
    return state["cpus"], kind


def _bad_setup(cpus):
    raise FileNotFoundError("no such checkpoint")


WORK = Work(_setup, _run)


@pytest.fixture(scope="module")
def ray_runtime():
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    with connect("local", cpus=2):
        yield
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_here_the_units_run_in_order_with_one_state_and_errors_are_recorded():
    units = [("a", ("ok", "")), ("b", ("raise", "")), ("c", ("ok", ""))]
    results = list(map_units(WORK, units, cpus=3))
    assert [k for k, _ in results] == ["a", "b", "c"]
    assert results[0][1] == (3, "ok") and results[2][1] == (3, "ok")
    assert results[1][1] == Failed("ValueError: bad unit")


def test_a_setup_error_stops_the_map_in_the_caller():
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        list(map_units(Work(_bad_setup, _run), [("a", ("ok", ""))]))


def test_ray_retries_a_killed_worker_and_records_one_killed_every_time(ray_runtime, tmp_path):
    units = [(str(i), ("ok", "")) for i in range(4)] + [
        ("killed-once", ("die-once", str(tmp_path / "marker"))), ("killed-always", ("die", "")),
        ("raises", ("raise", ""))]
    results = dict(map_units(WORK, units, ray=True, cpus=1, retries=1))
    assert set(results) == {k for k, _ in units}  # every unit answered once
    assert all(results[str(i)] == (1, "ok") for i in range(4))
    assert results["killed-once"] == (1, "die-once") and (tmp_path / "marker").exists()
    assert isinstance(results["killed-always"], Failed) and "worker lost after 1 retries" in results["killed-always"].reason
    assert results["raises"] == Failed("ValueError: bad unit")


DRIVER = """
import os, signal, sys
from kelp.scale import Work, connect, map_units
from units import setup, run
with connect("local", cpus=2):
    results = dict(map_units(Work(setup, run), [("a", "ok"), ("b", "die")], ray=True, retries=0))
print(sorted(results))
"""
UNITS = """
import os, signal
def setup(cpus):
    return None
def run(state, payload):
    print("a worker's print")
    if payload == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return payload
"""


def test_stdout_carries_only_the_callers_output_when_a_worker_dies(tmp_path):
    pytest.importorskip("ray")
    (tmp_path / "units.py").write_text(UNITS)
    proc = subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "['a', 'b']\n"
    assert "worker died" in proc.stderr or "Worker unexpectedly exits" in proc.stderr


def test_ray_raises_a_setup_error_in_the_caller(ray_runtime):
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        list(map_units(Work(_bad_setup, _run), [("a", ("ok", ""))], ray=True))


def test_without_ray_installed_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with connect(None) as cpus:  # no --ray: nothing to import
        assert cpus is None
    with pytest.raises(ScaleError, match=r"pip install 'kelp\[scale\]'"):
        with connect("local"):
            pass


def test_an_unreachable_address_is_one_line_exit_2_and_no_output_folder(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "eval", "repair", "mbpp", "--n", "2",
                           "--ray", "127.0.0.1:9", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("kelp: error: cannot reach the Ray cluster at '127.0.0.1:9'")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
