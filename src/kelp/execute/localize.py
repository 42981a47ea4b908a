"""Spectrum-based fault localization (SBFL) from per-test line coverage.

For each line, the spectrum counts tests that executed it and failed (``ef``) or passed (``ep``),
and tests that did not execute it and failed (``nf``) or passed (``np``).  A suspiciousness
formula maps the four counts to a score; higher means more likely faulty.

Failing means status fail, error or timeout.  Tests without coverage (not run, or hard-killed so
their coverage died with the process) are left out of the spectrum altogether: their lines are
unknown, and counting them as "executed nothing" would wrongly raise ``nf`` for every line.
Module-level lines executed at import are not attributed to tests (see ``RunResult.coverage``).
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field, replace
from typing import Callable

from kelp.execute.errors import SuiteError
from kelp.execute.results import RunResult
from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite

FAILING = ("fail", "error", "timeout")


def ochiai(ef: int, ep: int, nf: int, np: int) -> float:
    """Ochiai: ef / sqrt((ef + nf) * (ef + ep)); 0 when undefined.  Abreu et al. 2007,
    "On the accuracy of spectrum-based fault localization"."""
    denom = math.sqrt((ef + nf) * (ef + ep))
    return ef / denom if denom else 0.0


def tarantula(ef: int, ep: int, nf: int, np: int) -> float:
    """Tarantula: (ef/F) / (ef/F + ep/P) with F = ef+nf, P = ep+np; 0 when undefined.  Jones &
    Harrold 2005, "Empirical evaluation of the Tarantula automatic fault-localization technique"."""
    f = ef / (ef + nf) if ef + nf else 0.0
    p = ep / (ep + np) if ep + np else 0.0
    return f / (f + p) if f + p else 0.0


def dstar(ef: int, ep: int, nf: int, np: int, star: int = 2) -> float:
    """DStar: ef**star / (ep + nf); ``inf`` when ef > 0 and ep + nf == 0.  Wong et al. 2014,
    "The DStar method for effective software fault localization"."""
    denom = ep + nf
    if denom == 0:
        return math.inf if ef > 0 else 0.0
    return ef**star / denom


FORMULAS: dict[str, Callable[[int, int, int, int], float]] = {
    "ochiai": ochiai, "tarantula": tarantula, "dstar": dstar,
}


@dataclass
class Localization:
    """Result of :func:`localize`: the coverage ``run``, ``lines`` (line number -> score) and
    ``ranking`` (line numbers, most suspicious first, ties broken by line number)."""

    run: RunResult
    lines: dict[int, float] = field(default_factory=dict)
    ranking: list[int] = field(default_factory=list)


def spectrum(run: RunResult) -> dict[int, tuple[int, int, int, int]]:
    """Line -> (ef, ep, nf, np) from ``run.coverage`` and outcomes.  Raises SuiteError if the run
    has no coverage (it was not run with ``coverage=True``)."""
    if run.coverage is None:
        raise SuiteError("the run has no coverage; run it with coverage=True")
    status = {o.test_id: o.status for o in run.outcomes}
    used = [(tid, set(lines), status.get(tid) in FAILING) for tid, lines in run.coverage.items()
            if status.get(tid) in FAILING + ("pass",)]
    total_f = sum(f for _, _, f in used)
    total_p = len(used) - total_f
    all_lines = set().union(*(lines for _, lines, _ in used)) if used else set()
    out = {}
    for line in all_lines:
        ef = sum(1 for _, lines, f in used if f and line in lines)
        ep = sum(1 for _, lines, f in used if not f and line in lines)
        out[line] = (ef, ep, total_f - ef, total_p - ep)
    return out


def line_suspiciousness(run: RunResult, formula: str = "ochiai") -> dict[int, float]:
    """Line number -> suspiciousness under ``formula`` (a key of :data:`FORMULAS`); only lines
    executed by at least one test appear.  Raises SuiteError for an unknown formula."""
    if formula not in FORMULAS:
        raise SuiteError(f"unknown formula {formula!r}; choose one of {sorted(FORMULAS)}")
    fn = FORMULAS[formula]
    return {line: fn(*counts) for line, counts in sorted(spectrum(run).items())}


#: Weight kept by lines other than the crash lines when some failing test raised an error.
CRASH_DISCOUNT = 0.3
_LINE = re.compile(r"\(line (\d+)\)$")


def crash_lines(run: RunResult) -> set[int]:
    """Program lines where failing tests raised an error: the innermost program frame of each
    error's traceback, as the sandbox reports it (``... (line N)`` at the end of the message)."""
    out = set()
    for o in run.outcomes:
        if o.status == "error" and o.message:
            match = _LINE.search(o.message.strip())
            if match:
                out.add(int(match.group(1)))
    return out


def with_crash_lines(scores: dict[int, float], run: RunResult) -> dict[int, float]:
    """``scores`` sharpened by the crash lines of ``run``: a line a test crashed on is the
    likeliest place of the fault, or next to it (stack-trace fault localization, as in
    CrashLocator, Wu et al. 2014).  Crash lines keep their score (at least the best score of
    any line); every other line is multiplied by :data:`CRASH_DISCOUNT`.  Unchanged if no test
    crashed."""
    crashed = crash_lines(run) & set(scores)
    if not crashed:
        return scores
    top = max(scores.values(), default=0.0)
    return {line: max(score, top) if line in crashed else score * CRASH_DISCOUNT
            for line, score in scores.items()}


def with_passing(run: RunResult, other: RunResult) -> RunResult:
    """``run`` with the passing tests of ``other`` (a coverage run of a wider suite on the same
    program) added to its spectrum: tests ``run`` already has are not counted twice, and the
    failing tests of ``other`` are left out (the failure being repaired is ``run``'s). With one
    selected failing test and no passing one every executed line scores alike; the project's
    passing tests tell the lines a passing run also executes apart from the rest. ``run``
    unchanged when either run has no coverage."""
    if run.coverage is None or not other.coverage:
        return run
    have = set(run.coverage) | {o.test_id for o in run.outcomes}
    added = [o for o in other.outcomes if o.status == "pass" and o.test_id not in have and o.test_id in other.coverage]
    if not added:
        return run
    coverage = dict(run.coverage)
    coverage.update((o.test_id, other.coverage[o.test_id]) for o in added)
    return replace(run, outcomes=list(run.outcomes) + added, coverage=coverage)


_NO_ATTRIBUTE = re.compile(r"'(\w+)' object has no attribute '(\w+)'")


def missing_attribute_lines(run: RunResult, source: str) -> set[int]:
    """Lines that should have set an attribute a failing test found missing (``AttributeError:
    'C' object has no attribute 'a'``, raised wherever the object was read): the body of
    ``C.__init__`` and every statement of ``C`` that assigns ``self.a``. Such lines often ran
    before any test (an instance made at import) and so have no coverage. Empty when no
    failing test says so or ``source`` does not parse."""
    wanted = {m.groups() for o in run.outcomes if o.status in FAILING and o.error_type == "AttributeError"
              for m in [_NO_ATTRIBUTE.search(o.message or "")] if m}
    if not wanted:
        return set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    out: set[int] = set()
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        attrs = {attr for name, attr in wanted if name == cls.name}
        if not attrs:
            continue
        for method in (n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            if method.name == "__init__":
                out.update(ln for stmt in method.body for ln in range(stmt.lineno, stmt.end_lineno + 1))
            for node in ast.walk(method):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr in attrs:
                    out.add(node.lineno)
    return out


def with_missing_attributes(scores: dict[int, float], run: RunResult, source: str) -> dict[int, float]:
    """``scores`` with the :func:`missing_attribute_lines` of ``run`` raised to the best score
    of any line (added when they were not executed); unchanged when there are none."""
    lines = missing_attribute_lines(run, source)
    if not lines:
        return scores
    top = max(scores.values(), default=0.0) or 1.0
    return {**scores, **{line: max(scores.get(line, 0.0), top) for line in lines}}


def rank(scores: dict[int, float]) -> list[int]:
    """Line numbers by descending score, ties by ascending line number."""
    return sorted(scores, key=lambda line: (-scores[line], line))


def localize(sandbox: Sandbox, program: str, suite: TestSuite, formula: str = "ochiai") -> Localization:
    """Run ``suite`` on ``program`` under per-test coverage (continuing after timeouts) and rank
    the program's lines by suspiciousness.  If the program does not load, ``lines`` is empty."""
    if formula not in FORMULAS:
        raise SuiteError(f"unknown formula {formula!r}; choose one of {sorted(FORMULAS)}")
    run = sandbox.run(program, suite, coverage=True, continue_after_timeout=True)
    if run.coverage is None:
        return Localization(run)
    scores = line_suspiciousness(run, formula)
    return Localization(run, scores, rank(scores))
