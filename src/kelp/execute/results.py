"""Plain data of the sandbox: limits, jobs and results (JSON-friendly dataclasses)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from kelp.execute.suites import TestSuite

#: Per-test statuses. "fail" = AssertionError, "error" = any other exception (or the process was
#: ended by the program or a limit), "timeout" = wall-clock or CPU limit, "not_run" = not reached.
TEST_STATUSES = ("pass", "fail", "error", "timeout", "not_run")
#: Job statuses. "ok" = tests ran; "syntax_error"; "load_error" = program or setup raised while
#: loading (the message says which); "timeout" = loading or the whole job ran out of time;
#: "crashed" = the worker itself failed (it is restarted).
RUN_STATUSES = ("ok", "syntax_error", "load_error", "crashed", "timeout")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job. Seconds are wall clock except ``cpu_seconds`` (CPU time of one
    child process, RLIMIT_CPU); bytes: ``memory_bytes`` is the address-space limit (RLIMIT_AS),
    ``file_bytes`` the largest file a candidate may write (RLIMIT_FSIZE), ``output_bytes`` the
    stdout+stderr kept per job; ``processes`` is RLIMIT_NPROC for the child's private uid."""

    test_timeout: float = 2.0
    job_timeout: float = 30.0
    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30
    file_bytes: int = 1 << 20
    processes: int = 32
    output_bytes: int = 65536

    def __post_init__(self) -> None:
        from kelp.execute.errors import SuiteError

        for name in ("test_timeout", "job_timeout", "cpu_seconds", "memory_bytes", "file_bytes",
                     "processes", "output_bytes"):
            if not getattr(self, name) > 0:
                raise SuiteError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        """The limits as a plain dict (the wire format of the worker protocol)."""
        return asdict(self)


@dataclass(frozen=True)
class Job:
    """Arguments of one :meth:`Sandbox.run` call, for :meth:`Sandbox.run_many`."""

    program: str
    suite: TestSuite
    order: list[str] | None = None
    stop_on_first_failure: bool = False
    coverage: bool = False
    continue_after_timeout: bool = False


@dataclass
class TestOutcome:
    """Outcome of one test: ``status`` in :data:`TEST_STATUSES`, ``error_type`` the exception class
    name (``"Timeout"``, ``"Killed"``, ``"ProcessExit"`` for sandbox verdicts), ``message`` capped
    at about 500 characters, ``seconds`` the test's wall time as measured inside the child."""

    __test__ = False

    test_id: str
    status: str
    error_type: str | None = None
    message: str | None = None
    seconds: float = 0.0


@dataclass
class RunResult:
    """Result of one job: ``status`` in :data:`RUN_STATUSES`, ``outcomes`` in execution order
    (tests never reached are ``not_run``), ``seconds`` the job's wall time (worker side),
    ``stdout`` the capped stdout+stderr of the program, and with ``coverage=True`` the per-test
    sorted line numbers of the program file executed during each test (module-level lines run at
    import are not attributed to any test; a test killed by the hard wall-clock kill has no
    entry because its data died with its process).  ``judged``: the verdicts were decided in a
    process that never ran the program (:meth:`Sandbox.verify`)."""

    status: str
    outcomes: list[TestOutcome] = field(default_factory=list)
    message: str | None = None
    seconds: float = 0.0
    stdout: str = ""
    coverage: dict[str, list[int]] | None = None
    judged: bool = False

    @property
    def passed(self) -> int:
        """Number of tests that passed."""
        return sum(o.status == "pass" for o in self.outcomes)

    @property
    def failed(self) -> int:
        """Number of tests that ran and did not pass (fail, error or timeout)."""
        return sum(o.status in ("fail", "error", "timeout") for o in self.outcomes)

    @property
    def total(self) -> int:
        """Number of tests in the job (including not_run)."""
        return len(self.outcomes)

    @property
    def all_passed(self) -> bool:
        """True when the job ran and every test passed (an empty suite never counts as passed)."""
        return self.status == "ok" and self.total > 0 and self.passed == self.total

    @property
    def failing_ids(self) -> list[str]:
        """Ids of tests that failed, errored or timed out, in execution order."""
        return [o.test_id for o in self.outcomes if o.status in ("fail", "error", "timeout")]

    def to_dict(self) -> dict:
        """JSON-ready dict of the result."""
        return asdict(self)

    @classmethod
    def from_wire(cls, data: dict) -> RunResult:
        """Build from the worker's result frame."""
        fields = ("test_id", "status", "error_type", "message", "seconds")
        outcomes = [TestOutcome(**{k: o.get(k) for k in fields if o.get(k) is not None})
                    for o in data.get("outcomes", [])]
        return cls(status=data["status"], outcomes=outcomes, message=data.get("message"),
                   seconds=float(data.get("seconds", 0.0)), stdout=data.get("stdout", ""),
                   coverage=data.get("coverage"), judged=bool(data.get("judged")))
