"""The sandbox: a pool of pre-started fork-server workers that run untrusted candidate programs.

Every part of kelp runs code only through :class:`Sandbox`.  Each worker is
``python -I -B _worker.py`` in its own process group, in a fresh temp dir, with a scrubbed
environment, inside its own network and PID namespaces, cgroups and seccomp filter; per job it
forks a child confined by the kernel (private uid or no capabilities, no_new_privs, Landlock,
rlimits, wall-clock kill; see ``_kernel.py``, ``_confine.py`` and docs/sandbox.md).
:meth:`Sandbox.verify` decides verdicts outside the candidate's interpreter.  The host side
guards each worker too: a worker that
does not answer within the job's limit plus a grace period, or dies, is killed and restarted,
and the job gets status ``"timeout"`` / ``"crashed"``.  The sandbox never hangs and never
raises because of what a candidate does; it raises :class:`~kelp.execute.errors.ExecuteError`
subclasses only for caller mistakes.

The fork-server design follows the process isolation of the human-eval harness (Chen et al. 2021)
but keeps interpreters warm, so a candidate costs one ``fork`` rather than an interpreter start.
"""

from __future__ import annotations

import functools
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from kelp.execute import _kernel
from kelp.execute._frames import read_frame, write_frame
from kelp.execute.errors import CollectError, SandboxError, SuiteError
from kelp.execute.results import Job, Limits, RunResult, TestOutcome
from kelp.execute.suites import TestCase, TestSuite, import_name_for

WORKER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_worker.py")
#: Seconds a worker gets beyond ``Limits.job_timeout`` before the host kills it (covers the
#: first pytest/coverage warm-up in a fresh worker).
HOST_GRACE = 15.0
STARTUP_TIMEOUT = 60.0
#: Layers a :class:`Sandbox` can be told to leave off (``disable``); see docs/sandbox.md.
LAYER_NAMES = ("namespaces", "cgroups", "memory_watchdog", "seccomp", "landlock", "private_uid")


class _WorkerProcess:
    """One worker process and its temp dir; restartable.  Not thread-safe (one job at a time)."""

    def __init__(self, index: int, disable: tuple[str, ...] = ()) -> None:
        self.index = index
        self.disable = disable
        self.proc: subprocess.Popen | None = None
        self.dir: str | None = None
        self.ready = False
        self.hello: dict = {}
        self.start()

    def start(self) -> None:
        self.dir = tempfile.mkdtemp(prefix=f"kelp-sandbox-{self.index}-")
        os.chmod(self.dir, 0o711)  # children (another uid) must reach their job dir inside
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "HOME": self.dir,
               "KELP_SANDBOX_DISABLE": ",".join(self.disable)}
        with open(os.path.join(self.dir, "worker.log"), "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-B", WORKER_PATH], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, cwd=self.dir, env=env,
                start_new_session=True, close_fds=True)
        self.ready = False

    def request(self, frame: dict, timeout: float) -> dict:
        """Send one job frame and wait for its answer; TimeoutError / EOFError on failure."""
        if not self.ready:
            hello = read_frame(self.proc.stdout.fileno(), time.monotonic() + STARTUP_TIMEOUT)
            if not isinstance(hello, dict) or not hello.get("ready"):
                raise EOFError("the worker did not start")
            self.ready, self.hello = True, hello
        write_frame(self.proc.stdin.fileno(), frame)
        answer = read_frame(self.proc.stdout.fileno(), time.monotonic() + timeout)
        if answer is None:
            raise EOFError("the worker closed its pipe")
        return answer

    def log_tail(self, limit: int = 1500) -> str:
        try:
            with open(os.path.join(self.dir, "worker.log"), "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - limit))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """Kill the worker's process group (its children die with it via PDEATHSIG)."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc.wait()
            _kernel.remove_cgroups(str(self.proc.pid))  # named after the worker's pid
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> None:
        self.kill()
        self.start()


@functools.lru_cache(maxsize=64)
def _import_location(program_path: str) -> tuple[str | None, str | None]:
    """``(import name, package base)`` of a pytest suite's program (:func:`import_name_for`);
    the base is None for a file outside a package (nothing to put on ``sys.path``)."""
    name, base = import_name_for(program_path)
    return name, (None if base == os.path.dirname(os.path.abspath(program_path)) else base)


def _kill_all(workers: list[_WorkerProcess]) -> None:
    for w in workers:
        w.kill()


class Sandbox:
    """A persistent pool of ``workers`` sandbox worker processes (default ``os.cpu_count()``).

    Thread-safe: :meth:`run` may be called from many threads, each call takes one idle worker.
    Use as a context manager or call :meth:`close`.  Raises :class:`SandboxError` if used after
    close, :class:`SuiteError` for malformed arguments.

    ``disable`` turns kernel layers off (any of :data:`LAYER_NAMES`); it only weakens the
    sandbox and exists so that tests can show what each layer stops.
    """

    def __init__(self, workers: int | None = None, limits: Limits = Limits(),
                 disable: tuple[str, ...] = ()) -> None:
        n = workers if workers is not None else (os.cpu_count() or 1)
        if not isinstance(n, int) or n < 1:
            raise SuiteError(f"workers must be a positive int, got {workers!r}")
        if not isinstance(limits, Limits):
            raise SuiteError("limits must be a kelp.execute.Limits")
        unknown = set(disable) - set(LAYER_NAMES)
        if unknown:
            raise SuiteError(f"unknown sandbox layers {sorted(unknown)}; known: {', '.join(LAYER_NAMES)}")
        self.limits = limits
        self._workers = [_WorkerProcess(i, tuple(disable)) for i in range(n)]
        self._idle: queue.Queue[_WorkerProcess] = queue.Queue()
        for w in self._workers:
            self._idle.put(w)
        self._closed = False
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _kill_all, self._workers)
        #: uncollected pytest suite -> its collection (by the first program run with it)
        self._collected: dict[TestSuite, TestSuite] = {}

    @property
    def size(self) -> int:
        """Number of worker processes."""
        return len(self._workers)

    def layers(self) -> dict:
        """What a worker reported at start-up: ``layers`` (layer name -> active), ``errors``
        (layer name -> why it is missing), ``details`` (layer name -> what is in force),
        ``namespaces`` (entered), ``uid`` (the jobs' private uid, None when not root),
        ``keeps_read_search`` (the jobs keep CAP_DAC_READ_SEARCH because the interpreter is
        unreadable to that uid).  Starts a worker if none has answered yet."""
        worker = self._idle.get()
        try:
            if not worker.ready:
                worker.request({"op": "noop"}, STARTUP_TIMEOUT)
            keys = ("layers", "errors", "details", "namespaces", "uid", "keeps_read_search")
            return {k: worker.hello.get(k) for k in keys}
        finally:
            self._idle.put(worker)

    # ------------------------------------------------------------------ public API
    def run(self, program: str, suite: TestSuite, *, order: list[str] | None = None,
            stop_on_first_failure: bool = False, coverage: bool = False,
            continue_after_timeout: bool = False) -> RunResult:
        """Run ``program`` (Python source) against ``suite`` and return its :class:`RunResult`.

        ``order`` runs the named tests first, then the rest in suite order.
        ``stop_on_first_failure`` marks every test after the first non-pass ``not_run``.
        ``coverage`` records per-test executed lines of the program (slower).
        ``continue_after_timeout`` restarts a fresh child after a test is killed (timeout or
        crash) so the remaining tests still get outcomes.  A pytest suite with no tests is
        collected first (:meth:`collect`), once: later runs with the same suite reuse the node
        ids collected with the first program."""
        if not isinstance(program, str):
            raise SuiteError(f"program must be source text (str), got {type(program).__name__}")
        if not isinstance(suite, TestSuite):
            raise SuiteError(f"suite must be a TestSuite, got {type(suite).__name__}")
        if suite.kind == "pytest" and not suite.tests:
            collected = self._collected.get(suite)
            if collected is None:
                collected = self._collected[suite] = self.collect(program, suite)
            suite = collected
        tests = suite.ordered(order)
        frame = self._frame("run", program, suite)
        frame.update(tests=[[t.id, t.source] for t in tests], stop_on_first_failure=stop_on_first_failure,
                     coverage=coverage, continue_after_timeout=continue_after_timeout)
        return self._result(frame, tests)

    def verify(self, program: str, suite: TestSuite, *, order: list[str] | None = None) -> RunResult:
        """Run ``program`` against ``suite`` with verdicts decided outside its interpreter.

        The tests execute in a judge process that never runs the program; the program runs in a
        fresh interpreter of its own (no fork of anything that held the tests) and answers the
        judge's calls with plain values.  So a program can neither patch the verdict code nor
        forge events, as it can in :meth:`run`.  The price: only plain data (numbers, strings,
        bytes, containers of them) crosses; the program's objects stay in its process and the
        tests hold stand-ins (compared with plain data by identity only), and a suite whose tests
        hand the program a function or an object of their own cannot be judged and runs as in
        :meth:`run`, as does a pytest suite (``result.judged`` False); and an interpreter start
        (~40 ms)."""
        if not isinstance(suite, TestSuite):
            raise SuiteError(f"suite must be a TestSuite, got {type(suite).__name__}")
        if suite.kind == "pytest":
            return self.run(program, suite, order=order)
        tests = suite.ordered(order)
        frame = self._frame("verify", program, suite)
        frame.update(tests=[[t.id, t.source] for t in tests])
        result = self._result(frame, tests)
        if "Unjudgeable" in (result.message or "") or any(o.error_type == "Unjudgeable" for o in result.outcomes):
            return self.run(program, suite, order=order)  # the tests, not the program, need objects
        return result

    def run_many(self, jobs: list[Job]) -> list[RunResult]:
        """Run a batch of :class:`Job` across the pool in parallel; results in input order."""
        jobs = list(jobs)
        if not all(isinstance(j, Job) for j in jobs):
            raise SuiteError("run_many expects a list of kelp.execute.Job")
        if not jobs:
            return []

        def one(job: Job) -> RunResult:
            return self.run(job.program, job.suite, order=job.order,
                            stop_on_first_failure=job.stop_on_first_failure,
                            coverage=job.coverage, continue_after_timeout=job.continue_after_timeout)

        with ThreadPoolExecutor(max_workers=min(len(jobs), self.size)) as pool:
            return list(pool.map(one, jobs))

    def collect(self, program: str, suite: TestSuite) -> TestSuite:
        """Collect a pytest suite's node ids in the sandbox (collection imports user code).

        Returns a copy of ``suite`` with concrete ``tests`` and ``rootdir`` filled in; other
        kinds are returned unchanged.  If the program itself fails to load, collection still
        works (the tests see a stand-in module).  Raises :class:`CollectError` when pytest
        cannot collect the test files or they contain no test."""
        if suite.kind != "pytest":
            return suite
        if not suite.pytest_args and not suite.invocation_dir:
            raise SuiteError("a pytest suite needs pytest_args (test files) or an invocation_dir")
        answer = self._submit(self._frame("collect", program, suite))
        if answer.get("status") != "ok":
            raise CollectError(answer.get("message") or "collection failed")
        ids = answer.get("ids") or []
        elsewhere = answer.get("elsewhere") or {}
        if suite.program_path and elsewhere and not answer.get("served"):
            name, other = next(iter(elsewhere.items()))
            raise CollectError(f"the tests import {name} from {other}, not {suite.program_path}")
        if not ids:
            raise CollectError(f"pytest collected no tests from {list(suite.pytest_args)}")
        return replace(suite, tests=tuple(TestCase(i) for i in ids),
                       rootdir=suite.rootdir or answer.get("rootdir"))

    def close(self) -> None:
        """Kill every worker (and with them any running candidate). Idempotent."""
        with self._lock:
            self._closed = True
        self._finalizer()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _frame(self, op: str, program: str, suite: TestSuite) -> dict:
        frame = {"op": op, "program": program, "kind": suite.kind, "setup": suite.setup,
                 "entry_point": suite.entry_point, "pytest_args": list(suite.pytest_args),
                 "rootdir": suite.rootdir, "module_names": list(suite.module_names),
                 "tests": [], "stop_on_first_failure": False, "coverage": False,
                 "continue_after_timeout": False, "limits": self.limits.to_dict()}
        if suite.kind == "pytest":
            name, base = _import_location(suite.program_path) if suite.program_path else (None, None)
            frame.update(program_path=suite.program_path, invocation_dir=suite.invocation_dir,
                         import_name=name, import_base=base)
        return frame

    def _result(self, frame: dict, tests) -> RunResult:
        """Submit a run/verify frame; a job that never reached its tests reports them ``not_run``."""
        result = RunResult.from_wire(self._submit(frame))
        if not result.outcomes:
            result.outcomes = [TestOutcome(t.id, "not_run") for t in tests]
        return result

    def _recycle(self, worker: _WorkerProcess) -> None:
        """Restart a failed worker, or only kill it if the sandbox was closed meanwhile."""
        if self._closed:
            worker.kill()
        else:
            worker.restart()

    def _submit(self, frame: dict) -> dict:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        worker = self._idle.get()
        try:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            t0 = time.monotonic()
            try:
                return worker.request(frame, self.limits.job_timeout + HOST_GRACE)
            except TimeoutError:
                self._recycle(worker)
                return {"status": "timeout", "seconds": time.monotonic() - t0,
                        "message": "the sandbox worker did not answer in time; it was restarted"}
            except (EOFError, OSError, ValueError) as exc:
                tail = worker.log_tail()
                self._recycle(worker)
                return {"status": "crashed", "seconds": time.monotonic() - t0,
                        "message": f"the sandbox worker died ({exc}); it was restarted. {tail}".strip()}
        finally:
            self._idle.put(worker)
