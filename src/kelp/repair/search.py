"""Test-driven repair search: localize, propose, validate, iterate.

Best-first search over program states (Kelp's reverse path, made execution-aware): the root is
the buggy program; its failing tests are localized once with coverage (spectrum-based fault
localization); proposers rank single-node edits; candidates are validated in the sandbox with the
previously failing tests first, stopping at the first failure; a candidate that passes more tests
than its parent (or turns an error into an assertion failure, or brings a failing assertion's
actual value nearer the expected one) gains priority, so bugs that need 2-3 edits are reachable.
Priority = log prior of the edit path + progress bonus. Deterministic: the order depends only on
the program, the tests and the configuration.
"""

from __future__ import annotations

import ast
import heapq
import math
import re
import time
import warnings
from dataclasses import dataclass, field

from kelp.errors import KelpError
from kelp.execute.localize import line_suspiciousness, with_crash_lines
from kelp.execute.sandbox import Job, RunResult, Sandbox
from kelp.execute.suites import TestSuite
from kelp.program.diff import Edit
from kelp.program.tree import ProgramSyntaxError, node_at, parse, unparse
from kelp.repair.closeness import message_closeness
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.proposer import Feedback, Proposer
from kelp.repair.splice import minimal_source


class RepairInputError(KelpError, ValueError):
    """The user's program or tests cannot be repaired as given (message says why)."""


class _TimeUp(Exception):
    """``RepairConfig.seconds`` ran out inside the search (caught in :func:`repair`)."""


@dataclass(frozen=True)
class RepairConfig:
    """Search settings.

    ``budget``: candidate executions (each candidate program run against the tests counts one).
    ``seconds``: hard wall-clock limit for the whole search, from the call of :func:`repair`
    (``None``: none): checked after the initial test run, before every candidate batch and
    between proposer calls, so the search stops within one proposer call or one candidate
    batch (itself bounded by the sandbox's per-test limits) of it, with reason
    ``"time limit"``. ``max_depth``: edits per repair.
    ``batch``: candidates validated concurrently (fixed, so results do not depend on the
    machine's core count). ``formula``: fault-localization formula. ``expand_limit``: children
    proposed per state below the root. ``progress_bonus``: log-priority added per test a state
    passes beyond the root (half that for an error turned into an assertion failure), given
    only to its ``bonus_children`` best children (``None``: all), so a state that passes a test
    by chance costs a bounded detour. ``merge_behaviour``: a state whose tests behave exactly as
    an earlier state's (same outcomes and messages) is not expanded (observational equivalence)
    until every other candidate has run. ``closeness_bonus``: log-priority added per unit (0-1)
    of closeness to the expected value that the root's first failing assertion gained (partial
    progress on a multi-bug program that still fails the same tests; ``closeness.py``).
    """

    budget: int = 256
    seconds: float | None = 120.0
    max_depth: int = 3
    batch: int = 2
    formula: str = "ochiai"
    expand_limit: int = 64
    progress_bonus: float = 3.0
    bonus_children: int | None = 16
    merge_behaviour: bool = True
    closeness_bonus: float = 3.0


@dataclass
class RepairResult:
    """Outcome of one repair. ``executions_to_solve`` counts candidate executions up to and
    including the first that passed every test (``None`` when unsolved).  ``judged``: the
    repair passed a judged run (:meth:`Sandbox.verify`: verdicts decided outside the program's
    interpreter); ``rejected`` counts candidates that passed in their own interpreter but not
    judged (forged verdicts, or programs whose results are not plain data)."""

    solved: bool
    original: str
    repaired: str
    edits: list[Edit]
    tests_before: tuple[int, int]
    tests_after: tuple[int, int]
    executions: int
    executions_to_solve: int | None
    seconds: float
    initial_run: RunResult
    localization: list[int] = field(default_factory=list)
    reason: str = ""
    judged: bool = False
    rejected: int = 0

    def to_json(self) -> dict:
        """JSON-ready summary (no run objects)."""
        return {
            "solved": self.solved, "edits": [e.to_json() for e in self.edits],
            "tests_before": list(self.tests_before), "tests_after": list(self.tests_after),
            "executions": self.executions, "executions_to_solve": self.executions_to_solve,
            "seconds": round(self.seconds, 3), "localization": self.localization[:10], "reason": self.reason,
            "judged": self.judged, "rejected": self.rejected,
        }


@dataclass(order=True)
class _Pending:
    priority: float
    seq: int
    parent: int = field(compare=False)
    edit: Edit | None = field(compare=False)  # None: expand the state ``parent``
    logp: float = field(compare=False)


@dataclass
class _State:
    tree: ast.Module
    source: str
    edits: list[Edit]
    logp: float
    value: tuple
    depth: int


def _value(run: RunResult, first: str | None = None) -> tuple:
    """Progress of a run: tests passed, then 'failed an assertion' over 'raised' over 'hung',
    then how close the actual value of test ``first`` came to the expected one (1 when it
    passed, 0 when it did not fail a comparison; see ``closeness.py``)."""
    rank = {"fail": 2, "error": 1, "timeout": 0}
    worst = min((rank.get(o.status, 0) for o in run.outcomes if o.status in rank), default=3)
    near = 0.0
    for o in run.outcomes:
        if o.test_id == first:
            near = 1.0 if o.status == "pass" else (message_closeness(o.message) or 0.0) if o.status == "fail" else 0.0
    return (run.passed if run.status == "ok" else -1, worst, near)


_LINE_SUFFIX = re.compile(r" \(line \d+\)$")


def _behaviour(run: RunResult, order: list[str] | None = None) -> tuple:
    """What the tests saw, as a hashable signature: (test id, status, error type, message) per
    test that ran, in ``order`` (default: the run's) up to and including the first that did not
    pass, as a candidate's stop-at-first-failure run reports it; line numbers in error messages
    are dropped (an edit may shift lines without changing behaviour)."""
    if run.status != "ok":
        return (run.status, run.message)
    by_id = {o.test_id: o for o in run.outcomes}
    out = []
    for test_id in order or [o.test_id for o in run.outcomes]:
        o = by_id.get(test_id)
        if o is None or o.status == "not_run":
            break
        out.append((test_id, o.status, o.error_type, _LINE_SUFFIX.sub("", o.message or "")))
        if o.status != "pass":
            break
    return tuple(out)


def _relocate(tree: ast.Module, before: ast.Module, edit: Edit) -> ast.Module:
    """Give the nodes an edit created the line of the node they replaced, so the root's
    line suspiciousness keeps applying to them in deeper states."""
    if edit.op == "replace":
        path = edit.path
        while path and getattr(node_at(before, path), "lineno", None) is None:
            path = path[:-2] if isinstance(path[-1], int) else path[:-1]
        line = getattr(node_at(before, path), "lineno", None) if path else None
        if line is not None:
            for node in ast.walk(node_at(tree, path)):
                if hasattr(node, "lineno"):
                    node.lineno = node.end_lineno = line
    return tree


def repair(source: str, suite: TestSuite, sandbox: Sandbox, config: RepairConfig = RepairConfig(),
           proposers: list[Proposer] | None = None, initial_run: RunResult | None = None,
           on_candidate=None, intent: str = "") -> RepairResult:
    """Repair ``source`` so that every test in ``suite`` passes.

    ``initial_run`` may pass a coverage run already made (the eval's must-break check).
    ``intent``: what the code should do (task text or docstring), for proposers that read it.
    ``on_candidate(n)`` is called after each candidate execution (progress bars).
    Raises :class:`RepairInputError` if the source does not parse or the tests cannot load.
    """
    start = time.monotonic()
    deadline = None if config.seconds is None else start + config.seconds

    def out_of_time() -> bool:
        return deadline is not None and time.monotonic() > deadline

    try:
        root_tree = parse(source)
    except ProgramSyntaxError as exc:
        raise RepairInputError(f"the program does not parse: {exc}") from None
    proposers = proposers or [EnumerativeProposer()]
    run0 = initial_run if initial_run is not None and initial_run.coverage is not None else sandbox.run(
        source, suite, coverage=True, continue_after_timeout=True)
    if run0.status not in ("ok", "load_error") or (
            run0.status == "load_error" and not (run0.message or "").startswith("program raised")):
        raise RepairInputError(f"the tests could not run: {run0.status}: {run0.message}")
    before = (run0.passed, run0.total)
    lines = with_crash_lines(line_suspiciousness(run0, config.formula), run0) if run0.status == "ok" else {}
    ranking = sorted(lines, key=lambda ln: (-lines[ln], ln))
    feedback = Feedback.from_run(run0, lines, [t.source for t in suite.tests], suite.entry_point)
    feedback.intent = intent
    failing_first = run0.failing_ids

    rejected = 0

    def result(solved, state, executions, to_solve, reason, after, judged=False):
        if not solved:  # report the program unchanged: a partial fix is not a repair
            state, after = root, before
        repaired = minimal_source(source, root_tree, state.tree) if state.edits else source
        return RepairResult(solved, source, repaired, state.edits, before, after, executions, to_solve,
                            time.monotonic() - start, run0, ranking, reason, judged, rejected)

    def confirmed(state) -> bool | None:
        """Whether the text the user would get passes a judged run (None: not judgeable)."""
        if suite.kind == "pytest":
            return None
        text = minimal_source(source, root_tree, state.tree)
        check = sandbox.verify(text, suite)
        return check.all_passed if check.judged else None

    first = failing_first[0] if failing_first else None
    root = _State(root_tree, unparse(root_tree), [], 0.0, _value(run0, first), 0)
    if run0.status == "ok" and run0.all_passed:
        if confirmed(root) is False:
            return result(False, root, 0, None, "the tests pass only inside the program's own "
                          "interpreter, not in a judged run (forged verdicts?)", before)
        return result(True, root, 0, 0, "all tests already pass", before)
    if out_of_time():  # the initial (coverage) run used up the time
        return result(False, root, 0, None, "time limit", before)

    states = [root]
    seen = {root.source}
    heap: list[_Pending] = []
    seq = 0

    def bonus_of(state: _State) -> float:
        gain = state.value[0] - root.value[0] + 0.5 * (state.value[1] - root.value[1])
        return config.progress_bonus * gain + config.closeness_bonus * (state.value[2] - root.value[2])

    def expand(index: int) -> None:
        nonlocal seq
        state = states[index]
        if state.depth >= config.max_depth:
            return
        bonus = bonus_of(state)
        cands = []
        for proposer in proposers:
            if out_of_time():
                raise _TimeUp
            cands.extend(proposer.propose(state.tree, feedback, config.expand_limit if state.depth else None))
        cands.sort(key=lambda c: -c.score)
        for rank, cand in enumerate(cands):
            logp = state.logp + math.log(max(cand.score, 1e-12))
            gets_bonus = config.bonus_children is None or rank < config.bonus_children
            seq += 1
            heapq.heappush(heap, _Pending(-(logp + (bonus if gets_bonus else 0.0)), seq, index, cand.edit, logp))

    def schedule(index: int) -> None:
        """Lazy expansion: a placeholder whose priority bounds every child's (scores <= 1), so
        proposers run only for states whose children would be tried next; the order of
        execution is that of eager expansion, and a learned proposer is not called for states
        the budget never reaches."""
        nonlocal seq
        state = states[index]
        if state.depth < config.max_depth:
            seq += 1
            heapq.heappush(heap, _Pending(-(state.logp + max(bonus_of(state), 0.0)), seq, index, None, state.logp))

    behaviours = {_behaviour(run0, failing_first)}  # a candidate run stops at its first failure
    executions = 0
    deferred: list[int] = []  # states merged with an earlier behaviour, expanded if all else runs out
    try:
        expand(0)
        while (heap or deferred) and executions < config.budget:
            if not heap:
                for index in deferred:
                    expand(index)
                deferred = []
                continue
            if out_of_time():
                raise _TimeUp
            batch = []
            while heap and len(batch) < min(config.batch, config.budget - executions):
                item = heapq.heappop(heap)
                if item.edit is None:  # a state's turn to propose its children
                    expand(item.parent)
                    continue
                parent = states[item.parent]
                try:
                    tree = _relocate(item.edit.apply(parent.tree), parent.tree, item.edit)
                    text = unparse(tree)
                    with warnings.catch_warnings():  # e.g. "'int' object is not subscriptable"
                        warnings.simplefilter("ignore", SyntaxWarning)
                        compile(text, "<candidate>", "exec")
                except (ValueError, SyntaxError, TypeError):
                    continue
                if text in seen:
                    continue
                seen.add(text)
                batch.append((item, parent, tree, text))
            if not batch:
                continue
            jobs = [Job(program=text, suite=suite, order=failing_first, stop_on_first_failure=True)
                    for _, _, _, text in batch]
            runs = sandbox.run_many(jobs)
            for (item, parent, tree, text), run in zip(batch, runs):
                executions += 1
                if on_candidate is not None:
                    on_candidate(executions)
                state = _State(tree, text, parent.edits + [item.edit], item.logp, _value(run, first), parent.depth + 1)
                if run.status == "ok" and run.all_passed:
                    judged = confirmed(state)
                    if judged is not False:
                        return result(True, state, executions, executions, "all tests pass",
                                      (run.total, run.total), judged=bool(judged))
                    rejected += 1  # passed in its own interpreter only: not a repair
                    continue
                states.append(state)
                if config.merge_behaviour:
                    seen_behaviour = _behaviour(run)
                    if seen_behaviour in behaviours:
                        deferred.append(len(states) - 1)
                        continue
                    behaviours.add(seen_behaviour)
                schedule(len(states) - 1)
    except _TimeUp:  # raised between proposer calls and before candidate batches
        return result(False, root, executions, None, "time limit", before)
    reason = "budget exhausted" if executions >= config.budget else "no more candidates"
    return result(False, root, executions, None, reason, before)
