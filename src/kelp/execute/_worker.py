"""The kelp sandbox worker: a fork server for running untrusted candidate programs.

Started by :class:`kelp.execute.sandbox.Sandbox` as ``python -I -B _worker.py``.  It must stay
self-contained: only the standard library at top level (``-I`` keeps this file's directory off
``sys.path``); the in-child logic lives in ``_child.py`` beside it and is loaded by path, and
``coverage``/``pytest`` are imported lazily from site-packages when a job first needs them.

Protocol (fd 0 in, the original fd 1 out): frames of a 4-byte big-endian length followed by UTF-8
JSON (``_frames.py``).  The worker first sends ``{"ready": true, ...}``, then answers each job frame with exactly
one result frame.  For every job it forks a child (see ``_child.py``) that streams per-test events
back over a pipe, so a hang or crash in test 7 keeps the outcomes of tests 1-6.  The worker
enforces the wall-clock limits (per test, per load, per job), kills the child's whole process
group on expiry and, after every job, every process the job left (``kill(-1)`` from the init of
its PID namespace; without one, the cgroup or the private uid).  Events must carry the spawn's
key and fit the channel's caps.
"""

from __future__ import annotations

import errno
import gc
import importlib.util
import os
import select
import signal
import sys
import time


def _load_sibling(name: str, filename: str):
    """Load ``filename`` beside this file as module ``name`` (once): the worker runs with ``-I``,
    so its own directory is not on ``sys.path``."""
    if name in sys.modules:
        return sys.modules[name]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_frames = _load_sibling("_kelp_sandbox_frames", "_frames.py")
FrameReader, read_frame = _frames.FrameReader, _frames.read_frame
write_frame, write_frames = _frames.write_frame, _frames.write_frames
remove_tree = _load_sibling("_kelp_sandbox_remove", "_remove.py").remove_tree

#: Bytes a job's child may send over its event channel in all, and in one frame: past either the
#: job ends as an error ("event channel flood"), so a candidate cannot grow the worker's memory.
MAX_EVENT_BYTES = 16 * 1024 * 1024
MAX_EVENT_FRAME = 1024 * 1024
#: Private uid/gid range for candidate children when the worker runs as root: base + worker pid,
#: so each worker owns a uid no other process uses (RLIMIT_NPROC is per uid, and the reaper kills
#: every process of that uid).  Chosen above the ranges systemd reserves for containers.
UID_BASE = 0x7E000000
#: Extra wall-clock seconds between the child's own soft timeout (SIGALRM) and the hard kill.
HARD_KILL_GRACE = 0.5
#: Children that said "done" and were killed may finish exiting while the worker goes on; at most
#: this many stay unreaped (see :meth:`Worker.cleanup`).
MAX_PENDING = 4
TEST_STATUSES = ("pass", "fail", "error", "timeout")

#: Standard-library modules imported once in the worker so that children get them for free (a
#: fork copies them): those MBPP-style programs import (counted over all 974 MBPP programs: re,
#: math, collections, heapq, itertools, sys, cmath, operator, array, bisect, copy, datetime) and
#: a few small ones beside them.  The list is short on purpose: every preloaded module makes each
#: fork and exit dearer for every candidate (the full list of common modules cost ~0.16 ms per
#: check), while a candidate that needs another module imports it itself.  ``threading`` in
#: particular stays out (its at-fork handler costs every child ~0.25 ms), and so do ``random``
#: (it reseeds from the OS in every child, ~0.06 ms) and with it ``tempfile`` and ``shutil``.
PRELOAD = (
    "array bisect cmath collections collections.abc copy datetime functools heapq itertools math "
    "operator re string ctypes resource"
).split()


class _Capped:
    """Bytes sink that keeps the first ``limit`` bytes and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit, self.data, self.dropped = limit, bytearray(), 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        self.data += chunk[: max(room, 0)]
        self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        out = self.data.decode("utf-8", "replace")
        if self.dropped:
            out += f"\n[kelp: {self.dropped} more bytes of output dropped]"
        return out


def _describe_exit(status: int) -> tuple[str, str, str]:
    """Map a waitpid status to (outcome status, error_type, message) for the test it killed."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return "error", "ProcessExit", f"the program ended the test process (exit code {code})"
    sig = -code
    name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
    if sig == signal.SIGXCPU:
        return "timeout", "CPULimit", "killed by SIGXCPU: CPU-time limit exceeded"
    if sig == signal.SIGKILL:
        return "error", "Killed", "killed by SIGKILL (likely out of memory or a resource limit)"
    return "error", "Killed", f"killed by {name}"


class Worker:
    """The fork server loop; one instance per worker process."""

    def __init__(self, ident: int, namespaces: list[str], disabled: frozenset[str] = frozenset()) -> None:
        self.home = os.path.realpath(os.getcwd())  # job dirs are real paths (the audit hook's root)
        self.jobs_root = os.path.join(self.home, "jobs")  # the one place jobs may write (Landlock)
        os.mkdir(self.jobs_root, 0o711)
        self.uid = UID_BASE + ident if os.geteuid() == 0 and "private_uid" not in disabled else None
        self.in_pid_namespace = "pid" in namespaces and os.getpid() == 1
        self.proc_pid = int(os.readlink("/proc/self"))  # this process as /proc numbers it
        self.child = self._load_child_module()
        self.layers = self.child._confine.LAYERS
        self.layers.namespaces = list(namespaces)
        self.layers.setup(self.jobs_root, str(ident), disabled)
        #: without a memory cgroup, the job's summed RSS is polled this often (seconds)
        self.watch_memory = None if self.layers.cgroup is not None or "memory_watchdog" in disabled else 0.05
        self.compiled_tests: dict = {}  # (test_id, source) -> code, shared by every child by fork
        # (pytest_args, rootdir) -> (needed paths unreadable to self.uid, Landlock ruleset fd or None)
        self.access: dict[tuple, tuple[bool, int | None]] = {}
        # finished jobs still to clean up: (children killed after "done" and not yet reaped, job dir)
        self.pending: list[tuple[list[int], str]] = []
        self.job_pids: list[int] = []
        self.jobs = 0
        self.dirty = False  # a child ended without reaping its own uid (killed or crashed)

    @staticmethod
    def _load_child_module():
        module = _load_sibling("_kelp_sandbox_child", "_child.py")
        module.write_frames = write_frames
        return module

    # ---------------------------------------------------------------- job handling
    def handle(self, job: dict) -> dict:
        """Run one job frame and return its result frame (never raises)."""
        if job.get("op") == "noop":
            return {"status": "ok"}
        t0 = time.monotonic()
        self.jobs += 1
        # an unguessable name: a job may write under jobs_root, and must not claim the next one's dir
        jobdir = os.path.join(self.jobs_root, f"job{self.jobs}-{os.urandom(6).hex()}")
        self.job_pids = []
        try:
            os.mkdir(jobdir, 0o700)
            if self.uid is not None:
                os.chown(jobdir, self.uid, self.uid)
            if job.get("kind") == "pytest":
                self.child.prepare_pytest(self.home)
            if job.get("coverage"):
                self.child.prepare_coverage(self.home)
            if job["op"] == "collect":
                result = self._collect(job, jobdir)
            else:
                result = self._run(job, jobdir, t0, judged=job["op"] == "verify" and job["kind"] != "pytest")
        except Exception:  # a bug in the harness, not in the candidate
            import traceback
            result = {"status": "crashed", "message": "worker error: " + traceback.format_exc(limit=8)}
        finally:
            self._end_job()
            if self.dirty:
                self.dirty = False
                self.cleanup()
                remove_tree(jobdir)
            else:
                self.pending.append((self.job_pids, jobdir))
        result["seconds"] = time.monotonic() - t0
        return result

    def cleanup(self, block: bool = True) -> None:
        """Reap the children of finished jobs and remove their job dirs.

        The main loop calls this with ``block=False`` after sending a result: children whose exit
        (the kernel's teardown of their memory, on another core) is still running stay queued,
        and so do the dirs, until a later call.  At most :data:`MAX_PENDING` children stay queued
        (each counts against the private uid's process limit until it is reaped)."""
        reaped = set()
        while self.in_pid_namespace:  # orphans of every job end up as this init's children
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            reaped.add(pid)
        still = []
        for i, (pids, jobdir) in enumerate(self.pending):
            wait = block or len(self.pending) - i > MAX_PENDING
            pids[:] = [pid for pid in pids if pid not in reaped and not self._waited(pid, wait)]
            if pids:
                still.append((pids, jobdir))
            else:
                remove_tree(jobdir)
        self.pending = still

    @staticmethod
    def _waited(pid: int, block: bool) -> bool:
        """Reap ``pid``; False if it is still running and ``block`` is false."""
        try:
            return os.waitpid(pid, 0 if block else os.WNOHANG)[0] != 0
        except ChildProcessError:  # reaped already
            return True

    def _end_job(self) -> None:
        """Kill every process the job left: all of the worker's PID namespace but the worker
        (``kill(-1)`` from its init), else the cgroup, else (root) every process of the uid."""
        if self.in_pid_namespace:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif self.layers.cgroup is not None:
            self.layers.cgroup.kill()
        elif self.dirty:
            self._reap()

    def _program_path(self, job: dict, jobdir: str) -> str:
        stem = job["module_names"][0].rsplit(".", 1)[-1]
        path = os.path.join(jobdir, f"{stem}.py")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(job["program"])
        os.chmod(path, 0o644)
        return path

    def _compile(self, job: dict, path: str):
        try:
            return compile(job["program"], path, "exec", dont_inherit=True), None
        except (SyntaxError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]

    def _collect(self, job: dict, jobdir: str) -> dict:
        path = self._program_path(job, jobdir)
        code, _ = self._compile(job, path)
        deadline = time.monotonic() + job["limits"]["job_timeout"]
        out = _Capped(job["limits"]["output_bytes"])
        run = self._spawn(job, code, path, jobdir, [], deadline, out)
        if run["collected"] is None:
            msg = run["message"] or "collection produced no result"
            # the program's own output stays out of the message: it is the candidate's to forge
            return {"status": "error", "message": msg.strip()[:4000], "stdout": out.text()}
        return {"status": "ok", **run["collected"]}

    def _run(self, job: dict, jobdir: str, t0: float, judged: bool = False) -> dict:
        path = self._program_path(job, jobdir)
        tests = [tuple(t) for t in job["tests"]]
        out = _Capped(job["limits"]["output_bytes"])
        code, err = self._compile(job, path)
        if code is None:
            return self._result("syntax_error", err, tests, {}, out, None)
        deadline = t0 + job["limits"]["job_timeout"]
        outcomes: dict[str, dict] = {}
        cov: dict[str, list[int]] | None = {} if job.get("coverage") else None
        status, message, remaining = "ok", None, tests
        while remaining:
            run = self._spawn(job, code, path, jobdir, remaining, deadline, out, judged)
            for o in run["outcomes"]:
                outcomes[o["test_id"]] = o
                if cov is not None and o.get("lines") is not None:
                    cov[o["test_id"]] = o["lines"]
            remaining = [t for t in remaining if t[0] not in outcomes]
            end = run["end"]
            if end in ("load_error", "load_timeout"):
                status, message = ("timeout" if end == "load_timeout" else "load_error"), run["message"]
                break
            if end == "job_timeout":
                status, message = "timeout", run["message"]
                break
            if end != "done":
                message = run["message"]
            if (end == "done" or job["stop_on_first_failure"] or not job["continue_after_timeout"]
                    or not run["outcomes"]):
                break
        return self._result(status, message, tests, outcomes, out, cov) | {"judged": judged}

    @staticmethod
    def _result(status, message, tests, outcomes, out, cov) -> dict:
        wanted = {t[0] for t in tests}  # execution order (dicts keep insertion order)
        ordered = [o for test_id, o in outcomes.items() if test_id in wanted]
        ordered += [{"test_id": t[0], "status": "not_run"} for t in tests if t[0] not in outcomes]
        for o in ordered:
            o.pop("lines", None)
        return {"status": status, "message": message, "outcomes": ordered, "stdout": out.text(),
                "coverage": cov}

    # ---------------------------------------------------------------- one child
    def _spawn(self, job, code, path, jobdir, tests, job_deadline, out, judged=False) -> dict:
        """Fork a child for ``tests`` and watch it.  Returns a dict with ``outcomes`` (those that
        ended or were killed), ``end`` (done | load_error | load_timeout | test_timeout |
        test_lost | job_timeout), ``message`` and ``collected``.  ``judged``: the child is a
        judge and the program runs in a second, fresh interpreter (:meth:`_start_candidate`)."""
        keep, ruleset = self._access(job)
        nonce = os.urandom(8).hex()  # every event must carry it: bytes the program prints blindly are refused
        compiled = self.child.compile_tests(tests, self.compiled_tests) if job["kind"] != "pytest" else {}
        limits = job["limits"]
        self.child._confine.enter_job(jobdir)
        ev_r, ev_w = os.pipe()
        out_r, out_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self.layers.worker_processes = 1 + sum(len(pids) for pids, _ in self.pending) + judged
        self.layers.set_limits(limits)
        judge, server = None, None
        if judged:
            judge, server = self._start_candidate(job, jobdir, out_w, keep, ruleset)
        gc.freeze()  # the child's collections skip the worker's objects, so do not copy their pages
        pid = os.fork()
        if pid == 0:  # ---- child: never returns
            rc = 70
            try:
                os.close(ev_r)
                os.close(out_r)
                self.child.child_main(job, code, path, jobdir, tests, ev_w, out_w, self.uid, keep, compiled,
                                      ruleset, nonce, judge)
                rc = 0
            except BaseException:  # noqa: BLE001 - the child must always leave through _exit
                rc = 71
            finally:
                os._exit(rc)
        self.child._confine.enter_job(self.home)  # the worker's own temp files stay in its home
        os.close(ev_w)
        os.close(out_w)
        for fd in judge or ():
            os.close(fd)
        watch = _ChildWatch(nonce, limits, job_deadline)
        open_fds = [ev_r, out_r]
        try:
            self._watch(watch, ev_r, out_r, open_fds, out)
        finally:
            status = self._kill_child(pid, wait=watch.end != "done")
            if server is not None:
                self._kill_child(server)
        self.dirty = self.dirty or watch.end != "done" or watch.killed_for is not None
        self._drain(out_r if out_r in open_fds else None, out)
        os.close(ev_r)
        os.close(out_r)
        watch.conclude(status, loading_counts=job["op"] == "run")
        return {"outcomes": watch.outcomes, "end": watch.end, "message": watch.message,
                "collected": watch.collected}

    def _access(self, job) -> tuple[bool, object]:
        """``(keeps read-search, Landlock ruleset)`` for the paths ``job`` needs, cached per
        pytest arguments and rootdir."""
        key = (tuple(job.get("pytest_args") or ()), job.get("rootdir"))
        if key not in self.access:
            needed = self.child._confine.needed_paths(job)
            blind = self.uid is not None and self.child._confine.unreadable_to(self.uid, needed)
            self.access[key] = (blind, self.layers.ruleset(needed))
        return self.access[key]

    def _watch(self, watch: "_ChildWatch", ev_r: int, out_r: int, open_fds: list[int], out) -> None:
        """Read the child's events and output until it is done, a deadline passes, the memory
        watchdog fires or the channel is corrupted (``watch.killed_for`` / ``watch.corrupted``)."""
        limits = watch.limits
        next_watch = time.monotonic() + (self.watch_memory or 0)
        while ev_r in open_fds and not watch.corrupted and watch.end != "done":
            now = time.monotonic()
            if self.watch_memory and now >= next_watch:
                next_watch = now + self.watch_memory
                if self.child._confine._kernel.descendants_memory(self.proc_pid) > limits["memory_bytes"]:
                    watch.killed_for = "memory"
                    return
            deadlines = watch.deadlines()
            if self.watch_memory:
                deadlines.append((next_watch, "watch"))
            when, which = min(deadlines)
            if now >= when and which != "watch":
                watch.killed_for = which
                return
            ready, _, _ = select.select(open_fds, [], [], when - now)
            if out_r in ready:
                data = os.read(out_r, 1 << 16)
                if data:
                    out.add(data)
                else:
                    open_fds.remove(out_r)
            if ev_r not in ready:
                continue
            data = os.read(ev_r, 1 << 16)
            if not data:
                open_fds.remove(ev_r)
                return
            watch.feed(data)

    def _start_candidate(self, job, jobdir, out_w, keep, ruleset) -> tuple[tuple[int, int], int]:
        """Start the candidate's process of a judged run: a confined child that executes a fresh
        interpreter running ``_candidate_server.py`` (nothing of the worker's memory, so nothing
        of the tests, survives the exec).  Returns the judge's fds (replies, requests) and its pid."""
        server_path = self.child.prepare_judge()
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(req_w)
                os.close(rep_r)
                self.child._confine.confine(job, jobdir, self.uid, out_w, None, keep, ruleset, (req_r, rep_w))
                os.set_inheritable(req_r, True)
                os.set_inheritable(rep_w, True)
                os.execv(sys.executable, [sys.executable, "-I", "-B", server_path, str(req_r), str(rep_w)])
            finally:
                os._exit(72)
        os.close(req_r)
        os.close(rep_w)
        return (rep_r, req_w), pid

    def _kill_child(self, pid: int, wait: bool = True) -> int:
        """SIGKILL the child's group; return its wait status, or 0 after queueing it for
        :meth:`cleanup` when ``wait`` is false (a child that said "done" and only has to exit)."""
        for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass
        if not wait:
            self.job_pids.append(pid)
            return 0
        _, status = os.waitpid(pid, 0)
        return status

    @staticmethod
    def _drain(fd: int | None, out: _Capped) -> None:
        if fd is None:
            return
        os.set_blocking(fd, False)
        try:
            while True:
                data = os.read(fd, 1 << 16)
                if not data:
                    return
                out.add(data)
        except BlockingIOError:
            return

    def close(self) -> None:
        """Kill what jobs left, reap, remove their dirs and the worker's cgroups."""
        self.dirty = True
        self._end_job()
        self.cleanup()
        if self.layers.cgroup is not None:
            self.layers.cgroup.remove()

    def _reap(self) -> None:
        """As root without a PID namespace: kill every process left under this worker's private
        uid (escaped grandchildren)."""
        if self.uid is None:
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setresgid(self.uid, self.uid, self.uid)
                os.setresuid(self.uid, self.uid, self.uid)
                os.kill(-1, signal.SIGKILL)
            except BaseException:  # noqa: BLE001 - nothing left to kill is the normal case
                pass
            finally:
                os._exit(0)
        os.waitpid(pid, 0)



def _enter_namespaces(kernel, disabled: frozenset[str]) -> tuple[list[str], str | None]:
    """Enter the worker's namespaces and fork: this process stays outside and only waits for the
    new one, the init of the new PID namespace, which returns and serves jobs.  Returns the
    namespaces entered and why none were (None when they were)."""
    if "namespaces" in disabled:
        return [], "disabled"
    try:
        names = kernel.enter_worker_namespaces()
    except OSError as exc:
        return [], str(exc)
    pid = os.fork()
    if pid:  # the outer process: the host's handle on the worker; it ends when the worker does
        for fd in (0, 1):
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    kernel._LIBC.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG: die with the outer one
    return names, None

class _ChildWatch:
    """What the worker knows of one forked child while it runs: the events it sent (checked for
    the spawn's key and the protocol's order), the test running now and its deadline, and, at
    the end, why it stopped (:meth:`conclude`)."""

    def __init__(self, nonce: str, limits: dict, job_deadline: float) -> None:
        self.nonce, self.limits, self.job_deadline = nonce, limits, job_deadline
        self.reader = FrameReader(MAX_EVENT_FRAME, MAX_EVENT_BYTES)
        self.outcomes: list[dict] = []
        self.running: str | None = None
        self.test_deadline: float | None = None
        self.load_deadline = time.monotonic() + limits["test_timeout"] + HARD_KILL_GRACE
        self.loaded = False
        self.end: str | None = None
        self.message: str | None = None
        self.collected: dict | None = None
        self.killed_for: str | None = None  # job | load | test | memory
        self.corrupted = False

    def deadlines(self) -> list[tuple[float, str]]:
        """The deadlines in force now, as ``(monotonic time, name)``."""
        out = [(self.job_deadline, "job")]
        if not self.loaded:
            out.append((self.load_deadline, "load"))
        if self.running is not None:
            out.append((self.test_deadline, "test"))
        return out

    def feed(self, data: bytes) -> None:
        """Take bytes of the event channel; a frame without the key, or out of protocol, marks
        the channel corrupted."""
        reader = self.reader
        for ev in reader.feed(data):
            if ev.pop("k", None) != self.nonce:
                reader.error = "an event without the job's key"
                break
            kind = ev.get("ev")
            if kind == "loaded":
                self.loaded = True
            elif kind == "load_error":
                self.end = "load_timeout" if ev.get("timeout") else "load_error"
                self.message = str(ev.get("message"))
            elif kind == "start" and self.running is None and isinstance(ev.get("id"), str):
                self.running = ev["id"]
                self.test_deadline = time.monotonic() + self.limits["test_timeout"] + HARD_KILL_GRACE
            elif kind == "end" and self.running is not None and ev.get("test_id") == self.running \
                    and ev.get("status") in TEST_STATUSES:
                ev.pop("ev")
                self.outcomes.append(ev)
                self.running = None
            elif kind == "collected":
                self.collected = ev
            elif kind == "done":
                self.end = self.end or "done"
            else:
                reader.error = f"unexpected event {kind!r}"
                break
        self.corrupted = reader.error is not None  # the program wrote into our channel

    def _lost(self, status: str, error_type: str, message: str, seconds: float = 0.0) -> None:
        if self.running is not None:
            self.outcomes.append({"test_id": self.running, "status": status, "error_type": error_type,
                                  "message": message, "seconds": seconds, "lines": None})

    def conclude(self, exit_status: int, loading_counts: bool) -> None:
        """Set ``end`` and ``message`` (and the running test's outcome) from why the child
        stopped; ``exit_status`` is its wait status; ``loading_counts``: a child that died
        before loading is a load error (plain runs), not a lost test."""
        limits, t = self.limits, self.limits["test_timeout"]
        if self.killed_for == "memory":
            self.end = "test_lost"
            self.message = (f"the job's processes together held over {limits['memory_bytes']} bytes "
                            "(summed proportional set size); killed")
            self._lost("error", "MemoryLimit", self.message)
        elif self.killed_for == "job":
            self.end, self.message = "job_timeout", f"job exceeded its {limits['job_timeout']} s wall-clock limit"
            self._lost("timeout", "Timeout", f"exceeded {t} s wall-clock limit (killed)", t)
        elif self.killed_for == "load":
            self.end, self.message = "load_timeout", f"program did not finish loading within {t} s (wall clock)"
            self._lost("timeout", "Timeout", f"exceeded {t} s wall-clock limit (killed)", t)
        elif self.killed_for == "test":
            self.end, self.message = "test_timeout", f"test {self.running!r} exceeded {t} s (wall clock)"
            self._lost("timeout", "Timeout", f"exceeded {t} s wall-clock limit (killed)", t)
        elif self.corrupted:
            self.end, self.message = "test_lost", "the program wrote into the sandbox's event channel"
            self._lost("error", "SandboxViolation", self.message)
        elif self.end is None:  # the child vanished without saying "done"
            ostatus, etype, why = _describe_exit(exit_status)
            if not self.loaded and loading_counts:
                self.end, self.message = "load_error", f"the program ended the process while loading: {why}"
            else:
                self.end, self.message = "test_lost", why
                self._lost(ostatus, etype, why)


def main() -> None:
    """Entry point: enter the namespaces, set up descriptors, preload modules, then serve jobs
    until stdin closes.  ``KELP_SANDBOX_DISABLE`` (comma-separated layer names: namespaces,
    cgroups, seccomp, landlock, private_uid) turns layers off, for tests that show what each
    layer stops."""
    ident = os.getpid()  # unique while this worker lives: names its uid and cgroups
    disabled = frozenset(filter(None, os.environ.pop("KELP_SANDBOX_DISABLE", "").split(",")))
    kernel = _load_sibling("_kelp_sandbox_kernel", "_kernel.py")
    namespaces, ns_error = _enter_namespaces(kernel, disabled)
    proto_out = os.dup(1)
    os.dup2(2, 1)  # stray prints of the worker itself go to its log, never into the protocol
    sys.dont_write_bytecode = True
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional module only loses a preload
            pass
    worker = Worker(ident, namespaces, disabled)
    if ns_error:
        worker.layers.errors["namespaces"] = ns_error
    worker.child._confine.set_child_environment()
    worker.child._confine.enter_job(worker.home)
    worker.child._confine.install_audit_hook()  # dormant here; each child arms it
    base = worker.child._confine.needed_paths({})
    read_search = worker.uid is not None and worker.child._confine.unreadable_to(worker.uid, base)
    write_frame(proto_out, {"ready": True, "pid": ident, "uid": worker.uid,
                            "layers": worker.layers.active(), "errors": worker.layers.errors,
                            "details": worker.layers.details(), "namespaces": namespaces,
                            "keeps_read_search": read_search})
    try:
        serve(worker, proto_out)
    finally:
        worker.close()


def serve(worker: Worker, proto_out: int) -> None:
    """Answer job frames from fd 0 on ``proto_out`` until stdin closes or the host goes away."""
    while True:
        try:
            job = read_frame(0)
        except (OSError, ValueError):
            return
        if job is None:
            return
        result = worker.handle(job)
        try:
            write_frame(proto_out, result)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                return
            raise
        worker.cleanup(block=False)


if __name__ == "__main__":
    main()

