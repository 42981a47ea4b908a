"""Running untrusted code: the sandbox worker pool, test suites, per-test coverage and spectrum-
based fault localization.  Everything in kelp that executes a candidate goes through
:class:`Sandbox`."""

from kelp.execute.errors import CollectError, ExecuteError, SandboxError, SuiteError
from kelp.execute.localize import (
    FORMULAS,
    Localization,
    dstar,
    line_suspiciousness,
    localize,
    ochiai,
    tarantula,
)
from kelp.execute.results import Job, Limits, RunResult, TestOutcome
from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestCase, TestSuite

__all__ = [
    "FORMULAS", "CollectError", "ExecuteError", "Job", "Limits", "Localization", "RunResult",
    "Sandbox", "SandboxError", "SuiteError", "TestCase", "TestOutcome", "TestSuite", "dstar",
    "line_suspiciousness", "localize", "ochiai", "tarantula",
]
