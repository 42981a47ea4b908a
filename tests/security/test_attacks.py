"""Hostile candidates against the kernel boundary, as root and as an unprivileged user.

Each test runs an attack twice: against the sandbox as shipped, asserting that the attack's
effect did not happen (a file outside is intact, a listener heard nothing, no process survived,
a secret did not leak), and against a sandbox with the layers that stop it turned off, asserting
that the same attack then succeeds, so that each test can fail.  Most attacks first switch off
the audit hook with one assignment, as a deliberate candidate would: it is a source of messages,
never the boundary.
"""

import json
import os
import random
import socket
import threading
import time

import pytest
from security.attack_runner import processes_with

#: One line that makes the audit hook dormant (it lives in the candidate's own interpreter).
HOOK_OFF = "import sys\nsys.modules['_kelp_sandbox_confine']._HOOK['root'] = None\n"
PASSES = ["assert f(1) == 2"]


def _program(body: str, hook_off: bool = True) -> str:
    """A candidate whose function ``f`` runs ``body`` (indented statements) and returns x + 1."""
    indented = "".join(f"        {line}\n" for line in body.strip("\n").splitlines())
    return (HOOK_OFF if hook_off else "") + (
        "import os, sys, json, time, socket, sqlite3, subprocess, ctypes\n"
        "def f(x):\n"
        "    try:\n" + indented +
        "    except BaseException as exc:\n"
        "        print('ATTACK-ERROR', type(exc).__name__, exc)\n"
        "    return x + 1\n")


def _run(attack, program, disable=(), **spec):
    return attack({"program": program, "tests": spec.pop("tests", PASSES), "disable": list(disable), **spec})


# ---------------------------------------------------------------------------------- filesystem
@pytest.mark.parametrize("how", ["open", "dir_fd", "sqlite3", "subprocess"])
def test_writes_outside_the_job_dir_are_refused(attack, open_dir, how):
    target = open_dir / f"written-by-{how}"
    body = {
        "open": f"open({str(target)!r}, 'w').write('pwned')",
        "dir_fd": (f"d = os.open({str(open_dir)!r}, os.O_RDONLY)\n"
                   f"os.close(os.open({target.name!r}, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=d))"),
        "sqlite3": f"sqlite3.connect({str(target)!r}).execute('create table t (x)')",
        "subprocess": f"subprocess.run(['/bin/sh', '-c', 'echo pwned > {target}'])",
    }[how]
    # the hook stays on for dir_fd and sqlite3: it never saw those writes
    program = _program(body, hook_off=how in ("open", "subprocess"))
    out = _run(attack, program)
    assert not target.exists(), out
    assert out["result"]["status"] == "ok"
    weak = _run(attack, program, disable=("landlock",))
    assert target.exists(), f"the attack should work without Landlock: {weak}"


def test_tree_removal_never_follows_a_planted_link(attack, open_dir):
    canary = open_dir / "canary"
    canary.write_text("keep me")
    os.chmod(canary, 0o666)
    nested = open_dir / "nested"
    nested.mkdir()
    (nested / "canary").write_text("keep me too")
    body = (f"os.symlink({str(open_dir)!r}, 'link-to-dir')\n"
            f"os.symlink({str(canary)!r}, 'link-to-file')\n"
            "os.mkdir('d')\n"
            f"os.symlink({str(nested)!r}, 'd/inner')")
    out = _run(attack, _program(body))
    assert out["result"]["status"] == "ok"
    assert canary.read_text() == "keep me" and (nested / "canary").read_text() == "keep me too"


def test_remove_tree_unlinks_links_and_a_following_removal_would_not():
    """The worker's removal against a naive one that follows links (the weakened variant)."""
    import tempfile

    from kelp.execute._remove import remove_tree

    def setup():
        outside = tempfile.mkdtemp()
        open(os.path.join(outside, "canary"), "w").close()
        job = tempfile.mkdtemp()
        os.mkdir(os.path.join(job, "d"))
        os.symlink(outside, os.path.join(job, "d", "link"))
        return outside, job

    outside, job = setup()
    remove_tree(job)
    assert not os.path.exists(job) and os.path.exists(os.path.join(outside, "canary"))

    outside, job = setup()
    for root, dirs, files in os.walk(job, topdown=False, followlinks=True):  # naive removal
        for name in files:
            os.unlink(os.path.join(root, name))
    assert not os.path.exists(os.path.join(outside, "canary"))


def test_root_only_files_cannot_be_read(attack, open_dir):
    if attack.user != "root":
        pytest.skip("only root can make a file that the unprivileged run cannot read anyway")
    secret = f"s3cret-{random.random()}"
    path = open_dir / "shadow"
    path.write_text(secret)
    os.chmod(path, 0o600)
    program = _program(f"print(open({str(path)!r}).read())")
    out = _run(attack, program)
    assert secret not in json.dumps(out)
    weak = _run(attack, program, disable=("landlock",))
    if secret not in weak["result"]["stdout"]:
        pytest.skip("the jobs' uid needs no CAP_DAC_READ_SEARCH here, so there is nothing to weaken")
    assert secret in weak["result"]["stdout"]


# ---------------------------------------------------------------------------------- network
class _Listeners:
    """A UDP socket and a TCP listener on 127.0.0.1 of the host; ``heard`` collects what arrives."""

    def __init__(self) -> None:
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.heard: list[bytes] = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import select

        while not self.stop:
            ready, _, _ = select.select([self.udp, self.tcp], [], [], 0.1)
            for s in ready:
                if s is self.udp:
                    self.heard.append(self.udp.recv(100))
                else:
                    conn, _ = self.tcp.accept()
                    conn.settimeout(1)
                    try:
                        self.heard.append(b"connect:" + conn.recv(100))
                    except OSError:
                        self.heard.append(b"connect")
                    conn.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.udp.close()
        self.tcp.close()


@pytest.mark.parametrize("how", ["udp_sendto", "tcp_connect", "tcp_fastopen", "listen_without_bind"])
def test_no_network(attack, how):
    net = _Listeners()
    udp_port, tcp_port = net.udp.getsockname()[1], net.tcp.getsockname()[1]
    body = {
        "udp_sendto": f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'udp', ('127.0.0.1', {udp_port}))",
        "tcp_connect": (f"s = socket.create_connection(('127.0.0.1', {tcp_port}), timeout=1)\n"
                        "s.sendall(b'tcp')\ntime.sleep(0.2)"),
        "tcp_fastopen": (f"s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
                         f"s.sendto(b'tfo', socket.MSG_FASTOPEN, ('127.0.0.1', {tcp_port}))\ntime.sleep(0.2)"),
        "listen_without_bind": ("s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\ns.listen(1)\n"
                                "print('LISTENING', s.getsockname()[1], flush=True)\ns.settimeout(1.5)\n"
                                "c, _ = s.accept()\nprint('ACCEPTED', flush=True)"),
    }[how]
    spec = {"limits": {"test_timeout": 4.0}}
    try:
        out = _run(attack, _program(body), **spec)
        time.sleep(0.3)
        assert net.heard == [], out
        assert "LISTENING" not in out["result"]["stdout"]
        if how == "listen_without_bind":  # the proof: connect to the port it reports
            weak = _weak_listen(attack, body, spec)
            assert "ACCEPTED" in weak["result"]["stdout"], weak
        else:
            weak = _run(attack, _program(body), disable=("namespaces", "seccomp", "landlock"), **spec)
            time.sleep(0.3)
            assert net.heard, f"the attack should reach the host without the layers: {weak}"
    finally:
        net.close()


def _weak_listen(attack, body, spec):
    """Run the listener attack without namespaces and seccomp while connecting to every port it
    could have chosen... by reading its report from a side file instead: connect to the ports of
    new listening sockets of 0.0.0.0 as they appear."""
    before = _listening_ports()
    result = {}
    thread = threading.Thread(target=lambda: result.update(_run(attack, _program(body), disable=("namespaces", "seccomp", "landlock"), **spec)))
    thread.start()
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        for port in _listening_ports() - before:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                pass
        time.sleep(0.05)
    thread.join()
    return result


def _listening_ports() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                for line in list(fh)[1:]:
                    parts = line.split()
                    if parts[3] == "0A":  # LISTEN
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


# ---------------------------------------------------------------------------------- processes
def test_no_process_outlives_its_job_or_the_sandbox(attack):
    marker = f"{random.randint(100, 999)}.{random.randint(1000, 9999)}"
    body = ("if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        os.execv('/bin/sleep', ['sleep', '{marker}'])\n"
            "    os._exit(0)\n"
            "time.sleep(0.3)")
    # also blind the harness's own clean-up in this interpreter (kill(-1) before "done")
    program = _program(body) + "os.kill = lambda *args: None\n"
    try:
        out = _run(attack, program, marker=marker)
        assert out["result"]["status"] == "ok"
        assert out["survivors_after_job"] == [], "a process of the job outlived it"
        assert processes_with(marker) == [], "a process of the job outlived the sandbox"
        weak = _run(attack, program, disable=("namespaces", "cgroups"), marker=marker)
        assert weak["survivors_after_job"], f"the daemon should survive without the layers: {weak}"
        assert processes_with(marker), "without the layers the daemon should outlive the sandbox"
    finally:
        for pid in processes_with(marker):
            try:
                os.kill(pid, 9)
            except OSError:
                pass


def test_process_count_is_limited_per_job(attack):
    body = ("n = 0\n"
            "for _ in range(120):\n"
            "    try:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(3)\n"
            "            os._exit(0)\n"
            "        n += 1\n"
            "    except OSError:\n"
            "        break\n"
            "print('FORKED', n, flush=True)")
    spec = {"limits": {"processes": 16, "test_timeout": 8.0}}
    out = _run(attack, _program(body), **spec)
    forked = int(out["result"]["stdout"].split("FORKED")[1].split()[0])
    assert forked < 16, out
    weaken = ("namespaces", "cgroups", "private_uid", "memory_watchdog") if attack.user == "root" else ("namespaces",)
    weak = _run(attack, _program(body), disable=weaken, **spec)
    assert int(weak["result"]["stdout"].split("FORKED")[1].split()[0]) == 120, weak


def test_memory_is_limited_for_the_whole_job(attack):
    body = ("kids = []\n"
            "for _ in range(6):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        block = b'x' * (150 << 20)\n"
            "        time.sleep(1.5)\n"
            "        os._exit(0)\n"
            "    kids.append(pid)\n"
            "ok = sum(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) == 0 for p in kids)\n"
            "print('HELD', ok, flush=True)")
    spec = {"limits": {"memory_bytes": 400 << 20, "test_timeout": 10.0, "job_timeout": 20.0}}
    out = _run(attack, _program(body), **spec)
    text = out["result"]["stdout"]
    held = int(text.split("HELD")[1].split()[0]) if "HELD" in text else 0
    assert held <= 2, f"{held} x 150 MB held at once under a 400 MB job limit: {out}"
    weak = _run(attack, _program(body), disable=("cgroups", "memory_watchdog"), **spec)
    assert "HELD 6" in weak["result"]["stdout"], weak


# ---------------------------------------------------------------------------------- verdicts
FORGE_EVENTS = """
def _forge(key):
    import json, os, struct
    frames = []
    for ev in ({"ev": "loaded"}, {"ev": "start", "id": "assert_0"},
               {"ev": "end", "test_id": "assert_0", "status": "pass", "seconds": 0.0},
               {"ev": "done"}):
        if key is not None:
            ev["k"] = key
        data = json.dumps(ev).encode()
        frames.append(struct.pack(">I", len(data)) + data)
    for fd in range(3, 64):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                os.write(fd, b"".join(frames))
        except OSError:
            pass
    os._exit(0)
"""

STEAL_KEY = """
def _key():
    import gc
    for obj in gc.get_objects():
        if type(obj).__name__ == "function" and obj.__name__ == "send" and obj.__closure__:
            for cell in obj.__closure__:
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                if isinstance(value, str) and len(value) == 16:
                    return value
"""


@pytest.mark.parametrize("how", ["blind_frames", "stolen_key", "patched_verdict"])
def test_forged_verdicts_are_not_repairs(attack, how):
    """A program that fails its test forges a pass: blindly, with the channel's key read from
    the harness's memory, or by patching the harness's verdict code.  The first is refused by
    the channel; the last two fool the candidate's own interpreter (shown by ``result``), and
    :meth:`Sandbox.verify`, whose verdict is taken outside that interpreter, reports them."""
    wrong = "def f(x):\n    return x - 1\n"
    program = {
        "blind_frames": wrong + FORGE_EVENTS + "_forge(None)\n",
        "stolen_key": wrong + FORGE_EVENTS + STEAL_KEY + "_forge(_key())\n",
        "patched_verdict": wrong + "import sys\nsys.modules['_kelp_sandbox_child']._classify = "
                           "lambda exc: ('pass', None, None)\n",
    }[how]
    out = _run(attack, program, verify=True)
    if how == "blind_frames":
        assert out["result"]["outcomes"][0]["status"] != "pass", out
    else:  # the attack works on the in-process verdict...
        assert out["result"]["outcomes"][0]["status"] == "pass", out
    # ...and never on the verified one
    assert not (out["verified"]["status"] == "ok" and all(o["status"] == "pass" for o in out["verified"]["outcomes"]))


def test_event_flood_ends_the_job_and_the_worker_stays_small(attack):
    body = ("import struct\n"
            "frame = json.dumps({'ev': 'noise', 'pad': 'x' * 60000}).encode()\n"
            "data = (struct.pack('>I', len(frame)) + frame) * 64\n"
            "for fd in range(3, 64):\n"
            "    try:\n"
            "        if os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:'):\n"
            "            for _ in range(20):\n"
            "                os.write(fd, data)\n"
            "    except OSError:\n"
            "        pass")
    out = _run(attack, _program(body))
    outcome = out["result"]["outcomes"][0]
    assert outcome["status"] != "pass"
    assert "flood" in (out["result"]["message"] or "") or outcome["error_type"] == "SandboxViolation", out


# ---------------------------------------------------------------------------------- warm pytest sessions
#: A project whose pytest suite runs candidates in a warm session (a parent that set pytest up
#: once and forks a child per candidate); ``-s`` so that what a candidate prints reaches stdout.
WARM_PROJECT = {
    "pyproject.toml": "",
    "pkg/__init__.py": "",
    "pkg/mod.py": "def f(x):\n    return x + 1\n",
    "tests/test_mod.py": "from pkg.mod import f\n\n\ndef test_f():\n    assert f(1) == 2\n",
}
WARM = {"project": WARM_PROJECT, "program_path": "pkg/mod.py", "pytest": ["-s", "tests"],
        "program": WARM_PROJECT["pkg/mod.py"]}
WRONG = "def f(x):\n    return x - 1\n"


def test_a_candidate_cannot_reach_its_warm_parent(attack):
    """The parent that forks every candidate of a warm session is out of a candidate's reach: it
    cannot stop it (Landlock scopes signals to the child's own domain, nested in the parent's)
    nor read its memory (a nested domain, and the parent is not dumpable); whatever it tries,
    the next candidates get their own verdicts."""
    attack_program = HOOK_OFF + (
        "import os, signal\n"
        "parent = os.getppid()\n"
        "try:\n"
        "    os.kill(parent, signal.SIGSTOP)\n"
        "    print('ATTACK-STOPPED-PARENT', flush=True)\n"
        "except BaseException as exc:\n"
        "    print('ATTACK-ERROR kill', type(exc).__name__, flush=True)\n"
        "try:\n"
        "    os.open(f'/proc/{parent}/mem', os.O_RDONLY)\n"
        "    print('ATTACK-OPENED-MEM', flush=True)\n"
        "except BaseException as exc:\n"
        "    print('ATTACK-ERROR mem', type(exc).__name__, flush=True)\n"
        "os.close(os.open('/proc/self/mem', os.O_RDONLY))\n"  # the same call works on itself
        "print('SELF-MEM-OK', flush=True)\n"
        "def f(x):\n    return x + 1\n")
    spec = dict(WARM, runs=[attack_program, WRONG, WARM["program"]], limits={"test_timeout": 2.0})
    out = attack(spec)
    first, wrong, good = out["results"]
    assert "SELF-MEM-OK" in first["stdout"], first
    assert "ATTACK-ERROR kill" in first["stdout"] and "ATTACK-ERROR mem" in first["stdout"], first
    assert [o["status"] for o in wrong["outcomes"]] == ["fail"] and good["outcomes"][0]["status"] == "pass"
    if out["layers"]["details"].get("landlock", "").endswith("scoped"):
        weak = attack(dict(spec, disable=["landlock"]))
        first, wrong, good = weak["results"]
        assert "ATTACK-STOPPED-PARENT" in first["stdout"], f"without Landlock the signal reaches the parent: {weak}"
        # the worker notices a parent that does not answer and runs the next candidates without it
        assert [o["status"] for o in wrong["outcomes"]] == ["fail"] and good["outcomes"][0]["status"] == "pass"


def test_a_warm_session_leaves_no_process_behind(attack):
    marker = f"{random.randint(100, 999)}.{random.randint(1000, 9999)}"
    daemon = HOOK_OFF + (
        "import os\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv('/bin/sleep', ['sleep', '{marker}'])\n"
        "    os._exit(0)\n"
        "import time\ntime.sleep(0.3)\n"
        "def f(x):\n    return x + 1\n")
    spec = dict(WARM, program=daemon, runs=[daemon, WARM["program"]], marker=marker)
    try:
        out = attack(spec)
        assert [r["outcomes"][0]["status"] for r in out["results"]] == ["pass", "pass"], out
        assert out["survivors_after_job"] == [], "a process of the job outlived it"
        assert processes_with(marker) == [], "a process of the job outlived the sandbox"
        weak = attack(dict(spec, disable=["namespaces", "cgroups", "private_uid"]))
        assert weak["survivors_after_job"], f"the daemon should survive without the layers: {weak}"
    finally:
        for pid in processes_with(marker):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
