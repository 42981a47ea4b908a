"""Test-driven repair search: localize, propose, validate, iterate.

Best-first search over program states (Kelp's reverse path, made execution-aware): the root is
the buggy program; its failing tests are localized once with coverage (spectrum-based fault
localization); proposers rank single-node edits; candidates are validated in the sandbox with the
previously failing tests first, stopping at the first failure; a candidate that passes more tests
than its parent (or turns an error into an assertion failure, or brings a failing assertion's
actual value nearer the expected one) gains priority, so bugs that need 2-3 edits are reachable.
Priority = log prior of the edit path + progress bonus. Deterministic: the order depends only on
the program, the tests and the configuration.

A candidate program is its parent's text with the edit spliced in (``splice.py``), so a
candidate costs a parse and a compile of the module, not a copy and an unparse of its tree;
each state keeps which line of the original program each of its lines stands for, and the
proposers see the original localization through that map. Of the candidates of one batch that
pass, the one nearest a person's patch is kept, and it is then simplified (``simplify.py``:
``x + 0``, ``not a < b``, double negations) as far as the simpler text passes the same tests.
"""

from __future__ import annotations

import ast
import heapq
import math
import os
import re
import statistics
import time
import warnings
from dataclasses import dataclass, field, replace

from kelp.errors import KelpError
from kelp.execute.localize import line_suspiciousness, with_crash_lines, with_missing_attributes, with_passing
from kelp.execute.sandbox import Job, RunResult, Sandbox
from kelp.execute.suites import TestCase, TestSuite
from kelp.models.ranker import Ranker, load_default
from kelp.program.diff import Edit, tree_diff
from kelp.program.spans import line_at
from kelp.program.tree import ProgramSyntaxError, node_at, parse, unparse
from kelp.repair.antipatterns import degenerate_expressions, degenerate_patch, suspicious_paths, unreachable_statements
from kelp.repair.closeness import compared_values, message_closeness
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.kinds import KindCheck
from kelp.repair.loop_probe import accumulate_site, loop_guard_site, probe_loop
from kelp.repair.probe import guard_site, probe_locals, probe_site
from kelp.repair.proposer import Candidate, Feedback, Proposer
from kelp.repair.ranking import NATURALNESS, promoted_first, proposal_features, reorder
from kelp.repair.simplify import patch_cost, simplify
from kelp.repair.splice import minimal_source, splice_edit, text_lines
from kelp.repair.unused import unread_parameters
from kelp.repair.equivalence import profile_edits

#: The functions whose unread parameters doubt a repair: those holding the most suspicious lines.
UNREAD_LINES = 3
#: Priority (log-probability) given to the queued proposals that read a parameter a doubted
#: repair left unread: more than any two proposals' difference, so they all run first.
READS_UNREAD_FIRST = 1e6


class RepairInputError(KelpError, ValueError):
    """The user's program or tests cannot be repaired as given (message says why)."""


@dataclass(frozen=True)
class PartialState:
    """The best state of a failed search that passes more tests than the program: ``source``
    (the program with its edits), ``tests`` ``(passed, total)`` and ``exact``: whether
    ``tests`` comes from a run of every test (else ``passed`` is a lower bound: the tests that
    passed before the state's first failure, when no time was left for a full run)."""

    source: str
    tests: tuple[int, int]
    exact: bool = True


class _TimeUp(Exception):
    """``RepairConfig.seconds`` ran out inside the search (caught in :func:`repair`)."""


@dataclass(frozen=True)
class RepairConfig:
    """Search settings.

    ``budget``: candidate executions (each candidate program run against the tests counts one).
    ``seconds``: hard wall-clock limit for the whole search, from the call of :func:`repair`
    (``None``: none): checked after the initial test run, before every candidate that is
    prepared, every proposer call and every candidate batch (a batch is not started when the
    batches so far took longer on average than the time left), and before every simplification
    run, so the search stops within one proposer call or one candidate batch (itself bounded by
    the sandbox's limits) of it, with reason ``"time limit"``. ``max_depth``: edits per repair.
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
    ``simplify``: simplified versions of a found repair tried (each one run of the tests, within
    the budget); 0: report the repair as found. ``ranker``: the learned ranker that orders the
    first ``ranker_window`` proposals of every state (:mod:`kelp.repair.ranking`): ``None`` (the
    default) the proposers' own order, ``"bundled"`` the ranker bundled with kelp (none when kelp
    has none), else a ranker file's path.
    A ranker with an accept model doubts a patch that passes every test when its probability
    of being correct is under the model's threshold (a plausible patch that is wrong: Qi et al.
    2015): the search keeps it and goes on for at most ``doubt_extra`` more executions for a
    patch the model trusts more, returning the most trusted one found. ``doubt_unread``: a
    patch that leaves a parameter of the suspicious functions unread (see
    :func:`~kelp.repair.unused.unread_parameters`) is doubted the same way, for a patch that
    reads it (a forgotten clause often held the parameter: ``s[0] >= h and s[1] >= w``); the
    queued proposals that read it then run first. ``doubt_antipatterns``: a patch that adds
    unreachable statements to the program (an early exit that bypasses the failing code; Tan et
    al. 2016, :mod:`kelp.repair.antipatterns`), or leaves a degenerate expression of the buggy
    program in place (often the bug itself: ``0 * i`` for ``2 * i``), is doubted the same way.
    ``refuse_degenerate``: a patch that adds a degenerate expression (``x - x``, ``0 * i``), or
    after which a function it edited reads none of its parameters (it answers the tests with
    constants; :func:`~kelp.repair.antipatterns.degenerate_patch`), is not a repair: it is not
    returned nor expanded, and the search goes on. ``suspicious_first``: a state's proposals that edit inside
    one of its degenerate expressions, inside a call that passes the same expression twice, or
    at a statement that computes a value and throws it away
    (:func:`~kelp.repair.antipatterns.suspicious_paths`), run before its others (after the
    synthesised ones: :func:`~kelp.repair.ranking.promoted_first`).
    ``test_equivalence``: a candidate that the tests of its parent's run (those it passed and
    the first it failed) cannot tell from its parent (an expression that takes the same value at
    every evaluation, ``<`` for ``<=`` where the operands are never equal; a statement deleted,
    edited or inserted where the tests never go; a guard whose condition is false wherever it
    would stand; value-based test equivalence, :mod:`kelp.repair.equivalence`, one profiling
    run of the parent instrumented for its next children) is not run: its run would be its
    parent's.
    ``stop_at_repair``:
    False runs the whole budget even after a repair is found (the first is returned): search-
    labelled data then holds candidates ranked after a repair too, so that where a candidate
    stands in its state's proposals says nothing of its label.

    A ``regression`` suite given to :func:`repair` (a wider run of the project's tests than the
    selection, e.g. its default pytest run) vets every candidate that passes the selection: it
    must pass every regression test the program passed (one run, those tests first, stopping at
    the first that fails; not counted in the budget). The regression suite's tests that the
    program fails outside the selection (the same bug often fails several tests; the user
    selected one) rank the repairs: a repair that leaves some of them failing is kept, and the
    search goes on for at most ``others_extra`` more executions for one that fixes more of them
    (a plausible patch that fixes only the selection is often wrong: Qi et al. 2015, "An
    analysis of patch plausibility and correctness for generate-and-validate patch
    generation systems"); the best kept is returned when they run out.
    """

    budget: int = 256
    seconds: float | None = 120.0
    max_depth: int = 3
    batch: int = 2
    formula: str = "ochiai"
    expand_limit: int = 64
    progress_bonus: float = 3.0
    bonus_children: int | None = 4
    merge_behaviour: bool = True
    closeness_bonus: float = 3.0
    simplify: int = 4
    others_extra: int = 64
    ranker: str | None = None
    ranker_window: int = 64
    doubt_extra: int = 32
    stop_at_repair: bool = True
    doubt_unread: bool = True
    doubt_antipatterns: bool = True
    refuse_degenerate: bool = True
    suspicious_first: bool = True
    test_equivalence: bool = True


@dataclass
class RepairResult:
    """Outcome of one repair. ``executions_to_solve`` counts candidate executions up to and
    including the first that passed every test (``None`` when unsolved).  ``judged``: the
    repair passed a judged run (:meth:`Sandbox.verify`: verdicts decided outside the program's
    interpreter); ``rejected`` counts candidates that passed in their own interpreter but not
    judged (forged verdicts, or programs whose results are not plain data). ``best``: for an
    unsolved search, the state that passed the most tests when that is more than the program
    (:class:`PartialState`), else ``None``. ``regressions``: candidates that passed the tests
    but broke a test of the regression suite that the program passed; ``regression_tests``:
    how many tests of the regression suite the program passed (0: no regression suite, or no
    candidate reached it). ``denied``: tests left out because they failed only by doing what the
    sandbox forbids, ``{test id: what was refused}`` (e.g. ``"subprocess.Popen"``).
    ``others``: ``(fixed, failing)``: of the regression suite's tests that the program failed
    outside the selection, how many the repair passes (``(0, 0)``: none failed, or unsolved).
    ``degenerate``: candidates that passed the tests but were refused as degenerate patches
    (``RepairConfig.refuse_degenerate``)."""

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
    best: PartialState | None = None
    regressions: int = 0
    regression_tests: int = 0
    denied: dict[str, str] = field(default_factory=dict)
    others: tuple[int, int] = (0, 0)
    degenerate: int = 0

    def to_json(self) -> dict:
        """JSON-ready summary (no run objects); ``best_partial`` is ``null`` or
        ``{"tests": [passed, total], "exact": bool}``."""
        best = None if self.best is None else {"tests": list(self.best.tests), "exact": self.best.exact}
        return {
            "solved": self.solved, "edits": [e.to_json() for e in self.edits],
            "tests_before": list(self.tests_before), "tests_after": list(self.tests_after),
            "executions": self.executions, "executions_to_solve": self.executions_to_solve,
            "seconds": round(self.seconds, 3), "localization": self.localization[:10], "reason": self.reason,
            "judged": self.judged, "rejected": self.rejected, "best_partial": best,
            "regressions": self.regressions, "regression_tests": self.regression_tests,
            "denied": self.denied, "others": list(self.others), "degenerate": self.degenerate,
        }


@dataclass
class CandidateRun:
    """One candidate the search ran, as an observer of :func:`repair` sees it: the ``execution``
    count so far (1-based), ``depth`` (edits from the buggy program), the proposal's ``family``,
    ``op``, ``prior`` (its score in (0, 1]), ``log_prior`` (summed over the path) and ``rank``
    among its parent's proposals; ``line`` (of the buggy program, None for new code) and its
    ``suspiciousness``; the run's ``status``, ``passed`` / ``total`` (a stop-at-first-failure
    run), progress ``value`` (leading passes in failing-first order) next to the parent's and the
    root's, the first failure's ``error_type`` (or its status), ``plausible`` (every test
    passed), the candidate's ``source``, ``parent`` (the execution that made the state it was
    proposed for; 0: the buggy program) and the proposal's ranker ``features``
    (:func:`~kelp.repair.ranking.proposal_features`; empty beyond the features' window)."""

    execution: int
    depth: int
    family: str
    op: str
    prior: float
    log_prior: float
    rank: int
    line: int | None
    suspiciousness: float
    status: str
    passed: int
    total: int
    value: int
    parent_value: int
    root_value: int
    error_type: str | None
    plausible: bool
    source: str
    parent: int = 0
    features: dict = field(default_factory=dict)


#: Children of the root judged by the first test-equivalence profile (the next ones: twice as many).
EQUIVALENCE_CHUNK = 32
#: Most test-equivalence profiling runs per repair.
EQUIVALENCE_PROFILES = 3


@dataclass(order=True)
class _Pending:
    priority: float
    seq: int
    parent: int = field(compare=False)
    edit: Edit | None = field(compare=False)  # None: expand the state ``parent``
    logp: float = field(compare=False)
    cand: Candidate | None = field(compare=False, default=None)  # the proposal, for observers
    rank: int = field(compare=False, default=0)  # its rank among the parent's proposals
    features: dict | None = field(compare=False, default=None)  # ranker features of the proposal


@dataclass
class _State:
    """A program the search reached: ``source`` (its text), ``tree`` (``parse(source)``, so
    positions are those of ``source``), the ``edits`` from the root, log prior ``logp``,
    progress ``value`` (:func:`_value`), ``depth`` (edits) and ``lines``: for each line of
    ``source`` (index 0 unused) the line of the original program it stands for (None: new
    code). ``execution``: the candidate execution that reached it (0: the buggy program).
    ``behaviour``: what its stop-at-first-failure run saw (:func:`_behaviour`)."""

    tree: ast.Module
    source: str
    edits: list[Edit]
    logp: float
    value: tuple
    depth: int
    lines: tuple
    execution: int = 0
    behaviour: tuple = ()


def _value(run: RunResult, first: str | None = None, order: list[str] | None = None,
           failing: frozenset = frozenset()) -> tuple:
    """Progress of a run: tests passed before the first that did not pass, taken in the
    candidates' order (``order`` first, then the run's; a candidate's run stops at its first
    failure, so the root's full run is counted the same way), or 0 when that first test is not
    one of the program's ``failing`` tests (the candidate broke a test that passed: a trade, not
    progress; an empty ``failing`` counts every test), then 'failed an assertion' over
    'raised' over 'hung', then how close the actual value of test ``first`` came to the expected
    one (1 when it passed, 0 when it did not fail a comparison; see ``closeness.py``)."""
    rank = {"fail": 2, "error": 1, "timeout": 0}
    worst = min((rank.get(o.status, 0) for o in run.outcomes if o.status in rank), default=3)
    near = 0.0
    for o in run.outcomes:
        if o.test_id == first:
            near = 1.0 if o.status == "pass" else (message_closeness(o.message) or 0.0) if o.status == "fail" else 0.0
    if run.status != "ok":
        return (-1, worst, near)
    by_id = {o.test_id: o for o in run.outcomes}
    ids = list(dict.fromkeys([*(t for t in order or [] if t in by_id), *by_id]))
    leading = next((i for i, test_id in enumerate(ids) if by_id[test_id].status != "pass"), len(ids))
    if failing and leading < len(ids) and ids[leading] not in failing:
        leading = 0
    return (leading, worst, near)


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
    """Give the nodes an edit created the line of the node they replaced (for a candidate that
    could not be spliced and is written out whole: :func:`_written_out`)."""
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


def _written_out(parent: "_State", edit: Edit) -> tuple[str, ast.Module, tuple]:
    """A candidate the splice could not write: the edited tree unparsed whole, re-parsed, with
    each line mapped through the node that starts on it to the line its counterpart in the
    edited tree (which kept the parent's positions) stood for. Raises ValueError (EditError)
    when the edit does not apply."""
    edited = _relocate(edit.apply(parent.tree), parent.tree, edit)
    text = unparse(edited)
    tree = parse(text)
    lines: list = [None] * (len(text_lines(text)) + 1)
    for old, new in zip(ast.walk(edited), ast.walk(tree)):
        new_line, old_line = getattr(new, "lineno", None), getattr(old, "lineno", None)
        if new_line is not None and new_line < len(lines) and lines[new_line] is None and old_line is not None:
            lines[new_line] = parent.lines[old_line] if 0 < old_line < len(parent.lines) else None
    return text, tree, tuple(lines)


def _test_sources(suite: TestSuite, ids: list[str]) -> dict[str, str]:
    """Source of the pytest tests ``ids`` (node ids ``path::[Class::]function[params]``,
    relative to the suite's rootdir), read from their files; tests whose source cannot be
    found are left out. Other kinds of suite carry their sources: empty."""
    if suite.kind != "pytest" or not suite.rootdir:
        return {}
    found: dict[str, str] = {}
    files: dict[str, ast.Module | None] = {}
    for test_id in ids:
        parts = test_id.split("::")
        if len(parts) < 2:
            continue
        path = os.path.join(suite.rootdir, parts[0])
        if path not in files:
            files[path] = None
            try:
                if os.path.getsize(path) <= 1_000_000:
                    with open(path, encoding="utf-8") as fh:
                        text = fh.read()
                    files[path] = (text, parse(text))
            except (OSError, UnicodeDecodeError, ProgramSyntaxError):
                pass
        if files[path] is None:
            continue
        text, scope = files[path]
        node = None
        for name in [p.split("[")[0] for p in parts[1:]]:
            node = next((n for n in getattr(scope, "body", []) if isinstance(
                n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name), None)
            if node is None:
                break
            scope = node
        if node is not None:
            found[test_id] = ast.get_source_segment(text, node) or ""
    return found


def repair(source: str, suite: TestSuite, sandbox: Sandbox, config: RepairConfig = RepairConfig(),
           proposers: list[Proposer] | None = None, initial_run: RunResult | None = None,
           on_candidate=None, intent: str = "", regression: TestSuite | None = None,
           observer=None) -> RepairResult:
    """Repair ``source`` so that every test in ``suite`` passes.

    ``regression``: a wider suite (see :class:`RepairConfig`) a repair must not break: every
    test of it that ``source`` passes must still pass.
    ``initial_run`` may pass a coverage run already made (the eval's must-break check).
    ``intent``: what the code should do (task text or docstring), for proposers that read it.
    ``on_candidate(n)`` is called after each candidate execution (progress bars);
    ``observer(CandidateRun)`` with what each candidate did (search-labelled training data).
    Raises :class:`RepairInputError` if the source does not parse or the tests cannot load.
    """
    start = time.monotonic()
    try:
        root_tree = parse(source)
    except ProgramSyntaxError as exc:
        raise RepairInputError(f"the program does not parse: {exc}") from None
    run0 = initial_run if initial_run is not None and initial_run.coverage is not None else sandbox.run(
        source, suite, coverage=True, continue_after_timeout=True)
    if run0.status not in ("ok", "load_error") or (
            run0.status == "load_error" and not (run0.message or "").startswith("program raised")):
        raise RepairInputError(f"the tests could not run: {run0.status}: {run0.message}")
    suite, run0, denied = _without_denied(suite, run0)
    wider = None
    if regression is not None and run0.status == "ok" and not run0.all_passed:
        wider = sandbox.run(source, regression, coverage=True, continue_after_timeout=True)
    search = _Search(source, root_tree, suite, sandbox, config, proposers or [EnumerativeProposer()],
                     run0, start, intent, on_candidate, regression, denied, wider, observer)
    return search.run()


def _ranker(setting: str | None) -> Ranker | None:
    """The ranker a :class:`RepairConfig` names (raises :class:`RankerError` for a bad path)."""
    if setting is None:
        return None
    return load_default() if setting == "bundled" else Ranker.load(setting)


def _naturalness(ranker: Ranker | None, observer) -> "NgramLM | None":
    """The bundled naturalness model when the ranker's features or an observer need it."""
    if observer is None and (ranker is None or not set(ranker.features) & set(NATURALNESS)):
        return None
    from kelp.models.naturalness import load_ngram

    return load_ngram()


def _localize(source: str, run0: RunResult, wider: RunResult | None, formula: str) -> dict[int, float]:
    """Line suspiciousness of the program: the spectrum of ``run0`` (the tests being repaired)
    widened by the passing tests of ``wider`` (a coverage run of the project's wider suite,
    or None), sharpened by the lines the failing tests crashed on and by the lines that should
    have set an attribute a test found missing."""
    if run0.status != "ok":
        return {}
    spectra = run0 if wider is None or wider.status != "ok" else with_passing(run0, wider)
    scores = with_crash_lines(line_suspiciousness(spectra, formula), run0)
    return with_missing_attributes(scores, run0, source)


def _probe(tree: ast.Module, feedback: Feedback, suite: TestSuite, sandbox: Sandbox) -> tuple:
    """``((site, names, examples), ...)``: the locals observed where a computation or a guard is
    missing (:mod:`kelp.repair.probe`); empty when no function ends in a read of an unbound
    name, falls off its end or returns before code that can never run, when every test passes,
    or when the probes report nothing. One sandbox run per probe."""
    if suite.kind == "pytest" or feedback.run is None or feedback.run.all_passed:
        return ()  # nothing to repair: no probe runs
    sites = [guard_site(tree), loop_guard_site(tree)]
    if _too_much(feedback):
        sites.append(accumulate_site(tree))
    if feedback.unbound or feedback.returned_none:
        sites.append(probe_site(tree, feedback.unbound, feedback.returned_none))
    probes = []
    for site in sites:
        if site is not None:
            probe = probe_loop if site.kind in ("loop_guard", "accumulate") else probe_locals
            names, examples = probe(tree, site, suite, sandbox)
            if examples:
                probes.append((site, names, examples))
    return tuple(probes)


def _too_much(feedback: Feedback) -> bool:
    """Whether a failing assertion got a longer list than it expected (a filter that lets
    everything through)."""
    for outcome in feedback.run.outcomes if feedback.run is not None else ():
        compared = compared_values(outcome.message) if outcome.status == "fail" else None
        if compared is None:
            continue
        try:
            got, want = ast.literal_eval(compared[0]), ast.literal_eval(compared[1])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(got, list) and isinstance(want, list) and len(got) > len(want):
            return True
    return False


def _denied(outcome) -> str | None:
    """What the sandbox refused a test (``"subprocess.Popen"``, ...), or None."""
    message = outcome.message or ""
    marker = "kelp sandbox: "
    if outcome.status != "error" or outcome.error_type != "PermissionError" or marker not in message:
        return None
    what = message.split(marker, 1)[1]
    return what[: -len(" is not allowed")] if what.endswith(" is not allowed") else what


def _without_denied(suite: TestSuite, run0: RunResult) -> tuple[TestSuite, RunResult, dict[str, str]]:
    """Leave out of the search the tests that failed only because they did what the sandbox
    forbids (start a process, write outside their directory, ...): no candidate can make them
    pass. Returns the suite and run without them and ``{test id: what was refused}``. Raises
    :class:`RepairInputError` when every failing test is such a test."""
    if run0.status != "ok":
        return suite, run0, {}
    denied = {o.test_id: what for o in run0.outcomes if (what := _denied(o)) is not None}
    if not denied:
        return suite, run0, {}
    if all(o.test_id in denied for o in run0.outcomes if o.status in ("fail", "error", "timeout")):
        kinds = ", ".join(sorted(set(denied.values())))
        raise RepairInputError(f"every failing test does what the sandbox does not allow ({kinds}): "
                               "kelp cannot run them; select tests that call the code directly")
    kept = tuple(t for t in suite.tests if t.id not in denied)
    run0 = replace(run0, outcomes=[o for o in run0.outcomes if o.test_id not in denied],
                   coverage=None if run0.coverage is None else
                   {k: v for k, v in run0.coverage.items() if k not in denied})
    return replace(suite, tests=kept), run0, denied


class _Search:
    """One best-first search from the buggy program (the root state): a heap of pending edits
    ordered by log prior plus progress bonus, lazy expansion of states, observational-
    equivalence merging of states whose tests behave alike, and judged confirmation of the
    first candidate that passes every test."""

    def __init__(self, source: str, root_tree: ast.Module, suite: TestSuite, sandbox: Sandbox,
                 config: RepairConfig, proposers: list[Proposer], run0: RunResult, start: float,
                 intent: str, on_candidate, regression: TestSuite | None = None,
                 denied: dict[str, str] | None = None, wider: RunResult | None = None,
                 observer=None) -> None:
        self.source, self.root_tree, self.suite, self.sandbox = source, root_tree, suite, sandbox
        self.config, self.proposers, self.run0, self.start = config, proposers, run0, start
        self.on_candidate, self.observer = on_candidate, observer
        self.deadline = None if config.seconds is None else start + config.seconds
        self.before = (run0.passed, run0.total)
        lines = _localize(source, run0, wider, config.formula)
        self.ranking = sorted(lines, key=lambda ln: (-lines[ln], ln))
        self.failing_first = run0.failing_ids
        failing_sources = _test_sources(suite, self.failing_first)
        self.feedback = Feedback.from_run(run0, lines, [t.source for t in suite.tests], suite.entry_point,
                                          failing_sources)
        self.feedback.intent = intent
        self.feedback.probes = _probe(root_tree, self.feedback, suite, sandbox)
        self.first = self.failing_first[0] if self.failing_first else None
        self.failing = frozenset(self.failing_first)
        self.kinds = KindCheck(root_tree, [t.source for t in suite.tests] + list(failing_sources.values()),
                               arguments=suite.kind != "pytest")
        self._profiles: dict[int, list] = {}  # state -> equivalence profiles (or None) of its children
        self._offered: dict[int, set[Edit]] = {}  # state -> its children given to a profile
        identity = (None,) + tuple(range(1, len(text_lines(source)) + 1))
        self.root = _State(root_tree, source, [], 0.0, _value(run0, self.first, self.failing_first), 0, identity,
                           behaviour=_behaviour(run0, self.failing_first))
        self.states = [self.root]
        self.seen = {source, unparse(root_tree)}
        self.batch_seconds: list[float] = []
        self.heap: list[_Pending] = []
        self.seq = 0
        self.behaviours = {_behaviour(run0, self.failing_first)}  # candidates stop at their first failure
        self.deferred: list[int] = []  # states merged with an earlier behaviour, expanded if all else runs out
        self.executions = 0
        self.rejected = 0
        self.best: tuple[_State, RunResult] | None = None  # most tests passed, not a repair
        self.regression = regression
        self.denied = denied or {}
        self.regression_passing: list[str] | None = None  # tests of it the program passes
        self.others: TestSuite | None = None  # the regression tests the program fails outside the selection
        if wider is not None and wider.status == "ok":
            self.regression_passing = [o.test_id for o in wider.outcomes if o.status == "pass"]
            selected = {t.id for t in suite.tests} | set(self.denied)
            others = [o.test_id for o in wider.outcomes if o.status in ("fail", "error", "timeout")
                      and o.test_id not in selected and _denied(o) is None]
            if others and regression is not None:
                self.others = replace(regression, tests=tuple(TestCase(i) for i in others))
        self.regressions = 0
        self.degenerate = 0  # plausible candidates refused as degenerate patches
        self.kept: tuple | None = None  # the best doubted repair (leaves ``others`` failing, or distrusted)
        self.kept_key: tuple = (-1, False, False, 0.0)  # (of ``others`` fixed, reads every parameter,
        # adds no anti-pattern, accept probability)
        self.stop_at: int | None = None  # executions after which ``kept`` is returned
        self.ranker = _ranker(config.ranker)
        self.lm = _naturalness(self.ranker, observer)
        self.unread = (unread_parameters(root_tree, set(self.ranking[:UNREAD_LINES]))
                       if config.doubt_unread and self.ranking else frozenset())
        self.antipatterns = unreachable_statements(root_tree) if config.doubt_antipatterns else None
        first_failure = next((o for o in run0.outcomes if o.status != "pass"), None)
        self.root_error = None if first_failure is None else (first_failure.error_type or first_failure.status)

    def run(self) -> RepairResult:
        """Search until a confirmed repair, the budget, the time limit or no candidates left."""
        root, run0 = self.root, self.run0
        if run0.status == "ok" and run0.all_passed:
            if self._confirmed(root) is False:
                return self._result(False, root, None, "the tests pass only inside the program's own "
                                    "interpreter, not in a judged run (forged verdicts?)", self.before)
            return self._result(True, root, 0, "all tests already pass", self.before)
        if self._out_of_time():  # the initial (coverage) run used up the time
            return self._result(False, root, None, "time limit", self.before)
        try:
            self._expand(0)
            while (self.heap or self.deferred) and self.executions < self._limit():
                if not self.heap:
                    for index in self.deferred:
                        self._expand(index)
                    self.deferred = []
                    continue
                batch = self._next_batch()
                if self._out_of_time(statistics.fmean(self.batch_seconds) if self.batch_seconds else 0.0):
                    raise _TimeUp
                solved = self._run_batch(batch)
                if solved is not None:
                    return solved
        except _TimeUp:  # raised between proposer calls and before candidate batches
            if self.kept is not None:
                return self._finish(*self.kept)
            return self._result(False, root, None, "time limit", self.before)
        if self.kept is not None:
            return self._finish(*self.kept)
        reason = "budget exhausted" if self.executions >= self.config.budget else "no more candidates"
        return self._result(False, root, None, reason, self.before)

    def _limit(self) -> int:
        """Executions the search may reach: the budget, or less once a repair is kept."""
        return self.config.budget if self.stop_at is None else min(self.config.budget, self.stop_at)

    def _out_of_time(self, ahead: float = 0.0) -> bool:
        """Whether the time limit has passed, or will have passed in ``ahead`` seconds."""
        return self.deadline is not None and time.monotonic() + ahead > self.deadline

    def _result(self, solved: bool, state: _State, to_solve: int | None, reason: str,
                after: tuple[int, int], judged: bool = False, repaired: str | None = None,
                edits: list[Edit] | None = None) -> RepairResult:
        """The result; ``repaired`` and ``edits``: the reported text and its edits when not
        ``state``'s own (a simplified repair)."""
        best = None
        if not solved:  # report the program unchanged: a partial fix is not a repair
            state, after, repaired, edits = self.root, self.before, None, None
            best = self._best_partial()
        if repaired is None:
            repaired = self._text(state)
        return RepairResult(solved, self.source, repaired, state.edits if edits is None else edits, self.before,
                            after, self.executions, to_solve, time.monotonic() - self.start, self.run0,
                            self.ranking, reason, judged, self.rejected, best, self.regressions,
                            len(self.regression_passing or ()), self.denied, degenerate=self.degenerate)

    def _best_partial(self) -> PartialState | None:
        """The best partial state, with its tests counted by one run of every test when the time
        limit leaves room for it (as long as a candidate batch took on average), else the count
        of its stop-at-first-failure run as a lower bound. Not counted in the budget: it is part
        of the report, not of the search."""
        if self.best is None:
            return None
        state, run = self.best
        text = self._text(state)
        ahead = statistics.fmean(self.batch_seconds) if self.batch_seconds else 0.0
        if not self._out_of_time(ahead):
            full = self.sandbox.run(text, self.suite, order=self.failing_first)
            if full.status == "ok":
                return PartialState(text, (full.passed, full.total), True)
        return PartialState(text, (run.passed, run.total), False)

    def _text(self, state: _State) -> str:
        """What the user would get for ``state``: the original text with the state's changes
        spliced in (``minimal_source``)."""
        return minimal_source(self.source, self.root_tree, state.tree) if state.edits else self.source

    def _confirmed(self, state: _State, text: str | None = None) -> bool | None:
        """Whether the text the user would get (``text``, else :meth:`_text`) passes a judged
        run (None: not judgeable)."""
        if self.suite.kind == "pytest":
            return None
        check = self.sandbox.verify(self._text(state) if text is None else text, self.suite)
        return check.all_passed if check.judged else None

    def _keeps_passing(self, text: str) -> bool:
        """Whether ``text`` passes every test of the regression suite that the program passes
        (True without a regression suite). The program's own run of the suite is the coverage
        run made before the search, or made at the first call. A candidate that cannot load, or
        a run that does not finish, fails."""
        if self.regression is None:
            return True
        if self.regression_passing is None:
            base = self.sandbox.run(self.source, self.regression, continue_after_timeout=True)
            self.regression_passing = [o.test_id for o in base.outcomes if o.status == "pass"] \
                if base.status == "ok" else []
        if not self.regression_passing:
            return True
        run = self.sandbox.run(text, self.regression, order=self.regression_passing, stop_on_first_failure=True)
        wanted = set(self.regression_passing)
        ok = run.status == "ok" and all(o.status == "pass" for o in run.outcomes if o.test_id in wanted)
        if not ok:
            self.regressions += 1
        return ok

    def _bonus(self, state: _State) -> float:
        root, config = self.root, self.config
        gain = state.value[0] - root.value[0] + 0.5 * (state.value[1] - root.value[1])
        return config.progress_bonus * gain + config.closeness_bonus * (state.value[2] - root.value[2])

    def _push(self, priority: float, parent: int, edit: Edit | None, logp: float,
              cand: Candidate | None = None, rank: int = 0, features: dict | None = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, _Pending(priority, self.seq, parent, edit, logp, cand, rank, features))

    def _expand(self, index: int) -> None:
        """Ask every proposer for the children of state ``index`` and queue them."""
        state, config = self.states[index], self.config
        if state.depth >= config.max_depth:
            return
        bonus = self._bonus(state)
        feedback = self.feedback if state is self.root else self.feedback.at_lines(state.lines)
        cands = []
        for proposer in self.proposers:
            if self._out_of_time():
                raise _TimeUp
            cands.extend(proposer.propose(state.tree, feedback, config.expand_limit if state.depth else None))
        cands.sort(key=lambda c: -c.score)
        rows: list[dict] = []
        if self.ranker is not None or self.observer is not None:
            rows = self._features(cands[: config.ranker_window], state, feedback)
            if self.ranker is not None and rows:
                cands, order = reorder(cands, self.ranker.score(rows))
                rows = [rows[i] for i in order]
        sites = suspicious_paths(state.tree) if config.suspicious_first else []
        cands, rows = promoted_first(cands, rows, sites)
        for rank, cand in enumerate(cands):
            if cand.doomed:  # raises on every run; ranked with the rest so their ranks stay whole
                continue
            logp = state.logp + math.log(max(cand.score, 1e-12))
            gets_bonus = config.bonus_children is None or rank < config.bonus_children
            self._push(-(logp + (bonus if gets_bonus else 0.0)), index, cand.edit, logp, cand, rank,
                       rows[rank] if rank < len(rows) else None)

    def _features(self, cands: list[Candidate], state: _State, feedback: Feedback) -> list[dict]:
        """Ranker features of a state's first proposals (:func:`proposal_features`)."""
        root = self.root
        return proposal_features(cands, state.tree, feedback.lines, self.feedback.failing_constants, state.depth,
                                 state.value[0] - root.value[0], state.value[2] - root.value[2], self.root_error,
                                 len(self.suite.tests), state.source, self.lm)

    def _schedule(self, index: int) -> None:
        """Lazy expansion: a placeholder whose priority bounds every child's (scores <= 1), so
        proposers run only for states whose children would be tried next; the order of
        execution is that of eager expansion, and a learned proposer is not called for states
        the budget never reaches."""
        state = self.states[index]
        if state.depth < self.config.max_depth:
            self._push(-(state.logp + max(self._bonus(state), 0.0)), index, None, state.logp)

    def _next_batch(self) -> list[tuple[_Pending, _State, ast.Module, str, tuple]]:
        """Pop up to ``config.batch`` new candidates that compile and were not seen before:
        ``(pending item, parent, tree, text, line map)``. Raises :class:`_TimeUp` when the time
        limit passes while it prepares them."""
        batch = []
        while self.heap and len(batch) < min(self.config.batch, self.config.budget - self.executions):
            if self._out_of_time():
                raise _TimeUp
            item = heapq.heappop(self.heap)
            if item.edit is None:  # a state's turn to propose its children
                self._expand(item.parent)
                continue
            parent = self.states[item.parent]
            spliced = splice_edit(parent.source, parent.tree, item.edit)
            try:
                if spliced is not None:
                    text, tree, lines = spliced.text, spliced.tree, spliced.line_map(parent.lines)
                else:
                    text, tree, lines = _written_out(parent, item.edit)
                if text in self.seen:
                    continue
                with warnings.catch_warnings():  # e.g. "'int' object is not subscriptable"
                    warnings.simplefilter("ignore", SyntaxWarning)
                    compile(tree, "<candidate>", "exec")
            except (ValueError, SyntaxError, TypeError, RecursionError):
                continue
            self.seen.add(text)
            if self.kinds.doomed(tree, item.edit.op, item.edit.path, item.edit.index):
                continue  # raises on every reach: not run, not counted
            if self._unchanged(item):
                continue  # its tests would go exactly as its parent's
            batch.append((item, parent, tree, text, lines))
        return batch

    def _unchanged(self, item: _Pending) -> bool:
        """Whether the tests of its parent's run (those it passed and the first it failed) cannot
        tell the candidate of ``item`` from its parent (:mod:`kelp.repair.equivalence`): it would
        behave exactly as its parent. One profiling run judges the next :data:`EQUIVALENCE_CHUNK`
        queued children of the parent, best first, when the search reaches one not judged yet;
        the next run twice as many, up to :data:`EQUIVALENCE_PROFILES` runs per state."""
        if not self.config.test_equivalence:
            return False
        parent, edit = item.parent, item.edit
        profiles = self._profiles.setdefault(parent, [])
        offered = self._offered.setdefault(parent, set())
        if edit not in offered and len(profiles) < EQUIVALENCE_PROFILES:
            queued = sorted(p for p in self.heap if p.parent == parent and p.edit is not None and p.edit not in offered)
            chunk = [edit] + [p.edit for p in queued][: EQUIVALENCE_CHUNK * 2 ** len(profiles) - 1]
            offered.update(chunk)
            state = self.states[parent]
            profiles.append(profile_edits(state.tree, chunk, self.suite, state.behaviour, self.sandbox))
        return any(profile is not None and profile.unchanged(edit) for profile in profiles)

    def _run_batch(self, batch) -> RepairResult | None:
        """Run the candidates of ``batch`` (failing tests first, stop at the first failure);
        the result when one is a confirmed repair (of several, the one nearest a person's
        patch: :func:`~kelp.repair.simplify.patch_cost`), else queue the new states."""
        jobs = [Job(program=text, suite=self.suite, order=self.failing_first, stop_on_first_failure=True)
                for _, _, _, text, _ in batch]
        started = time.monotonic()
        runs = self.sandbox.run_many(jobs) if jobs else []
        if jobs:
            self.batch_seconds.append(time.monotonic() - started)
        passed = []  # (cost, order, state, text, judged, executions so far, total, trust)
        for (item, parent, tree, text, lines), run in zip(batch, runs):
            self.executions += 1
            if self.on_candidate is not None:
                self.on_candidate(self.executions)
            state = _State(tree, text, parent.edits + [item.edit], item.logp,
                           _value(run, self.first, failing=self.failing), parent.depth + 1, lines, self.executions,
                           _behaviour(run))
            if self.observer is not None:
                self.observer(self._observed(item, parent, state, run))
            if run.status == "ok" and run.all_passed:
                shown = self._text(state)
                if self._degenerate(shown):
                    continue  # fits the tests with code no person writes: not a repair, not expanded
                judged = self._confirmed(state, shown)
                if judged is not False and not self._keeps_passing(shown):
                    continue  # passes the selected tests, breaks others: not a repair, not expanded
                if judged is not False:
                    trust = self._trust(item, shown)
                    passed.append((patch_cost(self.source, shown), len(passed), state, shown, judged,
                                   self.executions, run.total, trust))
                    continue
                self.rejected += 1  # passed in its own interpreter only: not a repair
                continue
            if run.status == "ok" and state.value[0] > (self.best[0].value if self.best else self.root.value)[0]:
                self.best = (state, run)
            self.states.append(state)
            if self.config.merge_behaviour:
                if state.behaviour in self.behaviours:
                    self.deferred.append(len(self.states) - 1)
                    continue
                self.behaviours.add(state.behaviour)
            self._schedule(len(self.states) - 1)
        if not passed:
            return None
        to_solve = min(p[5] for p in passed)  # the batch ran together: solved at its first pass
        _cost, _order, state, shown, judged, _n, total, trust = min(passed, key=lambda p: (p[0], p[1]))
        if not self.config.stop_at_repair:
            if self.kept is None:  # the first repair found is the result
                self.kept = (0, to_solve, state, shown, judged, total)
            return None
        reads, clean, accept = trust
        trusted = reads and clean and (accept is None or accept >= self.ranker.accept_threshold)
        if self.others is None:
            if trusted:
                return self._finish(0, to_solve, state, shown, judged, total)
            fixed, extra = 0, self.config.doubt_extra
        else:
            fixed, extra = self._others_fixed(shown), self.config.others_extra
            if fixed == len(self.others.tests):  # the project's own failing tests vouch for it
                return self._finish(fixed, to_solve, state, shown, judged, total)
        key = (fixed, reads, clean, 1.0 if accept is None else accept)
        if self.kept is None or key > self.kept_key:
            self.kept, self.kept_key = (fixed, to_solve, state, shown, judged, total), key
        if self.stop_at is None:
            self.stop_at = self.executions + extra
            if not reads and self.others is None:
                self._reading_first({name for _func, name in self.unread})
        return None

    def _reading_first(self, names: set[str]) -> None:
        """Queue the pending proposals whose new code reads one of ``names`` (parameters a
        doubted repair left unread) before every other candidate, each group in its order."""
        words = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(names))) + r")\b")
        for item in self.heap:
            if item.edit is not None and isinstance(item.edit.new, str) and words.search(item.edit.new):
                item.priority -= READS_UNREAD_FIRST
        heapq.heapify(self.heap)

    def _degenerate(self, text: str) -> bool:
        """Whether the patch to ``text`` is refused as degenerate
        (:func:`~kelp.repair.antipatterns.degenerate_patch`; counted in :attr:`degenerate`);
        False when ``refuse_degenerate`` is off."""
        if not self.config.refuse_degenerate:
            return False
        try:
            tree = parse(text)
        except ProgramSyntaxError:
            return False
        if degenerate_patch(self.root_tree, tree) is not None:
            self.degenerate += 1
            return True
        return False

    def _trust(self, item: _Pending, shown: str) -> tuple[bool, bool, float | None]:
        """What vouches for the plausible patch ``shown``: whether it reads every parameter of
        :attr:`unread`, whether it adds no unreachable statement to the program and has no
        degenerate expression (:mod:`~kelp.repair.antipatterns`), and the ranker's accept probability
        (``None`` without an accept model)."""
        accept = self.ranker.accept(item.features) if self.ranker is not None else None
        reads = clean = True
        if self.unread or self.antipatterns is not None:
            try:
                tree = ast.parse(shown)
            except SyntaxError:
                return reads, clean, accept
            reads = not (self.unread and unread_parameters(tree) & self.unread)
            clean = self.antipatterns is None or (unreachable_statements(tree) <= self.antipatterns
                                                  and not degenerate_expressions(tree))
        return reads, clean, accept

    def _others_fixed(self, text: str) -> int:
        """How many of the regression tests the program failed outside the selection ``text``
        passes (one run of them; not counted in the budget)."""
        run = self.sandbox.run(text, self.others, continue_after_timeout=True)
        return sum(o.status == "pass" for o in run.outcomes) if run.status == "ok" else 0

    def _finish(self, fixed: int, to_solve: int, state: _State, shown: str, judged: bool | None,
                total: int) -> RepairResult:
        """The repair ``shown`` (of ``state``), simplified, as the search's result."""
        shown, judged, edits = self._simplest(shown, judged)
        result = self._result(True, state, to_solve, "all tests pass", (total, total), judged=bool(judged),
                              repaired=shown, edits=edits)
        result.others = (fixed, 0 if self.others is None else len(self.others.tests))
        return result

    def _observed(self, item: _Pending, parent: _State, state: _State, run: RunResult) -> "CandidateRun":
        """What an observer of the search is told about one candidate run."""
        try:
            line = line_at(parent.tree, item.edit.path)
        except (ValueError, TypeError, IndexError, AttributeError):
            line = None
        original = parent.lines[line] if line is not None and 0 < line < len(parent.lines) else None
        first = next((o for o in run.outcomes if o.status != "pass"), None)
        return CandidateRun(
            execution=self.executions, depth=state.depth, family=item.cand.family if item.cand else "",
            op=item.edit.op, prior=item.cand.score if item.cand else 0.0, log_prior=item.logp, rank=item.rank,
            line=original, suspiciousness=self.feedback.lines.get(original, 0.0) if original else 0.0,
            status=run.status, passed=run.passed, total=run.total, value=state.value[0],
            parent_value=parent.value[0], root_value=self.root.value[0],
            error_type=None if first is None else (first.error_type or first.status),
            plausible=run.status == "ok" and run.all_passed, source=state.source, parent=parent.execution,
            features=item.features or {})

    def _simplest(self, text: str, judged: bool | None) -> tuple[str, bool | None, list[Edit] | None]:
        """The simplest version of the repair ``text`` (:func:`~kelp.repair.simplify.simplify`)
        that passes every test (and a judged run where the suite allows one), within
        ``config.simplify`` runs, the budget and the time limit: ``(text, judged, edits from the
        original, None when ``text`` is kept)``."""
        for candidate in simplify(self.source, text)[: self.config.simplify]:
            if self.executions >= self.config.budget or self._out_of_time():
                break
            self.executions += 1
            if self.on_candidate is not None:
                self.on_candidate(self.executions)
            run = self.sandbox.run(candidate, self.suite, order=self.failing_first, stop_on_first_failure=True)
            if run.status != "ok" or not run.all_passed:
                continue
            check = None if self.suite.kind == "pytest" else self.sandbox.verify(candidate, self.suite)
            if check is not None and check.judged and not check.all_passed:
                continue
            if not self._keeps_passing(candidate) or self._degenerate(candidate):
                continue
            try:
                edits = tree_diff(self.root_tree, parse(candidate))
            except (ProgramSyntaxError, ValueError):
                continue
            return candidate, (True if check is not None and check.judged else None), edits
        return text, judged, None
