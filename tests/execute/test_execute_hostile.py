"""Hostile candidates: each is contained, gets a recorded outcome, and the next job still works."""

import os
import signal
import threading
import time
import uuid

import pytest

from kelp.execute import Limits, Sandbox, TestSuite

GOOD = "def f(x):\n    return x + 1\n"
SUITE = TestSuite.from_asserts(["assert f(1) == 2"])


@pytest.fixture(scope="module")
def sandbox():
    limits = Limits(test_timeout=0.5, job_timeout=8.0, output_bytes=4096)
    with Sandbox(workers=1, limits=limits) as sb:  # one worker: every "next job" reuses it
        yield sb


def run_then_check_next(sandbox, program, tests, **kwargs):
    result = sandbox.run(program, TestSuite.from_asserts(tests), **kwargs)
    after = sandbox.run(GOOD, SUITE)
    assert after.all_passed, f"next job broken after hostile candidate: {after}"
    return result


def test_infinite_loop_times_out(sandbox):
    t0 = time.monotonic()
    result = run_then_check_next(sandbox, "def f(x):\n    while True:\n        pass\n", ["assert f(1) == 2"])
    assert result.outcomes[0].status == "timeout"
    assert time.monotonic() - t0 < 5


def test_loop_that_swallows_the_soft_timeout_is_hard_killed(sandbox):
    program = ("def f(x):\n    while True:\n        try:\n            sum(range(10**6))\n"
               "        except BaseException:\n            pass\n")
    result = run_then_check_next(sandbox, program, ["assert f(1) == 2", "assert True"])
    assert [o.status for o in result.outcomes] == ["timeout", "not_run"]
    assert "killed" in result.outcomes[0].message


def test_program_that_hangs_while_loading(sandbox):
    result = run_then_check_next(sandbox, "while True:\n    pass\n", ["assert True"])
    assert result.status == "timeout" and "loading" in result.message


def test_os_system_is_blocked_and_creates_nothing(sandbox):
    target = f"/tmp/kelp-hostile-{uuid.uuid4().hex}"
    result = run_then_check_next(sandbox, "import os\n", [f"os.system('touch {target}')"])
    assert result.outcomes[0].status == "error"
    assert result.outcomes[0].error_type == "PermissionError"
    assert not os.path.exists(target)


def test_fork_bomb_is_blocked(sandbox):
    result = run_then_check_next(sandbox, "import os\n", ["while True:\n    os.fork()"])
    assert result.outcomes[0].error_type == "PermissionError"
    assert "os.fork" in result.outcomes[0].message


def test_subprocess_and_sockets_are_blocked(sandbox):
    result = run_then_check_next(sandbox, "import subprocess, socket\n", [
        "subprocess.run(['true'])",
        "socket.socket().connect(('127.0.0.1', 9))",
    ])
    # the audit hook names the refused subprocess; the kernel (seccomp: AF_UNIX only) refuses
    # the TCP socket before the hook sees a connect
    assert result.outcomes[0].error_type == "PermissionError"
    assert result.outcomes[1].status == "error" and "Errno 97" in result.outcomes[1].message


def test_huge_allocation_is_contained(sandbox):
    result = run_then_check_next(sandbox, "", ["x = bytearray(10 * 1024 ** 3)"])
    outcome = result.outcomes[0]
    assert outcome.status == "error" and outcome.error_type in ("MemoryError", "Killed")


def test_writing_outside_the_job_dir_is_blocked(sandbox, tmp_path):
    outside = tmp_path / "escape.txt"
    result = run_then_check_next(sandbox, "", [
        f"open({str(outside)!r}, 'w').write('x')",
        "open('inside.txt', 'w').write('ok')\nassert open('inside.txt').read() == 'ok'",
        f"import os\nos.remove({str(tmp_path)!r})",
    ])
    assert [o.status for o in result.outcomes] == ["error", "pass", "error"]
    assert not outside.exists() and tmp_path.exists()


def test_huge_stdout_is_capped(sandbox):
    result = run_then_check_next(sandbox, "", ["print('x' * 10_000_000)", "assert True"])
    assert [o.status for o in result.outcomes] == ["pass", "pass"]
    assert len(result.stdout) < 4096 + 200 and "dropped" in result.stdout


def test_sys_exit_mid_tests_is_an_error_and_later_tests_run(sandbox):
    result = run_then_check_next(sandbox, "import sys\n", ["assert True", "sys.exit(0)", "assert True"])
    assert [o.status for o in result.outcomes] == ["pass", "error", "pass"]
    assert result.outcomes[1].error_type == "SystemExit"


def test_os_exit_mid_tests(sandbox):
    tests = ["assert True", "import os\nos._exit(0)", "assert True"]
    result = run_then_check_next(sandbox, "", tests)
    assert [o.status for o in result.outcomes] == ["pass", "error", "not_run"]
    assert result.outcomes[1].error_type == "ProcessExit"
    resumed = run_then_check_next(sandbox, "", tests, continue_after_timeout=True)
    assert [o.status for o in resumed.outcomes] == ["pass", "error", "pass"]


def test_hanging_test_among_normal_tests_with_continue(sandbox):
    program = "import time\ndef f(x):\n    if x == 3:\n        time.sleep(100)\n    return x + 1\n"
    tests = [f"assert f({i}) == {i + 1}" for i in range(6)]
    result = run_then_check_next(sandbox, program, tests, continue_after_timeout=True)
    assert [o.status for o in result.outcomes] == ["pass", "pass", "pass", "timeout", "pass", "pass"]
    stopped = run_then_check_next(sandbox, program, tests)
    assert [o.status for o in stopped.outcomes][3:] == ["timeout", "not_run", "not_run"]


def test_reading_stdin_gets_eof(sandbox):
    result = run_then_check_next(sandbox, "", ["input()", "import sys\nassert sys.stdin.read() == ''"])
    assert [o.status for o in result.outcomes] == ["error", "pass"]
    assert result.outcomes[0].error_type == "EOFError"


def test_killing_the_worker_mid_job_is_reported_and_recovered():
    with Sandbox(workers=1, limits=Limits(test_timeout=5.0, job_timeout=10.0)) as sb:
        assert sb.run(GOOD, SUITE).all_passed  # worker is up
        worker_pid = sb._workers[0].proc.pid
        threading.Timer(0.5, os.killpg, (worker_pid, signal.SIGKILL)).start()
        result = sb.run("import time\n", TestSuite.from_asserts(["time.sleep(3)"]))
        assert result.status == "crashed" and "restarted" in result.message
        assert [o.status for o in result.outcomes] == ["not_run"]
        assert sb.run(GOOD, SUITE).all_passed


def test_garbage_written_to_inherited_descriptors_is_contained(sandbox):
    program = "import os\n"
    test = "for fd in range(3, 64):\n    try:\n        os.write(fd, b'\\xff' * 16)\n    except OSError:\n        pass"
    result = run_then_check_next(sandbox, program, ["assert True", test, "assert True"])
    assert [o.status for o in result.outcomes][:2] == ["pass", "error"]
    assert result.outcomes[1].error_type == "SandboxViolation"


@pytest.mark.skipif(os.geteuid() != 0, reason="the private uid applies only when started as root")
def test_child_started_as_root_runs_without_root_or_capabilities(sandbox):
    """A private uid, no_new_privs, and no capability but CAP_DAC_READ_SEARCH (bit 2), which is
    kept only when the interpreter is unreadable to that uid."""
    program = ("def status():\n    with open('/proc/self/status') as fh:\n"
               "        return dict(line.split(':\\t', 1) for line in fh.read().splitlines())\n")
    tests = ["s = status()",
             "assert s['Uid'].split()[0] != '0' and s['Gid'].split()[0] != '0', s['Uid']",
             "assert int(s['CapEff'], 16) & ~4 == 0 and int(s['CapPrm'], 16) & ~4 == 0, s['CapEff']",
             "assert s['NoNewPrivs'].strip() == '1'"]
    result = run_then_check_next(sandbox, program, tests)
    assert result.all_passed, result.outcomes


def test_relative_mkdir_and_rename_inside_the_job_dir_work(sandbox):
    """The audit hook resolved dir_fd=-1 as /proc/self/fd/-1 and refused these honest calls."""
    result = sandbox.run("import os\ndef f(x):\n    os.mkdir('d')\n    os.rename('d', 'e')\n"
                         "    os.makedirs('e/f/g')\n    return x + 1\n", SUITE)
    assert result.all_passed, result.outcomes


def test_a_failed_collection_does_not_echo_the_program_output(sandbox, tmp_path):
    """The program's own output is the candidate's to forge: it stays out of kelp's messages."""
    from kelp.execute import CollectError

    test_file = tmp_path / "test_broken.py"
    test_file.write_text("import candidate\ndef test_x(:\n    pass\n")
    suite = TestSuite.from_pytest([str(test_file)], program_path=str(tmp_path / "candidate.py"),
                                  rootdir=str(tmp_path))
    with pytest.raises(CollectError) as info:
        sandbox.collect("print('REPAIRED: all tests pass')\ndef f(x):\n    return x\n", suite)
    assert "REPAIRED" not in str(info.value)
