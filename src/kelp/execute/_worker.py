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

Pytest jobs run in a warm session where the end-of-job kill can spare one (a PID namespace or a
private uid): the worker forks a session parent (``_child_pytest.zygote_main``), confined like a
job's child but never running the program, that configures pytest and collects once per
(arguments, rootdir, program); per job the worker hands it the job and the event and output
pipes over a unix socket (``SCM_RIGHTS``), the parent forks the job's child and reports its
pid, and once that child is gone it kills every process the job left (``kill(-1)`` as the
job's uid, or within the namespace) before it reports the child's exit.  A parent that dies or
does not answer is killed with everything of its jobs, and the job runs in a fresh child.
"""

from __future__ import annotations

import errno
import gc
import importlib.util
import json
import os
import select
import signal
import socket
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
#: The same for a pytest test: pytest reports after the test's phases (outside the alarm), and a
#: deep traceback takes a moment to format.
PYTEST_KILL_GRACE = 2.0
#: Seconds the worker waits for a warm session's parent to report that a killed child is gone.
ZYGOTE_REPLY_TIMEOUT = 5.0
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
        #: a warm pytest session's parent (at most one), and the session keys that cannot be warm
        #: (the program is imported while pytest configures itself) or fail to set up
        self.zygote: _Zygote | None = None
        self.cold_keys: set[str] = set()
        self.setup_errors: dict[str, str] = {}
        #: the end-of-job kill can spare a warm parent: a PID namespace (its kill(-1) reaches the
        #: namespace but init) or a private uid (its kill(-1) reaches that uid only)
        self.warm_ok = self.in_pid_namespace or self.uid is not None
        self.warm: _Zygote | None = None  # the warm parent the current job ran in

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
        self.warm = None
        try:
            os.mkdir(jobdir, 0o700)
            if self.uid is not None:
                os.chown(jobdir, self.uid, self.uid)
            if job.get("kind") == "pytest":
                self.child.prepare_pytest(self.home)
                try:
                    self.child.prepare_coverage(self.home)  # before any warm parent forks
                except ImportError:  # without coverage.py only coverage runs fail
                    pass
            elif self.zygote is not None:
                self._drop_zygote()  # the end-of-job kill below would reach it
            if job.get("coverage"):
                self.child.prepare_coverage(self.home)
            if job["op"] == "collect":
                result = self._collect(job, jobdir, t0)
            else:
                result = self._run(job, jobdir, t0, judged=job["op"] == "verify" and job["kind"] != "pytest")
        except Exception:  # a bug in the harness, not in the candidate
            import traceback
            result = {"status": "crashed", "message": "worker error: " + traceback.format_exc(limit=8)}
        finally:
            if self.warm is not None and self.warm is self.zygote and not self.dirty:
                # the warm parent kills what the job left once its child is gone; the dir goes then
                self.warm.pending_dirs.append(jobdir)
            else:
                if self.zygote is not None and self.dirty:
                    self._drop_zygote()
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
        if self.zygote is not None:
            if self.zygote.pid in reaped:
                self.zygote.reaped = True
            self.zygote.poll()
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
        """Where the program is, for its code objects and coverage: a pytest suite's real file
        (the tests import it from there; its text is served from memory), else a file written in
        the job dir."""
        if job.get("kind") == "pytest" and job.get("program_path"):
            return os.path.realpath(job["program_path"])
        stem = job["module_names"][0].rsplit(".", 1)[-1]
        path = os.path.join(jobdir, f"{stem}.py")
        if job.get("kind") != "pytest":  # a pytest program that does not exist is served by name
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(job["program"])
            os.chmod(path, 0o644)
        return path

    def _compile(self, job: dict, path: str):
        try:
            return compile(job["program"], path, "exec", dont_inherit=True), None
        except (SyntaxError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]

    def _collect(self, job: dict, jobdir: str, t0: float) -> dict:
        path = self._program_path(job, jobdir)
        code, _ = self._compile(job, path)
        deadline = t0 + job["limits"]["job_timeout"]
        out = _Capped(job["limits"]["output_bytes"])
        zygote = self._warm_session(job, deadline)
        if isinstance(zygote, str):
            return {"status": "error", "message": zygote}
        run = self._spawn_pytest(job, code, path, jobdir, [], deadline, out, zygote)
        if run["collected"] is None and run["program_failed"]:  # collect against a stand-in
            stub = dict(job, stub=True, stub_reason=run["message"])
            run = self._spawn_pytest(stub, code, path, jobdir, [], deadline, out, self.warm)
        if run["collected"] is None:
            msg = run["message"] or "collection produced no result"
            if run["end"] == "job_timeout":
                msg = (f"pytest did not finish collecting within {job['limits']['job_timeout']} s "
                       "(a conftest.py or test module that hangs at import?)")
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
        pytest_job = job["kind"] == "pytest"
        zygote = self._warm_session(job, deadline) if pytest_job else None
        if isinstance(zygote, str):
            timed_out = zygote.startswith("pytest did not finish")
            return self._result("timeout" if timed_out else "load_error", zygote, tests, {}, out, None)
        outcomes: dict[str, dict] = {}
        cov: dict[str, list[int]] | None = {} if job.get("coverage") else None
        status, message, remaining = "ok", None, tests
        served: list[str] | None = []  # None once a child ended without saying where it was imported
        elsewhere: dict[str, str] = {}
        while remaining:
            if pytest_job:
                run = self._spawn_pytest(job, code, path, jobdir, remaining, deadline, out, zygote)
                zygote = self.warm
            else:
                run = self._spawn(job, code, path, jobdir, remaining, deadline, out, judged)
            for o in run["outcomes"]:
                outcomes[o["test_id"]] = o
                if cov is not None and o.get("lines") is not None:
                    cov[o["test_id"]] = o["lines"]
            remaining = [t for t in remaining if t[0] not in outcomes]
            if run.get("info") is None or served is None:
                served = None
            else:
                served += run["info"].get("served") or []
                elsewhere |= run["info"].get("elsewhere") or {}
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
        if pytest_job and status == "ok" and served == [] and tests and not remaining:
            status, message = "load_error", _never_imported(job, path, elsewhere)
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
    def _spawn(self, job, code, path, jobdir, tests, job_deadline, out, judged=False, zygote=None) -> dict | None:
        """Fork a child for ``tests`` and watch it.  Returns a dict with ``outcomes`` (those that
        ended or were killed), ``end`` (done | load_error | load_timeout | test_timeout |
        test_lost | job_timeout), ``message``, ``collected``, ``program_failed`` (the program
        itself did not load) and ``info`` (what the "done" event said, None without one).
        ``judged``: the child is a judge and the program runs in a second, fresh interpreter
        (:meth:`_start_candidate`).  ``zygote``: the child is forked by that warm pytest
        session's parent instead; None is returned when that parent is gone (it is dropped)."""
        keep, ruleset = self._access(job)
        nonce = os.urandom(8).hex()  # every event must carry it: bytes the program prints blindly are refused
        compiled = self.child.compile_tests(tests, self.compiled_tests) if job["kind"] != "pytest" else {}
        limits = job["limits"]
        ev_r, ev_w = os.pipe()
        out_r, out_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self.layers.worker_processes = (1 + sum(len(pids) for pids, _ in self.pending) + judged
                                        + (zygote is not None))
        self.layers.set_limits(limits, zygote.resident() if zygote is not None else 0)
        judge, server = None, None
        if zygote is not None:
            message = {"job": dict(job, tests=[list(t) for t in tests]), "jobdir": jobdir, "nonce": nonce,
                       "kill_all": self.in_pid_namespace}
            try:
                pid = zygote.start(message, (ev_w, out_w), job_deadline)
            except _ZygoteLost:
                for fd in (ev_r, ev_w, out_r, out_w):
                    os.close(fd)
                self._drop_zygote()
                return None
        else:
            self.child._confine.enter_job(jobdir)
            if judged:
                judge, server = self._start_candidate(job, jobdir, out_w, keep, ruleset)
            gc.freeze()  # the child's collections skip the worker's objects, so do not copy their pages
            pid = os.fork()
            if pid == 0:  # ---- child: never returns
                rc = 70
                try:
                    os.close(ev_r)
                    os.close(out_r)
                    if self.zygote is not None:
                        self.zygote.sock.close()
                    self.child.child_main(job, code, path, jobdir, tests, ev_w, out_w, self.uid, keep,
                                          compiled, ruleset, nonce, judge)
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
        watch = _ChildWatch(nonce, limits, job_deadline, pytest=job["kind"] == "pytest")
        open_fds = [ev_r, out_r]
        try:
            self._watch(watch, ev_r, out_r, open_fds, out, zygote)
        finally:
            if zygote is not None:
                status = self._end_warm_child(zygote, pid, done=watch.end == "done")
            else:
                status = self._kill_child(pid, wait=watch.end != "done")
            if server is not None:
                self._kill_child(server)
        if zygote is None:
            self.dirty = self.dirty or watch.end != "done" or watch.killed_for is not None
        self._drain(out_r if out_r in open_fds else None, out)
        os.close(ev_r)
        os.close(out_r)
        watch.conclude(status, loading_counts=job["op"] == "run")
        return {"outcomes": watch.outcomes, "end": watch.end, "message": watch.message,
                "collected": watch.collected, "program_failed": watch.program_failed, "info": watch.info}

    def _spawn_pytest(self, job, code, path, jobdir, tests, job_deadline, out, zygote) -> dict:
        """:meth:`_spawn` for a pytest job: in ``zygote`` (a warm session's parent) when there is
        one, else, or when it is gone, in a child that runs a whole session.  ``self.warm`` says
        which parent served it."""
        if zygote is not None:
            self.warm = zygote
            run = self._spawn(job, code, path, jobdir, tests, job_deadline, out, zygote=zygote)
            if run is not None:
                return run
            self.warm = None
        return self._spawn(job, code, path, jobdir, tests, job_deadline, out)

    def _end_warm_child(self, zygote: "_Zygote", pid: int, done: bool) -> int:
        """Kill a warm parent's child; its wait status (0 for a child that said "done": its exit
        is collected before the parent's next job).  A parent that does not answer is dropped,
        and the job counts as dirty (everything is killed after it)."""
        for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass
        if done:
            return 0
        try:
            return zygote.wait_exit(pid, time.monotonic() + ZYGOTE_REPLY_TIMEOUT)
        except _ZygoteLost:
            self._drop_zygote()
            self.dirty = True
            return int(signal.SIGKILL)

    # ---------------------------------------------------------------- warm pytest sessions
    def _warm_session(self, job: dict, deadline: float) -> "_Zygote | str | None":
        """The warm session's parent for ``job`` (started if needed); None when the session
        cannot be warm here; a message (str) when pytest cannot set the session up (its own
        error report, or that it did not finish by ``deadline``)."""
        if not self.warm_ok:
            return None
        key = json.dumps([job.get(k) for k in ("pytest_args", "rootdir", "program_path", "module_names",
                                               "invocation_dir", "import_name", "import_base", "limits")],
                         sort_keys=True)
        if self.zygote is not None and self.zygote.key == key and self.zygote.alive():
            return self.zygote
        if self.zygote is not None:
            self._drop_zygote()
        if key in self.setup_errors:
            return self.setup_errors[key]
        if key in self.cold_keys:
            return None
        zygote, answer = self._start_zygote(job, key, deadline)
        if zygote is None:
            if answer.get("mode") == "cold":
                self.cold_keys.add(key)
                return None
            if answer.get("mode") == "error":
                self.setup_errors[key] = answer["message"]
            return answer["message"]
        self.zygote = zygote
        return zygote

    def _start_zygote(self, job: dict, key: str, deadline: float) -> tuple["_Zygote | None", dict]:
        """Fork a warm session's parent, confined like a job's child (without the CPU limit and
        the audit hook, and not dumpable), and wait for its report of the session's set-up."""
        keep, ruleset = self._access(job)
        session = os.path.join(self.jobs_root, f"session-{os.urandom(6).hex()}")
        os.mkdir(session, 0o700)
        if self.uid is not None:
            os.chown(session, self.uid, self.uid)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.layers.worker_processes = 1 + sum(len(pids) for pids, _ in self.pending)
        self.layers.set_limits(job["limits"])
        self.child._confine.enter_job(session)
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # ---- the warm parent: never returns
            rc = 70
            try:
                ours.close()
                null = os.open(os.devnull, os.O_WRONLY)
                keep_fds = (theirs.fileno(),) + ((ruleset,) if ruleset is not None else ())
                self.child._confine.confine(job, session, self.uid, null, None, keep, ruleset, keep_fds,
                                            cpu_limit=False, extra_processes=1)
                self.child._confine._PRCTL(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no job may read its memory
                signal.signal(signal.SIGALRM, self.child._on_alarm)
                sys.modules["_kelp_sandbox_pytest"].zygote_main(job, theirs, self.jobs_root, self.uid, ruleset)
                rc = 0
            except BaseException:  # noqa: BLE001 - the parent must always leave through _exit
                rc = 71
            finally:
                os._exit(rc)
        self.child._confine.enter_job(self.home)
        theirs.close()
        zygote = _Zygote(key, pid, ours, session)
        try:
            hello = zygote.read(deadline)
        except _ZygoteLost as exc:
            zygote.kill()
            remove_tree(session)
            if exc.timed_out:
                return None, {"mode": "error_timeout", "message": (
                    f"pytest did not finish loading the tests within {job['limits']['job_timeout']} s "
                    "(a conftest.py or test module that hangs at import?)")}
            return None, {"mode": "cold", "message": "the warm session's parent died while loading"}
        if hello.get("mode") != "warm":
            zygote.kill()
            remove_tree(session)
            return None, hello
        zygote.proc_pid = hello.get("proc_pid")
        return zygote, hello

    def _drop_zygote(self) -> None:
        """Kill the warm parent and everything its jobs left, and remove their dirs."""
        zygote, self.zygote = self.zygote, None
        if zygote is None:
            return
        zygote.kill()
        self.dirty = True
        self._end_job()
        self.dirty = False
        self.cleanup()
        for d in zygote.pending_dirs + [zygote.dir]:
            remove_tree(d)

    def _access(self, job) -> tuple[bool, object]:
        """``(keeps read-search, Landlock ruleset)`` for the paths ``job`` needs, cached per
        pytest arguments, rootdir, program and invocation directory."""
        key = (tuple(job.get("pytest_args") or ()), job.get("rootdir"), job.get("program_path"),
               job.get("invocation_dir"), job.get("import_base"))
        if key not in self.access:
            needed = self.child._confine.needed_paths(job)
            blind = self.uid is not None and self.child._confine.unreadable_to(self.uid, needed)
            self.access[key] = (blind, self.layers.ruleset(needed))
        return self.access[key]

    def _watch(self, watch: "_ChildWatch", ev_r: int, out_r: int, open_fds: list[int], out,
               zygote: "_Zygote | None" = None) -> None:
        """Read the child's events and output until it is done, a deadline passes, the memory
        watchdog fires or the channel is corrupted (``watch.killed_for`` / ``watch.corrupted``)."""
        limits = watch.limits
        next_watch = time.monotonic() + (self.watch_memory or 0)
        while ev_r in open_fds and not watch.corrupted and watch.end != "done":
            now = time.monotonic()
            if self.watch_memory and now >= next_watch:
                next_watch = now + self.watch_memory
                kernel = self.child._confine._kernel
                used = kernel.descendants_memory(self.proc_pid)
                if zygote is not None and zygote.proc_pid:  # the warm parent is not the job's
                    used -= kernel._pss(zygote.proc_pid)
                if used > limits["memory_bytes"]:
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
        self._drop_zygote()
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

class _ZygoteLost(Exception):
    """A warm session's parent did not answer (``timed_out``) or is gone."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class _Zygote:
    """The worker's handle on a warm pytest session's parent (``_child_pytest.zygote_main``): its
    pid, the socket to it, the session ``key`` it was set up for, the job dirs to remove once it
    reports that their child is gone (after its ``kill(-1)``), and the child whose exit report is
    still to come."""

    def __init__(self, key: str, pid: int, sock: socket.socket, directory: str) -> None:
        self.key, self.pid, self.sock, self.dir = key, pid, sock, directory
        self.reader = FrameReader()
        self.frames: list[dict] = []
        self.outstanding: int | None = None
        self.pending_dirs: list[str] = []
        self.proc_pid: int | None = None
        self.reaped = False
        self.closed = False

    def alive(self) -> bool:
        return not (self.closed or self.reaped)

    def resident(self) -> int:
        """Resident memory of the parent itself in bytes (0 if unknown)."""
        if not self.proc_pid:
            return 0
        try:
            with open(f"/proc/{self.proc_pid}/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def read(self, deadline: float | None) -> dict:
        """The next frame from the parent; :class:`_ZygoteLost` past ``deadline`` (None: only
        what is already there) or when it is gone."""
        fd = self.sock.fileno()
        while not self.frames:
            left = None if deadline is None else deadline - time.monotonic()
            if deadline is None:
                ready, _, _ = select.select([fd], [], [], 0)
                if not ready:
                    raise _ZygoteLost("nothing to read", timed_out=True)
            elif left <= 0:
                raise _ZygoteLost("no answer in time", timed_out=True)
            else:
                ready, _, _ = select.select([fd], [], [], left)
                if not ready:
                    continue
            try:
                data = os.read(fd, 1 << 16)
            except OSError as exc:
                raise _ZygoteLost(str(exc)) from None
            if not data:
                self.closed = True
                raise _ZygoteLost("the warm session's parent is gone")
            self.frames += self.reader.feed(data)
            if self.reader.error:
                self.closed = True
                raise _ZygoteLost(self.reader.error)
        return self.frames.pop(0)

    def wait_exit(self, pid: int, deadline: float) -> int:
        """The wait status of child ``pid``, once the parent reports it gone."""
        while True:
            frame = self.read(deadline)
            if frame.get("exit") == pid:
                self.outstanding = None
                for d in self.pending_dirs:
                    remove_tree(d)
                self.pending_dirs = []
                return int(frame.get("status") or 0)

    def poll(self) -> None:
        """Take an exit report that has arrived, without waiting."""
        if self.outstanding is None or not self.alive():
            return
        try:
            self.wait_exit(self.outstanding, None)
        except _ZygoteLost:
            pass

    def start(self, message: dict, fds: tuple[int, int], deadline: float) -> int:
        """Have the parent fork a child for ``message`` (``job``, ``jobdir``, ``nonce``) with
        ``fds`` (its event and output pipes); returns the child's pid."""
        if not self.alive():
            raise _ZygoteLost("the warm session's parent is gone")
        if self.outstanding is not None:
            self.wait_exit(self.outstanding, time.monotonic() + ZYGOTE_REPLY_TIMEOUT)
        data = json.dumps(message, separators=(",", ":")).encode("utf-8")
        try:
            socket.send_fds(self.sock, [b"J"], list(fds))
            self.sock.settimeout(max(deadline - time.monotonic(), 0.1))
            self.sock.sendall(len(data).to_bytes(4, "big") + data)
            self.sock.setblocking(True)
        except OSError as exc:
            self.closed = True
            raise _ZygoteLost(str(exc)) from None
        frame = self.read(time.monotonic() + ZYGOTE_REPLY_TIMEOUT)
        if not isinstance(frame.get("pid"), int):
            self.closed = True
            raise _ZygoteLost(f"unexpected answer {frame!r}")
        self.outstanding = frame["pid"]
        return frame["pid"]

    def kill(self) -> None:
        """Kill the parent (its children die with it) and reap it."""
        self.closed = True
        try:
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        if not self.reaped:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.reaped = True


def _never_imported(job: dict, path: str, elsewhere: dict[str, str]) -> str:
    """The message of a pytest run in which no test imported the program's file."""
    name = job.get("import_name") or job["module_names"][0]
    if elsewhere:
        other_name, other = next(iter(elsewhere.items()))
        return f"the tests never import {path}: they import {other_name} from {other}"
    return f"the tests never import {path} (as {name} or under any other name)"


class _ChildWatch:
    """What the worker knows of one forked child while it runs: the events it sent (checked for
    the spawn's key and the protocol's order), the test running now and its deadline, and, at
    the end, why it stopped (:meth:`conclude`).  In a pytest job (``pytest``) the load phase is
    collection, bounded by the job's deadline only, while each import of the program (events
    "import" .. "imported") is bounded like a test."""

    def __init__(self, nonce: str, limits: dict, job_deadline: float, pytest: bool = False) -> None:
        self.nonce, self.limits, self.job_deadline = nonce, limits, job_deadline
        self.reader = FrameReader(MAX_EVENT_FRAME, MAX_EVENT_BYTES)
        self.outcomes: list[dict] = []
        self.running: str | None = None
        self.test_deadline: float | None = None
        self.grace = PYTEST_KILL_GRACE if pytest else HARD_KILL_GRACE
        self.load_deadline = job_deadline if pytest else time.monotonic() + limits["test_timeout"] + HARD_KILL_GRACE
        self.import_deadline: float | None = None
        self.loaded = False
        self.end: str | None = None
        self.message: str | None = None
        self.collected: dict | None = None
        self.program_failed = False
        self.info: dict | None = None
        self.killed_for: str | None = None  # job | load | import | test | memory
        self.corrupted = False

    def deadlines(self) -> list[tuple[float, str]]:
        """The deadlines in force now, as ``(monotonic time, name)``."""
        out = [(self.job_deadline, "job")]
        if not self.loaded:
            out.append((self.load_deadline, "load"))
        if self.running is not None:
            out.append((self.test_deadline, "test"))
        if self.import_deadline is not None:
            out.append((self.import_deadline, "import"))
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
                self.program_failed = bool(ev.get("program"))
            elif kind == "import":
                self.import_deadline = time.monotonic() + self.limits["test_timeout"] + HARD_KILL_GRACE
            elif kind == "imported":
                self.import_deadline = None
            elif kind == "start" and self.running is None and isinstance(ev.get("id"), str):
                self.running = ev["id"]
                self.test_deadline = time.monotonic() + self.limits["test_timeout"] + self.grace
            elif kind == "end" and self.running is not None and ev.get("test_id") == self.running \
                    and ev.get("status") in TEST_STATUSES:
                ev.pop("ev")
                self.outcomes.append(ev)
                self.running = None
            elif kind == "collected":
                self.collected = ev
            elif kind == "done":
                self.end = self.end or "done"
                served, elsewhere = ev.get("served"), ev.get("elsewhere")
                if isinstance(served, list) and isinstance(elsewhere, dict):
                    self.info = {"served": [str(x) for x in served],
                                 "elsewhere": {str(k): str(v) for k, v in elsewhere.items()}}
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
        elif self.killed_for == "load" or (self.killed_for == "import" and self.running is None):
            self.end, self.message = "load_timeout", f"program did not finish loading within {t} s (wall clock)"
            self._lost("timeout", "Timeout", f"exceeded {t} s wall-clock limit (killed)", t)
        elif self.killed_for == "import":  # the program was first imported inside this test
            self.end, self.message = "test_timeout", f"test {self.running!r} exceeded {t} s (wall clock)"
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

